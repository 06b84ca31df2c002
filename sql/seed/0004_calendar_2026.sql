-- Seed: the official working-day calendar for 2026.
--
-- Source: 国务院办公厅关于2026年部分节假日安排的通知, published 2025-11-04.
-- In 2026 中秋节 (Sep 25-27) and 国庆节 (Oct 1-7) are separate holidays.
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
    (2026, '国务院办公厅关于2026年部分节假日安排的通知', '2025-11-04')
ON CONFLICT (year) DO UPDATE
    SET source = EXCLUDED.source, published_on = EXCLUDED.published_on;

INSERT INTO calendar_days (day, kind, name) VALUES
    ('2026-01-01', 'holiday', '元旦'),                  -- 星期四
    ('2026-01-02', 'holiday', '元旦'),                  -- 星期五
    ('2026-01-03', 'holiday', '元旦'),                  -- 星期六
    ('2026-01-04', 'workday', '元旦调休上班'),          -- 星期日
    ('2026-02-14', 'workday', '春节调休上班'),          -- 星期六
    ('2026-02-15', 'holiday', '春节'),                  -- 星期日
    ('2026-02-16', 'holiday', '春节'),                  -- 星期一
    ('2026-02-17', 'holiday', '春节'),                  -- 星期二
    ('2026-02-18', 'holiday', '春节'),                  -- 星期三
    ('2026-02-19', 'holiday', '春节'),                  -- 星期四
    ('2026-02-20', 'holiday', '春节'),                  -- 星期五
    ('2026-02-21', 'holiday', '春节'),                  -- 星期六
    ('2026-02-22', 'holiday', '春节'),                  -- 星期日
    ('2026-02-23', 'holiday', '春节'),                  -- 星期一
    ('2026-02-28', 'workday', '春节调休上班'),          -- 星期六
    ('2026-04-04', 'holiday', '清明节'),                -- 星期六
    ('2026-04-05', 'holiday', '清明节'),                -- 星期日
    ('2026-04-06', 'holiday', '清明节'),                -- 星期一
    ('2026-05-01', 'holiday', '劳动节'),                -- 星期五
    ('2026-05-02', 'holiday', '劳动节'),                -- 星期六
    ('2026-05-03', 'holiday', '劳动节'),                -- 星期日
    ('2026-05-04', 'holiday', '劳动节'),                -- 星期一
    ('2026-05-05', 'holiday', '劳动节'),                -- 星期二
    ('2026-05-09', 'workday', '劳动节调休上班'),        -- 星期六
    ('2026-06-19', 'holiday', '端午节'),                -- 星期五
    ('2026-06-20', 'holiday', '端午节'),                -- 星期六
    ('2026-06-21', 'holiday', '端午节'),                -- 星期日
    ('2026-09-20', 'workday', '国庆节调休上班'),        -- 星期日
    ('2026-09-25', 'holiday', '中秋节'),                -- 星期五
    ('2026-09-26', 'holiday', '中秋节'),                -- 星期六
    ('2026-09-27', 'holiday', '中秋节'),                -- 星期日
    ('2026-10-01', 'holiday', '国庆节'),                -- 星期四
    ('2026-10-02', 'holiday', '国庆节'),                -- 星期五
    ('2026-10-03', 'holiday', '国庆节'),                -- 星期六
    ('2026-10-04', 'holiday', '国庆节'),                -- 星期日
    ('2026-10-05', 'holiday', '国庆节'),                -- 星期一
    ('2026-10-06', 'holiday', '国庆节'),                -- 星期二
    ('2026-10-07', 'holiday', '国庆节'),                -- 星期三
    ('2026-10-10', 'workday', '国庆节调休上班')         -- 星期六
ON CONFLICT (day) DO UPDATE
    SET kind = EXCLUDED.kind, name = EXCLUDED.name;
