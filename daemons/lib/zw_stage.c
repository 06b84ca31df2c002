/* zw_stage — the transactional consume-transform-produce loop of every stage. */
#include "zw_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zw_envelope.h"
#include "zw_kafka.h"
#include "zw_log.h"

struct zw_stage {
  struct zw_daemon *d;
  struct zw_stage_spec spec;
  rd_kafka_t *consumer;
  rd_kafka_t *producer; /* NULL until init_transactions succeeded */
  int pipefd[2];
  struct event *wake, *tick;
  struct event *more; /* a zero timeout: the next batch, after the loop polled for other events */
  struct event *spacer; /* the rest of kafka.transaction_interval_ms before a small batch */
  rd_kafka_queue_t *queue; /* the consumer's, to see how many messages wait */
  char txn_id[192];
  char input_topic[256];
  const rd_kafka_message_t *current; /* message being processed, for the trace */
  double backoff_until, backoff;
  double next_due; /* when the scheduled work runs next */
  unsigned long rebalances; /* assignments changed so far */
  double message_seconds;   /* moving average of the time one message takes */
  double txn_started;       /* when the last transaction with messages began */
  bool kafka_ok;
  rd_kafka_topic_partition_list_t *committed; /* offsets this stage last committed */
};

enum txn_fate { TXN_RETRY, TXN_ABORT, TXN_FATAL };

/* About how long one batch may process messages before it commits. */
#define BATCH_SECONDS 0.5
/* The largest dead letter written, serialised: below the broker's and
 * librdkafka's default message.max.bytes (about 1 MB) with room for headers.
 * A larger one would be refused, and the stage would retry it forever. */
#define DLQ_RECORD_MAX 900000

static enum txn_fate txn_classify(const rd_kafka_error_t *e) {
  if (rd_kafka_error_is_fatal(e)) return TXN_FATAL;
  if (rd_kafka_error_txn_requires_abort(e)) return TXN_ABORT;
  if (rd_kafka_error_is_retriable(e)) return TXN_RETRY;
  return TXN_ABORT;
}

static struct zw_metrics *metrics(struct zw_stage *st) { return zw_daemon_metrics(st->d); }

static void count_error(struct zw_stage *st, const char *kind) {
  char label[128];
  zw_metrics_add(metrics(st), "zwgk_errors_total", zw_metrics_label(label, sizeof label, "kind", kind), 1);
}

static void set_backoff(struct zw_stage *st) {
  st->backoff = st->backoff ? st->backoff * 2 : 0.2;
  if (st->backoff > 30) st->backoff = 30;
  st->backoff_until = zw_now() + st->backoff;
}

/* Makes the transactional producer and runs init_transactions, which also
 * fences and aborts whatever a previous incarnation left open. */
static int producer_start(struct zw_stage *st, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(st->d);
  static const char *const defaults[] = {"linger.ms", "5", NULL};
  rd_kafka_conf_t *conf = zw_kafka_conf(cfg, st->txn_id, defaults, err, errlen);
  if (!conf) return -1;
  if (zw_kafka_conf_set(conf, "transactional.id", st->txn_id, err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "transaction.timeout.ms",
                        zw_config_str(cfg, "kafka.transaction_timeout_ms"), err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "acks", "all", err, errlen) < 0) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  char rkerr[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof rkerr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    snprintf(err, errlen, "rd_kafka_new: %.400s", rkerr);
    return -1;
  }
  rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 10000);
  if (e) {
    snprintf(err, errlen, "init_transactions: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    rd_kafka_destroy(rk);
    return -1;
  }
  st->producer = rk;
  zw_info(NULL, "transactional producer %s ready", st->txn_id);
  return 0;
}

static void producer_stop(struct zw_stage *st) {
  if (!st->producer) return;
  rd_kafka_destroy(st->producer);
  st->producer = NULL;
}

/* Seeks every partition of the batch back to its first message in the batch,
 * which is the last committed offset because each batch commits before the next. */
static void rewind_batch(struct zw_stage *st, rd_kafka_message_t **msgs, size_t n) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
  for (size_t i = 0; i < n; i++) {
    const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
    if (!rd_kafka_topic_partition_list_find(list, topic, msgs[i]->partition))
      rd_kafka_topic_partition_list_add(list, topic, msgs[i]->partition)->offset = msgs[i]->offset;
  }
  rd_kafka_error_t *e = rd_kafka_seek_partitions(st->consumer, list, 5000);
  if (e) {
    zw_error(NULL, "rewind failed: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

/* Handles a failed transactional call: abort or rebuild, then rewind. */
static void txn_failed(struct zw_stage *st, const char *what, rd_kafka_error_t *e,
                       rd_kafka_message_t **msgs, size_t n) {
  enum txn_fate fate = e ? txn_classify(e) : TXN_ABORT;
  zw_warn(NULL, "%s failed (%s): %s", what, fate == TXN_FATAL ? "fatal" : "abortable",
          e ? rd_kafka_error_string(e) : "processing");
  count_error(st, fate == TXN_FATAL ? "txn_fatal" : "txn_abort");
  if (e) rd_kafka_error_destroy(e);
  if (fate != TXN_FATAL) {
    rd_kafka_error_t *ae = rd_kafka_abort_transaction(st->producer, 30000);
    if (ae) {
      zw_warn(NULL, "abort_transaction: %s", rd_kafka_error_string(ae));
      fate = TXN_FATAL;
      rd_kafka_error_destroy(ae);
    }
  }
  if (fate == TXN_FATAL) producer_stop(st);
  rewind_batch(st, msgs, n);
}

/* Calls fn until it is not retriable (bounded), returning its last error. */
static rd_kafka_error_t *with_retries(struct zw_stage *st, rd_kafka_error_t *(*fn)(struct zw_stage *, void *),
                                      void *arg) {
  rd_kafka_error_t *e = NULL;
  for (int attempt = 0; attempt < 5; attempt++) {
    if (e) rd_kafka_error_destroy(e);
    e = fn(st, arg);
    if (!e || txn_classify(e) != TXN_RETRY) return e;
  }
  return e;
}

static rd_kafka_error_t *send_offsets(struct zw_stage *st, void *arg) {
  rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(st->consumer);
  rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(st->producer, arg, cgmd, 30000);
  rd_kafka_consumer_group_metadata_destroy(cgmd);
  return e;
}

static rd_kafka_error_t *commit(struct zw_stage *st, void *arg) {
  return rd_kafka_commit_transaction(st->producer, 30000);
}

const char *zw_stage_source(const rd_kafka_message_t *msg, char *buf, size_t len) {
  snprintf(buf, len, "%s:%d:%lld", rd_kafka_topic_name(msg->rkt), (int)msg->partition,
           (long long)msg->offset);
  return buf;
}

/* The length of the longest prefix of s[0..len) that is at most max bytes and
 * does not end inside a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max) {
  size_t n = len < max ? len : max;
  if (n == len) return n;
  size_t lead = n;
  while (lead > 0 && lead > n - 4 && ((unsigned char)s[lead] & 0xC0) == 0x80) lead--;
  return lead;
}

/* Makes dl fit DLQ_RECORD_MAX once serialised. What is dropped first are the
 * copies of the original's members (the release is in the original too), then
 * the original is cut to a prefix, halved until it fits; the full length and
 * SHA-256 of the original are kept, and original_truncated says an entry can
 * no longer be replayed as it was. Returns 0, or -1 if it cannot fit. */
static int dead_letter_fit(json_t *dl, const char *original, size_t len) {
  char *text = json_dumps(dl, JSON_COMPACT);
  size_t size = text ? strlen(text) : SIZE_MAX;
  free(text);
  if (size <= DLQ_RECORD_MAX) return 0;
  json_object_del(dl, "release");
  json_object_del(dl, "ingest");
  char digest[65];
  zw_sha256_hex(original ? original : "", original ? len : 0, digest);
  json_object_set_new(dl, "original_bytes", json_integer((json_int_t)len));
  json_object_set_new(dl, "original_sha256", json_string(digest));
  json_object_set_new(dl, "original_truncated", json_true());
  for (size_t keep = DLQ_RECORD_MAX / 2;; keep /= 2) {
    size_t n = original ? utf8_prefix(original, len, keep) : 0;
    json_t *cut = n ? json_stringn(original, n) : NULL;
    json_object_set_new(dl, "original", cut ? cut : json_string(""));
    text = json_dumps(dl, JSON_COMPACT);
    size = text ? strlen(text) : SIZE_MAX;
    free(text);
    if (size <= DLQ_RECORD_MAX) return 0;
    if (keep == 0) return -1;
  }
}

/* Writes a dead letter for msg: the error, where it came from and the original. */
static int dead_letter(struct zw_stage *st, const rd_kafka_message_t *msg, const json_t *env,
                       const char *kind, const char *message) {
  char source[320], err[256];
  const char *original = msg->payload ? (const char *)msg->payload : "";
  size_t len = msg->payload ? msg->len : 0;
  json_t *dl = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s%}", "schema", "zwgk.dlq.v1", "error",
                         "stage", zw_daemon_name(st->d), "kind", kind, "message", message,
                         "source", zw_stage_source(msg, source, sizeof source), "original", original, len);
  bool utf8 = dl != NULL;
  if (!dl) /* the original is not UTF-8: keep its bytes hex-free but visible as "" */
    dl = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s}", "schema", "zwgk.dlq.v1", "error", "stage",
                   zw_daemon_name(st->d), "kind", kind, "message", message, "source",
                   zw_stage_source(msg, source, sizeof source), "original", "");
  const char *copy[] = {"release_id", "revision", "action", "ingest", "release"};
  for (size_t i = 0; env && i < sizeof copy / sizeof copy[0]; i++) {
    json_t *v = json_object_get(env, copy[i]);
    if (v) json_object_set(dl, copy[i], v);
  }
  if (!json_object_get(dl, "release_id") && msg->key && msg->key_len == ZW_RELEASE_ID_LEN)
    json_object_set_new(dl, "release_id", json_stringn(msg->key, msg->key_len));
  int rc = -1;
  if (dead_letter_fit(dl, utf8 ? original : NULL, len) < 0)
    snprintf(err, sizeof err, "the dead letter does not fit %d bytes", DLQ_RECORD_MAX);
  else
    rc = zw_stage_emit(st, "dlq", dl, err, sizeof err);
  if (rc < 0) zw_error(NULL, "cannot dead-letter: %s", err);
  else zw_warn(json_string_value(json_object_get(dl, "release_id")), "dead-lettered %s: %s", kind, message);
  count_error(st, kind);
  json_decref(dl);
  return rc;
}

int zw_stage_dead_letter(struct zw_stage *st, const json_t *env, const char *kind, const char *message,
                         char *err, size_t errlen) {
  char *original = json_dumps(env, JSON_COMPACT);
  json_t *dl = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s?}", "schema", "zwgk.dlq.v1", "error", "stage",
                         zw_daemon_name(st->d), "kind", kind, "message", message, "source", "schedule",
                         "original", original);
  free(original);
  if (!dl) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  const char *copy[] = {"release_id", "revision", "action", "ingest", "release"};
  for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
    json_t *v = json_object_get(env, copy[i]);
    if (v) json_object_set(dl, copy[i], v);
  }
  const char *kept = json_string_value(json_object_get(dl, "original"));
  char *whole = kept ? strdup(kept) : NULL;
  int fits = dead_letter_fit(dl, whole, whole ? strlen(whole) : 0);
  free(whole);
  if (fits < 0) {
    snprintf(err, errlen, "the dead letter does not fit %d bytes", DLQ_RECORD_MAX);
    json_decref(dl);
    return -1;
  }
  int rc = zw_stage_emit(st, "dlq", dl, err, errlen);
  if (rc == 0) zw_warn(json_string_value(json_object_get(env, "release_id")), "dead-lettered %s: %s", kind, message);
  count_error(st, kind);
  json_decref(dl);
  return rc;
}

int zw_stage_emit(struct zw_stage *st, const char *topic, const json_t *env, char *err,
                  size_t errlen) {
  char full[256], trace_id[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1], tp[ZW_TRACEPARENT_LEN + 1],
      header[128];
  zw_kafka_topic(zw_daemon_config(st->d), topic, full, sizeof full);
  if (zw_trace_new(trace_id, span) < 0) {
    snprintf(err, errlen, "no randomness for a span id");
    return -1;
  }
  if (st->current && zw_kafka_header(st->current, "traceparent", header, sizeof header) == 0)
    zw_traceparent_parse(header, strlen(header), trace_id);
  zw_traceparent_format(tp, trace_id, span);
  const char *key = json_string_value(json_object_get(env, "release_id"));
  char *value = json_dumps(env, JSON_COMPACT);
  if (!value) {
    snprintf(err, errlen, "cannot serialise the envelope");
    return -1;
  }
  rd_kafka_headers_t *h = zw_kafka_headers(tp, json_string_value(json_object_get(env, "schema")));
  rd_kafka_resp_err_t e;
  for (int tries = 0;; tries++) {
    e = rd_kafka_producev(st->producer, RD_KAFKA_V_TOPIC(full),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 50) break;
    rd_kafka_poll(st->producer, 100); /* bounded wait for room in the queue */
  }
  if (e) {
    free(value);
    rd_kafka_headers_destroy(h);
    snprintf(err, errlen, "produce to %s: %s", full, rd_kafka_err2str(e));
    return -1;
  }
  char label[300];
  zw_metrics_add(metrics(st), "zwgk_messages_out_total", zw_metrics_label(label, sizeof label, "topic", full), 1);
  return 0;
}

/* Processes one message; returns 0 to go on, -1 to abort the batch (transient). */
static int process_one(struct zw_stage *st, rd_kafka_message_t *msg) {
  char err[512];
  st->current = msg;
  double start = zw_now();
  json_t *env = zw_envelope_parse(msg->payload, msg->len, err, sizeof err);
  enum zw_outcome out = env ? st->spec.handle(st->spec.arg, st, msg, env, err, sizeof err) : ZW_FAIL;
  int rc = 0;
  if (out == ZW_FAIL) rc = dead_letter(st, msg, env, env ? "unprocessable" : "poison", err);
  else if (out == ZW_RETRY) {
    zw_warn(env ? zw_envelope_release_id(env) : NULL, "will retry: %s", err);
    count_error(st, "transient");
    rc = -1;
  }
  json_decref(env);
  st->current = NULL;
  double took = zw_now() - start;
  st->message_seconds = st->message_seconds > 0 ? 0.8 * st->message_seconds + 0.2 * took : took;
  char label[300];
  zw_metrics_label(label, sizeof label, "topic", st->input_topic);
  zw_metrics_add(metrics(st), "zwgk_messages_in_total", label, 1);
  zw_metrics_observe(metrics(st), "zwgk_stage_seconds", NULL, zw_now() - start);
  return rc;
}

/* Offsets to commit: one past the last message of each partition in the batch. */
static rd_kafka_topic_partition_list_t *batch_offsets(rd_kafka_message_t **msgs, size_t n) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
  for (size_t i = 0; i < n; i++) {
    const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, topic, msgs[i]->partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(list, topic, msgs[i]->partition);
    if (msgs[i]->offset + 1 > tp->offset) tp->offset = msgs[i]->offset + 1;
  }
  return list;
}

static int64_t committed_offset(const struct zw_stage *st, const char *topic, int32_t partition) {
  rd_kafka_topic_partition_t *tp =
      st->committed ? rd_kafka_topic_partition_list_find(st->committed, topic, partition) : NULL;
  return tp ? tp->offset : -1;
}

/* The offsets to commit: past the batch's messages, and past the transaction
 * markers the consumer has stepped over since the last commit (the consumer's
 * position), so a caught-up group shows no lag. */
static rd_kafka_topic_partition_list_t *offsets_to_commit(struct zw_stage *st, rd_kafka_message_t **msgs,
                                                          size_t n) {
  rd_kafka_topic_partition_list_t *list = batch_offsets(msgs, n), *assigned = NULL;
  if (rd_kafka_assignment(st->consumer, &assigned) || !assigned) return list;
  rd_kafka_position(st->consumer, assigned);
  for (int i = 0; i < assigned->cnt; i++) {
    rd_kafka_topic_partition_t *a = &assigned->elems[i];
    if (a->offset < 0) continue;
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, a->topic, a->partition);
    if (tp && a->offset > tp->offset) tp->offset = a->offset;
    else if (!tp && a->offset > committed_offset(st, a->topic, a->partition))
      rd_kafka_topic_partition_list_add(list, a->topic, a->partition)->offset = a->offset;
  }
  rd_kafka_topic_partition_list_destroy(assigned);
  return list;
}

static void remember_committed(struct zw_stage *st, const rd_kafka_topic_partition_list_t *offsets) {
  if (!st->committed) st->committed = rd_kafka_topic_partition_list_new(offsets->cnt);
  for (int i = 0; i < offsets->cnt; i++) {
    const rd_kafka_topic_partition_t *o = &offsets->elems[i];
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(st->committed, o->topic, o->partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(st->committed, o->topic, o->partition);
    tp->offset = o->offset;
  }
}

/* Applies the group's new assignment (eager protocol) and counts the change,
 * so that a batch being collected drops what it fetched before. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
  struct zw_stage *st = opaque;
  st->rebalances++;
  rd_kafka_resp_err_t e;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    e = rd_kafka_assign(rk, parts);
    zw_info(NULL, "assigned %d partition(s) of %s", parts->cnt, st->input_topic);
  } else {
    e = rd_kafka_assign(rk, NULL);
    zw_info(NULL, "partitions revoked (%s)", rd_kafka_err2str(err));
  }
  if (e) zw_warn(NULL, "rebalance: %s", rd_kafka_err2str(e));
}

/* Collects up to max messages. When the assignment changes meanwhile, what was
 * collected before is dropped: it may belong to partitions another member now
 * owns (which would then be processed twice), and where this member keeps a
 * partition it resumes from the committed offset anyway. */
static size_t collect_batch(struct zw_stage *st, rd_kafka_message_t **msgs, size_t max) {
  size_t n = 0;
  unsigned long rebalances = st->rebalances;
  while (n < max) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(st->consumer, 0);
    if (st->rebalances != rebalances) {
      for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
      n = 0;
      rebalances = st->rebalances;
    }
    if (!m) break;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        zw_warn(NULL, "consumer: %s", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    msgs[n++] = m;
  }
  return n;
}

/* Opens the batch's PostgreSQL transaction when the stage has one; returns
 * 0 or -1 (logged) when PostgreSQL is not there. */
static int batch_pg_begin(struct zw_stage *st, size_t n) {
  if (!st->spec.batch_pg || n == 0) return 0;
  char err[512];
  bool transient;
  if (st->spec.before_batch && st->spec.before_batch(st->spec.arg, err, sizeof err) != ZW_OK) {
    zw_warn(NULL, "before the batch: %s", err);
    count_error(st, "transient");
    return -1;
  }
  if (zw_pg_batch_begin(st->spec.batch_pg, &transient, err, sizeof err) == 0) return 0;
  zw_warn(NULL, "PostgreSQL: %s", err);
  count_error(st, "transient");
  return -1;
}

/* Ends the batch's PostgreSQL transaction, if open; returns -1 (logged) when
 * the commit failed. */
static int batch_pg_end(struct zw_stage *st, bool commit) {
  if (!st->spec.batch_pg || !zw_pg_in_batch(st->spec.batch_pg)) return 0;
  char err[512];
  bool transient;
  if (zw_pg_batch_end(st->spec.batch_pg, commit, &transient, err, sizeof err) == 0) return 0;
  zw_warn(NULL, "PostgreSQL commit of the batch: %s", err);
  count_error(st, "transient");
  return -1;
}

/* Runs one transaction over the batch (which may be empty when only offsets
 * moved) and commits offsets. Processing stops after BATCH_SECONDS — the
 * messages left are handed back and come in the next batch — so that a slow
 * channel never keeps a transaction open near transaction.timeout.ms nor the
 * event loop from its other work. Sets *processed; returns true when it
 * committed. */
static bool run_transaction(struct zw_stage *st, rd_kafka_message_t **msgs, size_t n, size_t *processed) {
  *processed = 0;
  rd_kafka_error_t *e = rd_kafka_begin_transaction(st->producer);
  if (e) {
    zw_warn(NULL, "begin_transaction: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    producer_stop(st);
    rewind_batch(st, msgs, n);
    return false;
  }
  if (batch_pg_begin(st, n) < 0) {
    txn_failed(st, "PostgreSQL", NULL, msgs, n);
    set_backoff(st);
    return false;
  }
  double start = zw_now();
  if (n > 0) st->txn_started = start;
  size_t i = 0;
  for (; i < n; i++) {
    if (i > 0 && zw_now() - start > BATCH_SECONDS) break;
    if (process_one(st, msgs[i]) < 0) {
      batch_pg_end(st, false);
      txn_failed(st, "processing", NULL, msgs, n);
      set_backoff(st);
      return false;
    }
  }
  if (st->spec.flush && i > 0) st->spec.flush(st->spec.arg);
  /* All done: commit past the transaction markers too (the consumer's
   * position). Cut short: only past what was processed, and the rest again. */
  rd_kafka_topic_partition_list_t *offsets = i == n ? offsets_to_commit(st, msgs, n) : batch_offsets(msgs, i);
  if (i < n) rewind_batch(st, msgs + i, n - i); /* fetched again by the next batch */
  if (offsets->cnt > 0) e = with_retries(st, send_offsets, offsets);
  /* PostgreSQL first: if Kafka's commit then fails, the batch comes again
   * and is found recorded; the other way round, it would be lost. */
  bool pg_failed = !e && batch_pg_end(st, true) < 0;
  if (!e && !pg_failed) e = with_retries(st, commit, NULL);
  if (e || pg_failed) {
    batch_pg_end(st, false);
    txn_failed(st, pg_failed ? "PostgreSQL commit" : "commit", e, msgs, n);
    set_backoff(st);
    rd_kafka_topic_partition_list_destroy(offsets);
    return false;
  }
  remember_committed(st, offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  *processed = i;
  zw_metrics_add(metrics(st), "zwgk_transactions_total", NULL, 1);
  zw_metrics_add(metrics(st), "zwgk_transaction_messages_total", NULL, i);
  return true;
}

/* Runs the handler's scheduled work in a transaction of its own, then lets
 * the handler settle what it holds in PostgreSQL. */
static void run_due(struct zw_stage *st) {
  double now = zw_now();
  if (!st->spec.due || now < st->next_due || !st->producer) return;
  long interval = zw_config_int(zw_daemon_config(st->d), "delivery.schedule_interval_ms");
  st->next_due = now + (interval > 0 ? interval : 1000) / 1000.0;
  rd_kafka_error_t *e = rd_kafka_begin_transaction(st->producer);
  if (e) {
    zw_warn(NULL, "begin_transaction (scheduled work): %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    producer_stop(st);
    return;
  }
  char err[512] = "";
  enum zw_outcome o = st->spec.due(st->spec.arg, st, err, sizeof err);
  if (o == ZW_OK && st->spec.flush) st->spec.flush(st->spec.arg);
  if (o == ZW_OK) e = with_retries(st, commit, NULL);
  bool committed = o == ZW_OK && !e;
  if (!committed) {
    enum txn_fate fate = e ? txn_classify(e) : TXN_ABORT;
    zw_warn(NULL, "scheduled work not committed: %s", e ? rd_kafka_error_string(e) : err);
    count_error(st, "scheduled");
    if (e) rd_kafka_error_destroy(e);
    rd_kafka_error_t *ae = fate == TXN_FATAL ? NULL : rd_kafka_abort_transaction(st->producer, 30000);
    if (fate == TXN_FATAL || ae) {
      if (ae) rd_kafka_error_destroy(ae);
      producer_stop(st);
    }
    set_backoff(st);
  }
  if (st->spec.settle) st->spec.settle(st->spec.arg, committed);
}

/* Messages to take into the next transaction: kafka.batch_max, or fewer when
 * messages are slow (an adapter waiting on a remote API), so that one batch
 * takes about BATCH_SECONDS and the event loop — the admin listener's
 * /readyz and /metrics, signals — gets its turn in between. */
static size_t batch_size(const struct zw_stage *st) {
  size_t max = (size_t)zw_config_int(zw_daemon_config(st->d), "kafka.batch_max");
  if (max < 1) max = 1;
  if (st->message_seconds <= 0) return max < 16 ? max : 16; /* no measurement yet: start small */
  double fit = BATCH_SECONDS / st->message_seconds;
  return fit < 1 ? 1 : fit < (double)max ? (size_t)fit : max;
}

static void run_batch(struct zw_stage *st) {
  if (zw_daemon_stopping(st->d) || zw_now() < st->backoff_until) return;
  char err[512];
  if (!st->producer && producer_start(st, err, sizeof err) < 0) {
    zw_warn(NULL, "kafka not ready: %s", err);
    st->kafka_ok = false;
    set_backoff(st);
    return;
  }
  size_t max = batch_size(st);
  rd_kafka_message_t **msgs = calloc(max ? max : 1, sizeof *msgs);
  if (!msgs) return;
  size_t n = collect_batch(st, msgs, max), processed = 0;
  rd_kafka_topic_partition_list_t *offsets = n ? NULL : offsets_to_commit(st, msgs, 0);
  /* A batch with messages, or none but a position that moved past markers. */
  if ((n > 0 || offsets->cnt > 0) && run_transaction(st, msgs, n, &processed)) {
    st->backoff = 0;
    st->kafka_ok = true;
  }
  if (offsets) rd_kafka_topic_partition_list_destroy(offsets);
  for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
  free(msgs);
  if (!zw_daemon_stopping(st->d) && zw_now() >= st->backoff_until) run_due(st);
  if (n == max || processed < n) { /* more may be waiting */
    /* Not event_active: libevent would run the callback again before it polls
     * for other events, and the admin listener would starve. */
    struct timeval now = {0, 0};
    event_add(st->more, &now);
  }
}

/* Messages arrived. With kafka.transaction_interval_ms, a batch smaller than
 * it may be starts no sooner than that after the previous transaction began,
 * so that a steady flow makes fewer, larger transactions: each costs a Kafka
 * commit (several broker round trips, markers on every partition it wrote,
 * CPU in librdkafka's main thread) and a PostgreSQL commit whatever its size.
 * A message after a quiet spell, or a full batch, goes at once; latency for
 * CPU, measured in docs/performance.md. */
static void on_wake(evutil_socket_t fd, short what, void *arg) {
  struct zw_stage *st = arg;
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  long interval = zw_config_int(zw_daemon_config(st->d), "kafka.transaction_interval_ms");
  double wait = st->txn_started + interval / 1000.0 - zw_now();
  if (interval <= 0 || wait <= 0 || rd_kafka_queue_length(st->queue) >= batch_size(st)) {
    event_del(st->spacer);
    run_batch(st);
  } else if (!evtimer_pending(st->spacer, NULL)) {
    long us = (long)(wait * 1e6) + 1;
    struct timeval tv = {us / 1000000, us % 1000000};
    evtimer_add(st->spacer, &tv);
  }
}

static void on_more(evutil_socket_t fd, short what, void *arg) { run_batch(arg); }

static void on_spacer(evutil_socket_t fd, short what, void *arg) { run_batch(arg); }

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  struct zw_stage *st = arg;
  if (st->producer) rd_kafka_poll(st->producer, 0);
  run_batch(st);
}

static bool stage_ready(void *arg, char *why, size_t whylen) {
  struct zw_stage *st = arg;
  if (!st->producer) {
    snprintf(why, whylen, "kafka: transactional producer not initialised");
    return false;
  }
  if (!st->kafka_ok && !(st->kafka_ok = zw_kafka_probe(st->consumer, 500))) {
    snprintf(why, whylen, "kafka: no broker reachable");
    return false;
  }
  return !st->spec.ready || st->spec.ready(st->spec.ready_arg, why, whylen);
}

static void stage_stop(void *arg) {
  struct zw_stage *st = arg;
  /* Batches commit synchronously, so nothing is in flight between callbacks:
   * leave the group and exit; the committed offsets are where a restart begins. */
  rd_kafka_resp_err_t e = rd_kafka_consumer_close(st->consumer);
  if (e) zw_warn(NULL, "consumer close: %s", rd_kafka_err2str(e));
  zw_daemon_drained(st->d);
}

/* Refreshes the consumer-lag gauges from cached watermarks (no broker round trip). */
static void collect_lag(struct zw_metrics *m, void *arg) {
  struct zw_stage *st = arg;
  rd_kafka_topic_partition_list_t *parts = NULL;
  zw_metrics_clear(m, "zwgk_consumer_lag"); /* partitions revoked since are gone */
  if (rd_kafka_assignment(st->consumer, &parts) || !parts) return;
  rd_kafka_position(st->consumer, parts);
  /* A partition this process has consumed nothing from since it was assigned
   * has no position yet: its lag counts from the group's committed offset
   * (asked of the broker, briefly; left out if it does not answer). */
  bool unknown = false;
  for (int i = 0; i < parts->cnt; i++) unknown |= parts->elems[i].offset < 0;
  if (unknown) {
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    if (!rd_kafka_committed(st->consumer, committed, 500))
      for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset < 0) parts->elems[i].offset = committed->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(committed);
  }
  const char *group = zw_config_str(zw_daemon_config(st->d), st->spec.group_key);
  for (int i = 0; i < parts->cnt; i++) {
    int64_t lo, hi;
    rd_kafka_topic_partition_t *p = &parts->elems[i];
    if (rd_kafka_get_watermark_offsets(st->consumer, p->topic, p->partition, &lo, &hi) || hi < 0)
      continue;
    char labels[512], g[200], t[300];
    snprintf(labels, sizeof labels, "%s,%s,partition=\"%d\"", zw_metrics_label(g, sizeof g, "group", group),
             zw_metrics_label(t, sizeof t, "topic", p->topic), (int)p->partition);
    if (p->offset == RD_KAFKA_OFFSET_INVALID) p->offset = lo; /* nothing committed: from the start */
    if (p->offset < 0) continue;
    int64_t pos = p->offset;
    zw_metrics_set(m, "zwgk_consumer_lag", labels, (double)(hi > pos ? hi - pos : 0));
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

static int consumer_start(struct zw_stage *st, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(st->d);
  /* A stage takes at most kafka.batch_max messages at a time: prefetching
   * librdkafka's default 64 MiB would only hold memory (RSS) under a backlog. */
  static const char *const defaults[] = {"queued.max.messages.kbytes", "4096", "fetch.max.bytes", "4194304", NULL};
  rd_kafka_conf_t *conf = zw_kafka_conf(cfg, st->txn_id, defaults, err, errlen);
  if (!conf) return -1;
  if (zw_kafka_conf_set(conf, "group.id", zw_config_str(cfg, st->spec.group_key), err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "isolation.level", "read_committed", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "enable.partition.eof", "false", err, errlen) < 0) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, st);
  char rkerr[512];
  st->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof rkerr);
  if (!st->consumer) {
    rd_kafka_conf_destroy(conf);
    snprintf(err, errlen, "rd_kafka_new: %.400s", rkerr);
    return -1;
  }
  rd_kafka_poll_set_consumer(st->consumer);
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, st->input_topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(st->consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) {
    snprintf(err, errlen, "subscribe %s: %s", st->input_topic, rd_kafka_err2str(e));
    return -1;
  }
  st->queue = rd_kafka_queue_get_consumer(st->consumer);
  rd_kafka_queue_io_event_enable(st->queue, st->pipefd[1], "1", 1);
  return 0;
}

struct zw_stage *zw_stage_new(struct zw_daemon *d, const struct zw_stage_spec *spec, char *err,
                              size_t errlen) {
  struct zw_stage *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->d = d;
  st->spec = *spec;
  st->pipefd[0] = st->pipefd[1] = -1;
  snprintf(st->txn_id, sizeof st->txn_id, "zwgk-%s-%s", zw_daemon_name(d), zw_daemon_instance(d));
  zw_kafka_topic(zw_daemon_config(d), spec->input, st->input_topic, sizeof st->input_topic);
  if (pipe(st->pipefd) < 0 || evutil_make_socket_nonblocking(st->pipefd[0]) < 0 ||
      evutil_make_socket_nonblocking(st->pipefd[1]) < 0) {
    snprintf(err, errlen, "pipe failed");
    goto failed;
  }
  if (consumer_start(st, err, errlen) < 0) goto failed;
  struct zw_metrics *m = zw_daemon_metrics(d);
  zw_metrics_declare(m, "zwgk_messages_in_total", ZW_COUNTER, "Messages consumed, by topic");
  zw_metrics_declare(m, "zwgk_messages_out_total", ZW_COUNTER, "Messages produced, by topic");
  zw_metrics_declare(m, "zwgk_errors_total", ZW_COUNTER, "Errors, by kind");
  zw_metrics_declare(m, "zwgk_stage_seconds", ZW_HISTOGRAM, "Time to process one message");
  zw_metrics_declare(m, "zwgk_consumer_lag", ZW_GAUGE, "Messages behind the high watermark");
  zw_metrics_declare(m, "zwgk_transactions_total", ZW_COUNTER, "Stage transactions committed");
  zw_metrics_declare(m, "zwgk_transaction_messages_total", ZW_COUNTER,
                     "Messages in committed stage transactions (per transaction: divide by zwgk_transactions_total)");
  zw_metrics_set_collector(m, collect_lag, st);
  struct event_base *base = zw_daemon_base(d);
  long interval = zw_config_int(zw_daemon_config(d), "kafka.commit_interval_ms");
  struct timeval tv = {interval / 1000, (interval % 1000) * 1000};
  st->wake = event_new(base, st->pipefd[0], EV_READ | EV_PERSIST, on_wake, st);
  st->tick = event_new(base, -1, EV_PERSIST, on_tick, st);
  st->more = evtimer_new(base, on_more, st);
  st->spacer = evtimer_new(base, on_spacer, st);
  if (!st->wake || !st->tick || !st->more || !st->spacer || event_priority_set(st->wake, ZW_PRIORITY_WORK) < 0 ||
      event_priority_set(st->tick, ZW_PRIORITY_WORK) < 0 || event_priority_set(st->more, ZW_PRIORITY_WORK) < 0 ||
      event_priority_set(st->spacer, ZW_PRIORITY_WORK) < 0 ||
      event_add(st->wake, NULL) < 0 ||
      event_add(st->tick, &tv) < 0) {
    snprintf(err, errlen, "cannot add stage events");
    goto failed;
  }
  char perr[512];
  if (producer_start(st, perr, sizeof perr) < 0) zw_warn(NULL, "kafka not ready yet: %s", perr);
  zw_daemon_set_ready(d, stage_ready, st);
  zw_daemon_on_stop(d, stage_stop, st);
  return st;
failed:
  zw_stage_destroy(st);
  return NULL;
}

void zw_stage_destroy(struct zw_stage *st) {
  if (!st) return;
  if (st->wake) event_free(st->wake);
  if (st->tick) event_free(st->tick);
  if (st->more) event_free(st->more);
  if (st->spacer) event_free(st->spacer);
  producer_stop(st);
  if (st->queue) rd_kafka_queue_destroy(st->queue);
  if (st->committed) rd_kafka_topic_partition_list_destroy(st->committed);
  if (st->consumer) rd_kafka_destroy(st->consumer);
  if (st->pipefd[0] >= 0) close(st->pipefd[0]);
  if (st->pipefd[1] >= 0) close(st->pipefd[1]);
  free(st);
}

enum zw_outcome zw_stage_pg_failed(bool transient, const char *pgerr, char *err, size_t errlen) {
  if (err != pgerr) snprintf(err, errlen, "%s", pgerr);
  return transient ? ZW_RETRY : ZW_FAIL;
}

/* Inside a batch: work in a savepoint, so that a message that fails leaves
 * the others' work in place. A savepoint that cannot be rolled back to
 * leaves the batch's transaction unusable: the batch is redone. */
static enum zw_outcome in_savepoint(struct zw_pg *pg, zw_stage_pg_work_fn work, void *arg, char *err,
                                    size_t errlen) {
  char pgerr[512];
  bool transient;
  if (zw_pg_run(pg, "SAVEPOINT zw_message", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    return zw_stage_pg_failed(true, pgerr, err, errlen);
  size_t deferred = zw_pg_deferred_mark(pg);
  enum zw_outcome o = work(arg, err, errlen);
  if (o != ZW_OK) zw_pg_deferred_truncate(pg, deferred);
  const char *end = o == ZW_OK ? "RELEASE SAVEPOINT zw_message" : "ROLLBACK TO SAVEPOINT zw_message";
  if (zw_pg_run(pg, end, 0, NULL, &transient, pgerr, sizeof pgerr) < 0) {
    zw_warn(NULL, "%s: %s", end, pgerr);
    return zw_stage_pg_failed(true, pgerr, err, errlen);
  }
  return o;
}

enum zw_outcome zw_stage_pg_transaction(struct zw_pg *pg, zw_stage_pg_work_fn work, void *arg, char *err,
                                        size_t errlen) {
  if (zw_pg_in_batch(pg)) return in_savepoint(pg, work, arg, err, errlen);
  char pgerr[512];
  bool transient;
  if (zw_pg_run(pg, "BEGIN", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    return zw_stage_pg_failed(transient, pgerr, err, errlen);
  enum zw_outcome o = work(arg, err, errlen);
  if (o == ZW_OK && zw_pg_run(pg, "COMMIT", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    o = zw_stage_pg_failed(transient, pgerr, err, errlen);
  if (o != ZW_OK && zw_pg_run(pg, "ROLLBACK", 0, NULL, &transient, pgerr, sizeof pgerr) < 0)
    zw_warn(NULL, "rollback: %s", pgerr);
  return o;
}
