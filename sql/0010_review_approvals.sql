-- Releases routed to broadcast go out only after two different operators
-- approved them (a false alarm over village loudspeakers cannot be called
-- back): each approval is one row; the second distinct operator releases it.
CREATE TABLE review_approvals (
    release_id  text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision    int NOT NULL CHECK (revision >= 1),
    operator    text NOT NULL CHECK (operator <> ''),
    catalog_code text NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (release_id, revision, operator)
);
