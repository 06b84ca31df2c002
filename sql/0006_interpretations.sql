-- Policies and their interpretations go out together (政策解读 "三同步"): the
-- classifier finds a policy's interpretation, and an interpretation's policy,
-- through the interprets member each interpretation carries.
ALTER TABLE release_revisions ADD COLUMN interprets text NULL
    CHECK (interprets IS NULL OR interprets ~ '^[0-9a-f]{32}$');

CREATE INDEX release_revisions_interprets_idx ON release_revisions (interprets)
    WHERE interprets IS NOT NULL;
