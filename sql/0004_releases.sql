-- 0004_releases: the per-revision history of every release, the review queue and
-- the per-channel delivery state.
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.
--
-- Every stage writes here idempotently (INSERT ... ON CONFLICT) keyed by
-- (release_id, revision[, channel]), because a stage may see a message twice
-- after a transaction abort or a crash. review_queue, deliveries and
-- delivery_attempts deliberately carry no foreign key to release_revisions: they
-- are written by different daemons whose order of commits is not guaranteed.

-- ---------------------------------------------------------------------------
-- releases: one row per (department, source_id). release_id is the first 16
-- bytes of SHA-256(department || '\n' || source_id) in lowercase hex.
-- ---------------------------------------------------------------------------
CREATE TABLE releases (
    release_id      text PRIMARY KEY CHECK (release_id ~ '^[0-9a-f]{32}$'),
    department_code text NOT NULL REFERENCES departments (code),
    source_id       text NOT NULL CHECK (source_id ~ '^[A-Za-z0-9._:/-]{1,128}$'),
    first_seen_at   timestamptz DEFAULT now(),
    latest_revision int NOT NULL DEFAULT 0 CHECK (latest_revision >= 0),
    CONSTRAINT releases_department_source_key UNIQUE (department_code, source_id)
);

-- ---------------------------------------------------------------------------
-- release_revisions: one row per processed revision.
--   status: received -> tagged | review -> recorded (on-request items, never
--   fanned out) | fanned_out -> delivered; withdrawn; ignored (a lower or
--   conflicting revision that was audited and dropped).
-- ---------------------------------------------------------------------------
CREATE TABLE release_revisions (
    release_id      text NOT NULL REFERENCES releases (release_id) ON DELETE CASCADE,
    revision        int NOT NULL CHECK (revision >= 1),
    action          text NOT NULL CHECK (action IN ('publish', 'update', 'withdraw')),
    doc_type        text NULL CHECK (doc_type IN (
                        'notice', 'policy', 'interpretation', 'public_list', 'report',
                        'plan', 'budget', 'procurement', 'emergency', 'news', 'other')),
    title           text NULL,
    content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    catalog_code    text NULL,
    catalog_version int NULL,
    tags            jsonb NULL,
    status          text NOT NULL CHECK (status IN (
                        'received', 'tagged', 'review', 'recorded', 'fanned_out',
                        'delivered', 'withdrawn', 'ignored')),
    received_at     timestamptz DEFAULT now(),
    classified_at   timestamptz NULL,
    fanned_out_at   timestamptz NULL,
    PRIMARY KEY (release_id, revision)
);

CREATE INDEX release_revisions_status_idx ON release_revisions (status);
CREATE INDEX release_revisions_catalog_code_idx ON release_revisions (catalog_code)
    WHERE catalog_code IS NOT NULL;
CREATE INDEX release_revisions_received_at_idx ON release_revisions (received_at);
-- timeliness report: due_by from the classifier's tags
CREATE INDEX release_revisions_due_by_idx ON release_revisions (((tags ->> 'due_by')))
    WHERE tags IS NOT NULL;

-- ---------------------------------------------------------------------------
-- review_queue: releases held for a person (zwgkctl review ...).
-- ---------------------------------------------------------------------------
CREATE TABLE review_queue (
    release_id    text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision      int NOT NULL CHECK (revision >= 1),
    reasons       text[] NOT NULL,
    detail        text,
    envelope      jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at    timestamptz DEFAULT now(),
    decided_by    text NULL,
    decided_at    timestamptz NULL,
    decision_note text NULL,
    PRIMARY KEY (release_id, revision),
    CONSTRAINT review_queue_decision_recorded CHECK (
        status = 'pending' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL))
);

CREATE INDEX review_queue_pending_idx ON review_queue (created_at)
    WHERE status = 'pending';
CREATE INDEX review_queue_status_idx ON review_queue (status);

-- ---------------------------------------------------------------------------
-- deliveries: the current state of a revision on one channel.
-- ---------------------------------------------------------------------------
CREATE TABLE deliveries (
    release_id  text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision    int NOT NULL CHECK (revision >= 1),
    channel     text NOT NULL REFERENCES channels (code),
    status      text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'withdrawn')),
    external_id text NULL,
    url         text NULL,
    attempts    int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error       text NULL,
    updated_at  timestamptz DEFAULT now(),
    PRIMARY KEY (release_id, revision, channel)
);

CREATE INDEX deliveries_status_idx ON deliveries (status);
CREATE INDEX deliveries_channel_status_idx ON deliveries (channel, status);
CREATE INDEX deliveries_updated_at_idx ON deliveries (updated_at);

-- ---------------------------------------------------------------------------
-- delivery_attempts: every attempt an adapter made, successful or not.
-- ---------------------------------------------------------------------------
CREATE TABLE delivery_attempts (
    id         bigserial PRIMARY KEY,
    release_id text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision   int NOT NULL CHECK (revision >= 1),
    channel    text NOT NULL REFERENCES channels (code),
    attempt    int CHECK (attempt >= 0),
    at         timestamptz DEFAULT now(),
    outcome    text,
    error      text NULL
);

CREATE INDEX delivery_attempts_release_idx
    ON delivery_attempts (release_id, revision, channel, attempt);
CREATE INDEX delivery_attempts_at_idx ON delivery_attempts (at);
