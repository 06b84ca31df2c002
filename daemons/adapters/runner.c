/* runner — drives one adapter: consume, deliver or withdraw, record, receipt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "zw_envelope.h"
#include "zw_log.h"

struct runner {
  const struct zw_adapter_ops *ops;
  struct zw_daemon *d;
  struct zw_pg *pg;
  void *state;
};

/* Records the outcome: the delivery row (idempotent) and one attempt row. */
static enum zw_outcome record(struct runner *r, const struct zw_delivery *dv, const char *status,
                              const char *error, char *err, size_t errlen) {
  char rev[16], pgerr[512];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel, status,
                          *dv->external_id ? dv->external_id : NULL, *dv->url ? dv->url : NULL, error};
  PGresult *res = zw_pg_exec(r->pg,
                             "INSERT INTO deliveries AS d (release_id, revision, channel, status, external_id, url, "
                             "  attempts, error, updated_at) VALUES ($1, $2::int, $3, $4, $5, $6, 1, $7, now()) "
                             "ON CONFLICT (release_id, revision, channel) DO UPDATE SET status = EXCLUDED.status, "
                             "  external_id = coalesce(EXCLUDED.external_id, d.external_id), "
                             "  url = coalesce(EXCLUDED.url, d.url), attempts = d.attempts + 1, "
                             "  error = EXCLUDED.error, updated_at = now() RETURNING attempts",
                             7, params, &transient, pgerr, sizeof pgerr);
  if (!res) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  const char *attempt = PQgetvalue(res, 0, 0);
  const char *p2[] = {dv->release_id, rev, r->ops->channel, attempt, status, error};
  int rc = zw_pg_run(r->pg,
                     "INSERT INTO delivery_attempts (release_id, revision, channel, attempt, outcome, error) "
                     "VALUES ($1, $2::int, $3, $4::int, $5, $6)",
                     6, p2, &transient, pgerr, sizeof pgerr);
  PQclear(res);
  return rc < 0 ? zw_stage_pg_failed(transient, pgerr, err, errlen) : ZW_OK;
}

static int send_receipt(struct runner *r, struct zw_stage *st, const struct zw_delivery *dv,
                        const char *status, const char *error, char *err, size_t errlen) {
  char at[32];
  zw_timestamp_now(at);
  json_t *out = zw_envelope_derive(dv->env, "zwgk.receipt.v1");
  json_object_set_new(out, "receipt",
                      json_pack("{s:s, s:i, s:s, s:s, s:s?, s:s?, s:i, s:s, s:s?}", "release_id", dv->release_id,
                                "revision", dv->revision, "channel", r->ops->channel, "status", status,
                                "external_id", *dv->external_id ? dv->external_id : NULL, "url",
                                *dv->url ? dv->url : NULL, "attempts", 1, "at", at, "error", error));
  int rc = zw_stage_emit(st, "receipts", out, err, errlen);
  json_decref(out);
  return rc;
}

static enum zw_outcome run_one(void *arg, struct zw_stage *st, const rd_kafka_message_t *msg, json_t *env,
                               char *err, size_t errlen) {
  struct runner *r = arg;
  const json_t *channel = json_object_get(env, "channel");
  struct zw_delivery dv = {.release_id = zw_envelope_release_id(env), .revision = zw_envelope_revision(env),
                           .action = zw_envelope_action(env), .env = env,
                           .payload = json_object_get(channel, "payload")};
  if (!json_is_object(dv.payload)) {
    snprintf(err, errlen, "channel envelope without a payload");
    return ZW_FAIL;
  }
  bool withdraw = strcmp(dv.action, "withdraw") == 0;
  char why[512] = "";
  enum zw_outcome o = withdraw ? r->ops->withdraw(r->state, &dv, why, sizeof why)
                               : r->ops->deliver(r->state, &dv, why, sizeof why);
  if (o == ZW_RETRY) {
    snprintf(err, errlen, "%s", why);
    return ZW_RETRY;
  }
  const char *status = o == ZW_FAIL ? "failed" : withdraw ? "withdrawn" : "delivered";
  enum zw_outcome rec = record(r, &dv, status, o == ZW_FAIL ? why : NULL, err, errlen);
  if (rec != ZW_OK) return rec;
  if (send_receipt(r, st, &dv, status, o == ZW_FAIL ? why : NULL, err, errlen) < 0) return ZW_RETRY;
  if (o == ZW_FAIL) {
    snprintf(err, errlen, "%s", why);
    return ZW_FAIL; /* the stage dead-letters it, in the same transaction */
  }
  zw_info(dv.release_id, "%s revision %d on %s: %s", status, dv.revision, r->ops->channel, dv.url);
  return ZW_OK;
}

int zw_adapter_main(const struct zw_adapter_ops *ops, int argc, char **argv) {
  int code;
  struct zw_daemon *d = zw_daemon_new(ops->channel, argc, argv, &code);
  if (!d) return code;
  const struct zw_config *cfg = zw_daemon_config(d);
  struct runner r = {.ops = ops, .d = d};
  char err[512] = "out of memory", group_key[64];
  snprintf(group_key, sizeof group_key, "%s.group_id", ops->channel);
  char input[64];
  snprintf(input, sizeof input, "channel.%s", ops->channel);
  struct zw_stage_spec spec = {input, group_key, run_one, zw_pg_ready, NULL, &r};
  struct zw_stage *st = NULL;
  r.pg = zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s"));
  spec.ready_arg = r.pg;
  if (r.pg && (r.state = ops->init(d, r.pg, err, sizeof err)) && (st = zw_stage_new(d, &spec, err, sizeof err)) &&
      zw_daemon_start_admin(d, err, sizeof err) == 0) {
    code = zw_daemon_run(d);
  } else {
    zw_error(NULL, "cannot start: %s", err);
    code = 1;
  }
  zw_stage_destroy(st);
  ops->destroy(r.state);
  zw_pg_destroy(r.pg);
  zw_daemon_destroy(d);
  return code;
}
