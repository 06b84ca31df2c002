/* pairing — policies and interpretations published together (三同步). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "zw_audit.h"
#include "zw_envelope.h"
#include "zw_log.h"

static const char *member(const json_t *obj, const char *name) {
  return json_string_value(json_object_get(obj, name));
}

/* A held partner: its review envelope and tags, read from the review queue. */
struct held {
  char release_id[ZW_RELEASE_ID_LEN + 1];
  char revision[16];
  json_t *env;
  json_t *tags;
};

static const char held_interpretation_sql[] =
    "SELECT q.release_id, q.revision::text, q.envelope::text, v.tags::text FROM review_queue q "
    "JOIN release_revisions v ON v.release_id = q.release_id AND v.revision = q.revision "
    "WHERE q.status = 'pending' AND 'interpretation_pending' = ANY (q.reasons) AND v.interprets = $1 "
    "ORDER BY q.created_at LIMIT 1 FOR UPDATE OF q";

static const char held_policy_sql[] =
    "SELECT q.release_id, q.revision::text, q.envelope::text, v.tags::text FROM review_queue q "
    "JOIN release_revisions v ON v.release_id = q.release_id AND v.revision = q.revision "
    "WHERE q.status = 'pending' AND 'interpretation_pending' = ANY (q.reasons) AND q.release_id = $1 "
    "ORDER BY q.revision DESC LIMIT 1 FOR UPDATE OF q";

/* Finds a held partner with sql; h->env is NULL when there is none. */
static enum zw_outcome find_held(struct classifier *c, const char *sql, const char *key, struct held *h, char *err,
                                 size_t errlen) {
  const char *params[] = {key};
  bool transient;
  memset(h, 0, sizeof *h);
  PGresult *res = zw_pg_exec(c->pg, sql, 1, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  if (PQntuples(res) == 1) {
    snprintf(h->release_id, sizeof h->release_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(h->revision, sizeof h->revision, "%s", PQgetvalue(res, 0, 1));
    h->env = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    h->tags = PQgetisnull(res, 0, 3) ? NULL : json_loads(PQgetvalue(res, 0, 3), 0, NULL);
  }
  PQclear(res);
  if (h->env && !h->tags) {
    json_decref(h->env);
    h->env = NULL;
  }
  return ZW_OK;
}

/* Releases a held partner: tagged now, its review row decided by the classifier. */
static enum zw_outcome release_held(struct classifier *c, struct zw_stage *st, struct held *h, const char *partner,
                                    char *err, size_t errlen) {
  json_object_del(h->env, "review");
  enum zw_outcome o = classifier_tagged(st, h->env, h->tags, err, errlen);
  const char *params[] = {h->release_id, h->revision, partner};
  bool transient;
  if (o == ZW_OK &&
      zw_pg_run(c->pg,
                "UPDATE review_queue SET status = 'approved', decided_by = 'classifier', decided_at = now(), "
                "  decision_note = 'released together with ' || $3 "
                "WHERE release_id = $1 AND revision = $2::int AND status = 'pending'",
                3, params, &transient, err, errlen) < 0)
    o = zw_stage_pg_failed(transient, err, err, errlen);
  if (o == ZW_OK &&
      zw_pg_run(c->pg, "UPDATE release_revisions SET status = 'tagged' WHERE release_id = $1 AND revision = $2::int",
                2, params, &transient, err, errlen) < 0)
    o = zw_stage_pg_failed(transient, err, err, errlen);
  if (o == ZW_OK) zw_info(h->release_id, "released together with %s", partner);
  json_decref(h->env);
  json_decref(h->tags);
  return o;
}

/* True when a revision of release_id (or, with by_interprets, an interpretation
 * of it) has already been tagged and passed on. */
static enum zw_outcome already_out(struct classifier *c, const char *release_id, bool by_interprets, bool *out,
                                   char *err, size_t errlen) {
  const char *params[] = {release_id};
  bool transient;
  PGresult *res = zw_pg_exec(c->pg,
                             by_interprets ? "SELECT EXISTS (SELECT 1 FROM release_revisions WHERE interprets = $1 "
                                             "AND status IN ('tagged', 'fanned_out', 'delivered'))"
                                           : "SELECT EXISTS (SELECT 1 FROM release_revisions WHERE release_id = $1 "
                                             "AND status IN ('tagged', 'fanned_out', 'delivered'))",
                             1, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  *out = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return ZW_OK;
}

/* Tags env now and releases its held partner h with it, partner first when it
 * is the policy. */
static enum zw_outcome tag_pair(struct classifier *c, struct zw_stage *st, const json_t *env, const char *sha,
                                const char *source, json_t *tags, struct held *h, bool partner_first, char *err,
                                size_t errlen) {
  const char *rid = zw_envelope_release_id(env);
  enum zw_outcome o = classifier_record(c, env, sha, source, tags, "tagged", err, errlen);
  if (o == ZW_OK && partner_first) o = release_held(c, st, h, rid, err, errlen);
  if (o == ZW_OK) o = classifier_tagged(st, env, tags, err, errlen);
  if (o == ZW_OK && !partner_first) o = release_held(c, st, h, rid, err, errlen);
  if (o != ZW_OK && h->env) { /* release_held frees them only when it ran */
    json_decref(h->env);
    json_decref(h->tags);
  }
  return o;
}

static enum zw_outcome hold(struct classifier *c, struct zw_stage *st, const json_t *env, const char *sha,
                            const char *source, json_t *tags, const char *detail, char *err, size_t errlen) {
  enum zw_outcome o = classifier_record(c, env, sha, source, tags, "review", err, errlen);
  return o == ZW_OK ? classifier_review(c, st, env, "interpretation_pending", detail, err, errlen) : o;
}

/* A policy whose interpretation already went out (e.g. an update) passes. */
static enum zw_outcome pair_policy(struct classifier *c, struct zw_stage *st, const json_t *env, const char *sha,
                                   const char *source, json_t *tags, bool *handled, char *err, size_t errlen) {
  const char *rid = zw_envelope_release_id(env);
  bool interpreted = false;
  struct held h;
  enum zw_outcome o = already_out(c, rid, true, &interpreted, err, errlen);
  if (o != ZW_OK || interpreted) return o;
  *handled = true;
  if ((o = find_held(c, held_interpretation_sql, rid, &h, err, errlen)) != ZW_OK) return o;
  if (h.env) return tag_pair(c, st, env, sha, source, tags, &h, false, err, errlen);
  return hold(c, st, env, sha, source, tags, "policy held until its interpretation arrives", err, errlen);
}

static enum zw_outcome pair_interpretation(struct classifier *c, struct zw_stage *st, const json_t *env,
                                           const char *sha, const char *source, json_t *tags, bool *handled,
                                           char *err, size_t errlen) {
  const char *policy = member(zw_envelope_release(env), "interprets");
  struct held h;
  bool policy_out = false;
  enum zw_outcome o = find_held(c, held_policy_sql, policy, &h, err, errlen);
  if (o != ZW_OK) return o;
  if (h.env) return *handled = true, tag_pair(c, st, env, sha, source, tags, &h, true, err, errlen);
  if ((o = already_out(c, policy, false, &policy_out, err, errlen)) != ZW_OK || policy_out) return o;
  *handled = true;
  char detail[160];
  snprintf(detail, sizeof detail, "interpretation held until the policy %s arrives", policy);
  return hold(c, st, env, sha, source, tags, detail, err, errlen);
}

enum zw_outcome pairing_run(struct classifier *c, struct zw_stage *st, const json_t *env, const char *content_sha,
                            const char *source, json_t *tags, bool *handled, char *err, size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  const char *doc_type = member(release, "doc_type");
  *handled = false;
  if (!doc_type || strcmp(zw_envelope_action(env), "withdraw") == 0) return ZW_OK;
  if (strcmp(doc_type, "policy") == 0) return pair_policy(c, st, env, content_sha, source, tags, handled, err, errlen);
  if (strcmp(doc_type, "interpretation") == 0)
    return pair_interpretation(c, st, env, content_sha, source, tags, handled, err, errlen);
  return ZW_OK;
}

/* Held policies past their grace, oldest first, locked for this pass. */
static const char overdue_sql[] =
    "SELECT q.release_id, q.revision::text, q.envelope::text FROM review_queue q "
    "WHERE q.status = 'pending' AND q.escalated_at IS NULL AND 'interpretation_pending' = ANY (q.reasons) "
    "  AND q.envelope -> 'release' ->> 'doc_type' = 'policy' "
    "  AND zw_add_working_days((q.created_at AT TIME ZONE 'Asia/Shanghai')::date, $1::int) "
    "      < (now() AT TIME ZONE 'Asia/Shanghai')::date "
    "ORDER BY q.created_at LIMIT 100 FOR UPDATE OF q SKIP LOCKED";

/* Escalates one held policy: review message, row marked, audit entry. */
static enum zw_outcome escalate_one(struct classifier *c, struct zw_stage *st, const char *rid, const char *rev,
                                    json_t *env, const char *grace, char *err, size_t errlen) {
  char detail[200];
  bool transient;
  snprintf(detail, sizeof detail, "policy still without its interpretation after %s working days", grace);
  json_object_set_new(env, "review", json_pack("{s:[s], s:s, s:b}", "reasons", "interpretation_pending", "detail",
                                               detail, "escalated", 1));
  if (zw_stage_emit(st, "review", env, err, errlen) < 0) return ZW_RETRY;
  const char *params[] = {rid, rev, detail};
  if (zw_pg_run(c->pg,
                "UPDATE review_queue SET escalated_at = now(), detail = $3 "
                "WHERE release_id = $1 AND revision = $2::int",
                3, params, &transient, err, errlen) < 0)
    return zw_stage_pg_failed(transient, err, err, errlen);
  json_t *audit = json_pack("{s:s, s:s}", "reason", "interpretation_pending", "detail", detail);
  int rc = zw_audit_append(c->pg, "classifier", "classifier.escalated", rid, atoi(rev), audit, err, errlen);
  json_decref(audit);
  if (rc < 0) return ZW_RETRY;
  zw_warn(rid, "escalated to review: %s", detail);
  return ZW_OK;
}

enum zw_outcome pairing_escalate(void *arg, struct zw_stage *st, char *err, size_t errlen) {
  struct classifier *c = arg;
  char grace[16];
  bool transient;
  snprintf(grace, sizeof grace, "%ld",
           zw_config_int(zw_daemon_config(c->d), "classifier.interpretation_grace_days"));
  if (zw_pg_run(c->pg, "BEGIN", 0, NULL, &transient, err, errlen) < 0)
    return zw_stage_pg_failed(transient, err, err, errlen);
  c->due_open = true;
  const char *params[] = {grace};
  PGresult *res = zw_pg_exec(c->pg, overdue_sql, 1, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  enum zw_outcome o = ZW_OK;
  for (int i = 0; i < PQntuples(res) && o == ZW_OK; i++) {
    json_t *env = json_loads(PQgetvalue(res, i, 2), 0, NULL);
    if (!env) {
      snprintf(err, errlen, "review envelope of %s is not JSON", PQgetvalue(res, i, 0));
      o = ZW_RETRY;
      break;
    }
    o = escalate_one(c, st, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), env, grace, err, errlen);
    json_decref(env);
  }
  PQclear(res);
  return o;
}

void pairing_settle(void *arg, bool committed) {
  struct classifier *c = arg;
  char pgerr[256];
  bool transient;
  if (!c->due_open) return;
  c->due_open = false;
  if (zw_pg_run(c->pg, committed ? "COMMIT" : "ROLLBACK", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    zw_warn(NULL, "%s of the escalation pass failed: %s", committed ? "commit" : "rollback", pgerr);
}
