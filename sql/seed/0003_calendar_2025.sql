-- Seed: the official working-day calendar for 2025.
--
-- Source: 国务院办公厅关于2025年部分节假日安排的通知, published 2024-11-12.
--
-- Rows (see docs/calendar.md): every day of an official holiday, weekend days
-- inside the holiday included, as 'holiday'; every Saturday or Sunday made a
-- working day (调休上班) as 'workday'. All other Mondays to Fridays are working
-- days and all other weekends are not; they are not listed.
--
-- Applied by `zwgkctl db seed` in one transaction, as often as wanted. The
-- calendar_years row makes the year "loaded" for zw_is_working_day() and
-- zw_add_working_days(); it is written in the same transaction as the days.

INSERT INTO calendar_years (year, source, published_on) VALUES
    (2025, '国务院办公厅关于2025年部分节假日安排的通知', '2024-11-12')
ON CONFLICT (year) DO UPDATE
    SET source = EXCLUDED.source, published_on = EXCLUDED.published_on;

INSERT INTO calendar_days (day, kind, name) VALUES
    ('2025-01-01', 'holiday', '元旦'),                  -- 星期三
    ('2025-01-26', 'workday', '春节调休上班'),          -- 星期日
    ('2025-01-28', 'holiday', '春节'),                  -- 星期二
    ('2025-01-29', 'holiday', '春节'),                  -- 星期三
    ('2025-01-30', 'holiday', '春节'),                  -- 星期四
    ('2025-01-31', 'holiday', '春节'),                  -- 星期五
    ('2025-02-01', 'holiday', '春节'),                  -- 星期六
    ('2025-02-02', 'holiday', '春节'),                  -- 星期日
    ('2025-02-03', 'holiday', '春节'),                  -- 星期一
    ('2025-02-04', 'holiday', '春节'),                  -- 星期二
    ('2025-02-08', 'workday', '春节调休上班'),          -- 星期六
    ('2025-04-04', 'holiday', '清明节'),                -- 星期五
    ('2025-04-05', 'holiday', '清明节'),                -- 星期六
    ('2025-04-06', 'holiday', '清明节'),                -- 星期日
    ('2025-04-27', 'workday', '劳动节调休上班'),        -- 星期日
    ('2025-05-01', 'holiday', '劳动节'),                -- 星期四
    ('2025-05-02', 'holiday', '劳动节'),                -- 星期五
    ('2025-05-03', 'holiday', '劳动节'),                -- 星期六
    ('2025-05-04', 'holiday', '劳动节'),                -- 星期日
    ('2025-05-05', 'holiday', '劳动节'),                -- 星期一
    ('2025-05-31', 'holiday', '端午节'),                -- 星期六
    ('2025-06-01', 'holiday', '端午节'),                -- 星期日
    ('2025-06-02', 'holiday', '端午节'),                -- 星期一
    ('2025-09-28', 'workday', '国庆节、中秋节调休上班'), -- 星期日
    ('2025-10-01', 'holiday', '国庆节、中秋节'),        -- 星期三
    ('2025-10-02', 'holiday', '国庆节、中秋节'),        -- 星期四
    ('2025-10-03', 'holiday', '国庆节、中秋节'),        -- 星期五
    ('2025-10-04', 'holiday', '国庆节、中秋节'),        -- 星期六
    ('2025-10-05', 'holiday', '国庆节、中秋节'),        -- 星期日
    ('2025-10-06', 'holiday', '国庆节、中秋节'),        -- 星期一
    ('2025-10-07', 'holiday', '国庆节、中秋节'),        -- 星期二
    ('2025-10-08', 'holiday', '国庆节、中秋节'),        -- 星期三
    ('2025-10-11', 'workday', '国庆节、中秋节调休上班')  -- 星期六
ON CONFLICT (day) DO UPDATE
    SET kind = EXCLUDED.kind, name = EXCLUDED.name;
