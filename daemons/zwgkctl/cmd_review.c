/* cmd_review — the review queue (CONTRACT §6): releases the classifier held for
 * a person, and the person's decision. An approval sends the release on to
 * zwgk.tagged with classified_by "operator:<name>"; a release routed to
 * broadcast needs the approvals of two different operators before it goes
 * out. Every decision is audited with who and when. */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "zw_audit.h"
#include "zw_catalog.h"
#include "zw_envelope.h"
#include "zw_kafka.h"
#include "zw_privacy.h"
#include "zw_tagging.h"

/* Distinct operators a broadcast release needs. */
#define BROADCAST_APPROVALS 2

static const char list_sql[] =
    "SELECT q.release_id, q.revision, array_to_string(q.reasons, ','), coalesce(q.detail, ''), "
    "  q.envelope -> 'release' ->> 'department', q.envelope -> 'release' ->> 'title', "
    "  to_char(q.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), q.status, "
    "  q.escalated_at IS NOT NULL, "
    "  (SELECT count(*) FROM review_approvals a WHERE a.release_id = q.release_id AND a.revision = q.revision) "
    "FROM review_queue q "
    "WHERE ($1::text IS NULL OR $1 = ANY (q.reasons)) AND ($2::bool OR q.status = 'pending') "
    "ORDER BY q.created_at, q.release_id, q.revision";

/* The row to decide on: the given revision, else the newest pending one. */
static const char row_sql[] =
    "SELECT q.revision, q.status, q.envelope::text, array_to_string(q.reasons, ','), coalesce(q.detail, ''), "
    "  to_char(q.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), "
    "  coalesce(q.decided_by, ''), coalesce(to_char(q.decided_at AT TIME ZONE 'Asia/Shanghai', "
    "    'YYYY-MM-DD HH24:MI:SS'), ''), coalesce(q.decision_note, ''), q.escalated_at IS NOT NULL "
    "FROM review_queue q WHERE q.release_id = $1 AND ($2::int IS NULL OR q.revision = $2::int) "
    "ORDER BY (q.status = 'pending') DESC, q.revision DESC LIMIT 1";

static const char approvals_sql[] =
    "SELECT operator, coalesce(catalog_code, ''), "
    "  to_char(approved_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') "
    "FROM review_approvals WHERE release_id = $1 AND revision = $2::int ORDER BY approved_at";

/* --- the operator ----------------------------------------------------------- */

/* Sets who to "operator:<name>": the OS user, or --as NAME when the config
 * allows it. Returns 0, or -1 after writing why to stderr. */
static int operator_name(struct ctl *ctl, const char *as, char *who, size_t len) {
  if (!as) {
    snprintf(who, len, "%s", ctl->actor);
    return 0;
  }
  if (!zw_config_bool(ctl->cfg, "zwgkctl.allow_as")) {
    ctl_fail("--as is not allowed by this configuration (zwgkctl.allow_as = false)");
    return -1;
  }
  for (const char *p = as; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-' || *p == '.') ||
        p - as >= 64) {
      ctl_fail("--as: an operator name is 1-64 of A-Z a-z 0-9 _ - .");
      return -1;
    }
  if (!*as) {
    ctl_fail("--as: an operator name is 1-64 of A-Z a-z 0-9 _ - .");
    return -1;
  }
  snprintf(who, len, "operator:%s", as);
  return 0;
}

/* --- Kafka ------------------------------------------------------------------ */

struct delivery_result {
  rd_kafka_resp_err_t err;
  bool done;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  struct delivery_result *result = msg->_private;
  result->err = msg->err;
  result->done = true;
}

/* Writes env to topic suffix `topic`, keyed by its release_id, carrying the
 * release's trace, and waits for Kafka's acknowledgement (acks=all). */
static int produce_acknowledged(struct ctl *ctl, const char *topic, const json_t *env, char *err, size_t errlen) {
  static const char *const props[][2] = {
      {"enable.idempotence", "true"}, {"acks", "all"}, {"message.timeout.ms", "15000"}};
  char full[256], trace_id[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1], tp[ZW_TRACEPARENT_LEN + 1];
  rd_kafka_t *rk = ctl_kafka_new(ctl->cfg, RD_KAFKA_PRODUCER, props, 3, on_delivery, err, errlen);
  if (!rk) return -1;
  int rc = -1;
  char *value = json_dumps(env, JSON_COMPACT);
  const char *key = json_string_value(json_object_get(env, "release_id"));
  const char *ingest_trace = json_string_value(json_object_get(json_object_get(env, "ingest"), "trace_id"));
  if (!value || zw_trace_new(trace_id, span) < 0) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  if (ingest_trace && strlen(ingest_trace) == ZW_TRACE_ID_LEN) memcpy(trace_id, ingest_trace, ZW_TRACE_ID_LEN + 1);
  zw_traceparent_format(tp, trace_id, span);
  zw_kafka_topic(ctl->cfg, topic, full, sizeof full);
  struct delivery_result result = {RD_KAFKA_RESP_ERR_NO_ERROR, false};
  rd_kafka_headers_t *h = zw_kafka_headers(tp, json_string_value(json_object_get(env, "schema")));
  rd_kafka_resp_err_t e =
      rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(full), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
  if (e) {
    rd_kafka_headers_destroy(h);
    snprintf(err, errlen, "produce to %s: %s", full, rd_kafka_err2str(e));
    goto out;
  }
  rd_kafka_flush(rk, 20000);
  if (!result.done) snprintf(err, errlen, "Kafka did not acknowledge %s within 20 s", full);
  else if (result.err) snprintf(err, errlen, "Kafka refused the message on %s: %s", full, rd_kafka_err2str(result.err));
  else rc = 0;
out:
  free(value);
  rd_kafka_destroy(rk);
  return rc;
}

/* --- releasing ---------------------------------------------------------------- */

/* The held envelope of the review row, as a tagged envelope with tags and the
 * masked public text; sets *redactions-bearing tags. New reference or NULL. */
static json_t *tagged_envelope(const char *held, json_t *tags, char *err, size_t errlen) {
  json_t *env = json_loads(held, 0, NULL);
  if (!json_is_object(env)) {
    json_decref(env);
    snprintf(err, errlen, "the held envelope is not a JSON object");
    return NULL;
  }
  struct zw_privacy_counts counts = {{0}};
  json_t *pub = zw_privacy_public(json_object_get(env, "release"), &counts);
  json_t *redactions = zw_privacy_redactions(&counts);
  if (!pub || !redactions) {
    json_decref(pub);
    json_decref(redactions);
    json_decref(env);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  json_object_set_new(tags, "redactions", redactions);
  json_object_del(env, "review");
  json_object_set_new(env, "schema", json_string("zwgk.tagged.v1"));
  json_object_set(env, "tags", tags);
  json_object_set_new(env, "public", pub);
  return env;
}

int ctl_release_reviewed(struct ctl *ctl, const char *release_id, int revision, json_t *tags, const char *decided_by,
                         const char *note, const char *audit_action, char *err, size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", revision);
  if (!ctl_pg(ctl, err, errlen)) return -1;
  const char *key[] = {release_id, rev};
  PGresult *res = zw_pg_exec(ctl->pg,
                             "SELECT envelope::text FROM review_queue WHERE release_id = $1 AND revision = $2::int "
                             "AND status = 'pending'",
                             2, key, &transient, err, errlen);
  if (!res) return -1;
  if (PQntuples(res) != 1) {
    PQclear(res);
    snprintf(err, errlen, "%s revision %s is not held for review", release_id, rev);
    return -1;
  }
  json_t *env = tagged_envelope(PQgetvalue(res, 0, 0), tags, err, errlen);
  PQclear(res);
  if (!env) return -1;
  int rc = produce_acknowledged(ctl, "tagged", env, err, errlen);
  json_decref(env);
  if (rc < 0) return -1;

  char *tags_text = json_dumps(tags, JSON_COMPACT), version[24];
  snprintf(version, sizeof version, "%lld", (long long)json_integer_value(json_object_get(tags, "catalog_version")));
  const char *decide[] = {release_id, rev, decided_by, note};
  const char *record[] = {release_id, rev, tags_text, json_string_value(json_object_get(tags, "catalog_code")),
                          version};
  json_t *detail = json_pack("{s:s?, s:s?, s:s}", "catalog_code", json_string_value(json_object_get(tags, "catalog_code")),
                             "classified_by", json_string_value(json_object_get(tags, "classified_by")), "note", note);
  rc = -1;
  if (!tags_text || !detail || ctl_begin(ctl, err, errlen) < 0) goto out;
  if (zw_pg_run(ctl->pg,
                "UPDATE review_queue SET status = 'approved', decided_by = $3, decided_at = now(), "
                "  decision_note = $4 WHERE release_id = $1 AND revision = $2::int AND status = 'pending'",
                4, decide, &transient, err, errlen) < 0 ||
      zw_pg_run(ctl->pg,
                "UPDATE release_revisions SET status = 'tagged', tags = $3::jsonb, catalog_code = $4, "
                "  catalog_version = $5::int, classified_at = now() WHERE release_id = $1 AND revision = $2::int",
                5, record, &transient, err, errlen) < 0 ||
      zw_audit_append(ctl->pg, decided_by, audit_action, release_id, revision, detail, err, errlen) < 0 ||
      ctl_commit(ctl, err, errlen) < 0) {
    ctl_rollback(ctl);
    goto out;
  }
  rc = 0;
out:
  if (rc < 0 && !*err) snprintf(err, errlen, "out of memory");
  free(tags_text);
  json_decref(detail);
  return rc;
}

/* --- the commands ------------------------------------------------------------- */

/* Parses --revision; 0 when absent. Returns -1 after a message when malformed. */
static int parse_revision(const char *text, int *revision) {
  *revision = 0;
  if (!text) return 0;
  char *end;
  long v = strtol(text, &end, 10);
  if (*end || v < 1 || v > 2147483647) {
    ctl_fail("--revision: a revision is a whole number >= 1");
    return -1;
  }
  *revision = (int)v;
  return 0;
}

/* Loads the review row of release_id (revision, or the newest pending). */
static PGresult *load_row(struct ctl *ctl, const char *release_id, int revision, char *err, size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", revision);
  const char *params[] = {release_id, revision ? rev : NULL};
  if (!zw_is_release_id(release_id)) {
    snprintf(err, errlen, "'%s' is not a release id (32 lowercase hex digits)", release_id);
    return NULL;
  }
  if (!ctl_pg(ctl, err, errlen)) return NULL;
  PGresult *res = zw_pg_exec(ctl->pg, row_sql, 2, params, &transient, err, errlen);
  if (res && PQntuples(res) != 1) {
    PQclear(res);
    snprintf(err, errlen, "no review of release %s%s%s", release_id, revision ? " revision " : "",
             revision ? rev : "");
    return NULL;
  }
  return res;
}

int cmd_review_list(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--reason", "--status", NULL};
  struct ctl_args args;
  char err[512];
  bool transient;
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  const char *status = args.option[1] ? args.option[1] : "pending";
  if (strcmp(status, "pending") != 0 && strcmp(status, "all") != 0) {
    ctl_fail("--status is pending or all");
    return CTL_USAGE;
  }
  const char *params[] = {args.option[0], strcmp(status, "all") == 0 ? "true" : "false"};
  if (!ctl_pg(ctl, err, sizeof err)) return ctl_fail("%s", err);
  PGresult *res = zw_pg_exec(ctl->pg, list_sql, 2, params, &transient, err, sizeof err);
  if (!res) return ctl_fail("%s", err);
  int rc = CTL_OK;
  if (ctl->json) {
    json_t *items = json_array();
    for (int r = 0; items && r < PQntuples(res); r++) {
      json_t *reasons = json_array();
      char *list = strdup(PQgetvalue(res, r, 2)), *save = NULL;
      for (char *t = list ? strtok_r(list, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(reasons, json_string(t));
      free(list);
      json_array_append_new(
          items, json_pack("{s:s, s:i, s:o, s:s, s:s?, s:s?, s:s, s:s, s:b, s:i}", "release_id",
                           PQgetvalue(res, r, 0), "revision", atoi(PQgetvalue(res, r, 1)), "reasons", reasons,
                           "detail", PQgetvalue(res, r, 3), "department", PQgetvalue(res, r, 4), "title",
                           PQgetvalue(res, r, 5), "held_at", PQgetvalue(res, r, 6), "status", PQgetvalue(res, r, 7),
                           "escalated", strcmp(PQgetvalue(res, r, 8), "t") == 0, "approvals",
                           atoi(PQgetvalue(res, r, 9))));
    }
    json_t *out = json_pack("{s:o}", "reviews", items);
    rc = ctl_print_json(out);
    json_decref(out);
  } else {
    static const char *const headers[] = {"RELEASE", "REV", "REASONS", "DEPARTMENT", "TITLE", "HELD AT", "STATUS"};
    struct ctl_table *t = ctl_table_new(7, headers);
    for (int r = 0; t && r < PQntuples(res); r++) {
      char reasons[160];
      snprintf(reasons, sizeof reasons, "%s%s", PQgetvalue(res, r, 2),
               strcmp(PQgetvalue(res, r, 8), "t") == 0 ? " (escalated)" : "");
      char status_text[48];
      snprintf(status_text, sizeof status_text, "%s%s%s", PQgetvalue(res, r, 7),
               strcmp(PQgetvalue(res, r, 9), "0") ? ", approvals " : "",
               strcmp(PQgetvalue(res, r, 9), "0") ? PQgetvalue(res, r, 9) : "");
      const char *cells[] = {PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), reasons, PQgetvalue(res, r, 4),
                             PQgetvalue(res, r, 5), PQgetvalue(res, r, 6), status_text};
      if (ctl_table_add(t, cells) < 0) rc = ctl_fail("out of memory");
    }
    if (t) {
      ctl_table_align_right(t, 1);
      ctl_table_print(t, stdout);
      printf("%d held for review\n", PQntuples(res));
    }
    ctl_table_destroy(t);
  }
  PQclear(res);
  return rc;
}

int cmd_review_show(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--revision", NULL};
  struct ctl_args args;
  char err[512], rev[16];
  int revision;
  bool transient;
  if (ctl_parse_args(argc, argv, options, 1, 1, &args) < 0 || parse_revision(args.option[0], &revision) < 0)
    return CTL_USAGE;
  const char *rid = args.positional[0];
  PGresult *row = load_row(ctl, rid, revision, err, sizeof err);
  if (!row) return ctl_fail("%s", err);
  snprintf(rev, sizeof rev, "%s", PQgetvalue(row, 0, 0));
  const char *params[] = {rid, rev};
  PGresult *approvals = zw_pg_exec(ctl->pg, approvals_sql, 2, params, &transient, err, sizeof err);
  json_t *env = json_loads(PQgetvalue(row, 0, 2), 0, NULL);
  const json_t *release = json_object_get(env, "release");
  int rc = CTL_OK;
  if (!approvals || !env) {
    rc = ctl_fail("%s", approvals ? "the held envelope is not JSON" : err);
  } else if (ctl->json) {
    json_t *list = json_array();
    for (int r = 0; r < PQntuples(approvals); r++)
      json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "operator", PQgetvalue(approvals, r, 0),
                                            "catalog_code", PQgetvalue(approvals, r, 1), "at",
                                            PQgetvalue(approvals, r, 2)));
    json_t *out = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:O, s:o}", "release_id", rid,
                            "revision", atoi(rev), "status", PQgetvalue(row, 0, 1), "reasons",
                            PQgetvalue(row, 0, 3), "detail", PQgetvalue(row, 0, 4), "held_at", PQgetvalue(row, 0, 5),
                            "decided_by", PQgetvalue(row, 0, 6), "decided_at", PQgetvalue(row, 0, 7), "note",
                            PQgetvalue(row, 0, 8), "escalated", strcmp(PQgetvalue(row, 0, 9), "t") == 0, "release",
                            release, "approvals", list);
    rc = ctl_print_json(out);
    json_decref(out);
  } else {
    const char *fields[][2] = {
        {"release", rid},
        {"revision", rev},
        {"status", PQgetvalue(row, 0, 1)},
        {"reasons", PQgetvalue(row, 0, 3)},
        {"detail", PQgetvalue(row, 0, 4)},
        {"held at", PQgetvalue(row, 0, 5)},
        {"escalated", strcmp(PQgetvalue(row, 0, 9), "t") == 0 ? "yes" : "no"},
        {"department", json_string_value(json_object_get(release, "department"))},
        {"doc_type", json_string_value(json_object_get(release, "doc_type"))},
        {"catalog_code", json_string_value(json_object_get(release, "catalog_code"))},
        {"title", json_string_value(json_object_get(release, "title"))},
        {"summary", json_string_value(json_object_get(release, "summary"))},
        {"formed_at", json_string_value(json_object_get(release, "formed_at"))},
        {"decided by", *PQgetvalue(row, 0, 6) ? PQgetvalue(row, 0, 6) : NULL},
        {"decided at", *PQgetvalue(row, 0, 7) ? PQgetvalue(row, 0, 7) : NULL},
        {"note", *PQgetvalue(row, 0, 8) ? PQgetvalue(row, 0, 8) : NULL},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
      if (fields[i][1]) {
        printf("%-13s ", fields[i][0]);
        ctl_put_text(stdout, fields[i][1]);
        fputc('\n', stdout);
      }
    for (int r = 0; r < PQntuples(approvals); r++)
      printf("%-13s %s at %s%s%s\n", r ? "" : "approvals", PQgetvalue(approvals, r, 0), PQgetvalue(approvals, r, 2),
             *PQgetvalue(approvals, r, 1) ? ", catalog " : "", PQgetvalue(approvals, r, 1));
  }
  json_decref(env);
  PQclear(approvals);
  PQclear(row);
  return rc;
}

/* Tags for the held release as the operator decides: the item given with
 * --catalog, else the release's own tagging against the current catalog. */
static int operator_tags(struct ctl *ctl, const json_t *release, const char *catalog, const char *who, json_t **tags,
                         bool *on_request, char *err, size_t errlen) {
  struct zw_catalog *cat = zw_catalog_new();
  struct zw_tagging t;
  int rc = -1;
  *tags = NULL;
  if (!cat) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (zw_catalog_refresh(cat, ctl->pg, err, errlen) != ZW_OK) goto out;
  const char *dept = json_string_value(json_object_get(release, "department"));
  enum zw_outcome o = catalog ? zw_tagging_item(ctl->pg, cat, release, catalog, who, &t, err, errlen)
                              : zw_tagging_run(ctl->pg, cat, release, dept, &t, err, errlen);
  if (o != ZW_OK) goto out;
  if (t.reason) {
    snprintf(err, errlen, "%s%s", t.detail,
             catalog ? "" : "; name the catalog item with --catalog CODE to decide it yourself");
    json_decref(t.tags);
    goto out;
  }
  json_object_set_new(t.tags, "classified_by", json_string(who));
  *tags = t.tags;
  *on_request = t.on_request;
  rc = 0;
out:
  zw_catalog_destroy(cat);
  return rc;
}

/* True when tags route the release to the loudspeakers. */
static bool routed_to_broadcast(const json_t *tags) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(tags, "channels"), i, c) {
    if (strcmp(json_string_value(c), "broadcast") == 0) return true;
  }
  return false;
}

/* Records one operator's approval of a broadcast release; sets *count to the
 * distinct operators so far (this one included). An operator who approved
 * before is refused: the rule is two different people. */
static int record_approval(struct ctl *ctl, const char *rid, const char *rev, const char *who, const json_t *tags,
                           int *count, char *err, size_t errlen) {
  bool transient;
  const char *params[] = {rid, rev, who, json_string_value(json_object_get(tags, "catalog_code"))};
  json_t *detail = json_pack("{s:s?, s:i}", "catalog_code", params[3], "needed", BROADCAST_APPROVALS);
  if (!detail || ctl_begin(ctl, err, errlen) < 0) {
    json_decref(detail);
    return -1;
  }
  PGresult *res = NULL, *mine = zw_pg_exec(ctl->pg,
                                           "INSERT INTO review_approvals (release_id, revision, operator, "
                                           "  catalog_code) VALUES ($1, $2::int, $3, $4) "
                                           "ON CONFLICT DO NOTHING RETURNING 1",
                                           4, params, &transient, err, errlen);
  bool again = mine && PQntuples(mine) == 0;
  if (again)
    snprintf(err, errlen,
             "%s already approved %s revision %s; it goes to broadcast, so a different operator must give the "
             "second approval",
             who, rid, rev);
  if (!mine || again ||
      !(res = zw_pg_exec(ctl->pg,
                         "SELECT count(DISTINCT operator) FROM review_approvals "
                         "WHERE release_id = $1 AND revision = $2::int",
                         2, params, &transient, err, errlen)) ||
      zw_audit_append(ctl->pg, who, "review.approval_recorded", rid, atoi(rev), detail, err, errlen) < 0 ||
      ctl_commit(ctl, err, errlen) < 0) {
    PQclear(mine);
    PQclear(res);
    ctl_rollback(ctl);
    json_decref(detail);
    return -1;
  }
  *count = atoi(PQgetvalue(res, 0, 0));
  PQclear(mine);
  PQclear(res);
  json_decref(detail);
  return 0;
}

/* An on-request (依申请) item is recorded, never fanned out — also when a
 * person approves it. */
static int record_on_request(struct ctl *ctl, const char *rid, const char *rev, const char *who, json_t *tags,
                             char *err, size_t errlen) {
  bool transient;
  char *text = json_dumps(tags, JSON_COMPACT);
  const char *params[] = {rid, rev, who, text};
  json_t *detail = json_pack("{s:s?, s:s}", "catalog_code", json_string_value(json_object_get(tags, "catalog_code")),
                             "note", "on-request item: recorded, not published");
  int rc = -1;
  if (text && detail && ctl_begin(ctl, err, errlen) == 0) {
    if (zw_pg_run(ctl->pg,
                  "UPDATE review_queue SET status = 'approved', decided_by = $3, decided_at = now(), "
                  "  decision_note = 'on-request item: recorded, not published' "
                  "WHERE release_id = $1 AND revision = $2::int AND status = 'pending'",
                  3, params, &transient, err, errlen) < 0 ||
        zw_pg_run(ctl->pg,
                  "UPDATE release_revisions SET status = 'recorded', tags = $4::jsonb, classified_at = now() "
                  "WHERE release_id = $1 AND revision = $2::int",
                  4, params, &transient, err, errlen) < 0 ||
        zw_audit_append(ctl->pg, who, "review.approve", rid, atoi(rev), detail, err, errlen) < 0 ||
        ctl_commit(ctl, err, errlen) < 0)
      ctl_rollback(ctl);
    else
      rc = 0;
  }
  free(text);
  json_decref(detail);
  return rc;
}

static int print_decision(struct ctl *ctl, const char *rid, const char *rev, const char *outcome, const char *who,
                          int approvals, int needed, const json_t *tags) {
  if (ctl->json) {
    json_t *out = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:O?}", "release_id", rid, "revision", atoi(rev),
                            "outcome", outcome, "operator", who, "approvals", approvals, "approvals_needed", needed,
                            "tags", tags);
    int rc = ctl_print_json(out);
    json_decref(out);
    return rc;
  }
  if (strcmp(outcome, "awaiting_second_approval") == 0)
    printf("approval %d of %d recorded for %s revision %s by %s; it goes to broadcast, so a different operator "
           "must approve it too\n",
           approvals, needed, rid, rev, who);
  else if (strcmp(outcome, "recorded") == 0)
    printf("%s revision %s approved by %s: an on-request item, recorded and not published\n", rid, rev, who);
  else
    printf("%s revision %s approved by %s: sent on as %s\n", rid, rev, who,
           json_string_value(json_object_get(tags, "catalog_code")));
  return CTL_OK;
}

int cmd_review_approve(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--revision", "--catalog", "--as", NULL};
  struct ctl_args args;
  char err[512] = "", rev[16], who[160];
  int revision, approvals = 0, needed = 1;
  if (ctl_parse_args(argc, argv, options, 1, 1, &args) < 0 || parse_revision(args.option[0], &revision) < 0)
    return CTL_USAGE;
  if (operator_name(ctl, args.option[2], who, sizeof who) < 0) return CTL_USAGE;
  const char *rid = args.positional[0];
  PGresult *row = load_row(ctl, rid, revision, err, sizeof err);
  if (!row) return ctl_fail("%s", err);
  snprintf(rev, sizeof rev, "%s", PQgetvalue(row, 0, 0));
  if (strcmp(PQgetvalue(row, 0, 1), "pending") != 0) {
    int rc = ctl_fail("%s revision %s was already %s by %s", rid, rev, PQgetvalue(row, 0, 1), PQgetvalue(row, 0, 6));
    PQclear(row);
    return rc;
  }
  json_t *env = json_loads(PQgetvalue(row, 0, 2), 0, NULL), *tags = NULL;
  PQclear(row);
  bool on_request = false;
  int rc = CTL_FAILED;
  if (!env) {
    ctl_fail("the held envelope of %s is not JSON", rid);
    goto out;
  }
  if (operator_tags(ctl, json_object_get(env, "release"), args.option[1], who, &tags, &on_request, err,
                    sizeof err) < 0) {
    ctl_fail("cannot approve %s: %s", rid, err);
    goto out;
  }
  const char *outcome = "released";
  if (on_request) {
    if (record_on_request(ctl, rid, rev, who, tags, err, sizeof err) < 0) {
      ctl_fail("%s", err);
      goto out;
    }
    outcome = "recorded";
  } else {
    if (routed_to_broadcast(tags)) {
      needed = BROADCAST_APPROVALS;
      if (record_approval(ctl, rid, rev, who, tags, &approvals, err, sizeof err) < 0) {
        ctl_fail("%s", err);
        goto out;
      }
      if (approvals < needed) outcome = "awaiting_second_approval";
    } else {
      approvals = 1;
    }
    if (strcmp(outcome, "released") == 0 &&
        ctl_release_reviewed(ctl, rid, atoi(rev), tags, who, "approved", "review.approve", err, sizeof err) < 0) {
      ctl_fail("cannot send %s on: %s", rid, err);
      goto out;
    }
  }
  rc = print_decision(ctl, rid, rev, outcome, who, approvals, needed, tags);
out:
  json_decref(tags);
  json_decref(env);
  return rc;
}

int cmd_review_reject(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--reason", "--revision", "--as", NULL};
  struct ctl_args args;
  char err[512], rev[16], who[160];
  int revision;
  bool transient;
  if (ctl_parse_args(argc, argv, options, 1, 1, &args) < 0 || parse_revision(args.option[1], &revision) < 0)
    return CTL_USAGE;
  if (!args.option[0] || !*args.option[0]) {
    ctl_fail("reject needs --reason TEXT: the department is told why");
    return CTL_USAGE;
  }
  if (operator_name(ctl, args.option[2], who, sizeof who) < 0) return CTL_USAGE;
  const char *rid = args.positional[0];
  PGresult *row = load_row(ctl, rid, revision, err, sizeof err);
  if (!row) return ctl_fail("%s", err);
  snprintf(rev, sizeof rev, "%s", PQgetvalue(row, 0, 0));
  bool pending = strcmp(PQgetvalue(row, 0, 1), "pending") == 0;
  PQclear(row);
  if (!pending) return ctl_fail("%s revision %s was already decided", rid, rev);
  const char *params[] = {rid, rev, who, args.option[0]};
  json_t *detail = json_pack("{s:s}", "reason", args.option[0]);
  int rc = CTL_FAILED;
  if (!detail || ctl_begin(ctl, err, sizeof err) < 0) {
    ctl_fail("%s", detail ? err : "out of memory");
  } else if (zw_pg_run(ctl->pg,
                       "UPDATE review_queue SET status = 'rejected', decided_by = $3, decided_at = now(), "
                       "  decision_note = $4 WHERE release_id = $1 AND revision = $2::int AND status = 'pending'",
                       4, params, &transient, err, sizeof err) < 0 ||
             zw_pg_run(ctl->pg,
                       "UPDATE release_revisions SET status = 'ignored' WHERE release_id = $1 AND revision = $2::int",
                       2, params, &transient, err, sizeof err) < 0 ||
             zw_audit_append(ctl->pg, who, "review.reject", rid, atoi(rev), detail, err, sizeof err) < 0 ||
             ctl_commit(ctl, err, sizeof err) < 0) {
    ctl_rollback(ctl);
    ctl_fail("%s", err);
  } else if (ctl->json) {
    json_t *out = json_pack("{s:s, s:i, s:s, s:s, s:s}", "release_id", rid, "revision", atoi(rev), "outcome",
                            "rejected", "operator", who, "reason", args.option[0]);
    rc = ctl_print_json(out);
    json_decref(out);
  } else {
    printf("%s revision %s rejected by %s: %s\n", rid, rev, who, args.option[0]);
    rc = CTL_OK;
  }
  json_decref(detail);
  return rc;
}
