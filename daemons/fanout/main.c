/* zwgk-fanout — consumes zwgk.tagged and writes one rendered work item per
 * channel to zwgk.channel.<name>, in the same transaction as the consumed
 * offset. Withdrawals and updates follow the release to every channel it was
 * sent to, from the deliveries table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overdue.h"
#include "zw_audit.h"
#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_pg.h"
#include "zw_render.h"
#include "zw_stage.h"

struct fanout {
  struct zw_daemon *d;
  struct zw_pg *pg;
  bool due_open; /* a PostgreSQL transaction of the scheduled pass is open */
};

/* Looks up the names the renderers show: the release's region and department. */
static enum zw_outcome render_names(struct fanout *f, const json_t *env, char *region, size_t regionlen,
                                    char *dept, size_t deptlen, char *err, size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  const char *params[] = {json_string_value(json_object_get(release, "region_code")),
                          json_string_value(json_object_get(release, "department"))};
  bool transient;
  PGresult *res = zw_pg_exec(f->pg,
                             "SELECT (SELECT name FROM regions WHERE code = $1), "
                             "       (SELECT name FROM departments WHERE code = $2)",
                             2, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  snprintf(region, regionlen, "%s", PQgetvalue(res, 0, 0));
  snprintf(dept, deptlen, "%s", PQgetvalue(res, 0, 1));
  PQclear(res);
  return ZW_OK;
}

/* Channels to reach: the tags' channels, plus for update and withdraw every
 * channel an earlier revision was sent to, delivered there or still on its way
 * (a withdrawal fanned out before the adapter delivered the publication must
 * still follow it; the channel topic keeps the two in order). Returns a new
 * array or NULL. */
static json_t *target_channels(struct fanout *f, const json_t *env, bool *transient, char *err, size_t errlen) {
  json_t *channels = json_array();
  const char *action = zw_envelope_action(env);
  json_t *tagged = json_object_get(json_object_get(env, "tags"), "channels");
  size_t i;
  json_t *c;
  if (strcmp(action, "withdraw") != 0)
    json_array_foreach(tagged, i, c) json_array_append(channels, c);
  if (strcmp(action, "publish") == 0) return channels;
  char rev[16];
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *params[] = {zw_envelope_release_id(env), rev};
  PGresult *res = zw_pg_exec(f->pg,
                             "SELECT DISTINCT channel FROM deliveries WHERE release_id = $1 "
                             "AND revision < $2::int AND status IN ('pending', 'delivered') ORDER BY channel",
                             2, params, transient, err, errlen);
  if (!res) {
    json_decref(channels);
    return NULL;
  }
  for (int r = 0; r < PQntuples(res); r++) {
    bool present = false;
    json_array_foreach(channels, i, c) present |= strcmp(json_string_value(c), PQgetvalue(res, r, 0)) == 0;
    if (!present) json_array_append_new(channels, json_string(PQgetvalue(res, r, 0)));
  }
  PQclear(res);
  return channels;
}

/* Emits one channel's work item and records the pending delivery. */
static enum zw_outcome emit_channel(struct fanout *f, struct zw_stage *st, const json_t *env,
                                    const char *channel, char *err, size_t errlen) {
  const char *rid = zw_envelope_release_id(env);
  char region[256], dept[256];
  enum zw_outcome named = render_names(f, env, region, sizeof region, dept, sizeof dept, err, errlen);
  if (named != ZW_OK) return named;
  struct zw_render_ctx ctx = {zw_config_str(zw_daemon_config(f->d), "portal.base_url"), *region ? region : NULL,
                              *dept ? dept : NULL};
  json_t *payload = zw_render_channel(channel, env, &ctx);
  if (!payload) {
    zw_warn(rid, "no renderer for channel %s; not sent there", channel);
    return ZW_OK;
  }
  json_t *out = zw_envelope_derive(env, "zwgk.channel.v1");
  json_object_set_new(out, "channel", json_pack("{s:s, s:o}", "name", channel, "payload", payload));
  char topic[64], rev[16], pgerr[512];
  snprintf(topic, sizeof topic, "channel.%s", channel);
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  enum zw_outcome o = zw_stage_emit(st, topic, out, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
  json_decref(out);
  const char *params[] = {rid, rev, channel};
  bool transient;
  if (o == ZW_OK && zw_pg_run(f->pg,
                              "INSERT INTO deliveries (release_id, revision, channel, status) "
                              "VALUES ($1, $2::int, $3, 'pending') ON CONFLICT DO NOTHING",
                              3, params, &transient, pgerr, sizeof pgerr) < 0)
    o = zw_stage_pg_failed(transient, pgerr, err, errlen);
  return o;
}

/* True when this revision was fanned out before from another record. */
static enum zw_outcome already_done(struct fanout *f, const json_t *env, const char *source, bool *done,
                                    char *err, size_t errlen) {
  char rev[16], pgerr[512];
  bool transient;
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *params[] = {zw_envelope_release_id(env), rev};
  PGresult *res = zw_pg_exec(f->pg,
                             "SELECT fanned_out_from FROM release_revisions "
                             "WHERE release_id = $1 AND revision = $2::int FOR UPDATE",
                             2, params, &transient, pgerr, sizeof pgerr);
  if (!res) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  *done = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), source) != 0;
  PQclear(res);
  return ZW_OK;
}

/* Appends the fan-out's decision about env to the audit log (in the current
 * PostgreSQL transaction). detail is stolen. */
static enum zw_outcome audit(struct fanout *f, const json_t *env, const char *action, json_t *detail, char *err,
                             size_t errlen) {
  int rc = detail ? zw_audit_append(f->pg, "fanout", action, zw_envelope_release_id(env), zw_envelope_revision(env),
                                    detail, err, errlen)
                  : -1;
  if (!detail) snprintf(err, errlen, "out of memory");
  json_decref(detail);
  return rc < 0 ? ZW_RETRY : ZW_OK;
}

/* Emits env to every channel it must reach and marks the revision fanned out
 * from source. */
static enum zw_outcome emit_all(struct fanout *f, struct zw_stage *st, const json_t *env, const char *source,
                                char *err, size_t errlen) {
  bool transient;
  char pgerr[512], rev[16];
  enum zw_outcome o = ZW_OK;
  json_t *channels = target_channels(f, env, &transient, pgerr, sizeof pgerr);
  if (!channels) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  size_t i;
  json_t *c;
  json_array_foreach(channels, i, c) {
    if (o == ZW_OK) o = emit_channel(f, st, env, json_string_value(c), err, errlen);
  }
  if (o == ZW_OK)
    o = audit(f, env, "fanout.fanned_out", json_pack("{s:O, s:s}", "channels", channels, "source", source), err,
              errlen);
  json_decref(channels);
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *params[] = {zw_envelope_release_id(env), rev, source};
  if (o == ZW_OK && zw_pg_run(f->pg,
                              "UPDATE release_revisions SET fanned_out_at = now(), fanned_out_from = $3, "
                              "  status = 'fanned_out' WHERE release_id = $1 AND revision = $2::int",
                              3, params, &transient, pgerr, sizeof pgerr) < 0)
    o = zw_stage_pg_failed(transient, pgerr, err, errlen);
  return o;
}

/* Ends the embargo of every earlier revision of the release still held: a
 * later revision (an update or a withdrawal) takes its place. */
static enum zw_outcome supersede(struct fanout *f, const json_t *env, char *err, size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *params[] = {zw_envelope_release_id(env), rev};
  PGresult *res = zw_pg_exec(f->pg,
                             "UPDATE embargoes SET superseded_by = $2::int WHERE release_id = $1 "
                             "AND revision < $2::int AND released_at IS NULL AND superseded_by IS NULL "
                             "RETURNING revision",
                             2, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  enum zw_outcome o = ZW_OK;
  for (int i = 0; i < PQntuples(res) && o == ZW_OK; i++) {
    zw_info(zw_envelope_release_id(env), "embargoed revision %s superseded by revision %s before it went out",
            PQgetvalue(res, i, 0), rev);
    o = audit(f, env, "fanout.embargo_superseded",
              json_pack("{s:i, s:i}", "superseded_revision", atoi(PQgetvalue(res, i, 0)), "by_revision",
                        zw_envelope_revision(env)),
              err, errlen);
  }
  PQclear(res);
  return o;
}

/* Holds env until its publish_at when that is in the future: *held is set and
 * the envelope is parked in the embargoes table. */
static enum zw_outcome embargo(struct fanout *f, const json_t *env, const char *source, bool *held, char *err,
                               size_t errlen) {
  const char *publish_at = json_string_value(json_object_get(zw_envelope_release(env), "publish_at"));
  *held = false;
  if (!publish_at || strcmp(zw_envelope_action(env), "withdraw") == 0) return ZW_OK;
  char rev[16], *text = json_dumps(env, JSON_COMPACT);
  bool transient;
  if (!text) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  const char *params[] = {zw_envelope_release_id(env), rev, publish_at, text, source};
  PGresult *res = zw_pg_exec(f->pg,
                             "WITH due AS (SELECT $3::timestamptz > now() AS later), "
                             "ins AS (INSERT INTO embargoes (release_id, revision, publish_at, envelope, source) "
                             "  SELECT $1, $2::int, $3::timestamptz, $4::jsonb, $5 FROM due WHERE later "
                             "  ON CONFLICT (release_id, revision) DO NOTHING RETURNING 1) "
                             "SELECT later FROM due",
                             5, params, &transient, err, errlen);
  free(text);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  *held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  if (!*held) return ZW_OK;
  const char *p2[] = {zw_envelope_release_id(env), rev, source};
  if (zw_pg_run(f->pg,
                "UPDATE release_revisions SET status = 'embargoed', fanned_out_from = $3 "
                "WHERE release_id = $1 AND revision = $2::int",
                3, p2, &transient, err, errlen) < 0)
    return zw_stage_pg_failed(transient, err, err, errlen);
  zw_info(zw_envelope_release_id(env), "revision %s held until %s", rev, publish_at);
  return audit(f, env, "fanout.embargoed", json_pack("{s:s, s:s}", "publish_at", publish_at, "source", source), err,
               errlen);
}

static enum zw_outcome fan_out_locked(struct fanout *f, struct zw_stage *st, const json_t *env,
                                      const char *source, char *err, size_t errlen) {
  bool done = false, held = false;
  enum zw_outcome o = already_done(f, env, source, &done, err, errlen);
  if (o != ZW_OK || done) return o;
  if ((o = supersede(f, env, err, errlen)) != ZW_OK) return o;
  if ((o = embargo(f, env, source, &held, err, errlen)) != ZW_OK || held) return o;
  return emit_all(f, st, env, source, err, errlen);
}

/* The scheduled pass: emits embargoed revisions whose publish_at has come, in
 * a PostgreSQL transaction that settle() commits after the Kafka transaction. */
static enum zw_outcome release_due(void *arg, struct zw_stage *st, char *err, size_t errlen) {
  struct fanout *f = arg;
  bool transient;
  if (zw_pg_run(f->pg, "BEGIN", 0, NULL, &transient, err, errlen) < 0)
    return zw_stage_pg_failed(transient, err, err, errlen);
  f->due_open = true;
  PGresult *res = zw_pg_exec(f->pg,
                             "SELECT release_id, revision, envelope::text, source FROM embargoes "
                             "WHERE released_at IS NULL AND superseded_by IS NULL AND publish_at <= now() "
                             "ORDER BY publish_at, release_id, revision LIMIT 100 FOR UPDATE SKIP LOCKED",
                             0, NULL, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  enum zw_outcome o = ZW_OK;
  for (int i = 0; i < PQntuples(res) && o == ZW_OK; i++) {
    json_t *env = json_loads(PQgetvalue(res, i, 2), 0, NULL);
    const char *params[] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
    o = env ? emit_all(f, st, env, PQgetvalue(res, i, 3), err, errlen) : ZW_FAIL;
    if (o == ZW_OK && zw_pg_run(f->pg,
                                "UPDATE embargoes SET released_at = now() WHERE release_id = $1 AND revision = $2::int",
                                2, params, &transient, err, errlen) < 0)
      o = zw_stage_pg_failed(transient, err, err, errlen);
    if (o == ZW_OK) zw_info(PQgetvalue(res, i, 0), "embargo of revision %s ended; fanned out", PQgetvalue(res, i, 1));
    if (!env) snprintf(err, errlen, "embargoed envelope of %s is not JSON", PQgetvalue(res, i, 0));
    json_decref(env);
  }
  PQclear(res);
  return o;
}

static void settle(void *arg, bool committed) {
  struct fanout *f = arg;
  char pgerr[256];
  bool transient;
  if (!f->due_open) return;
  f->due_open = false;
  if (zw_pg_run(f->pg, committed ? "COMMIT" : "ROLLBACK", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    zw_warn(NULL, "%s of the embargo pass failed: %s", committed ? "commit" : "rollback", pgerr);
}

/* One record of zwgk.tagged, as the work of one PostgreSQL transaction. */
struct fan_out_job {
  struct fanout *f;
  struct zw_stage *st;
  const json_t *env;
  char source[320];
};

static enum zw_outcome fan_out_job(void *arg, char *err, size_t errlen) {
  struct fan_out_job *job = arg;
  return fan_out_locked(job->f, job->st, job->env, job->source, err, errlen);
}

static enum zw_outcome fan_out(void *arg, struct zw_stage *st, const rd_kafka_message_t *msg, json_t *env,
                               char *err, size_t errlen) {
  struct fan_out_job job = {.f = arg, .st = st, .env = env};
  if (!json_is_object(json_object_get(env, "tags"))) {
    snprintf(err, errlen, "tagged envelope without tags");
    return ZW_FAIL;
  }
  zw_stage_source(msg, job.source, sizeof job.source);
  enum zw_outcome o = zw_stage_pg_transaction(job.f->pg, fan_out_job, &job, err, errlen);
  if (o == ZW_OK) zw_info(zw_envelope_release_id(env), "fanned out revision %d", zw_envelope_revision(env));
  return o;
}

int main(int argc, char **argv) {
  int code;
  struct zw_daemon *d = zw_daemon_new("fanout", argc, argv, &code);
  if (!d) return code;
  const struct zw_config *cfg = zw_daemon_config(d);
  struct fanout f = {d, zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s")), false};
  struct zw_stage_spec spec = {.input = "tagged",
                               .group_key = "fanout.group_id",
                               .handle = fan_out,
                               .ready = zw_pg_ready,
                               .ready_arg = f.pg,
                               .arg = &f,
                               .due = release_due,
                               .settle = settle,
                               .batch_pg = zw_config_bool(cfg, "pg.batch_transactions") ? f.pg : NULL};
  char err[512];
  struct zw_stage *st = f.pg ? zw_stage_new(d, &spec, err, sizeof err) : NULL;
  const char *dsn = zw_config_str(cfg, "pg.dsn");
  struct overdue *od = st ? overdue_new(d, dsn, zw_config_int(cfg, "pg.connect_timeout_s"), err, sizeof err) : NULL;
  if (!st || !od || zw_daemon_start_admin(d, err, sizeof err) < 0) {
    zw_error(NULL, "cannot start: %s", f.pg ? err : "out of memory");
    code = 1;
  } else {
    code = zw_daemon_run(d);
  }
  overdue_destroy(od);
  zw_stage_destroy(st);
  zw_pg_destroy(f.pg);
  zw_daemon_destroy(d);
  return code;
}
