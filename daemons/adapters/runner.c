/* runner — drives one adapter: consume, deliver or withdraw, record, receipt.
 *
 * A work item that fails transiently does not hold up the partition: it is
 * parked in delivery_retries with the time of its next attempt (exponential
 * backoff with jitter, or the channel's own Retry-After), the consumed offset
 * commits, and the stage's scheduled pass retries it when due. Later work
 * items of the same release on this channel queue behind a parked one, so
 * revisions reach the channel in order. Before calling the adapter the runner
 * looks at the deliveries row: a (release_id, revision, channel) already
 * delivered is never handed to the adapter again, only its receipt repeated. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "zw_audit.h"
#include "zw_envelope.h"
#include "zw_log.h"

/* Parked retries taken per scheduled pass, and how long one is leased to this
 * process while it works on it. */
#define DUE_BATCH 20
#define LEASE "5 minutes"
/* About how long one scheduled pass may spend on parked items: it runs in a
 * Kafka transaction and on the event loop, like a batch. */
#define DUE_SECONDS 1.0

/* How the error of a work item refused for a newer revision begins. */
#define SUPERSEDED "superseded:"

struct runner {
  const struct zw_adapter_ops *ops;
  struct zw_daemon *d;
  struct zw_pg *pg;
  void *state;
  long done_ids[DUE_BATCH]; /* parked rows finished in the current due transaction */
  size_t ndone;
};

/* What the deliveries table holds for the work item and its release. */
struct known {
  char status[16]; /* "" when no row */
  int attempts;
};

static long config_int(struct runner *r, const char *key) { return zw_config_int(zw_daemon_config(r->d), key); }

static void count(struct runner *r, const char *name, const char *outcome) {
  char label[96];
  zw_metrics_add(zw_daemon_metrics(r->d), name, zw_metrics_label(label, sizeof label, "outcome", outcome), 1);
}

int zw_delivery_save(struct zw_delivery *dv, char *err, size_t errlen) {
  struct runner *r = dv->runner;
  char rev[16], *progress = json_dumps(dv->progress, JSON_COMPACT);
  bool transient;
  if (!progress) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel, progress};
  int rc = zw_pg_run(r->pg,
                     "INSERT INTO deliveries (release_id, revision, channel, status, progress) "
                     "VALUES ($1, $2::int, $3, 'pending', $4::jsonb) "
                     "ON CONFLICT (release_id, revision, channel) DO UPDATE SET progress = EXCLUDED.progress, "
                     "  updated_at = now()",
                     4, params, &transient, err, errlen);
  free(progress);
  return rc;
}

/* Loads the item's own row (status, attempts, progress) and the revision last
 * delivered before it on this channel (dv->previous, owned via *previous). */
static enum zw_outcome load_known(struct runner *r, struct zw_delivery *dv, struct known *k, json_t **previous,
                                  char *err, size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel};
  PGresult *res = zw_pg_exec(r->pg,
                             "SELECT status, attempts, progress::text FROM deliveries "
                             "WHERE release_id = $1 AND revision = $2::int AND channel = $3",
                             3, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  memset(k, 0, sizeof *k);
  if (PQntuples(res) == 1) {
    snprintf(k->status, sizeof k->status, "%s", PQgetvalue(res, 0, 0));
    k->attempts = atoi(PQgetvalue(res, 0, 1));
    json_t *p = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    if (json_is_object(p)) json_object_update(dv->progress, p);
    json_decref(p);
  }
  PQclear(res);
  /* The copy the public sees now: the newest earlier revision that reached the
   * channel, unless a withdrawal took it down since. */
  res = zw_pg_exec(r->pg,
                   "SELECT status, json_build_object('revision', revision, 'external_id', external_id, "
                   "  'url', url, 'progress', progress)::text FROM deliveries "
                   "WHERE release_id = $1 AND channel = $3 AND revision < $2::int "
                   "  AND status IN ('delivered', 'withdrawn') "
                   "ORDER BY revision DESC LIMIT 1",
                   3, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  *previous = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "delivered") == 0
                  ? json_loads(PQgetvalue(res, 0, 1), 0, NULL)
                  : NULL;
  dv->previous = *previous;
  PQclear(res);
  return ZW_OK;
}

/* Records an attempt's outcome: the delivery row (idempotent) and one attempt
 * row; sets *attempts to the attempts made so far. */
static enum zw_outcome record(struct runner *r, const struct zw_delivery *dv, const char *status,
                              const char *error, int *attempts, char *err, size_t errlen) {
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
  *attempts = atoi(PQgetvalue(res, 0, 0));
  const char *p2[] = {dv->release_id, rev, r->ops->channel, PQgetvalue(res, 0, 0),
                      strcmp(status, "pending") == 0 ? "retry" : status, error};
  int rc = zw_pg_run(r->pg,
                     "INSERT INTO delivery_attempts (release_id, revision, channel, attempt, outcome, error) "
                     "VALUES ($1, $2::int, $3, $4::int, $5, $6)",
                     6, p2, &transient, pgerr, sizeof pgerr);
  PQclear(res);
  return rc < 0 ? zw_stage_pg_failed(transient, pgerr, err, errlen) : ZW_OK;
}

/* Sets *newer to the newest revision above dv's that was delivered or
 * withdrawn on this channel, or 0. */
static enum zw_outcome newer_on_channel(struct runner *r, const struct zw_delivery *dv, int *newer, char *err,
                                        size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel};
  PGresult *res = zw_pg_exec(r->pg,
                             "SELECT coalesce(max(revision), 0) FROM deliveries WHERE release_id = $1 "
                             "AND channel = $3 AND revision > $2::int AND status IN ('delivered', 'withdrawn')",
                             3, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  *newer = atoi(PQgetvalue(res, 0, 0));
  PQclear(res);
  return ZW_OK;
}

/* Marks the item failed after its last attempt was recorded as a retry. */
static enum zw_outcome set_failed(struct runner *r, const struct zw_delivery *dv, const char *why, char *err,
                                  size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel, why};
  return zw_pg_run(r->pg,
                   "UPDATE deliveries SET status = 'failed', error = $4, updated_at = now() "
                   "WHERE release_id = $1 AND revision = $2::int AND channel = $3",
                   4, params, &transient, err, errlen) < 0
             ? zw_stage_pg_failed(transient, err, err, errlen)
             : ZW_OK;
}

/* Reads the stored external id and URL of a finished item back into dv. */
static enum zw_outcome load_result(struct runner *r, struct zw_delivery *dv, int *attempts, char *err,
                                   size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, r->ops->channel};
  PGresult *res = zw_pg_exec(r->pg,
                             "SELECT coalesce(external_id, ''), coalesce(url, ''), attempts, coalesce(error, '') "
                             "FROM deliveries WHERE release_id = $1 AND revision = $2::int AND channel = $3",
                             3, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  if (PQntuples(res) == 1) {
    snprintf(dv->external_id, sizeof dv->external_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(dv->url, sizeof dv->url, "%s", PQgetvalue(res, 0, 1));
    *attempts = atoi(PQgetvalue(res, 0, 2));
    snprintf(err, errlen, "%s", PQgetvalue(res, 0, 3));
  }
  PQclear(res);
  return ZW_OK;
}

static int send_receipt(struct runner *r, struct zw_stage *st, const struct zw_delivery *dv, const char *status,
                        int attempts, const char *error, char *err, size_t errlen) {
  char at[32];
  zw_timestamp_now(at);
  json_t *out = zw_envelope_derive(dv->env, "zwgk.receipt.v1");
  json_object_set_new(out, "receipt",
                      json_pack("{s:s, s:i, s:s, s:s, s:s?, s:s?, s:i, s:s, s:s?}", "release_id", dv->release_id,
                                "revision", dv->revision, "channel", r->ops->channel, "status", status,
                                "external_id", *dv->external_id ? dv->external_id : NULL, "url",
                                *dv->url ? dv->url : NULL, "attempts", attempts, "at", at, "error", error));
  int rc = zw_stage_emit(st, "receipts", out, err, errlen);
  json_decref(out);
  return rc;
}

/* Seconds until the next attempt after `attempts` failed ones: the base delay
 * doubled per attempt up to the cap, the upper half of it random (jitter), or
 * the channel's own wait when it gave one. */
static double retry_delay(struct runner *r, int attempts, double retry_after) {
  double cap = config_int(r, "delivery.retry_cap_ms") / 1000.0;
  if (retry_after > 0) return retry_after < cap ? retry_after : cap;
  double d = config_int(r, "delivery.retry_base_ms") / 1000.0;
  for (int i = 1; i < attempts && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  unsigned short noise = 0;
  if (RAND_bytes((unsigned char *)&noise, sizeof noise) != 1) noise = 32768;
  return d / 2 + d / 2 * (noise / 65535.0);
}

/* Parks env for a later attempt after delay seconds (idempotent: a work item
 * is parked once). */
static enum zw_outcome park(struct runner *r, const struct zw_delivery *dv, double delay, const char *why, char *err,
                            size_t errlen) {
  char rev[16], secs[32], *envelope = json_dumps(dv->env, JSON_COMPACT);
  bool transient;
  if (!envelope) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  snprintf(rev, sizeof rev, "%d", dv->revision);
  snprintf(secs, sizeof secs, "%.3f", delay);
  const char *params[] = {dv->release_id, rev, r->ops->channel, envelope, secs, why};
  int rc = zw_pg_run(r->pg,
                     "INSERT INTO delivery_retries (release_id, revision, channel, envelope, next_at, last_error) "
                     "VALUES ($1, $2::int, $3, $4::jsonb, now() + $5::double precision * interval '1 second', $6) "
                     "ON CONFLICT (release_id, revision, channel) DO UPDATE SET "
                     "  next_at = EXCLUDED.next_at, last_error = EXCLUDED.last_error, "
                     "  attempts = delivery_retries.attempts + 1",
                     6, params, &transient, err, errlen);
  free(envelope);
  return rc < 0 ? zw_stage_pg_failed(transient, err, err, errlen) : ZW_OK;
}

/* Where the release stands in the retry queue on this channel: *parked when
 * this very item already waits there (a redelivered message), *behind when
 * another item of the release waits and this one must queue behind it. */
static enum zw_outcome queue_position(struct runner *r, const struct zw_delivery *dv, bool *parked, bool *behind,
                                      char *err, size_t errlen) {
  char rev[16];
  bool transient;
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, r->ops->channel, rev};
  PGresult *res = zw_pg_exec(r->pg,
                             "SELECT coalesce(bool_or(revision = $3::int), false), "
                             "  coalesce(bool_or(revision <> $3::int), false) "
                             "FROM delivery_retries WHERE release_id = $1 AND channel = $2",
                             3, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  *parked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  *behind = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
  PQclear(res);
  return ZW_OK;
}

/* The outcome of one attempt, written down: delivered/withdrawn or failed
 * with a receipt, or parked for later. *finished says whether the item left
 * the retry queue for good. */
static enum zw_outcome attempt(struct runner *r, struct zw_stage *st, struct zw_delivery *dv, bool *finished,
                               char *err, size_t errlen) {
  struct known k;
  json_t *previous = NULL;
  bool withdraw = strcmp(dv->action, "withdraw") == 0;
  int attempts = 0;
  enum zw_outcome o = load_known(r, dv, &k, &previous, err, errlen);
  *finished = false;
  if (o != ZW_OK) goto out;
  if (strcmp(k.status, "delivered") == 0 || strcmp(k.status, "withdrawn") == 0 || strcmp(k.status, "failed") == 0) {
    /* Done before; the transaction that carried its receipt may have been
     * aborted, so the receipt is sent again — never the delivery. */
    char why[512] = "";
    *finished = true;
    if ((o = load_result(r, dv, &attempts, why, sizeof why)) != ZW_OK) goto out;
    bool failed = strcmp(k.status, "failed") == 0;
    bool superseded = failed && strncmp(why, SUPERSEDED, strlen(SUPERSEDED)) == 0; /* never dead-lettered */
    if (send_receipt(r, st, dv, k.status, attempts, failed ? why : NULL, err, errlen) < 0) o = ZW_RETRY;
    else if (failed && !superseded && zw_stage_dead_letter(st, dv->env, "delivery_failed", why, err, errlen) < 0)
      o = ZW_RETRY;
    count(r, "zwgk_deliveries_total", "repeated");
    goto out;
  }
  int newer = 0;
  if ((o = newer_on_channel(r, dv, &newer, err, errlen)) != ZW_OK) goto out;
  if (newer) {
    /* A later revision is already out (or withdrawn) there: this older one —
     * a replayed dead letter, say — must not bring back what it replaced. */
    char why_stale[160];
    snprintf(why_stale, sizeof why_stale, SUPERSEDED " revision %d is already delivered or withdrawn on %s", newer,
             r->ops->channel);
    zw_warn(dv->release_id, "revision %d not sent: %s", dv->revision, why_stale);
    if ((o = record(r, dv, "failed", why_stale, &attempts, err, errlen)) != ZW_OK) goto out;
    *finished = true;
    o = send_receipt(r, st, dv, "failed", attempts, why_stale, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
    goto out;
  }
  char why[512] = "";
  const char *status;
  dv->retry_after_s = 0;
  enum zw_outcome result = withdraw ? r->ops->withdraw(r->state, dv, why, sizeof why)
                                    : r->ops->deliver(r->state, dv, why, sizeof why);
  if (result == ZW_RETRY) {
    if ((o = record(r, dv, "pending", why, &attempts, err, errlen)) != ZW_OK) goto out;
    if (attempts < config_int(r, "delivery.retry_limit") || dv->retry_after_s > 0) {
      double delay = retry_delay(r, attempts, dv->retry_after_s);
      zw_warn(dv->release_id, "%s revision %d on %s: attempt %d failed (%s); next in %.1f s", dv->action,
              dv->revision, r->ops->channel, attempts, why, delay);
      count(r, "zwgk_deliveries_total", "retry");
      o = park(r, dv, delay, why, err, errlen);
      goto out;
    }
    result = ZW_FAIL;
    status = "failed";
    snprintf(why + strlen(why), sizeof why - strlen(why), " (gave up after %d attempts)", attempts);
    if ((o = set_failed(r, dv, why, err, errlen)) != ZW_OK) goto out;
  } else {
    status = result == ZW_FAIL ? "failed" : withdraw ? "withdrawn" : "delivered";
    if ((o = record(r, dv, status, result == ZW_FAIL ? why : NULL, &attempts, err, errlen)) != ZW_OK) goto out;
  }
  const char *error = result == ZW_FAIL ? why : NULL;
  *finished = true;
  json_t *detail = json_pack("{s:s, s:s?, s:s?, s:i, s:s?}", "channel", r->ops->channel, "external_id",
                             *dv->external_id ? dv->external_id : NULL, "url", *dv->url ? dv->url : NULL,
                             "attempts", attempts, "error", error);
  char action[64];
  snprintf(action, sizeof action, "delivery.%s", status);
  int audited = detail ? zw_audit_append(r->pg, r->ops->channel, action, dv->release_id, dv->revision, detail, err,
                                         errlen)
                       : -1;
  json_decref(detail);
  if (audited < 0) {
    o = ZW_RETRY; /* the delivery is recorded: the next attempt only repeats receipt and audit */
    goto out;
  }
  if (send_receipt(r, st, dv, status, attempts, error, err, errlen) < 0) {
    o = ZW_RETRY;
    goto out;
  }
  count(r, "zwgk_deliveries_total", status);
  if (result == ZW_FAIL) {
    zw_warn(dv->release_id, "%s revision %d on %s failed: %s", dv->action, dv->revision, r->ops->channel, why);
    o = zw_stage_dead_letter(st, dv->env, "delivery_failed", why, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
  } else {
    zw_info(dv->release_id, "%s revision %d on %s: %s", status, dv->revision, r->ops->channel, dv->url);
  }
out:
  json_decref(previous);
  dv->previous = NULL;
  return o;
}

/* Fills dv from a channel envelope; ZW_FAIL when it has no payload. */
static enum zw_outcome delivery_from(struct runner *r, const json_t *env, struct zw_delivery *dv, char *err,
                                     size_t errlen) {
  memset(dv, 0, sizeof *dv);
  dv->release_id = zw_envelope_release_id(env);
  dv->revision = zw_envelope_revision(env);
  dv->action = zw_envelope_action(env);
  dv->env = env;
  dv->payload = json_object_get(json_object_get(env, "channel"), "payload");
  dv->runner = r;
  dv->progress = json_object();
  if (!json_is_object(dv->payload) || !dv->release_id || !dv->action) {
    snprintf(err, errlen, "channel envelope without a payload");
    return ZW_FAIL;
  }
  return dv->progress ? ZW_OK : ZW_RETRY;
}

struct work_item {
  struct runner *r;
  struct zw_stage *st;
  json_t *env;
};

static enum zw_outcome run_item(void *arg, char *err, size_t errlen) {
  struct work_item *w = arg;
  struct runner *r = w->r;
  json_t *env = w->env;
  struct zw_stage *st = w->st;
  struct zw_delivery dv;
  bool parked = false, behind = false, finished;
  enum zw_outcome o = delivery_from(r, env, &dv, err, errlen);
  if (o == ZW_OK) o = queue_position(r, &dv, &parked, &behind, err, errlen);
  if (o == ZW_OK && parked) {
    zw_info(dv.release_id, "revision %d on %s already waits for a retry", dv.revision, r->ops->channel);
  } else if (o == ZW_OK && behind) {
    zw_info(dv.release_id, "revision %d on %s queued behind an earlier one waiting for a retry", dv.revision,
            r->ops->channel);
    o = park(r, &dv, 0, "queued behind an earlier revision", err, errlen);
  } else if (o == ZW_OK) {
    o = attempt(r, st, &dv, &finished, err, errlen);
  }
  json_decref(dv.progress);
  return o;
}

/* One work item: inside a batch (redo-safe channels), in its savepoint of the
 * batch's transaction; otherwise each statement commits as it goes. */
static enum zw_outcome run_one(void *arg, struct zw_stage *st, const rd_kafka_message_t *msg, json_t *env,
                               char *err, size_t errlen) {
  struct runner *r = arg;
  struct work_item w = {r, st, env};
  if (zw_pg_in_batch(r->pg)) return zw_stage_pg_transaction(r->pg, run_item, &w, err, errlen);
  return run_item(&w, err, errlen);
}

/* The scheduled pass: takes up to DUE_BATCH parked items that are due and
 * first in line for their release, leasing them to this process, and tries
 * each again. Finished ones are deleted when the transaction commits. */
static enum zw_outcome run_due(void *arg, struct zw_stage *st, char *err, size_t errlen) {
  struct runner *r = arg;
  bool transient;
  char limit[16];
  snprintf(limit, sizeof limit, "%d", DUE_BATCH);
  const char *params[] = {r->ops->channel, limit};
  r->ndone = 0;
  PGresult *res = zw_pg_exec(r->pg,
                             "UPDATE delivery_retries SET next_at = now() + interval '" LEASE "' "
                             "WHERE id IN (SELECT q.id FROM delivery_retries q WHERE q.channel = $1 "
                             "  AND q.next_at <= now() AND NOT EXISTS (SELECT 1 FROM delivery_retries e "
                             "    WHERE e.channel = q.channel AND e.release_id = q.release_id AND e.id < q.id) "
                             "  ORDER BY q.next_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
                             "RETURNING id, envelope::text",
                             2, params, &transient, err, errlen);
  if (!res) return zw_stage_pg_failed(transient, err, err, errlen);
  enum zw_outcome o = ZW_OK;
  double start = zw_now();
  int i = 0;
  for (; i < PQntuples(res) && o == ZW_OK && !zw_daemon_stopping(r->d); i++) {
    if (i > 0 && zw_now() - start > DUE_SECONDS) break; /* the rest: next pass */
    long id = atol(PQgetvalue(res, i, 0));
    json_t *env = json_loads(PQgetvalue(res, i, 1), 0, NULL);
    struct zw_delivery dv;
    bool finished = false;
    o = env ? delivery_from(r, env, &dv, err, errlen) : ZW_FAIL;
    if (o == ZW_OK) o = attempt(r, st, &dv, &finished, err, errlen);
    if (o == ZW_FAIL) { /* an unreadable parked item: dead-letter it and let it go */
      o = env && zw_stage_dead_letter(st, env, "unprocessable", err, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
      finished = true;
    }
    if (env) json_decref(dv.progress);
    json_decref(env);
    if (o == ZW_OK && finished) r->done_ids[r->ndone++] = id;
  }
  /* Leased rows this pass did not reach are due again at once. */
  char ids[DUE_BATCH * 24] = "{", pgerr[256];
  for (int j = i; j < PQntuples(res); j++)
    snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", j > i ? "," : "", PQgetvalue(res, j, 0));
  strcat(ids, "}");
  const char *unreached[] = {ids};
  if (i < PQntuples(res) && zw_pg_run(r->pg, "UPDATE delivery_retries SET next_at = now() WHERE id = ANY ($1::bigint[])",
                                      1, unreached, &transient, pgerr, sizeof pgerr) < 0)
    zw_warn(NULL, "parked deliveries stay leased until the lease ends: %s", pgerr);
  PQclear(res);
  return o;
}

/* Deletes the finished parked items once their receipts are committed; after
 * an abort they are made due again at once (their deliveries are recorded, so
 * the next pass only repeats the receipts). */
static void settle(void *arg, bool committed) {
  struct runner *r = arg;
  if (r->ndone == 0) return;
  char ids[DUE_BATCH * 24] = "{", pgerr[256];
  for (size_t i = 0; i < r->ndone; i++)
    snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%ld", i ? "," : "", r->done_ids[i]);
  strcat(ids, "}");
  const char *params[] = {ids};
  bool transient;
  if (zw_pg_run(r->pg,
                committed ? "DELETE FROM delivery_retries WHERE id = ANY ($1::bigint[])"
                          : "UPDATE delivery_retries SET next_at = now() WHERE id = ANY ($1::bigint[])",
                1, params, &transient, pgerr, sizeof pgerr) < 0)
    zw_warn(NULL, "cannot settle %zu parked deliveries (they are retried when their lease ends): %s", r->ndone,
            pgerr);
  r->ndone = 0;
}

/* The stage's flush: the adapter's, if it has one. */
static void flush(void *arg) {
  struct runner *r = arg;
  if (r->ops->flush && r->state) r->ops->flush(r->state);
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
  struct zw_stage_spec spec = {.input = input,
                               .group_key = group_key,
                               .handle = run_one,
                               .ready = zw_pg_ready,
                               .arg = &r,
                               .due = run_due,
                               .settle = settle,
                               .flush = flush};
  bool batch = ops->redo_safe && zw_config_bool(cfg, "pg.batch_transactions");
  struct zw_stage *st = NULL;
  zw_metrics_declare(zw_daemon_metrics(d), "zwgk_deliveries_total", ZW_COUNTER,
                     "Delivery attempts by outcome (delivered, withdrawn, failed, retry, repeated)");
  r.pg = zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s"));
  spec.ready_arg = r.pg;
  spec.batch_pg = batch ? r.pg : NULL;
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
