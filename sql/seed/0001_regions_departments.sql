-- Seed 0001: administrative regions and departments.
--
-- Applied by `zwgkctl db seed` in one transaction, as often as wanted: every
-- statement is an idempotent upsert.
--
-- Region codes: 青岛市 and its ten districts / county-level cities carry their
-- official GB/T 2260 codes. The 9-digit township (street/town) codes and the
-- 12-digit village/community codes below are ILLUSTRATIVE: they follow the
-- statistical division code structure (street 0xx, town 1xx; community 0xx,
-- village 2xx) under the right parent, but have not been checked against the
-- official 统计用区划代码. Replace them with the official codes before
-- production use (see docs/catalog.md).

-- city and districts / county-level cities (official codes)
INSERT INTO regions (code, name, level, parent_code) VALUES
    ('370200', '青岛市', 'city', NULL)
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code;

INSERT INTO regions (code, name, level, parent_code) VALUES
    ('370202', '市南区', 'county', '370200'),
    ('370203', '市北区', 'county', '370200'),
    ('370211', '黄岛区（青岛西海岸新区）', 'county', '370200'),
    ('370212', '崂山区', 'county', '370200'),
    ('370213', '李沧区', 'county', '370200'),
    ('370214', '城阳区', 'county', '370200'),
    ('370215', '即墨区', 'county', '370200'),
    ('370281', '胶州市', 'county', '370200'),
    ('370283', '平度市', 'county', '370200'),
    ('370285', '莱西市', 'county', '370200')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code;

-- streets and towns named in the city's list of grassroots disclosure pilot
-- sites (illustrative 9-digit codes)
INSERT INTO regions (code, name, level, parent_code) VALUES
    ('370202011', '金门路街道', 'township', '370202'),
    ('370203011', '浮山新区街道', 'township', '370203'),
    ('370211011', '胶南街道', 'township', '370211'),
    ('370211012', '辛安街道', 'township', '370211'),
    ('370212011', '金家岭街道', 'township', '370212'),
    ('370212012', '沙子口街道', 'township', '370212'),
    ('370213011', '虎山路街道', 'township', '370213'),
    ('370213012', '兴华路街道', 'township', '370213'),
    ('370214011', '城阳街道', 'township', '370214'),
    ('370214012', '流亭街道', 'township', '370214'),
    ('370215011', '潮海街道', 'township', '370215'),
    ('370215012', '北安街道', 'township', '370215'),
    ('370215013', '通济街道', 'township', '370215'),
    ('370281011', '阜安街道', 'township', '370281'),
    ('370281101', '李哥庄镇', 'township', '370281'),
    ('370283011', '凤台街道', 'township', '370283')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code;

-- villages and communities (illustrative 12-digit codes and names)
INSERT INTO regions (code, name, level, parent_code) VALUES
    ('370281101201', '前屯村', 'village', '370281101'),
    ('370281101202', '后屯村', 'village', '370281101'),
    ('370281101203', '沽河村', 'village', '370281101'),
    ('370283011001', '杭州路社区', 'village', '370283011'),
    ('370283011002', '常州路社区', 'village', '370283011'),
    ('370283011201', '东石桥村', 'village', '370283011'),
    ('370214011001', '城阳社区', 'village', '370214011'),
    ('370211012201', '辛安村', 'village', '370211012')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code;

-- 黄岛区（青岛西海岸新区） (370211): government office and bureaus
INSERT INTO departments (code, name, region_code) VALUES
    ('xhaxq-zfb', '青岛西海岸新区管委办公室（黄岛区人民政府办公室）', '370211'),
    ('xhaxq-fgj', '青岛西海岸新区发展和改革局', '370211'),
    ('xhaxq-czj', '青岛西海岸新区财政局', '370211'),
    ('xhaxq-mzj', '青岛西海岸新区民政局', '370211'),
    ('xhaxq-nyncj', '青岛西海岸新区农业农村局', '370211'),
    ('xhaxq-zjj', '青岛西海岸新区住房和城乡建设局', '370211'),
    ('xhaxq-yjj', '青岛西海岸新区应急管理局', '370211'),
    ('xhaxq-sthj', '青岛市生态环境局西海岸新区分局', '370211'),
    ('xhaxq-jtj', '青岛西海岸新区教育和体育局', '370211'),
    ('xhaxq-wjj', '青岛西海岸新区卫生健康局', '370211'),
    ('xhaxq-rsj', '青岛西海岸新区人力资源和社会保障局', '370211'),
    ('xhaxq-scjgj', '青岛西海岸新区市场监督管理局', '370211'),
    ('xhaxq-zrzyj', '青岛市自然资源和规划局西海岸新区分局', '370211'),
    ('xhaxq-swj', '国家税务总局青岛市黄岛区税务局', '370211'),
    ('xhaxq-gaj', '青岛市公安局黄岛分局', '370211'),
    ('xhaxq-wlj', '青岛西海岸新区文化和旅游局', '370211'),
    ('xhaxq-sfj', '青岛西海岸新区司法局', '370211'),
    ('xhaxq-ggzy', '青岛西海岸新区公共资源交易中心', '370211'),
    ('xhaxq-zhzf', '青岛西海岸新区综合行政执法局', '370211'),
    ('xhaxq-cgj', '青岛西海岸新区城市管理局', '370211')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, region_code = EXCLUDED.region_code;

-- 城阳区 (370214): government office and bureaus
INSERT INTO departments (code, name, region_code) VALUES
    ('cyq-zfb', '青岛市城阳区人民政府办公室', '370214'),
    ('cyq-fgj', '青岛市城阳区发展和改革局', '370214'),
    ('cyq-czj', '青岛市城阳区财政局', '370214'),
    ('cyq-mzj', '青岛市城阳区民政局', '370214'),
    ('cyq-nyncj', '青岛市城阳区农业农村局', '370214'),
    ('cyq-zjj', '青岛市城阳区住房和城乡建设局', '370214'),
    ('cyq-yjj', '青岛市城阳区应急管理局', '370214'),
    ('cyq-sthj', '青岛市生态环境局城阳分局', '370214'),
    ('cyq-jtj', '青岛市城阳区教育和体育局', '370214'),
    ('cyq-wjj', '青岛市城阳区卫生健康局', '370214'),
    ('cyq-rsj', '青岛市城阳区人力资源和社会保障局', '370214'),
    ('cyq-scjgj', '青岛市城阳区市场监督管理局', '370214'),
    ('cyq-zrzyj', '青岛市自然资源和规划局城阳分局', '370214'),
    ('cyq-swj', '国家税务总局青岛市城阳区税务局', '370214'),
    ('cyq-gaj', '青岛市公安局城阳分局', '370214'),
    ('cyq-wlj', '青岛市城阳区文化和旅游局', '370214'),
    ('cyq-sfj', '青岛市城阳区司法局', '370214'),
    ('cyq-ggzy', '青岛市城阳区公共资源交易中心', '370214'),
    ('cyq-zhzf', '青岛市城阳区综合行政执法局', '370214'),
    ('cyq-cgj', '青岛市城阳区城市管理局', '370214')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, region_code = EXCLUDED.region_code;

-- 平度市 (370283): government office and bureaus
INSERT INTO departments (code, name, region_code) VALUES
    ('pds-zfb', '平度市人民政府办公室', '370283'),
    ('pds-fgj', '平度市发展和改革局', '370283'),
    ('pds-czj', '平度市财政局', '370283'),
    ('pds-mzj', '平度市民政局', '370283'),
    ('pds-nyncj', '平度市农业农村局', '370283'),
    ('pds-zjj', '平度市住房和城乡建设局', '370283'),
    ('pds-yjj', '平度市应急管理局', '370283'),
    ('pds-sthj', '青岛市生态环境局平度分局', '370283'),
    ('pds-jtj', '平度市教育和体育局', '370283'),
    ('pds-wjj', '平度市卫生健康局', '370283'),
    ('pds-rsj', '平度市人力资源和社会保障局', '370283'),
    ('pds-scjgj', '平度市市场监督管理局', '370283'),
    ('pds-zrzyj', '平度市自然资源局', '370283'),
    ('pds-swj', '国家税务总局平度市税务局', '370283'),
    ('pds-gaj', '平度市公安局', '370283'),
    ('pds-wlj', '平度市文化和旅游局', '370283'),
    ('pds-sfj', '平度市司法局', '370283'),
    ('pds-ggzy', '平度市公共资源交易中心', '370283'),
    ('pds-zhzf', '平度市综合行政执法局', '370283'),
    ('pds-cgj', '平度市城市管理局', '370283')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, region_code = EXCLUDED.region_code;

-- street offices and town governments (pilot sites)
INSERT INTO departments (code, name, region_code) VALUES
    ('smq-jmljd', '青岛市市南区金门路街道办事处', '370202011'),
    ('sbq-fsxqjd', '青岛市市北区浮山新区街道办事处', '370203011'),
    ('xhaxq-jnjd', '青岛西海岸新区胶南街道办事处', '370211011'),
    ('xhaxq-xajd', '青岛西海岸新区辛安街道办事处', '370211012'),
    ('lsq-jjljd', '青岛市崂山区金家岭街道办事处', '370212011'),
    ('lsq-szkjd', '青岛市崂山区沙子口街道办事处', '370212012'),
    ('lcq-hsljd', '青岛市李沧区虎山路街道办事处', '370213011'),
    ('lcq-xhljd', '青岛市李沧区兴华路街道办事处', '370213012'),
    ('cyq-cyjd', '青岛市城阳区城阳街道办事处', '370214011'),
    ('cyq-ltjd', '青岛市城阳区流亭街道办事处', '370214012'),
    ('jmq-chjd', '青岛市即墨区潮海街道办事处', '370215011'),
    ('jmq-bajd', '青岛市即墨区北安街道办事处', '370215012'),
    ('jmq-tjjd', '青岛市即墨区通济街道办事处', '370215013'),
    ('jzs-fajd', '胶州市阜安街道办事处', '370281011'),
    ('jzs-lgzz', '胶州市李哥庄镇人民政府', '370281101'),
    ('pds-ftjd', '平度市凤台街道办事处', '370283011')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, region_code = EXCLUDED.region_code;

-- the demonstration department used by demos and tests; it is a responsible
-- body (公开主体) of every item of the seed catalog (sql/seed/0002_catalog.sql)
INSERT INTO departments (code, name, region_code) VALUES
    ('demo', '演示部门', '370211')
ON CONFLICT (code) DO UPDATE
    SET name = EXCLUDED.name, region_code = EXCLUDED.region_code;
