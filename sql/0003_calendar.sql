-- 0003_calendar: the official working-day calendar and the two functions the
-- classifier uses to compute disclosure deadlines (due_by).
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.
-- See docs/calendar.md for how a year is loaded.
--
-- Model: Monday to Friday are working days and Saturday/Sunday are not, except
-- for the days listed in calendar_days:
--   kind 'holiday'  every day of an official holiday (法定节假日), including the
--                   weekend days that fall inside the holiday period;
--   kind 'workday'  a Saturday or Sunday made a working day (调休上班).
-- A year is "loaded" when it has a row in calendar_years; the functions refuse to
-- answer for a year that is not loaded rather than guess.

CREATE TABLE calendar_years (
    year         int PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    source       text NOT NULL CHECK (source <> ''),
    published_on date,
    loaded_at    timestamptz DEFAULT now()
);

COMMENT ON TABLE calendar_years IS
    'Years whose holiday schedule (国务院办公厅关于YYYY年部分节假日安排的通知) is loaded.';

CREATE TABLE calendar_days (
    day  date PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name text NOT NULL CHECK (name <> ''),
    -- the year the day belongs to; must be a loaded year
    year int GENERATED ALWAYS AS (date_part('year', day)::int) STORED
         NOT NULL REFERENCES calendar_years (year),
    CONSTRAINT calendar_days_workday_on_weekend
        CHECK (kind <> 'workday' OR extract(isodow FROM day) IN (6, 7))
);

CREATE INDEX calendar_days_year_idx ON calendar_days (year);

COMMENT ON TABLE calendar_days IS
    'Exceptions to Monday-Friday: official holiday days (holiday) and weekend days made working days (workday).';

-- ---------------------------------------------------------------------------
-- zw_is_working_day(d): true when d is a working day.
-- Raises SQLSTATE ZW001 'calendar year YYYY not loaded' when d's year has no row
-- in calendar_years.
-- ---------------------------------------------------------------------------
CREATE FUNCTION zw_is_working_day(d date) RETURNS boolean
LANGUAGE plpgsql STABLE STRICT
AS $$
DECLARE
    y    int := date_part('year', d)::int;
    k    text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM calendar_years WHERE year = y) THEN
        RAISE EXCEPTION 'calendar year % not loaded', y
            USING ERRCODE = 'ZW001',
                  HINT = 'load the State Council holiday schedule for that year, see docs/calendar.md';
    END IF;

    SELECT kind INTO k FROM calendar_days WHERE day = d;
    IF k = 'holiday' THEN
        RETURN false;
    ELSIF k = 'workday' THEN
        RETURN true;
    END IF;
    RETURN extract(isodow FROM d) < 6;
END;
$$;

COMMENT ON FUNCTION zw_is_working_day(date) IS
    'True if the day is a working day by the loaded official calendar; raises ZW001 "calendar year YYYY not loaded" otherwise.';

-- ---------------------------------------------------------------------------
-- zw_add_working_days(start, n): the n-th working day after start. The start day
-- itself is never counted, whether or not it is a working day; n = 0 returns
-- start unchanged. Every day examined must lie in a loaded year, otherwise
-- SQLSTATE ZW001 'calendar year YYYY not loaded' is raised. n < 0 is an error
-- (SQLSTATE 22023).
-- Example: zw_add_working_days('2026-09-30', 1) = '2026-10-08' (国庆节 Oct 1-7
-- are holidays; Thursday Oct 8 is the first working day after Sep 30).
-- ---------------------------------------------------------------------------
CREATE FUNCTION zw_add_working_days(start date, n int) RETURNS date
LANGUAGE plpgsql STABLE STRICT
AS $$
DECLARE
    d         date := start;
    remaining int  := n;
    y         int;
    checked   int  := NULL;   -- last year verified as loaded
    k         text;
BEGIN
    IF n < 0 THEN
        RAISE EXCEPTION 'zw_add_working_days: n must be >= 0, got %', n
            USING ERRCODE = '22023';
    END IF;

    WHILE remaining > 0 LOOP
        d := d + 1;
        y := date_part('year', d)::int;
        IF checked IS DISTINCT FROM y THEN
            IF NOT EXISTS (SELECT 1 FROM calendar_years WHERE year = y) THEN
                RAISE EXCEPTION 'calendar year % not loaded', y
                    USING ERRCODE = 'ZW001',
                          HINT = 'load the State Council holiday schedule for that year, see docs/calendar.md';
            END IF;
            checked := y;
        END IF;

        SELECT kind INTO k FROM calendar_days WHERE day = d;
        IF k = 'workday' OR (k IS NULL AND extract(isodow FROM d) < 6) THEN
            remaining := remaining - 1;
        END IF;
    END LOOP;

    RETURN d;
END;
$$;

COMMENT ON FUNCTION zw_add_working_days(date, int) IS
    'The n-th working day after start (start not counted; n = 0 returns start); raises ZW001 "calendar year YYYY not loaded" for a year not in calendar_years.';
