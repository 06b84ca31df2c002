-- Where each stage's decision about a revision came from, and the portal's articles.
--
-- Every stage may see a message twice: after an aborted transaction the same
-- Kafka record is redelivered (it must be processed again, because its outputs
-- were aborted), while a department re-sending a release produces a second
-- record with the same content (it must be processed once). The record a stage
-- acted on ("topic:partition:offset") tells the two apart.

ALTER TABLE release_revisions
    ADD COLUMN classified_from text NULL,
    ADD COLUMN fanned_out_from text NULL;

-- One row per article on the portal: the source of its column pages, village
-- pages and feed. history holds every revision shown, newest last.
CREATE TABLE portal_articles (
    release_id   text PRIMARY KEY CHECK (release_id ~ '^[0-9a-f]{32}$'),
    revision     int NOT NULL CHECK (revision >= 1),
    column_path  text NOT NULL CHECK (column_path ~ '^[a-z0-9-]+(/[a-z0-9-]+)*$'),
    region_code  text NULL,
    department   text NOT NULL,
    title        text NOT NULL,
    summary      text NULL,
    body_html    text NOT NULL DEFAULT '',
    status       text NOT NULL CHECK (status IN ('published', 'withdrawn')),
    published_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    withdrawn_at timestamptz NULL,
    history      jsonb NOT NULL DEFAULT '[]'
);

CREATE INDEX portal_articles_column_idx ON portal_articles (column_path, published_at DESC);
CREATE INDEX portal_articles_region_idx ON portal_articles (region_code, published_at DESC);
