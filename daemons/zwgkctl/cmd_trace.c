/* cmd_trace — one release's path through zwgk on one screen (CONTRACT §6):
 * every revision with the time of each stage, its tags and catalog version,
 * review decisions with who and when, and each channel's delivery with its
 * external id, URL and attempts. Everything comes from PostgreSQL, where each
 * stage records what it did. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "zw_envelope.h"

/* Times are shown in China Standard Time, where the releases are made. */
#define CST(col) "to_char(" col " AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')"

static const char release_sql[] =
    "SELECT r.department_code, d.name, r.source_id, " CST("r.first_seen_at") ", r.latest_revision "
    "FROM releases r JOIN departments d ON d.code = r.department_code WHERE r.release_id = $1";

static const char revisions_sql[] =
    "SELECT v.revision, v.action, coalesce(v.doc_type, ''), coalesce(v.title, ''), v.status, "
    "  coalesce(" CST("v.received_at") ", ''), coalesce(" CST("v.classified_at") ", ''), "
    "  coalesce(" CST("v.fanned_out_at") ", ''), coalesce(v.catalog_code, ''), "
    "  coalesce(v.catalog_version::text, ''), coalesce(v.tags::text, 'null'), coalesce(v.interprets, ''), "
    "  coalesce((SELECT " CST("e.publish_at") " || CASE WHEN e.released_at IS NOT NULL THEN ' (released)' "
    "      WHEN e.superseded_by IS NOT NULL THEN ' (superseded by revision ' || e.superseded_by || ')' "
    "      ELSE ' (held)' END FROM embargoes e WHERE e.release_id = v.release_id AND e.revision = v.revision), '') "
    "FROM release_revisions v WHERE v.release_id = $1 ORDER BY v.revision";

static const char reviews_sql[] =
    "SELECT q.revision, array_to_string(q.reasons, ','), coalesce(q.detail, ''), q.status, "
    "  " CST("q.created_at") ", coalesce(q.decided_by, ''), coalesce(" CST("q.decided_at") ", ''), "
    "  coalesce(q.decision_note, ''), q.escalated_at IS NOT NULL, "
    "  coalesce((SELECT string_agg(a.operator, ', ' ORDER BY a.approved_at) FROM review_approvals a "
    "            WHERE a.release_id = q.release_id AND a.revision = q.revision), '') "
    "FROM review_queue q WHERE q.release_id = $1 ORDER BY q.revision";

static const char deliveries_sql[] =
    "SELECT d.revision, d.channel, d.status, coalesce(d.external_id, ''), coalesce(d.url, ''), d.attempts, "
    "  coalesce(" CST("d.updated_at") ", ''), coalesce(d.error, ''), "
    "  coalesce((SELECT " CST("r.next_at") " FROM delivery_retries r WHERE r.release_id = d.release_id "
    "            AND r.revision = d.revision AND r.channel = d.channel), '') "
    "FROM deliveries d WHERE d.release_id = $1 ORDER BY d.revision, d.channel";

static const char audit_sql[] =
    "SELECT " CST("at") ", actor, action, coalesce(revision::text, '') FROM audit_log "
    "WHERE release_id = $1 ORDER BY id";

/* Column c of row r, or NULL when it is the empty string. */
static const char *cell(const PGresult *res, int r, int c) {
  const char *v = PQgetvalue(res, r, c);
  return *v ? v : NULL;
}

static json_t *revisions_json(const PGresult *res) {
  json_t *list = json_array();
  for (int r = 0; list && r < PQntuples(res); r++) {
    json_t *tags = json_loads(PQgetvalue(res, r, 10), JSON_DECODE_ANY, NULL);
    json_array_append_new(
        list, json_pack("{s:i, s:s, s:s?, s:s?, s:s, s:{s:s?, s:s?, s:s?}, s:s?, s:s?, s:o, s:s?, s:s?}",
                        "revision", atoi(PQgetvalue(res, r, 0)), "action", PQgetvalue(res, r, 1), "doc_type",
                        cell(res, r, 2), "title", cell(res, r, 3), "status", PQgetvalue(res, r, 4), "times",
                        "received", cell(res, r, 5), "classified", cell(res, r, 6), "fanned_out", cell(res, r, 7),
                        "catalog_code", cell(res, r, 8), "catalog_version", cell(res, r, 9), "tags",
                        tags ? tags : json_null(), "interprets", cell(res, r, 11), "embargo", cell(res, r, 12)));
  }
  return list;
}

static json_t *reviews_json(const PGresult *res) {
  json_t *list = json_array();
  for (int r = 0; list && r < PQntuples(res); r++)
    json_array_append_new(
        list, json_pack("{s:i, s:s, s:s?, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:s?}", "revision",
                        atoi(PQgetvalue(res, r, 0)), "reasons", PQgetvalue(res, r, 1), "detail", cell(res, r, 2),
                        "status", PQgetvalue(res, r, 3), "held_at", PQgetvalue(res, r, 4), "decided_by",
                        cell(res, r, 5), "decided_at", cell(res, r, 6), "note", cell(res, r, 7), "escalated",
                        strcmp(PQgetvalue(res, r, 8), "t") == 0, "approvals", cell(res, r, 9)));
  return list;
}

static json_t *deliveries_json(const PGresult *res) {
  json_t *list = json_array();
  for (int r = 0; list && r < PQntuples(res); r++)
    json_array_append_new(
        list, json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:i, s:s?, s:s?, s:s?}", "revision", atoi(PQgetvalue(res, r, 0)),
                        "channel", PQgetvalue(res, r, 1), "status", PQgetvalue(res, r, 2), "external_id",
                        cell(res, r, 3), "url", cell(res, r, 4), "attempts", atoi(PQgetvalue(res, r, 5)),
                        "updated_at", cell(res, r, 6), "error", cell(res, r, 7), "next_attempt", cell(res, r, 8)));
  return list;
}

static json_t *audit_json(const PGresult *res) {
  json_t *list = json_array();
  for (int r = 0; list && r < PQntuples(res); r++)
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s?}", "at", PQgetvalue(res, r, 0), "actor",
                                          PQgetvalue(res, r, 1), "action", PQgetvalue(res, r, 2), "revision",
                                          cell(res, r, 3)));
  return list;
}

/* A short list of the tags' channels, e.g. "portal, wechat". */
static void channels_text(const json_t *tags, const char *member, char *out, size_t len) {
  size_t i;
  json_t *c;
  *out = '\0';
  json_array_foreach(json_object_get(tags, member), i, c) {
    snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? ", " : "", json_string_value(c));
  }
}

static void print_revision(const PGresult *res, int r) {
  json_t *tags = json_loads(PQgetvalue(res, r, 10), JSON_DECODE_ANY, NULL);
  printf("\nrevision %s  %s  %s  [%s]\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
         PQgetvalue(res, r, 4));
  if (cell(res, r, 3)) {
    fputs("  title        ", stdout);
    ctl_put_text(stdout, PQgetvalue(res, r, 3));
    fputc('\n', stdout);
  }
  printf("  received     %s\n", cell(res, r, 5) ? PQgetvalue(res, r, 5) : "-");
  printf("  classified   %s\n", cell(res, r, 6) ? PQgetvalue(res, r, 6) : "-");
  if (cell(res, r, 12)) printf("  embargo      until %s\n", PQgetvalue(res, r, 12));
  printf("  fanned out   %s\n", cell(res, r, 7) ? PQgetvalue(res, r, 7) : "-");
  if (cell(res, r, 11)) printf("  interprets   %s\n", PQgetvalue(res, r, 11));
  if (json_is_object(tags)) {
    char channels[256], manual[256];
    channels_text(tags, "channels", channels, sizeof channels);
    channels_text(tags, "manual_channels", manual, sizeof manual);
    printf("  catalog      %s (%s / %s), catalog version %s\n", json_string_value(json_object_get(tags, "catalog_code")),
           json_string_value(json_object_get(tags, "domain")), json_string_value(json_object_get(tags, "item_l2")),
           PQgetvalue(res, r, 9));
    printf("  due by       %s%s\n", json_string_value(json_object_get(tags, "due_by")),
           json_is_true(json_object_get(tags, "late")) ? " (late)" : "");
    printf("  channels     %s%s%s\n", *channels ? channels : "none", *manual ? "; by hand: " : "", manual);
    printf("  decided by   %s\n", json_string_value(json_object_get(tags, "classified_by")));
    size_t n = json_array_size(json_object_get(tags, "redactions"));
    if (n) {
      printf("  masked      ");
      size_t i;
      json_t *red;
      json_array_foreach(json_object_get(tags, "redactions"), i, red) {
        printf(" %lld %s", (long long)json_integer_value(json_object_get(red, "count")),
               json_string_value(json_object_get(red, "kind")));
      }
      printf("\n");
    }
  }
  json_decref(tags);
}

static void print_reviews(const PGresult *res, const char *revision) {
  for (int r = 0; r < PQntuples(res); r++) {
    if (strcmp(PQgetvalue(res, r, 0), revision) != 0) continue;
    printf("  review       %s%s, held %s: %s\n", PQgetvalue(res, r, 1),
           strcmp(PQgetvalue(res, r, 8), "t") == 0 ? " (escalated)" : "", PQgetvalue(res, r, 4),
           PQgetvalue(res, r, 2));
    if (cell(res, r, 9)) printf("               approvals: %s\n", PQgetvalue(res, r, 9));
    if (strcmp(PQgetvalue(res, r, 3), "pending") != 0)
      printf("               %s by %s at %s%s%s\n", PQgetvalue(res, r, 3), PQgetvalue(res, r, 5),
             PQgetvalue(res, r, 6), cell(res, r, 7) ? ": " : "", PQgetvalue(res, r, 7));
    else
      printf("               pending\n");
  }
}

static int print_deliveries(const PGresult *res, const char *revision) {
  static const char *const headers[] = {"  CHANNEL", "STATUS", "ATTEMPTS", "AT", "EXTERNAL ID", "URL / ERROR"};
  struct ctl_table *t = ctl_table_new(6, headers);
  int rows = 0;
  for (int r = 0; t && r < PQntuples(res); r++) {
    if (strcmp(PQgetvalue(res, r, 0), revision) != 0) continue;
    char channel[64], where[1200];
    snprintf(channel, sizeof channel, "  %s", PQgetvalue(res, r, 1));
    if (cell(res, r, 8))
      snprintf(where, sizeof where, "next attempt %s: %s", PQgetvalue(res, r, 8), PQgetvalue(res, r, 7));
    else
      snprintf(where, sizeof where, "%s", cell(res, r, 7) ? PQgetvalue(res, r, 7) : PQgetvalue(res, r, 4));
    const char *cells[] = {channel, PQgetvalue(res, r, 2), PQgetvalue(res, r, 5), PQgetvalue(res, r, 6),
                           cell(res, r, 3), *where ? where : NULL};
    if (ctl_table_add(t, cells) < 0) break;
    rows++;
  }
  if (!t) return -1;
  if (rows) {
    ctl_table_align_right(t, 2);
    ctl_table_print(t, stdout);
  }
  ctl_table_destroy(t);
  return 0;
}

static int print_human(const char *rid, const PGresult *rel, const PGresult *revs, const PGresult *reviews,
                       const PGresult *deliveries, const PGresult *audit) {
  printf("release      %s\n", rid);
  printf("department   %s %s\n", PQgetvalue(rel, 0, 0), PQgetvalue(rel, 0, 1));
  printf("source id    %s\n", PQgetvalue(rel, 0, 2));
  printf("first seen   %s (times in China Standard Time)\n", PQgetvalue(rel, 0, 3));
  for (int r = 0; r < PQntuples(revs); r++) {
    print_revision(revs, r);
    print_reviews(reviews, PQgetvalue(revs, r, 0));
    if (print_deliveries(deliveries, PQgetvalue(revs, r, 0)) < 0) return ctl_fail("out of memory");
  }
  if (PQntuples(audit)) {
    printf("\naudit log\n");
    for (int r = 0; r < PQntuples(audit); r++)
      printf("  %s  %-28s %-22s%s%s\n", PQgetvalue(audit, r, 0), PQgetvalue(audit, r, 2), PQgetvalue(audit, r, 1),
             cell(audit, r, 3) ? " revision " : "", PQgetvalue(audit, r, 3));
  }
  return CTL_OK;
}

int cmd_trace(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char err[512];
  bool transient;
  if (ctl_parse_args(argc, argv, NULL, 1, 1, &args) < 0) return CTL_USAGE;
  const char *rid = args.positional[0];
  if (!zw_is_release_id(rid)) {
    ctl_fail("'%s' is not a release id (32 lowercase hex digits)", rid);
    return CTL_USAGE;
  }
  if (!ctl_pg(ctl, err, sizeof err)) return ctl_fail("%s", err);
  const char *params[] = {rid};
  const char *queries[] = {release_sql, revisions_sql, reviews_sql, deliveries_sql, audit_sql};
  PGresult *res[5] = {NULL};
  int rc = CTL_FAILED;
  /* One snapshot, so that the stages' rows agree with each other. */
  if (zw_pg_run(ctl->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &transient, err, sizeof err) <
      0) {
    ctl_fail("%s", err);
    return CTL_FAILED;
  }
  for (size_t i = 0; i < 5; i++) {
    if (!(res[i] = zw_pg_exec(ctl->pg, queries[i], 1, params, &transient, err, sizeof err))) {
      ctl_fail("%s", err);
      goto out;
    }
  }
  if (PQntuples(res[0]) != 1) {
    ctl_fail("no release %s", rid);
    goto out;
  }
  if (ctl->json) {
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "release_id", rid, "department",
                            PQgetvalue(res[0], 0, 0), "department_name", PQgetvalue(res[0], 0, 1), "source_id",
                            PQgetvalue(res[0], 0, 2), "first_seen", PQgetvalue(res[0], 0, 3), "latest_revision",
                            atoi(PQgetvalue(res[0], 0, 4)), "revisions", revisions_json(res[1]), "reviews",
                            reviews_json(res[2]), "deliveries", deliveries_json(res[3]), "audit",
                            audit_json(res[4]));
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    rc = print_human(rid, res[0], res[1], res[2], res[3], res[4]);
  }
out:
  for (size_t i = 0; i < 5; i++) PQclear(res[i]);
  ctl_rollback(ctl);
  return rc;
}
