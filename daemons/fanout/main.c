/* zwgk-fanout — consumes zwgk.tagged and writes one rendered work item per
 * channel to zwgk.channel.<name>, in the same transaction as the consumed
 * offset. Withdrawals and updates follow the release to every channel it was
 * delivered to, from the deliveries table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_pg.h"
#include "zw_render.h"
#include "zw_stage.h"

struct fanout {
  struct zw_pg *pg;
};

/* Channels to reach: the tags' channels, plus for update and withdraw every
 * channel an earlier revision was delivered to. Returns a new array or NULL. */
static json_t *target_channels(struct fanout *f, const json_t *env, bool *transient, char *err, size_t errlen) {
  json_t *channels = json_array();
  const char *action = zw_envelope_action(env);
  json_t *tagged = json_object_get(json_object_get(env, "tags"), "channels");
  size_t i;
  json_t *c;
  if (strcmp(action, "withdraw") != 0)
    json_array_foreach(tagged, i, c) json_array_append(channels, c);
  if (strcmp(action, "publish") == 0) return channels;
  const char *params[] = {zw_envelope_release_id(env)};
  PGresult *res = zw_pg_exec(f->pg,
                             "SELECT DISTINCT channel FROM deliveries WHERE release_id = $1 "
                             "AND status = 'delivered' ORDER BY channel",
                             1, params, transient, err, errlen);
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
  json_t *payload = zw_render_channel(channel, env);
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

static enum zw_outcome fan_out_locked(struct fanout *f, struct zw_stage *st, const json_t *env,
                                      const char *source, char *err, size_t errlen) {
  bool done = false, transient;
  char pgerr[512], rev[16];
  enum zw_outcome o = already_done(f, env, source, &done, err, errlen);
  if (o != ZW_OK || done) return o;
  json_t *channels = target_channels(f, env, &transient, pgerr, sizeof pgerr);
  if (!channels) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  size_t i;
  json_t *c;
  json_array_foreach(channels, i, c) {
    if (o == ZW_OK) o = emit_channel(f, st, env, json_string_value(c), err, errlen);
  }
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
  struct fanout f = {zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s"))};
  struct zw_stage_spec spec = {"tagged", "fanout.group_id", fan_out, zw_pg_ready, f.pg, &f};
  char err[512];
  struct zw_stage *st = f.pg ? zw_stage_new(d, &spec, err, sizeof err) : NULL;
  if (!st || zw_daemon_start_admin(d, err, sizeof err) < 0) {
    zw_error(NULL, "cannot start: %s", f.pg ? err : "out of memory");
    code = 1;
  } else {
    code = zw_daemon_run(d);
  }
  zw_stage_destroy(st);
  zw_pg_destroy(f.pg);
  zw_daemon_destroy(d);
  return code;
}
