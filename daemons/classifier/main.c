/* zwgk-classifier — consumes zwgk.releases, tags each release against the
 * catalog and writes zwgk.tagged (or zwgk.review), exactly once per revision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "zw_tagging.h"
#include "zw_audit.h"
#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_pg.h"
#include "zw_stage.h"

/* What the revision's history says about this record. */
enum seen { SEEN_NEW, SEEN_REDELIVERED, SEEN_DUPLICATE, SEEN_CONFLICT, SEEN_STALE };

/* Locks the release's row and compares with what was already processed. */
static enum zw_outcome look_back(struct classifier *c, const json_t *env, const char *content_sha,
                                 const char *source, enum seen *seen, char *err, size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  char rev[16], pgerr[512];
  bool transient;
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *p1[] = {zw_envelope_release_id(env), json_string_value(json_object_get(release, "department")),
                      json_string_value(json_object_get(release, "source_id"))};
  if (zw_pg_run(c->pg, "INSERT INTO releases (release_id, department_code, source_id) VALUES ($1, $2, $3) "
                       "ON CONFLICT (release_id) DO NOTHING", 3, p1, &transient, pgerr, sizeof pgerr) < 0)
    return zw_stage_pg_failed(transient, pgerr, err, errlen);
  const char *p2[] = {zw_envelope_release_id(env), rev};
  PGresult *res = zw_pg_exec(c->pg,
                             "SELECT r.latest_revision, v.content_sha256, v.classified_from "
                             "FROM releases r LEFT JOIN release_revisions v "
                             "  ON v.release_id = r.release_id AND v.revision = $2::int "
                             "WHERE r.release_id = $1 FOR UPDATE OF r",
                             2, p2, &transient, pgerr, sizeof pgerr);
  if (!res) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  int latest = atoi(PQgetvalue(res, 0, 0));
  if (!PQgetisnull(res, 0, 1)) {
    if (strcmp(PQgetvalue(res, 0, 1), content_sha) != 0) *seen = SEEN_CONFLICT;
    else if (!PQgetisnull(res, 0, 2) && strcmp(PQgetvalue(res, 0, 2), source) != 0) *seen = SEEN_DUPLICATE;
    else *seen = SEEN_REDELIVERED;
  } else {
    *seen = zw_envelope_revision(env) < latest ? SEEN_STALE : SEEN_NEW;
  }
  PQclear(res);
  return ZW_OK;
}

/* True when doc_type is listed in classifier.privacy_hold. */
static bool privacy_holds(struct classifier *c, const char *doc_type) {
  return zw_privacy_doc_type_listed(zw_config_str(zw_daemon_config(c->d), "classifier.privacy_hold"), doc_type);
}

/* Screens the text for personal data: records what will be masked in the tags'
 * redactions, or holds the release for review when its doc_type says so. */
static void screen_privacy(struct classifier *c, const json_t *env, struct zw_tagging *t) {
  const json_t *release = zw_envelope_release(env);
  struct zw_privacy_counts counts = {{0}};
  json_t *pub = zw_privacy_public(release, &counts);
  json_decref(pub);
  json_object_set_new(t->tags, "redactions", zw_privacy_redactions(&counts));
  if (zw_privacy_total(&counts) == 0 || !privacy_holds(c, json_string_value(json_object_get(release, "doc_type"))))
    return;
  t->reason = "privacy";
  snprintf(t->detail, sizeof t->detail, "personal data found: %zu resident ID, %zu mobile, %zu bank card number(s)",
           counts.n[ZW_PRIVACY_ID_CARD], counts.n[ZW_PRIVACY_MOBILE], counts.n[ZW_PRIVACY_BANK_CARD]);
}

static enum zw_outcome decide(struct classifier *c, struct zw_stage *st, const json_t *env,
                              const char *sha, const char *source, const char **decision, char *err,
                              size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  const char *rid = zw_envelope_release_id(env);
  struct zw_tagging t = {0};
  enum zw_outcome o;
  if (strcmp(zw_envelope_action(env), "withdraw") == 0) {
    o = classifier_previous_tags(c, env, &t.tags, err, errlen);
    if (o == ZW_OK && !t.tags) {
      zw_warn(rid, "withdrawal of a release never tagged; recorded only");
      *decision = "classifier.ignored";
      return classifier_record(c, env, sha, source, NULL, "ignored", err, errlen);
    }
  } else {
    o = zw_tagging_run(c->pg, c->catalog, release, json_string_value(json_object_get(release, "department")), &t, err, errlen);
  }
  if (o != ZW_OK) return o;
  if (!t.reason && t.tags) screen_privacy(c, env, &t);
  if (t.reason) {
    *decision = "classifier.review";
    o = classifier_record(c, env, sha, source, NULL, "review", err, errlen);
    if (o == ZW_OK) o = classifier_review(c, st, env, t.reason, t.detail, err, errlen);
  } else if (t.on_request) {
    *decision = "classifier.recorded";
    o = classifier_record(c, env, sha, source, t.tags, "recorded", err, errlen);
    zw_info(rid, "on-request item: recorded, not fanned out");
  } else {
    bool handled = false;
    o = pairing_run(c, st, env, sha, source, t.tags, &handled, err, errlen);
    if (o == ZW_OK && !handled) o = classifier_record(c, env, sha, source, t.tags, "tagged", err, errlen);
    if (o == ZW_OK && !handled) o = classifier_tagged(st, env, t.tags, err, errlen);
    *decision = handled ? "classifier.paired" : "classifier.tagged";
    if (o == ZW_OK) zw_info(rid, "%s %s", handled ? "paired" : "tagged",
                            json_string_value(json_object_get(t.tags, "catalog_code")));
  }
  json_decref(t.tags);
  return o;
}

/* One record of zwgk.releases, as the work of one PostgreSQL transaction. */
struct classify_job {
  struct classifier *c;
  struct zw_stage *st;
  const json_t *env;
  char sha[65];
  char source[320];
};

/* Appends the decision to the audit log, in the same PostgreSQL transaction. */
static enum zw_outcome audit(struct classify_job *job, const char *decision, bool redelivered, char *err,
                             size_t errlen) {
  json_t *detail = json_pack("{s:s, s:s, s:b}", "source", job->source, "content_sha256", job->sha, "redelivered",
                             redelivered);
  int rc = zw_audit_append(job->c->pg, "classifier", decision, zw_envelope_release_id(job->env),
                           zw_envelope_revision(job->env), detail, err, errlen);
  json_decref(detail);
  return rc < 0 ? ZW_RETRY : ZW_OK;
}

static enum zw_outcome classify_locked(void *arg, char *err, size_t errlen) {
  struct classify_job *job = arg;
  const json_t *env = job->env;
  const char *rid = zw_envelope_release_id(env), *decision = "classifier.tagged";
  enum seen seen;
  enum zw_outcome o = look_back(job->c, env, job->sha, job->source, &seen, err, errlen);
  if (o != ZW_OK) return o;
  switch (seen) {
    case SEEN_DUPLICATE:
      zw_info(rid, "revision %d seen before with the same content; ignored", zw_envelope_revision(env));
      decision = "classifier.duplicate_ignored";
      break;
    case SEEN_STALE:
      zw_warn(rid, "revision %d is older than the latest processed; ignored", zw_envelope_revision(env));
      decision = "classifier.stale_ignored";
      break;
    case SEEN_CONFLICT:
      decision = "classifier.revision_conflict";
      o = classifier_review(job->c, job->st, env, "revision_conflict",
                            "the same revision was sent before with different content", err, errlen);
      break;
    default:
      o = decide(job->c, job->st, env, job->sha, job->source, &decision, err, errlen);
  }
  return o == ZW_OK ? audit(job, decision, seen == SEEN_REDELIVERED, err, errlen) : o;
}

static enum zw_outcome classify(void *arg, struct zw_stage *st, const rd_kafka_message_t *msg,
                                json_t *env, char *err, size_t errlen) {
  struct classifier *c = arg;
  struct classify_job job = {.c = c, .st = st, .env = env};
  char *canonical = json_dumps(zw_envelope_release(env), JSON_COMPACT | JSON_SORT_KEYS);
  if (!canonical) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  zw_sha256_hex(canonical, strlen(canonical), job.sha);
  free(canonical);
  zw_stage_source(msg, job.source, sizeof job.source);
  enum zw_outcome o = zw_pg_in_batch(c->pg) ? ZW_OK : zw_catalog_refresh(c->catalog, c->pg, err, errlen);
  return o == ZW_OK ? zw_stage_pg_transaction(c->pg, classify_locked, &job, err, errlen) : o;
}

/* Before a batch: the catalog, reloaded outside the batch's transaction. */
static enum zw_outcome refresh_catalog(void *arg, char *err, size_t errlen) {
  struct classifier *c = arg;
  return zw_catalog_refresh(c->catalog, c->pg, err, errlen);
}

int main(int argc, char **argv) {
  int code;
  struct zw_daemon *d = zw_daemon_new("classifier", argc, argv, &code);
  if (!d) return code;
  const struct zw_config *cfg = zw_daemon_config(d);
  struct classifier c = {.d = d,
                         .pg = zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s")),
                         .catalog = zw_catalog_new()};
  bool batch = zw_config_bool(cfg, "pg.batch_transactions");
  struct zw_stage_spec spec = {.input = "releases",
                               .group_key = "classifier.group_id",
                               .handle = classify,
                               .ready = zw_pg_ready,
                               .ready_arg = c.pg,
                               .arg = &c,
                               .due = pairing_escalate,
                               .settle = pairing_settle,
                               .batch_pg = batch ? c.pg : NULL,
                               .before_batch = refresh_catalog};
  char err[512];
  struct zw_stage *st = c.pg && c.catalog ? zw_stage_new(d, &spec, err, sizeof err) : NULL;
  if (!st || zw_daemon_start_admin(d, err, sizeof err) < 0) {
    zw_error(NULL, "cannot start: %s", c.pg && c.catalog ? err : "out of memory");
    code = 1;
  } else {
    code = zw_daemon_run(d);
  }
  zw_stage_destroy(st);
  zw_catalog_destroy(c.catalog);
  zw_pg_destroy(c.pg);
  zw_daemon_destroy(d);
  return code;
}
