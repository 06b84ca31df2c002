-- 0009_dlq_replays: what `zwgkctl dlq replay` put back from the dead-letter topic.
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.
--
-- A dead letter is named by where it sits on the DLQ topic (dlq_topic, which
-- carries the configured prefix, dlq_partition, dlq_offset). One row per replay:
-- an entry replayed again with --force gets a second row, so the history stays
-- complete; `dlq list` shows an entry as replayed when it has at least one row.
-- The row is written after Kafka confirmed the replayed message (target_*), in
-- the same transaction as the audit record dlq.replay (docs/dlq.md).

CREATE TABLE dlq_replays (
    id               bigserial PRIMARY KEY,
    dlq_topic        text NOT NULL CHECK (dlq_topic <> ''),
    dlq_partition    int NOT NULL CHECK (dlq_partition >= 0),
    dlq_offset       bigint NOT NULL CHECK (dlq_offset >= 0),
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    replayed_by      text NOT NULL CHECK (replayed_by <> ''),
    target_topic     text NOT NULL CHECK (target_topic <> ''),
    target_partition int NULL CHECK (target_partition >= 0),
    target_offset    bigint NULL CHECK (target_offset >= 0),
    release_id       text NULL CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision         int NULL CHECK (revision >= 1),
    forced           boolean NOT NULL DEFAULT false
);

CREATE INDEX dlq_replays_entry_idx ON dlq_replays (dlq_topic, dlq_partition, dlq_offset);
CREATE INDEX dlq_replays_release_idx ON dlq_replays (release_id, revision)
    WHERE release_id IS NOT NULL;

COMMENT ON TABLE dlq_replays IS
    'Dead letters put back on their stage''s input topic by zwgkctl dlq replay; one row per replay.';
