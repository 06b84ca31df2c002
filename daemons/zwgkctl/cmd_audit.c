/* cmd_audit — `audit verify`: walks the audit log's hash chain (docs/audit.md,
 * zw_audit.h) in id order and names the first row that was altered, deleted or
 * put out of order. The rows are read through a cursor in one REPEATABLE READ
 * snapshot, FETCH_ROWS at a time, so a log of millions of rows is checked in
 * constant memory while appenders go on writing behind the snapshot. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "zw_audit.h"
#include "zw_envelope.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define FETCH_ROWS 1000
#define HASH_HEX 64

/* Columns fetched per row, in this order. */
enum { COL_ID, COL_AT, COL_ACTOR, COL_ACTION, COL_RELEASE, COL_REVISION, COL_DETAIL, COL_PREV, COL_HASH };

static const char count_sql[] = "SELECT count(*) FROM audit_log";

static const char declare_sql[] =
    "DECLARE audit_walk NO SCROLL CURSOR FOR "
    "SELECT id, " ZW_AUDIT_AT_TEXT_SQL ", actor, action, release_id, revision::text, "
    "detail::text, prev_hash, hash FROM audit_log ORDER BY id";

static const char fetch_sql[] = "FETCH " STR(FETCH_ROWS) " FROM audit_walk";

/* The first later row a broken link points at: the rows were reordered. */
static const char later_sql[] =
    "SELECT id FROM audit_log WHERE hash = $1 AND id > $2::bigint ORDER BY id LIMIT 1";

/* The walk so far. */
struct walk {
  long long total;          /* rows in the snapshot, for the progress bar */
  long long checked;        /* rows found intact */
  long long first_id;       /* 0 until the first row */
  long long prev_id;        /* the last intact row, 0 before the first */
  char prev_hash[HASH_HEX + 1];
  char prev_at[40];         /* its at_text, "" before the first row */
  const char *anchor;       /* --anchor: a hash the chain must contain, or NULL */
  bool anchor_found;
  /* The first broken row, once found. */
  bool broken;
  long long id;
  const char *problem; /* "altered", "deleted", "out_of_order", "truncated" */
  char message[768];
  char stored_prev[HASH_HEX + 1], stored_hash[HASH_HEX + 1], computed[HASH_HEX + 1];
};

/* --- terminal ---------------------------------------------------------------- */

/* --- the checks -------------------------------------------------------------- */

static bool plain_field(const char *s) { return *s && !strchr(s, '|'); }

/* Says in why which field rule of docs/audit.md the row breaks; false if none. */
static bool breaks_rules(const PGresult *res, int r, char *why, size_t len) {
  const char *release = PQgetvalue(res, r, COL_RELEASE), *revision = PQgetvalue(res, r, COL_REVISION);
  if (!plain_field(PQgetvalue(res, r, COL_ACTOR)) || !plain_field(PQgetvalue(res, r, COL_ACTION)))
    snprintf(why, len, "its actor or action is empty or contains '|'");
  else if (!PQgetisnull(res, r, COL_RELEASE) && !zw_is_release_id(release))
    snprintf(why, len, "its release_id '%s' is not 32 lowercase hex digits", release);
  else if (!PQgetisnull(res, r, COL_REVISION) && strtol(revision, NULL, 10) < 1)
    snprintf(why, len, "its revision %s is below 1", revision);
  else
    return false;
  return true;
}

/* Records the first broken row. */
static void set_broken(struct walk *w, long long id, const char *problem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_broken(struct walk *w, long long id, const char *problem, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->message, sizeof w->message, fmt, ap);
  va_end(ap);
  w->broken = true;
  w->id = id;
  w->problem = problem;
}

/* Names what a broken link means: the hash it names belongs to a later row
 * (rows reordered), or to no row at all (a row deleted, or the previous row
 * altered and its hash recomputed). Returns 0 or -1 with err. */
static int explain_link(struct ctl *ctl, struct walk *w, long long id, char *err, size_t errlen) {
  char id_text[24];
  bool transient;
  snprintf(id_text, sizeof id_text, "%lld", id);
  const char *const params[] = {w->stored_prev, id_text};
  PGresult *res = zw_pg_exec(ctl->pg, later_sql, 2, params, &transient, err, errlen);
  if (!res) return -1;
  if (PQntuples(res) == 1)
    set_broken(w, id, "out_of_order",
               "row %lld is out of order: its prev_hash is the hash of row %s, which comes after it",
               id, PQgetvalue(res, 0, 0));
  else if (!w->prev_id)
    set_broken(w, id, "deleted",
               "row %lld is the first row but its prev_hash is not 64 zeros: the rows before it "
               "were deleted", id);
  else
    set_broken(w, id, "deleted",
               "row %lld does not follow row %lld: its prev_hash %.12s… is not that row's hash "
               "%.12s…; a row between them was deleted (or row %lld was altered and its hash "
               "recomputed)", id, w->prev_id, w->stored_prev, w->prev_hash, w->prev_id);
  PQclear(res);
  return 0;
}

/* Checks row r in the order of docs/audit.md: the link, the hash, the field
 * rules, the time. Returns 0 (w->broken tells the outcome) or -1 with err. */
static int check_row(struct ctl *ctl, struct walk *w, const PGresult *res, int r, char *err,
                     size_t errlen) {
  long long id = strtoll(PQgetvalue(res, r, COL_ID), NULL, 10);
  const char *at = PQgetvalue(res, r, COL_AT);
  char why[256];
  snprintf(w->stored_prev, sizeof w->stored_prev, "%s", PQgetvalue(res, r, COL_PREV));
  snprintf(w->stored_hash, sizeof w->stored_hash, "%s", PQgetvalue(res, r, COL_HASH));
  if (zw_audit_hash(w->stored_prev, at, PQgetvalue(res, r, COL_ACTOR), PQgetvalue(res, r, COL_ACTION),
                    PQgetisnull(res, r, COL_RELEASE) ? NULL : PQgetvalue(res, r, COL_RELEASE),
                    PQgetisnull(res, r, COL_REVISION) ? NULL : PQgetvalue(res, r, COL_REVISION),
                    PQgetvalue(res, r, COL_DETAIL), w->computed) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (strcmp(PQgetvalue(res, r, COL_PREV), w->prev_hash) != 0)
    return explain_link(ctl, w, id, err, errlen);
  if (strcmp(w->computed, PQgetvalue(res, r, COL_HASH)) != 0)
    set_broken(w, id, "altered",
               "row %lld was altered: its content does not hash to its stored hash %.12s… "
               "(recomputed %.12s…)", id, w->stored_hash, w->computed);
  else if (breaks_rules(res, r, why, sizeof why))
    set_broken(w, id, "altered", "row %lld was altered: %s", id, why);
  else if (strcmp(at, w->prev_at) < 0)
    set_broken(w, id, "out_of_order", "row %lld is out of order: written at %s, before row %lld (%s)",
               id, at, w->prev_id, w->prev_at);
  if (w->broken) return 0;
  if (!w->first_id) w->first_id = id;
  w->prev_id = id;
  w->checked++;
  snprintf(w->prev_hash, sizeof w->prev_hash, "%s", w->stored_hash);
  snprintf(w->prev_at, sizeof w->prev_at, "%s", at);
  if (w->anchor && strcmp(w->anchor, w->stored_hash) == 0) w->anchor_found = true;
  return 0;
}

/* Walks the chain inside the open transaction until the end or the first
 * broken row. Returns 0 or -1 with err. */
static int walk_chain(struct ctl *ctl, struct walk *w, char *err, size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(ctl->pg, count_sql, 0, NULL, &transient, err, errlen);
  if (!res) return -1;
  w->total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  if (zw_pg_run(ctl->pg, declare_sql, 0, NULL, &transient, err, errlen) < 0) return -1;
  for (;;) {
    if (!(res = zw_pg_exec(ctl->pg, fetch_sql, 0, NULL, &transient, err, errlen))) return -1;
    int n = PQntuples(res), rc = 0;
    for (int r = 0; r < n && rc == 0 && !w->broken; r++) rc = check_row(ctl, w, res, r, err, errlen);
    PQclear(res);
    if (rc < 0) return -1;
    ctl_progress("audit verify", w->checked, w->total, false);
    if (n < FETCH_ROWS || w->broken) break;
  }
  if (!w->broken && w->anchor && !w->anchor_found)
    set_broken(w, w->prev_id, "truncated",
               "no row has the anchor hash %.12s…: rows written before it was recorded were "
               "deleted from the end of the log (or it is another database's hash)", w->anchor);
  return 0;
}

/* --- output ------------------------------------------------------------------ */

static json_t *result_json(const struct walk *w) {
  if (!w->broken)
    return json_pack("{s:b, s:I, s:o, s:o, s:s, s:o}", "intact", 1, "rows", (json_int_t)w->checked,
                     "first_id", w->first_id ? json_integer(w->first_id) : json_null(), "last_id",
                     w->prev_id ? json_integer(w->prev_id) : json_null(), "last_hash", w->prev_hash,
                     "anchor", w->anchor ? json_pack("{s:s, s:b}", "hash", w->anchor, "found", 1)
                                         : json_null());
  bool truncated = strcmp(w->problem, "truncated") == 0;
  json_t *broken = json_pack("{s:o, s:s, s:s, s:o}", "id", w->id ? json_integer(w->id) : json_null(),
                             "problem", w->problem, "message", w->message, "previous_id",
                             w->prev_id && !truncated ? json_integer(w->prev_id) : json_null());
  if (broken && !truncated) {
    json_object_set_new(broken, "prev_hash", json_string(w->stored_prev));
    json_object_set_new(broken, "expected_prev_hash", json_string(w->prev_hash));
    json_object_set_new(broken, "hash", json_string(w->stored_hash));
    json_object_set_new(broken, "computed_hash", json_string(w->computed));
  }
  return json_pack("{s:b, s:I, s:o?}", "intact", 0, "rows_checked", (json_int_t)w->checked, "broken",
                   broken);
}

static void print_result(const struct walk *w) {
  bool colour = ctl_colour(stdout);
  const char *on = colour ? (w->broken ? "\033[1;31m" : "\033[1;32m") : "", *off = colour ? "\033[0m" : "";
  if (w->broken) {
    printf("%sBROKEN%s at row %lld (%s)\n%s\n", on, off, w->id, w->problem, w->message);
    printf("rows checked before it: %lld\n", w->checked);
    return;
  }
  printf("%sintact%s: %lld row%s checked", on, off, w->checked, w->checked == 1 ? "" : "s");
  if (w->checked) printf(" (ids %lld to %lld)", w->first_id, w->prev_id);
  printf("\nlast hash: %s\n", w->prev_hash);
  if (w->anchor) printf("anchor %s found in the chain\n", w->anchor);
  else if (w->checked)
    printf("(keep the last hash: `audit verify --anchor HASH` later detects rows deleted from the end)\n");
}

static bool is_hash(const char *s) {
  size_t n = strspn(s, "0123456789abcdef");
  return n == HASH_HEX && s[n] == '\0';
}

int cmd_audit_verify(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--anchor", NULL};
  struct ctl_args args;
  struct walk w = {.anchor = NULL};
  char err[1024];
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  if (args.option[0] && !is_hash(args.option[0])) {
    fprintf(stderr, "zwgkctl: --anchor needs a hash of 64 lowercase hex digits\n");
    return CTL_USAGE;
  }
  w.anchor = args.option[0];
  memset(w.prev_hash, '0', HASH_HEX);
  bool transient;
  if (!ctl_pg(ctl, err, sizeof err) ||
      zw_pg_run(ctl->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &transient, err,
                sizeof err) < 0)
    return ctl_fail("audit verify: %s", err);
  int rc = walk_chain(ctl, &w, err, sizeof err);
  ctl_progress("audit verify", 0, 0, true);
  ctl_rollback(ctl); /* read only: nothing to keep */
  if (rc < 0) return ctl_fail("audit verify: %s", err);
  if (ctl->json) {
    json_t *out = result_json(&w);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
    if (rc != CTL_OK) return rc;
  } else {
    print_result(&w);
  }
  return w.broken ? CTL_FAILED : CTL_OK;
}
