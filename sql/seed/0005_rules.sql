-- Seed 0005: classification rules shipped with the catalog.
--
-- Applied by `zwgkctl db seed` in one transaction, as often as wanted. Seed rules
-- have fixed ids in the reserved range 1-999 (operators' rules get ids from 1001),
-- so `classified_by` = 'rule:<id>' means the same rule everywhere. On conflict
-- the rule's conditions, target and priority are refreshed; its active flag is
-- left as the operator set it.
--
-- A rule matches a release when every condition that is set holds:
--   department_code = the release's department         (NULL: any department)
--   doc_type        = the release's doc_type           (NULL: any doc_type)
--   keywords        at least one occurs in the title   ('{}': no keyword condition)
-- Rules are tried by ascending priority, then ascending id; the first matching
-- rule whose item the department may publish (catalog_item_bodies) wins.
-- Priorities used here:
--   10-40   specific keyword rules (more specific phrases before general ones)
--   50-90   general keyword rules
--   100-190 department + doc_type rules
--   200+    department fall-backs (used only when no keyword rule matched)

INSERT INTO classification_rules (id, department_code, doc_type, keywords, catalog_code, priority, active) VALUES
    -- 财政预决算
    (1,  NULL, 'budget', '{部门预算,部门决算,单位预算,单位决算}',            'czyjs-003', 20,  true),
    (2,  NULL, 'budget', '{乡镇预算,街道预算,乡镇决算,街道决算}',            'czyjs-005', 25,  true),
    (3,  NULL, 'budget', '{决算}',                                           'czyjs-002', 40,  true),
    (4,  NULL, 'budget', '{预算,预算调整,三公经费}',                          'czyjs-001', 50,  true),
    (5,  NULL, 'report', '{财政收支,预算执行}',                               'czyjs-004', 50,  true),
    -- 社会救助
    (6,  NULL, NULL,     '{低保,最低生活保障}',                               'shjz-002', 60,  true),
    (7,  NULL, NULL,     '{临时救助}',                                        'shjz-003', 60,  true),
    (8,  NULL, 'policy', '{特困,救助供养,社会救助}',                          'shjz-001', 70,  true),
    -- 涉农补贴
    (9,  NULL, NULL,     '{耕地地力保护补贴}',                                'snbt-002', 30,  true),
    (10, NULL, NULL,     '{农机购置,农机购置与应用补贴}',                     'snbt-003', 30,  true),
    (11, NULL, NULL,     '{一卡通}',                                          'snbt-004', 30,  true),
    (12, NULL, 'policy', '{补贴,惠农}',                                       'snbt-001', 80,  true),
    -- 救灾 and 安全生产 emergencies
    (13, NULL, 'emergency', '{台风,暴雨,洪水,冰雹,大风,寒潮,地震,森林火灾,预警,应急响应}', 'jz-001', 20, true),
    (14, NULL, 'emergency', '{事故}',                                         'aqsc-003', 30,  true),
    (15, NULL, 'emergency', '{突发环境事件,污染}',                            'sthj-004', 30,  true),
    (16, NULL, 'public_list', '{受灾,救灾,灾后}',                             'jz-004', 40,  true),
    -- 公共资源交易
    (17, NULL, 'procurement', '{中标候选人}',                                 'ggzyjy-002', 20, true),
    (18, NULL, 'procurement', '{中标结果,成交结果,中标公告,成交公告}',        'ggzyjy-003', 30, true),
    (19, NULL, 'procurement', '{采购合同,合同公告}',                          'ggzyjy-004', 30, true),
    (20, NULL, 'procurement', '{招标公告,招标}',                              'ggzyjy-001', 50, true),
    -- 养老服务, 义务教育, 就业, 市政服务, 生态环境
    (21, NULL, NULL,     '{高龄津贴}',                                        'ylfw-003', 30,  true),
    (22, NULL, NULL,     '{招生,入学,学区}',                                  'ywjy-001', 60,  true),
    (23, NULL, NULL,     '{派位,录取结果}',                                   'ywjy-004', 40,  true),
    (24, NULL, NULL,     '{招聘会,岗位信息}',                                 'jy-002',   60,  true),
    (25, NULL, NULL,     '{公益性岗位}',                                      'jy-004',   40,  true),
    (26, NULL, NULL,     '{停水,停气}',                                       'szfw-001', 40,  true),
    (27, NULL, NULL,     '{空气质量,水质}',                                   'sthj-002', 60,  true),
    (28, NULL, NULL,     '{危房改造}',                                        'ncwfgz-002', 70, true),
    -- 行政处罚: the same words belong to different domains per department
    (29, 'xhaxq-yjj',   NULL, '{处罚}',                                       'aqsc-002',   100, true),
    (30, 'cyq-yjj',     NULL, '{处罚}',                                       'aqsc-002',   100, true),
    (31, 'pds-yjj',     NULL, '{处罚}',                                       'aqsc-002',   100, true),
    (32, 'xhaxq-scjgj', NULL, '{处罚}',                                       'spypjg-003', 100, true),
    (33, 'cyq-scjgj',   NULL, '{处罚}',                                       'spypjg-003', 100, true),
    (34, 'pds-scjgj',   NULL, '{处罚}',                                       'spypjg-003', 100, true),
    (35, 'xhaxq-sthj',  NULL, '{处罚}',                                       'sthj-003',   100, true),
    (36, 'cyq-sthj',    NULL, '{处罚}',                                       'sthj-003',   100, true),
    (37, 'pds-sthj',    NULL, '{处罚}',                                       'sthj-003',   100, true),
    (38, 'xhaxq-zhzf',  NULL, '{处罚}',                                       'cszhzf-002', 100, true),
    (39, 'cyq-zhzf',    NULL, '{处罚}',                                       'cszhzf-002', 100, true),
    (40, 'pds-zhzf',    NULL, '{处罚}',                                       'cszhzf-002', 100, true),
    -- department + doc_type rules
    (41, 'xhaxq-czj',   'budget', '{}',                                       'czyjs-001', 150, true),
    (42, 'cyq-czj',     'budget', '{}',                                       'czyjs-001', 150, true),
    (43, 'pds-czj',     'budget', '{}',                                       'czyjs-001', 150, true),
    (44, 'xhaxq-yjj',   'emergency', '{}',                                    'jz-001',    150, true),
    (45, 'cyq-yjj',     'emergency', '{}',                                    'jz-001',    150, true),
    (46, 'pds-yjj',     'emergency', '{}',                                    'jz-001',    150, true),
    -- the demonstration department
    (47, 'demo', 'budget',    '{}',                                           'czyjs-001', 200, true),
    (48, 'demo', 'emergency', '{}',                                           'jz-001',    200, true)
ON CONFLICT (id) DO UPDATE
    SET department_code = EXCLUDED.department_code,
        doc_type        = EXCLUDED.doc_type,
        keywords        = EXCLUDED.keywords,
        catalog_code    = EXCLUDED.catalog_code,
        priority        = EXCLUDED.priority;
