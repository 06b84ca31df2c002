-- 0002_catalog: the standard catalog of disclosure items (政务公开事项标准目录),
-- the channels it names, the portal columns it implies and the classification
-- rules the classifier uses when a release does not name its item.
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.
-- See docs/catalog.md for the data model.

-- ---------------------------------------------------------------------------
-- channels: every channel and carrier (公开渠道和载体) a catalog item may name.
-- automated = true for the four channels zwgk delivers to itself; the others are
-- recorded so that coverage reports can show them.
-- ---------------------------------------------------------------------------
CREATE TABLE channels (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name      text NOT NULL CHECK (name <> ''),
    automated boolean NOT NULL
);

COMMENT ON TABLE channels IS
    'Disclosure channels and carriers; automated ones have a zwgk.channel.<code> topic and adapter.';

-- The channel list is part of the schema (deliveries and catalog items refer to
-- it), so it is written here; the statement is idempotent like a seed.
INSERT INTO channels (code, name, automated) VALUES
    ('portal',          '政府网站',               true),
    ('wechat',          '两微一端(微信公众号)',    true),
    ('broadcast',       '广播电视(村村响)',        true),
    ('bulletin',        '社区/村公示栏(电子屏)',   true),
    ('gazette',         '政府公报',               false),
    ('weibo',           '政务微博',               false),
    ('app',             '政务客户端',             false),
    ('press',           '发布会/听证会',          false),
    ('print',           '纸质媒体',               false),
    ('reading_point',   '公开查阅点',             false),
    ('service_center',  '政务服务中心',           false),
    ('service_station', '便民服务站',             false),
    ('onsite',          '入户/现场',              false),
    ('push',            '精准推送',               false),
    ('hotline',         '12345热线',              false)
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name,
        automated = EXCLUDED.automated;

-- ---------------------------------------------------------------------------
-- catalog_versions: each import of the catalog is a version. Items carry the
-- version that last wrote them.
-- ---------------------------------------------------------------------------
CREATE TABLE catalog_versions (
    version    int PRIMARY KEY CHECK (version >= 1),
    created_at timestamptz DEFAULT now(),
    source     text,
    note       text
);

-- ---------------------------------------------------------------------------
-- catalog_domains: the 26 pilot domains of the State Council's grassroots
-- standard guidelines (and any domain added later).
-- ---------------------------------------------------------------------------
CREATE TABLE catalog_domains (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9]*$' AND length(code) <= 32),
    name    text NOT NULL CHECK (name <> ''),
    name_en text NOT NULL CHECK (name_en <> ''),
    sort    int
);

-- ---------------------------------------------------------------------------
-- catalog_items: one disclosure item (公开事项).
--   time_limit_kind   working_days | days      -> time_limit_days is set
--                     realtime                 -> "实时/及时", no day count
--                     periodic                 -> period is set
--   column_path       the portal column of the item, '<domain>/<item-slug>'
-- ---------------------------------------------------------------------------
CREATE TABLE catalog_items (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9]*-[0-9]{3}$'),
    domain_code     text NOT NULL REFERENCES catalog_domains (code),
    item_l1         text NOT NULL CHECK (item_l1 <> ''),
    item_l2         text NOT NULL CHECK (item_l2 <> ''),
    content         text NOT NULL,
    basis           text NOT NULL,
    time_limit_text text NOT NULL,
    time_limit_kind text NOT NULL
                    CHECK (time_limit_kind IN ('working_days', 'days', 'realtime', 'periodic')),
    time_limit_days int NULL CHECK (time_limit_days > 0),
    period          text NULL CHECK (period IN ('monthly', 'quarterly', 'yearly')),
    audience        text NOT NULL CHECK (audience IN ('public', 'group')),
    mode            text NOT NULL CHECK (mode IN ('active', 'on_request')),
    level           text NOT NULL CHECK (level IN ('county', 'township', 'village')),
    column_path     text NOT NULL CHECK (column_path ~ '^[a-z0-9-]+(/[a-z0-9-]+)*$'),
    active          boolean NOT NULL DEFAULT true,
    catalog_version int REFERENCES catalog_versions (version),
    CONSTRAINT catalog_items_code_in_domain
        CHECK (left(code, length(domain_code) + 1) = domain_code || '-'),
    CONSTRAINT catalog_items_days_iff_counted
        CHECK ((time_limit_kind IN ('working_days', 'days')) = (time_limit_days IS NOT NULL)),
    CONSTRAINT catalog_items_period_iff_periodic
        CHECK ((time_limit_kind = 'periodic') = (period IS NOT NULL))
);

CREATE INDEX catalog_items_domain_code_idx ON catalog_items (domain_code);
CREATE INDEX catalog_items_column_path_idx ON catalog_items (column_path);
CREATE INDEX catalog_items_active_idx ON catalog_items (code) WHERE active;

COMMENT ON COLUMN catalog_items.time_limit_days IS
    'Number of working days (working_days) or calendar days (days); NULL for realtime and periodic.';
COMMENT ON COLUMN catalog_items.column_path IS
    'Portal column path <domain>/<item-slug>; the page is /zwgk/<column_path>/.';

-- catalog_item_channels: the channels and carriers (公开渠道和载体) of an item.
CREATE TABLE catalog_item_channels (
    item_code text NOT NULL REFERENCES catalog_items (code) ON DELETE CASCADE,
    channel   text NOT NULL REFERENCES channels (code),
    PRIMARY KEY (item_code, channel)
);

CREATE INDEX catalog_item_channels_channel_idx ON catalog_item_channels (channel);

-- catalog_item_bodies: the responsible bodies (公开主体) of an item, i.e. the
-- departments allowed to publish it.
CREATE TABLE catalog_item_bodies (
    item_code       text NOT NULL REFERENCES catalog_items (code) ON DELETE CASCADE,
    department_code text NOT NULL REFERENCES departments (code),
    PRIMARY KEY (item_code, department_code)
);

CREATE INDEX catalog_item_bodies_department_code_idx
    ON catalog_item_bodies (department_code);

-- ---------------------------------------------------------------------------
-- portal_columns: the portal's 政府信息公开 column tree. One row per domain
-- (path = domain code, no parent) and one per item column ('czyjs/zfys',
-- parent = the domain row, item_code = the item). The path 'cjwgk' is reserved
-- for the portal's per-village 村(居)务公开 pages and is not a catalog column.
-- ---------------------------------------------------------------------------
CREATE TABLE portal_columns (
    path        text PRIMARY KEY
                CHECK (path ~ '^[a-z0-9-]+(/[a-z0-9-]+)*$' AND path !~ '^cjwgk(/|$)'),
    name        text NOT NULL CHECK (name <> ''),
    parent_path text NULL REFERENCES portal_columns (path),
    item_code   text NULL REFERENCES catalog_items (code) ON DELETE SET NULL,
    sort        int,
    CONSTRAINT portal_columns_parent_is_prefix CHECK (
           (parent_path IS NULL AND path !~ '/')
        OR (parent_path IS NOT NULL AND left(path, length(parent_path) + 1) = parent_path || '/'
            AND position('/' IN substr(path, length(parent_path) + 2)) = 0))
);

CREATE INDEX portal_columns_parent_path_idx ON portal_columns (parent_path);
CREATE INDEX portal_columns_item_code_idx ON portal_columns (item_code);

-- ---------------------------------------------------------------------------
-- classification_rules: used by the classifier when a release does not carry a
-- usable catalog_code. A rule matches when every condition that is set holds:
--   department_code  the release's department (NULL: any)
--   doc_type         the release's doc_type (NULL: any)
--   keywords         at least one keyword occurs in the title ('{}': no condition)
-- Rules are tried by ascending priority, then ascending id; the first match wins.
-- Ids 1-999 are reserved for rules shipped in sql/seed; rules added by operators
-- take ids from 1001 upwards.
-- ---------------------------------------------------------------------------
CREATE TABLE classification_rules (
    id              serial PRIMARY KEY,
    department_code text NULL REFERENCES departments (code),
    doc_type        text NULL CHECK (doc_type IN (
                        'notice', 'policy', 'interpretation', 'public_list', 'report',
                        'plan', 'budget', 'procurement', 'emergency', 'news', 'other')),
    keywords        text[] NOT NULL DEFAULT '{}',
    catalog_code    text NOT NULL REFERENCES catalog_items (code),
    priority        int NOT NULL DEFAULT 100,
    active          boolean NOT NULL DEFAULT true,
    CONSTRAINT classification_rules_has_condition CHECK (
        department_code IS NOT NULL OR doc_type IS NOT NULL OR cardinality(keywords) > 0),
    CONSTRAINT classification_rules_keywords_not_blank CHECK (
        array_position(keywords, '') IS NULL AND array_position(keywords, NULL) IS NULL)
);

ALTER SEQUENCE classification_rules_id_seq RESTART WITH 1001;

CREATE INDEX classification_rules_order_idx
    ON classification_rules (priority, id) WHERE active;
CREATE INDEX classification_rules_catalog_code_idx
    ON classification_rules (catalog_code);
