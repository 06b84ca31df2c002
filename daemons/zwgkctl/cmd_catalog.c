/* cmd_catalog — the standard catalog from the operator's side (CONTRACT §6,
 * docs/catalog.md): `catalog list`, `catalog coverage` (every active item has a
 * portal column, a channel and a responsible department), `catalog reevaluate`
 * (releases held as unclassified, tried again against the catalog as it is
 * now), and the helpers the group's files share. `catalog import` is in
 * cmd_catalog_import.c, reading its file in cmd_catalog_file.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_catalog.h"
#include "zw_catalog.h"
#include "zw_privacy.h"
#include "zw_tagging.h"

/* --- helpers ------------------------------------------------------------------ */

bool catalog_in_set(const char *value, const char *const *set) {
  for (; value && *set; set++)
    if (strcmp(value, *set) == 0) return true;
  return false;
}

const char *catalog_set_text(const char *const *set, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (; *set && n < len; set++) n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", *set);
  return buf;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *catalog_sorted_strings(const json_t *list) {
  size_t n = json_array_size(list), i;
  const char **v = calloc(n ? n : 1, sizeof *v);
  json_t *out = v ? json_array() : NULL, *s;
  if (out) {
    json_array_foreach(list, i, s) v[i] = json_string_value(s) ? json_string_value(s) : "";
    qsort(v, n, sizeof *v, compare_strings);
    for (i = 0; i < n; i++) json_array_append_new(out, json_string(v[i]));
  }
  free(v);
  return out;
}

json_t *catalog_query_json(struct ctl *ctl, const char *sql, int nparams, const char *const *params, char *err,
                           size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(ctl->pg, sql, nparams, params, &transient, err, errlen);
  if (!res) return NULL;
  json_t *v = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL) : NULL;
  if (!v) snprintf(err, errlen, "unreadable JSON from PostgreSQL");
  PQclear(res);
  return v;
}

void catalog_progress_start(struct catalog_progress *p, bool wanted, const char *label, size_t total) {
  *p = (struct catalog_progress){wanted && total > 0 && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO), label,
                                 total, 0, -1};
}

void catalog_progress_step(struct catalog_progress *p) {
  if (!p->on) return;
  int pct = (int)(++p->done * 100 / p->total);
  if (pct == p->shown) return;
  p->shown = pct;
  ctl_progress(p->label, (long long)p->done, (long long)p->total, false);
}

void catalog_progress_end(struct catalog_progress *p) {
  if (p->on) ctl_progress(p->label, 0, 0, true);
  p->on = false;
}

/* "a,b,c" of an array of strings into buf; NULL (shown as "-") when empty. */
static const char *joined(const json_t *list, char *buf, size_t len) {
  size_t n = 0, i;
  json_t *s;
  buf[0] = '\0';
  json_array_foreach(list, i, s) {
    if (n < len) n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", json_string_value(s));
  }
  return n ? buf : NULL;
}

/* Fails unless domain (when given) exists. */
static int require_domain(struct ctl *ctl, const char *domain, char *err, size_t errlen) {
  bool transient;
  if (!domain) return 0;
  const char *params[] = {domain};
  PGresult *res = zw_pg_exec(ctl->pg, "SELECT 1 FROM catalog_domains WHERE code = $1", 1, params, &transient, err,
                             errlen);
  if (!res) return -1;
  int found = PQntuples(res);
  PQclear(res);
  if (!found) snprintf(err, errlen, "unknown domain '%s'", domain);
  return found ? 0 : -1;
}

/* --- catalog list ---------------------------------------------------------------- */

/* Every item (of domain $1, or all; inactive ones too when $2), as `catalog
 * list --json` shows it, which `catalog import` also reads back. */
const char catalog_list_sql[] =
    "SELECT coalesce(json_agg(json_build_object("
    "  'code', i.code, 'domain_code', i.domain_code, 'domain_name', d.name, 'item_l1', i.item_l1, "
    "  'item_l2', i.item_l2, 'content', i.content, 'basis', i.basis, 'time_limit_text', i.time_limit_text, "
    "  'time_limit_kind', i.time_limit_kind, 'time_limit_days', i.time_limit_days, 'period', i.period, "
    "  'audience', i.audience, 'mode', i.mode, 'level', i.level, 'column_path', i.column_path, "
    "  'column_name', (SELECT p.name FROM portal_columns p WHERE p.path = i.column_path), "
    "  'active', i.active, 'catalog_version', i.catalog_version, "
    "  'channels', coalesce((SELECT json_agg(c.channel ORDER BY c.channel COLLATE \"C\") "
    "      FROM catalog_item_channels c JOIN channels ch ON ch.code = c.channel "
    "      WHERE c.item_code = i.code AND ch.automated), '[]'), "
    "  'manual_channels', coalesce((SELECT json_agg(c.channel ORDER BY c.channel COLLATE \"C\") "
    "      FROM catalog_item_channels c JOIN channels ch ON ch.code = c.channel "
    "      WHERE c.item_code = i.code AND NOT ch.automated), '[]'), "
    "  'bodies', coalesce((SELECT json_agg(b.department_code ORDER BY b.department_code COLLATE \"C\") "
    "      FROM catalog_item_bodies b WHERE b.item_code = i.code), '[]')) "
    "  ORDER BY d.sort NULLS LAST, d.code, i.code), '[]')::text "
    "FROM catalog_items i JOIN catalog_domains d ON d.code = i.domain_code "
    "WHERE ($1::text IS NULL OR i.domain_code = $1) AND (i.active OR $2::boolean)";

static const char version_sql[] = "SELECT coalesce(max(version), 0)::text FROM catalog_versions";

/* The time limit in the docs' short form: "20 wd", "3 d", "realtime", "monthly". */
static const char *limit_text(const json_t *item, char *buf, size_t len) {
  const char *kind = json_string_value(json_object_get(item, "time_limit_kind"));
  long long days = json_integer_value(json_object_get(item, "time_limit_days"));
  if (kind && strcmp(kind, "working_days") == 0) snprintf(buf, len, "%lld wd", days);
  else if (kind && strcmp(kind, "days") == 0) snprintf(buf, len, "%lld d", days);
  else if (kind && strcmp(kind, "periodic") == 0)
    snprintf(buf, len, "%s", json_string_value(json_object_get(item, "period")));
  else snprintf(buf, len, "%s", kind ? kind : "-");
  return buf;
}

static int print_items(const json_t *items, bool all, int version) {
  static const char *const headers[] = {"CODE",     "DOMAIN", "ITEM",  "TIME LIMIT", "CHANNELS", "MANUAL",
                                        "AUDIENCE", "MODE",   "LEVEL", "BODIES",     "ACTIVE"};
  struct ctl_table *t = ctl_table_new(all ? 11 : 10, headers);
  if (!t) return ctl_fail("out of memory");
  ctl_table_align_right(t, 9);
  size_t i;
  json_t *it;
  int rc = CTL_OK;
  json_array_foreach(items, i, it) {
    char limit[32], channels[256], manual[256], bodies[16];
    snprintf(bodies, sizeof bodies, "%zu", json_array_size(json_object_get(it, "bodies")));
    const char *cells[] = {json_string_value(json_object_get(it, "code")),
                           json_string_value(json_object_get(it, "domain_code")),
                           json_string_value(json_object_get(it, "item_l2")), limit_text(it, limit, sizeof limit),
                           joined(json_object_get(it, "channels"), channels, sizeof channels),
                           joined(json_object_get(it, "manual_channels"), manual, sizeof manual),
                           json_string_value(json_object_get(it, "audience")),
                           json_string_value(json_object_get(it, "mode")),
                           json_string_value(json_object_get(it, "level")), bodies,
                           json_is_true(json_object_get(it, "active")) ? "yes" : "no"};
    if (ctl_table_add(t, cells) < 0) rc = ctl_fail("out of memory");
  }
  if (rc == CTL_OK) {
    ctl_table_print(t, stdout);
    printf("%zu item%s, catalog version %d\n", json_array_size(items), json_array_size(items) == 1 ? "" : "s",
           version);
  }
  ctl_table_destroy(t);
  return rc;
}

int cmd_catalog_list(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--domain", NULL};
  struct ctl_args args;
  char err[1024];
  bool all = ctl_take_flag(&argc, argv, "--all"), active = ctl_take_flag(&argc, argv, "--active");
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  if (all && active) {
    ctl_fail("--active and --all exclude each other");
    return CTL_USAGE;
  }
  const char *params[] = {args.option[0], all ? "true" : "false"};
  if (!ctl_pg(ctl, err, sizeof err) || require_domain(ctl, args.option[0], err, sizeof err) < 0)
    return ctl_fail("catalog list: %s", err);
  json_t *items = catalog_query_json(ctl, catalog_list_sql, 2, params, err, sizeof err);
  json_t *version = items ? catalog_query_json(ctl, version_sql, 0, NULL, err, sizeof err) : NULL;
  int rc;
  if (!version) {
    rc = ctl_fail("catalog list: %s", err);
  } else if (ctl->json) {
    json_t *out = json_pack("{s:O, s:O}", "catalog_version", version, "items", items);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    rc = print_items(items, all, (int)json_integer_value(version));
  }
  json_decref(items);
  json_decref(version);
  return rc;
}

/* --- catalog coverage -------------------------------------------------------------- */

/* Per active item: a portal column (one naming the item, or the item's
 * column_path), any channel, an automated channel, a responsible body. */
static const char coverage_sql[] =
    "SELECT coalesce(json_agg(json_build_object("
    "  'code', i.code, 'domain_code', i.domain_code, 'item_l2', i.item_l2, "
    "  'column', EXISTS (SELECT 1 FROM portal_columns p WHERE p.item_code = i.code OR p.path = i.column_path), "
    "  'channel', EXISTS (SELECT 1 FROM catalog_item_channels c WHERE c.item_code = i.code), "
    "  'automated', EXISTS (SELECT 1 FROM catalog_item_channels c JOIN channels ch ON ch.code = c.channel "
    "      WHERE c.item_code = i.code AND ch.automated), "
    "  'body', EXISTS (SELECT 1 FROM catalog_item_bodies b WHERE b.item_code = i.code)) "
    "  ORDER BY d.sort NULLS LAST, d.code, i.code), '[]')::text "
    "FROM catalog_items i JOIN catalog_domains d ON d.code = i.domain_code "
    "WHERE i.active AND ($1::text IS NULL OR i.domain_code = $1)";

/* What an item lacks: the names in the JSON output, and for people. */
static const char *const gap_names[][2] = {
    {"column", "portal_column"}, {"channel", "channel"}, {"body", "responsible_department"}};
static const char *const gap_text[] = {"portal column", "channel", "responsible department"};

/* {active_items, covered, with_automated_channel, manual_only, gaps: [{code, domain_code, item_l2, missing}]} */
static json_t *coverage(const json_t *rows) {
  json_t *gaps = json_array(), *row;
  size_t i, automated = 0, manual_only = 0;
  json_array_foreach(rows, i, row) {
    json_t *missing = json_array();
    for (size_t g = 0; g < 3; g++)
      if (!json_is_true(json_object_get(row, gap_names[g][0])))
        json_array_append_new(missing, json_string(gap_names[g][1]));
    if (json_is_true(json_object_get(row, "automated"))) automated++;
    else if (json_is_true(json_object_get(row, "channel"))) manual_only++;
    if (json_array_size(missing) == 0) json_decref(missing);
    else
      json_array_append_new(gaps, json_pack("{s:O, s:O, s:O, s:o}", "code", json_object_get(row, "code"), "domain_code",
                                            json_object_get(row, "domain_code"), "item_l2",
                                            json_object_get(row, "item_l2"), "missing", missing));
  }
  return json_pack("{s:I, s:I, s:I, s:I, s:o}", "active_items", (json_int_t)json_array_size(rows), "covered",
                   (json_int_t)(json_array_size(rows) - json_array_size(gaps)), "with_automated_channel",
                   (json_int_t)automated, "manual_only", (json_int_t)manual_only, "gaps", gaps);
}

static int print_coverage(const json_t *cov) {
  json_int_t total = json_integer_value(json_object_get(cov, "active_items"));
  json_t *gaps = json_object_get(cov, "gaps"), *gap, *m;
  bool colour = ctl_colour(stdout);
  printf("%lld active items: %lld covered, %s%zu with gaps%s (%lld with an automated channel, %lld manual only)\n",
         (long long)total, (long long)json_integer_value(json_object_get(cov, "covered")),
         colour && json_array_size(gaps) ? "\033[31m" : "", json_array_size(gaps),
         colour && json_array_size(gaps) ? "\033[0m" : "",
         (long long)json_integer_value(json_object_get(cov, "with_automated_channel")),
         (long long)json_integer_value(json_object_get(cov, "manual_only")));
  if (!json_array_size(gaps)) return CTL_OK;
  static const char *const headers[] = {"ITEM", "DOMAIN", "NAME", "MISSING"};
  struct ctl_table *t = ctl_table_new(4, headers);
  if (!t) return ctl_fail("out of memory");
  size_t i, j;
  json_array_foreach(gaps, i, gap) {
    char missing[128] = "";
    size_t n = 0;
    json_array_foreach(json_object_get(gap, "missing"), j, m) {
      for (size_t g = 0; g < 3; g++)
        if (strcmp(json_string_value(m), gap_names[g][1]) == 0)
          n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", gap_text[g]);
    }
    const char *cells[] = {json_string_value(json_object_get(gap, "code")),
                           json_string_value(json_object_get(gap, "domain_code")),
                           json_string_value(json_object_get(gap, "item_l2")), missing};
    if (ctl_table_add(t, cells) < 0) {
      ctl_table_destroy(t);
      return ctl_fail("out of memory");
    }
  }
  ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return CTL_OK;
}

int cmd_catalog_coverage(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--domain", NULL};
  struct ctl_args args;
  char err[1024];
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  const char *params[] = {args.option[0]};
  if (!ctl_pg(ctl, err, sizeof err) || require_domain(ctl, args.option[0], err, sizeof err) < 0)
    return ctl_fail("catalog coverage: %s", err);
  json_t *rows = catalog_query_json(ctl, coverage_sql, 1, params, err, sizeof err);
  if (!rows) return ctl_fail("catalog coverage: %s", err);
  json_t *cov = coverage(rows);
  json_decref(rows);
  if (!cov) return ctl_fail("out of memory");
  int rc = ctl->json ? ctl_print_json(cov) : print_coverage(cov);
  size_t gaps = json_array_size(json_object_get(cov, "gaps"));
  if (rc == CTL_OK && gaps) rc = ctl_fail("%zu active item%s with coverage gaps", gaps, gaps == 1 ? "" : "s");
  json_decref(cov);
  return rc;
}

/* --- re-evaluation ------------------------------------------------------------------ */

/* The releases held as unclassified, oldest first, and whether a later
 * revision of the release has been processed since. */
static const char held_sql[] =
    "SELECT q.release_id, q.revision::text, q.envelope::text, coalesce(r.latest_revision, 0) > q.revision "
    "FROM review_queue q LEFT JOIN releases r ON r.release_id = q.release_id "
    "WHERE q.status = 'pending' AND 'unclassified' = ANY (q.reasons) "
    "ORDER BY q.created_at, q.release_id, q.revision";

/* True when the classifier would hold the release for its personal data:
 * some was found and its doc_type is listed in classifier.privacy_hold. */
static bool privacy_holds(struct ctl *ctl, const json_t *release) {
  if (!zw_privacy_doc_type_listed(zw_config_str(ctl->cfg, "classifier.privacy_hold"),
                                  json_string_value(json_object_get(release, "doc_type"))))
    return false;
  struct zw_privacy_counts counts = {{0}};
  json_decref(zw_privacy_public(release, &counts));
  return zw_privacy_total(&counts) > 0;
}

/* Why a release that now has tags must still wait for a person, or NULL
 * when the classifier would have sent it straight on. */
static const char *still_held(struct ctl *ctl, const json_t *release, const struct zw_tagging *t, bool superseded) {
  const char *doc_type = json_string_value(json_object_get(release, "doc_type"));
  if (superseded) return "a later revision of the release has been processed";
  if (t->on_request) return "an on-request item (recorded, never published): decide with zwgkctl review approve";
  if (catalog_in_set(doc_type, (const char *const[]){"policy", "interpretation", NULL}))
    return "a policy or interpretation goes out with its partner: decide with zwgkctl review approve";
  if (privacy_holds(ctl, release)) return "personal data, and classifier.privacy_hold holds this doc_type";
  return NULL;
}

static void add_result(struct catalog_reevaluation *re, const char *rid, int revision, const char *outcome,
                       const json_t *tags, const char *detail) {
  json_array_append_new(re->results,
                        json_pack("{s:s, s:i, s:s, s:O?, s:O?, s:s?}", "release_id", rid, "revision", revision,
                                  "outcome", outcome, "catalog_code", json_object_get(tags, "catalog_code"),
                                  "classified_by", json_object_get(tags, "classified_by"), "detail", detail));
}

/* Tags one held release again and sends it on when nothing else holds it. */
static void reevaluate_one(struct ctl *ctl, const struct zw_catalog *cat, const char *decided_by, const char *rid,
                           int revision, const char *held_text, bool superseded, struct catalog_reevaluation *re) {
  char err[512] = "", note[96];
  struct zw_tagging t = {0};
  json_t *env = json_loads(held_text, 0, NULL);
  const json_t *release = json_object_get(env, "release");
  re->tried++;
  if (!json_is_object(release)) {
    snprintf(err, sizeof err, "the held envelope has no release");
  } else if (zw_tagging_run(ctl->pg, cat, release, json_string_value(json_object_get(release, "department")), &t,
                            err, sizeof err) == ZW_OK) {
    const char *hold = t.reason ? t.detail : still_held(ctl, release, &t, superseded);
    snprintf(note, sizeof note, "re-evaluated after catalog version %d", re->version);
    if (hold) {
      re->held++;
      add_result(re, rid, revision, t.reason ? t.reason : "held", t.tags, hold);
      goto out;
    }
    if (ctl_release_reviewed(ctl, rid, revision, t.tags, decided_by, note, "catalog.reevaluated", err,
                             sizeof err) == 0) {
      re->released++;
      add_result(re, rid, revision, "released", t.tags, NULL);
      goto out;
    }
  }
  re->failed++;
  add_result(re, rid, revision, "failed", NULL, err);
  fprintf(stderr, "zwgkctl: re-evaluating %s revision %d: %s\n", rid, revision, err);
out:
  json_decref(t.tags);
  json_decref(env);
}

int catalog_reevaluate(struct ctl *ctl, const char *decided_by, bool progress, struct catalog_reevaluation *re,
                       char *err, size_t errlen) {
  bool transient;
  memset(re, 0, sizeof *re);
  struct zw_catalog *cat = zw_catalog_new();
  if (!cat || !(re->results = json_array())) {
    zw_catalog_destroy(cat);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  PGresult *res = NULL;
  int rc = -1;
  if (!ctl_pg(ctl, err, errlen) || zw_catalog_refresh(cat, ctl->pg, err, errlen) != ZW_OK) goto out;
  re->version = zw_catalog_version(cat);
  if (!(res = zw_pg_exec(ctl->pg, held_sql, 0, NULL, &transient, err, errlen))) goto out;
  struct catalog_progress bar;
  catalog_progress_start(&bar, progress, "re-evaluating", (size_t)PQntuples(res));
  for (int r = 0; r < PQntuples(res); r++) {
    reevaluate_one(ctl, cat, decided_by, PQgetvalue(res, r, 0), atoi(PQgetvalue(res, r, 1)), PQgetvalue(res, r, 2),
                   strcmp(PQgetvalue(res, r, 3), "t") == 0, re);
    catalog_progress_step(&bar);
  }
  catalog_progress_end(&bar);
  rc = 0;
out:
  PQclear(res);
  zw_catalog_destroy(cat);
  return rc;
}

void catalog_reevaluation_clear(struct catalog_reevaluation *re) {
  json_decref(re->results);
  re->results = NULL;
}

json_t *catalog_reevaluation_json(const struct catalog_reevaluation *re) {
  return json_pack("{s:i, s:I, s:I, s:I, s:I, s:O}", "catalog_version", re->version, "tried", (json_int_t)re->tried,
                   "released", (json_int_t)re->released, "held", (json_int_t)re->held, "failed",
                   (json_int_t)re->failed, "releases", re->results);
}

/* A summary line, then a table of what changed: released, failed, or held for
 * a reason other than still matching no rule. */
void catalog_reevaluation_print(const struct catalog_reevaluation *re) {
  bool colour = ctl_colour(stdout);
  if (!re->tried) {
    printf("no releases are held as unclassified\n");
    return;
  }
  printf("re-evaluated %zu release%s held as unclassified against catalog version %d: %s%zu released%s, %zu still "
         "held",
         re->tried, re->tried == 1 ? "" : "s", re->version, colour && re->released ? "\033[32m" : "", re->released,
         colour && re->released ? "\033[0m" : "", re->held);
  if (re->failed) printf(", %s%zu failed%s", colour ? "\033[31m" : "", re->failed, colour ? "\033[0m" : "");
  putchar('\n');
  static const char *const headers[] = {"RELEASE", "REVISION", "OUTCOME", "DETAIL"};
  struct ctl_table *t = ctl_table_new(4, headers);
  size_t i, shown = 0;
  json_t *r;
  json_array_foreach(re->results, i, r) {
    const char *outcome = json_string_value(json_object_get(r, "outcome")), *detail;
    char rev[16], released[160];
    if (!t || strcmp(outcome, "unclassified") == 0) continue;
    snprintf(rev, sizeof rev, "%lld", (long long)json_integer_value(json_object_get(r, "revision")));
    snprintf(released, sizeof released, "%s (%s)", json_string_value(json_object_get(r, "catalog_code")),
             json_string_value(json_object_get(r, "classified_by")));
    detail = strcmp(outcome, "released") == 0 ? released : json_string_value(json_object_get(r, "detail"));
    const char *cells[] = {json_string_value(json_object_get(r, "release_id")), rev, outcome, detail};
    if (ctl_table_add(t, cells) == 0) shown++;
  }
  if (shown) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
}

int cmd_catalog_reevaluate(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char err[1024];
  struct catalog_reevaluation re;
  if (ctl_parse_args(argc, argv, NULL, 0, 0, &args) < 0) return CTL_USAGE;
  int rc = catalog_reevaluate(ctl, "catalog-reevaluate", !ctl->json, &re, err, sizeof err);
  if (rc < 0) {
    rc = ctl_fail("catalog reevaluate: %s", err);
  } else if (ctl->json) {
    json_t *out = catalog_reevaluation_json(&re);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    catalog_reevaluation_print(&re);
    rc = CTL_OK;
  }
  if (rc == CTL_OK && re.failed)
    rc = ctl_fail("%zu release%s could not be sent on", re.failed, re.failed == 1 ? "" : "s");
  catalog_reevaluation_clear(&re);
  return rc;
}
