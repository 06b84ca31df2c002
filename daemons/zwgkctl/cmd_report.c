/* cmd_report — `report timeliness`: how many releases reached the public by
 * their disclosure deadline (tags.due_by), per department and per catalog
 * domain, and which are overdue; for people, scripts (--json) and the
 * performance assessment (--csv). The definitions are in docs/reports.md. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* The period, resolved: defaults to the month of --to (today, China
 * Standard Time) up to --to. */
static const char period_sql[] =
    "SELECT coalesce($1::date, date_trunc('month', coalesce($2::date, t.today))::date)::text, "
    "coalesce($2::date, t.today)::text, t.today::text "
    "FROM (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS today) t";

static const char department_sql[] = "SELECT name FROM departments WHERE code = $1";

/* A report's queries are planned as expensive (a look-up per release), which
 * would start JIT compilation that costs more than the whole query. */
static const char no_jit_sql[] = "SELECT set_config('jit', 'off', false)";

/* Every release assessed ($1 from, $2 to, $3 department or NULL): its first
 * revision is a publish received in the period and is not an on-request
 * item; first_at is when it was first delivered on any channel (any
 * revision), looked up once per release (MATERIALIZED); the outcome and the
 * lateness in working days (calendar_days where the year is loaded, Monday
 * to Friday where it is not, so that the report never fails on a year
 * without a calendar). */
#define JUDGED_SQL                                                                                      \
  "WITH p AS (SELECT $1::date AS from_day, $2::date AS to_day, $3::text AS department, "              \
  "    (now() AT TIME ZONE 'Asia/Shanghai')::date AS today), "                                        \
  "b AS MATERIALIZED (SELECT v.release_id, r.department_code AS department, d.name AS department_name, v.title, "  \
  "    split_part(v.tags->>'catalog_code', '-', 1) AS domain_code, v.tags->>'domain' AS domain, "      \
  "    v.tags->>'catalog_code' AS catalog_code, coalesce(v.tags->>'item_l2', v.tags->>'item_l1') AS item, " \
  "    (v.tags->>'due_by')::date AS due_by, v.received_at, p.today, "                                 \
  "    (SELECT min(a.at) FROM delivery_attempts a "                                                   \
  "      WHERE a.release_id = v.release_id AND a.outcome = 'delivered') AS first_at, "                \
  "    EXISTS (SELECT 1 FROM release_revisions w WHERE w.release_id = v.release_id "                  \
  "      AND w.action = 'withdraw') AS withdrawn "                                                    \
  "  FROM release_revisions v JOIN releases r ON r.release_id = v.release_id "                        \
  "  JOIN departments d ON d.code = r.department_code CROSS JOIN p "                                  \
  "  WHERE v.action = 'publish' AND v.status NOT IN ('ignored', 'recorded') "                         \
  "    AND coalesce(v.tags->>'mode', '') <> 'on_request' "                                            \
  "    AND NOT EXISTS (SELECT 1 FROM release_revisions e "                                            \
  "      WHERE e.release_id = v.release_id AND e.revision < v.revision) "                             \
  "    AND v.received_at >= p.from_day::timestamp AT TIME ZONE 'Asia/Shanghai' "                      \
  "    AND v.received_at < (p.to_day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' "                   \
  "    AND (p.department IS NULL OR r.department_code = p.department)), "                             \
  "c AS (SELECT b.*, (b.first_at AT TIME ZONE 'Asia/Shanghai')::date AS first_day, "                  \
  "    coalesce((b.first_at AT TIME ZONE 'Asia/Shanghai')::date, b.today) - b.due_by AS days_late "   \
  "  FROM b), "                                                                                       \
  "j AS (SELECT c.*, CASE WHEN c.due_by IS NULL THEN 'no_deadline' "                                  \
  "    WHEN c.first_day <= c.due_by THEN 'on_time' "                                                  \
  "    WHEN c.first_day IS NOT NULL OR (c.today > c.due_by AND NOT c.withdrawn) THEN 'overdue' "      \
  "    WHEN c.withdrawn THEN 'withdrawn' ELSE 'pending' END AS outcome, "                             \
  "    (SELECT count(*) FROM generate_series(1, greatest(c.days_late, 0)) AS g(n) "                   \
  "      LEFT JOIN calendar_days k ON k.day = c.due_by + g.n "                                        \
  "      WHERE CASE k.kind WHEN 'holiday' THEN false WHEN 'workday' THEN true "                       \
  "        ELSE extract(isodow FROM c.due_by + g.n) < 6 END) AS working_days_late "                  \
  "  FROM c) "

/* Counts per department, per domain and in total (grouping bits first). */
static const char summary_sql[] =
    JUDGED_SQL
    "SELECT GROUPING(department), GROUPING(domain_code), department, max(department_name), domain_code, "
    "max(domain), count(*), count(*) FILTER (WHERE outcome = 'on_time'), "
    "count(*) FILTER (WHERE outcome = 'overdue'), "
    "count(*) FILTER (WHERE outcome = 'overdue' AND first_at IS NULL), "
    "count(*) FILTER (WHERE outcome = 'pending'), "
    "count(*) FILTER (WHERE outcome IN ('no_deadline', 'withdrawn')) "
    "FROM j GROUP BY GROUPING SETS ((department), (domain_code), ()) "
    "ORDER BY 1, 2, 3, 5";

/* The releases one by one: only the overdue ones unless $4. */
static const char releases_sql[] =
    JUDGED_SQL
    "SELECT release_id, department, department_name, domain, catalog_code, item, title, "
    "to_char(received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"'), due_by::text, "
    "to_char(first_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"'), outcome, "
    "CASE WHEN outcome = 'overdue' THEN working_days_late END, "
    "CASE WHEN outcome = 'overdue' THEN days_late END "
    "FROM j WHERE $4::boolean OR outcome = 'overdue' "
    "ORDER BY department, due_by NULLS LAST, received_at, release_id";

/* Columns of summary_sql. */
enum { S_GROUP_DEPARTMENT, S_GROUP_DOMAIN, S_DEPARTMENT, S_DEPARTMENT_NAME, S_DOMAIN_CODE, S_DOMAIN,
       S_RELEASES, S_ON_TIME, S_OVERDUE, S_UNDELIVERED, S_PENDING, S_NO_DEADLINE };

/* Columns of releases_sql, and the CSV header naming them. */
enum { R_RELEASE, R_DEPARTMENT, R_DEPARTMENT_NAME, R_DOMAIN, R_CATALOG_CODE, R_ITEM, R_TITLE, R_RECEIVED,
       R_DUE_BY, R_FIRST_DELIVERED, R_OUTCOME, R_WORKING_DAYS_LATE, R_DAYS_LATE, R_COLUMNS };
static const char *const release_fields[R_COLUMNS] = {
    "release_id", "department", "department_name", "domain", "catalog_code", "item", "title",
    "received_at", "due_by", "first_delivered_at", "outcome", "working_days_late", "days_late"};

/* The period and filter asked for. */
struct query {
  char from[16], to[16], today[16];
  const char *department; /* NULL: all */
  char department_name[256];
};

/* --- small helpers ------------------------------------------------------------ */

/* True for a real calendar date written YYYY-MM-DD. */
static bool is_date(const char *s) {
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d, used = 0;
  if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10 || s[4] != '-' ||
      s[7] != '-' || y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

static json_int_t number(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? 0 : (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static const char *value_or_null(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* on_time / (on_time + overdue), to four places; null when nothing was due. */
static json_t *rate(json_int_t on_time, json_int_t overdue) {
  json_int_t due = on_time + overdue;
  return due ? json_real((double)((on_time * 10000 + due / 2) / due) / 10000.0) : json_null();
}

/* --- queries ------------------------------------------------------------------- */

/* Resolves the period's defaults and checks the department. Returns 0 or -1
 * with err. */
static int resolve(struct ctl *ctl, struct query *q, const char *from, const char *to, char *err, size_t errlen) {
  bool transient;
  const char *const params[] = {from, to};
  if (zw_pg_run(ctl->pg, no_jit_sql, 0, NULL, &transient, err, errlen) < 0) return -1;
  PGresult *res = zw_pg_exec(ctl->pg, period_sql, 2, params, &transient, err, errlen);
  if (!res) return -1;
  snprintf(q->from, sizeof q->from, "%s", PQgetvalue(res, 0, 0));
  snprintf(q->to, sizeof q->to, "%s", PQgetvalue(res, 0, 1));
  snprintf(q->today, sizeof q->today, "%s", PQgetvalue(res, 0, 2));
  PQclear(res);
  if (strcmp(q->from, q->to) > 0) {
    snprintf(err, errlen, "the period starts (%s) after it ends (%s)", q->from, q->to);
    return -1;
  }
  if (!q->department) return 0;
  const char *const dept[] = {q->department};
  if (!(res = zw_pg_exec(ctl->pg, department_sql, 1, dept, &transient, err, errlen))) return -1;
  int found = PQntuples(res);
  if (found) snprintf(q->department_name, sizeof q->department_name, "%s", PQgetvalue(res, 0, 0));
  else snprintf(err, errlen, "unknown department '%s' (see zwgkctl department list)", q->department);
  PQclear(res);
  return found ? 0 : -1;
}

static PGresult *run_summary(struct ctl *ctl, const struct query *q, char *err, size_t errlen) {
  bool transient;
  const char *const params[] = {q->from, q->to, q->department};
  return zw_pg_exec(ctl->pg, summary_sql, 3, params, &transient, err, errlen);
}

static PGresult *run_releases(struct ctl *ctl, const struct query *q, bool all, char *err, size_t errlen) {
  bool transient;
  const char *const params[] = {q->from, q->to, q->department, all ? "true" : "false"};
  return zw_pg_exec(ctl->pg, releases_sql, 4, params, &transient, err, errlen);
}

/* --- JSON ------------------------------------------------------------------------ */

/* The counts of one summary row. */
static json_t *counts(const PGresult *res, int r) {
  json_int_t on_time = number(res, r, S_ON_TIME), overdue = number(res, r, S_OVERDUE);
  return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "releases", number(res, r, S_RELEASES), "on_time",
                   on_time, "overdue", overdue, "overdue_undelivered", number(res, r, S_UNDELIVERED), "pending",
                   number(res, r, S_PENDING), "not_assessed", number(res, r, S_NO_DEADLINE), "on_time_rate",
                   rate(on_time, overdue));
}

/* {totals, departments, domains} from the summary rows. */
static int summary_json(const PGresult *res, json_t *out) {
  json_t *departments = json_array(), *domains = json_array();
  json_object_set_new(out, "departments", departments);
  json_object_set_new(out, "domains", domains);
  for (int r = 0; r < PQntuples(res); r++) {
    bool by_department = !number(res, r, S_GROUP_DEPARTMENT), by_domain = !number(res, r, S_GROUP_DOMAIN);
    json_t *row = counts(res, r);
    if (!row || !departments || !domains) {
      json_decref(row);
      return -1;
    }
    if (by_department) {
      json_object_set_new(row, "department", json_string(PQgetvalue(res, r, S_DEPARTMENT)));
      json_object_set_new(row, "name", json_string(PQgetvalue(res, r, S_DEPARTMENT_NAME)));
      json_array_append_new(departments, row);
    } else if (by_domain) {
      const char *code = value_or_null(res, r, S_DOMAIN_CODE), *name = value_or_null(res, r, S_DOMAIN);
      json_object_set_new(row, "domain_code", code && *code ? json_string(code) : json_null());
      json_object_set_new(row, "domain", name ? json_string(name) : json_null());
      json_array_append_new(domains, row);
    } else {
      json_object_set_new(out, "totals", row);
    }
  }
  return 0;
}

static json_t *release_json(const PGresult *res, int r) {
  json_t *row = json_object();
  for (int c = 0; row && c < R_COLUMNS; c++) {
    json_t *v = PQgetisnull(res, r, c)                               ? json_null()
                : c == R_WORKING_DAYS_LATE || c == R_DAYS_LATE ? json_integer(number(res, r, c))
                                                                   : json_string(PQgetvalue(res, r, c));
    json_object_set_new(row, release_fields[c], v);
  }
  return row;
}

static int print_json(const struct query *q, const PGresult *summary, const PGresult *overdue) {
  json_t *out = json_pack("{s:{s:s, s:s, s:s}, s:s?, s:s}", "period", "from", q->from, "to", q->to, "by",
                          "received_at, China Standard Time", "department", q->department, "today", q->today);
  json_t *list = json_array();
  int rc = out && list && summary_json(summary, out) == 0 ? CTL_OK : CTL_FAILED;
  for (int r = 0; rc == CTL_OK && r < PQntuples(overdue); r++)
    if (json_array_append_new(list, release_json(overdue, r)) < 0) rc = CTL_FAILED;
  if (rc == CTL_OK && json_object_set(out, "overdue", list) == 0) rc = ctl_print_json(out);
  else rc = ctl_fail("out of memory");
  json_decref(list);
  json_decref(out);
  return rc;
}

/* --- CSV (RFC 4180) ------------------------------------------------------------- */

static void csv_field(const char *s, FILE *out) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

/* One row per release with the CSV header first; lines end in CRLF. */
static int print_csv(const PGresult *res) {
  for (int c = 0; c < R_COLUMNS; c++) {
    if (c) fputc(',', stdout);
    fputs(release_fields[c], stdout);
  }
  fputs("\r\n", stdout);
  for (int r = 0; r < PQntuples(res); r++) {
    for (int c = 0; c < R_COLUMNS; c++) {
      if (c) fputc(',', stdout);
      csv_field(PQgetvalue(res, r, c), stdout); /* SQL NULL is the empty field */
    }
    fputs("\r\n", stdout);
  }
  return fflush(stdout) == 0 && !ferror(stdout) ? CTL_OK : ctl_fail("cannot write the CSV output");
}

/* --- tables ---------------------------------------------------------------------- */

static void rate_text(json_int_t on_time, json_int_t overdue, char *out, size_t len) {
  json_int_t due = on_time + overdue;
  if (due) snprintf(out, len, "%.1f%%", (double)((on_time * 1000 + due / 2) / due) / 10.0);
  else snprintf(out, len, "-");
}

/* Adds the counts of summary row r under the given first cells. */
static int add_counts(struct ctl_table *t, const PGresult *res, int r, const char *first, const char *second) {
  char rate_cell[16];
  rate_text(number(res, r, S_ON_TIME), number(res, r, S_OVERDUE), rate_cell, sizeof rate_cell);
  const char *cells[] = {first, second, PQgetvalue(res, r, S_RELEASES), PQgetvalue(res, r, S_ON_TIME),
                         PQgetvalue(res, r, S_OVERDUE), PQgetvalue(res, r, S_PENDING),
                         PQgetvalue(res, r, S_NO_DEADLINE), rate_cell};
  return ctl_table_add(t, cells);
}

/* The department table (by_department) or the domain table, with the total last. */
static int print_counts(const PGresult *res, bool by_department) {
  const char *const headers[] = {by_department ? "DEPARTMENT" : "DOMAIN", "NAME", "RELEASES", "ON TIME",
                                 "OVERDUE", "PENDING", "NOT ASSESSED", "ON-TIME RATE"};
  struct ctl_table *t = ctl_table_new(8, headers);
  if (!t) return -1;
  for (size_t c = 2; c < 8; c++) ctl_table_align_right(t, c);
  int rc = 0;
  for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
    bool dept_row = !number(res, r, S_GROUP_DEPARTMENT), domain_row = !number(res, r, S_GROUP_DOMAIN);
    if (by_department && dept_row)
      rc = add_counts(t, res, r, PQgetvalue(res, r, S_DEPARTMENT), PQgetvalue(res, r, S_DEPARTMENT_NAME));
    else if (!by_department && domain_row)
      rc = add_counts(t, res, r, *PQgetvalue(res, r, S_DOMAIN_CODE) ? PQgetvalue(res, r, S_DOMAIN_CODE) : "-",
                      value_or_null(res, r, S_DOMAIN) ? PQgetvalue(res, r, S_DOMAIN) : "(no catalog item)");
    else if (!dept_row && !domain_row)
      rc = add_counts(t, res, r, "TOTAL", "");
  }
  if (rc == 0) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return rc;
}

static int print_overdue(const PGresult *res) {
  static const char *const headers[] = {"RELEASE", "DEPARTMENT", "ITEM", "DUE BY", "DELIVERED", "LATE"};
  bool colour = ctl_colour(stdout) && PQntuples(res) > 0;
  printf("\n%sOverdue releases: %d%s\n", colour ? "\033[1;31m" : "", PQntuples(res), colour ? "\033[0m" : "");
  if (!PQntuples(res)) return 0;
  struct ctl_table *t = ctl_table_new(6, headers);
  if (!t) return -1;
  int rc = 0;
  for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
    char item[512], delivered[16], late[48];
    snprintf(item, sizeof item, "%s %s", PQgetvalue(res, r, R_CATALOG_CODE), PQgetvalue(res, r, R_ITEM));
    snprintf(delivered, sizeof delivered, "%.10s",
             PQgetisnull(res, r, R_FIRST_DELIVERED) ? "not yet" : PQgetvalue(res, r, R_FIRST_DELIVERED));
    snprintf(late, sizeof late, "%s working day%s", PQgetvalue(res, r, R_WORKING_DAYS_LATE),
             strcmp(PQgetvalue(res, r, R_WORKING_DAYS_LATE), "1") == 0 ? "" : "s");
    const char *cells[] = {PQgetvalue(res, r, R_RELEASE), PQgetvalue(res, r, R_DEPARTMENT_NAME), item,
                           PQgetvalue(res, r, R_DUE_BY), delivered, late};
    rc = ctl_table_add(t, cells);
  }
  if (rc == 0) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return rc;
}

static int print_tables(const struct query *q, const PGresult *summary, const PGresult *overdue) {
  printf("Timeliness of releases received %s to %s (China Standard Time)", q->from, q->to);
  if (q->department) printf(", department %s %s", q->department, q->department_name);
  printf("\n\n");
  if (print_counts(summary, true) < 0) return ctl_fail("out of memory");
  printf("\n");
  if (print_counts(summary, false) < 0 || print_overdue(overdue) < 0) return ctl_fail("out of memory");
  return CTL_OK;
}

/* --- report timeliness ------------------------------------------------------------- */

int cmd_report_timeliness(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--from", "--to", "--department", NULL};
  struct ctl_args args;
  struct query q = {.department = NULL};
  char err[1024];
  bool csv = ctl_take_flag(&argc, argv, "--csv");
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  for (int i = 0; i < 2; i++)
    if (args.option[i] && !is_date(args.option[i])) {
      fprintf(stderr, "zwgkctl: %s wants a date YYYY-MM-DD, not '%s'\n", options[i], args.option[i]);
      return CTL_USAGE;
    }
  if (csv && ctl->json) {
    fprintf(stderr, "zwgkctl: --csv and --json exclude each other\n");
    return CTL_USAGE;
  }
  q.department = args.option[2];
  PGresult *summary = NULL, *releases = NULL;
  int rc = CTL_FAILED;
  if (!ctl_pg(ctl, err, sizeof err) || resolve(ctl, &q, args.option[0], args.option[1], err, sizeof err) < 0 ||
      (!csv && !(summary = run_summary(ctl, &q, err, sizeof err))) ||
      !(releases = run_releases(ctl, &q, csv, err, sizeof err))) {
    ctl_fail("report timeliness: %s", err);
    goto out;
  }
  if (csv) rc = print_csv(releases);
  else if (ctl->json) rc = print_json(&q, summary, releases);
  else rc = print_tables(&q, summary, releases);
out:
  PQclear(summary);
  PQclear(releases);
  return rc;
}
