-- 0001_core: administrative regions, departments, department credentials and the
-- hash-chained audit log.
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.

-- ---------------------------------------------------------------------------
-- regions: administrative divisions (行政区划). Codes follow GB/T 2260 and the
-- statistical division codes: 6 digits for a city or county-level division,
-- 9 digits for a township/street (乡镇/街道), 12 digits for a village or
-- community (村/社区). A township or village code begins with its parent's code.
-- ---------------------------------------------------------------------------
CREATE TABLE regions (
    code        text PRIMARY KEY
                CHECK (code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    name        text NOT NULL CHECK (name <> ''),
    level       text NOT NULL
                CHECK (level IN ('city', 'county', 'township', 'village')),
    parent_code text NULL REFERENCES regions (code),
    CONSTRAINT regions_level_matches_code CHECK (
           (level IN ('city', 'county') AND length(code) = 6)
        OR (level = 'township' AND length(code) = 9)
        OR (level = 'village'  AND length(code) = 12)),
    CONSTRAINT regions_parent_is_prefix CHECK (
           level NOT IN ('township', 'village')
        OR (parent_code IS NOT NULL
            AND left(code, length(parent_code)) = parent_code)),
    CONSTRAINT regions_not_own_parent CHECK (parent_code IS NULL OR parent_code <> code)
);

CREATE INDEX regions_parent_code_idx ON regions (parent_code);

COMMENT ON TABLE regions IS
    'Administrative divisions: 6-digit city/county, 9-digit township/street, 12-digit village/community.';

-- ---------------------------------------------------------------------------
-- departments: every body that may send releases (a 局, a district government
-- office, a street office or town government, ...). The code is the value of the
-- release field "department".
-- ---------------------------------------------------------------------------
CREATE TABLE departments (
    code        text PRIMARY KEY
                CHECK (code ~ '^[a-z0-9][a-z0-9_-]*$' AND length(code) <= 64),
    name        text NOT NULL CHECK (name <> ''),
    region_code text REFERENCES regions (code),
    created_at  timestamptz DEFAULT now()
);

CREATE INDEX departments_region_code_idx ON departments (region_code);

COMMENT ON TABLE departments IS
    'Departments that publish releases; code is the release field "department".';

-- ---------------------------------------------------------------------------
-- department_tokens: ingest credentials. Only the SHA-256 of a token is stored
-- (64 lowercase hex digits). A token is valid while revoked_at IS NULL.
-- ---------------------------------------------------------------------------
CREATE TABLE department_tokens (
    id              bigserial PRIMARY KEY,
    department_code text NOT NULL REFERENCES departments (code),
    token_sha256    text UNIQUE NOT NULL CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_at      timestamptz DEFAULT now(),
    revoked_at      timestamptz NULL,
    CONSTRAINT department_tokens_revoked_after_created
        CHECK (revoked_at IS NULL OR created_at IS NULL OR revoked_at >= created_at)
);

CREATE INDEX department_tokens_department_code_idx
    ON department_tokens (department_code);
CREATE INDEX department_tokens_active_idx
    ON department_tokens (department_code) WHERE revoked_at IS NULL;

COMMENT ON COLUMN department_tokens.token_sha256 IS
    'SHA-256 of the bearer token, 64 lowercase hex digits; the token itself is never stored.';

-- ---------------------------------------------------------------------------
-- audit_log: append-only, hash-chained record of every decision (review
-- approvals and rejections, ignored lower revisions, token issue/revoke, ...).
-- Each row's prev_hash is the hash of the row before it (by id); `zwgkctl audit
-- verify` walks the chain. The schema deliberately does not forbid UPDATE or
-- DELETE: tampering must remain detectable by verification, not merely blocked.
-- ---------------------------------------------------------------------------
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    release_id text NULL,
    revision   int NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);

CREATE INDEX audit_log_release_id_idx ON audit_log (release_id, revision)
    WHERE release_id IS NOT NULL;
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_action_idx ON audit_log (action);

COMMENT ON TABLE audit_log IS
    'Append-only, hash-chained audit trail; checked by zwgkctl audit verify.';
