-- Work that waits: deliveries to retry later, releases under embargo, and the
-- adapters' notes about what a channel already holds.
--
-- Adapters retry on a schedule kept here, not by holding up their Kafka
-- partition: a delivery that failed transiently is parked in delivery_retries
-- with the time of its next attempt, the consumed offset commits, and the
-- adapter's scheduled pass picks it up when it is due. Later work items of the
-- same release on the same channel queue behind it, so revisions keep their
-- order.

ALTER TABLE deliveries
    ADD COLUMN progress jsonb NOT NULL DEFAULT '{}';

CREATE TABLE delivery_retries (
    id          bigserial PRIMARY KEY,
    release_id  text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision    int NOT NULL CHECK (revision >= 1),
    channel     text NOT NULL REFERENCES channels (code),
    envelope    jsonb NOT NULL,
    attempts    int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (release_id, revision, channel)
);

CREATE INDEX delivery_retries_due_idx ON delivery_retries (channel, next_at);
CREATE INDEX delivery_retries_release_idx ON delivery_retries (channel, release_id, id);

-- Releases whose publish_at is in the future: the fan-out parks the tagged
-- envelope here and emits it when it is due, surviving restarts.
CREATE TABLE embargoes (
    release_id  text NOT NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision    int NOT NULL CHECK (revision >= 1),
    publish_at  timestamptz NOT NULL,
    envelope    jsonb NOT NULL,
    source      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz NULL,
    PRIMARY KEY (release_id, revision)
);

CREATE INDEX embargoes_due_idx ON embargoes (publish_at) WHERE released_at IS NULL;

-- An embargo ends when publish_at comes (released_at) or when a later revision
-- of the release arrives first (superseded_by): a withdrawal or an update of a
-- release that never went out must not let the older revision out afterwards.
ALTER TABLE embargoes
    ADD COLUMN superseded_by int NULL CHECK (superseded_by IS NULL OR superseded_by > revision);

ALTER TABLE release_revisions
    DROP CONSTRAINT release_revisions_status_check,
    ADD CONSTRAINT release_revisions_status_check CHECK (status IN (
        'received', 'tagged', 'review', 'recorded', 'embargoed', 'fanned_out',
        'delivered', 'withdrawn', 'ignored'));

-- A policy held for its interpretation past the grace period is escalated to a
-- person once: escalated_at records when.
ALTER TABLE review_queue
    ADD COLUMN escalated_at timestamptz NULL;
