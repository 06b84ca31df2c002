/* zw_stage — the transactional consume-transform-produce loop that the
 * classifier, the fan-out and the adapters run on.
 *
 * Messages are read from the input topic by a read_committed consumer in
 * batches; each batch is processed inside one Kafka transaction whose outputs
 * and consumed offsets commit together (send_offsets_to_transaction). Errors
 * are sorted the librdkafka way: retriable calls are retried, abortable ones
 * abort the transaction and rewind the consumer to the batch start, fatal ones
 * rebuild the producer and rewind. A message that cannot be processed goes to
 * the DLQ topic within the same transaction. */
#ifndef ZW_STAGE_H
#define ZW_STAGE_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_daemon.h"
#include "zw_pg.h"

/* Outcome of processing one message (and of adapter operations). */
enum zw_outcome {
  ZW_OK,    /* done; its outputs were emitted */
  ZW_RETRY, /* transient trouble (e.g. PostgreSQL down): abort, back off, redo */
  ZW_FAIL,  /* this message can never be processed: dead-letter it */
};

struct zw_stage;

/* Processes one parsed envelope. Emits outputs with zw_stage_emit. On ZW_FAIL
 * or ZW_RETRY, err says why. msg is borrowed for the call. */
typedef enum zw_outcome (*zw_stage_handler_fn)(void *arg, struct zw_stage *stage,
                                               const rd_kafka_message_t *msg, json_t *env,
                                               char *err, size_t errlen);

/* Readiness of the handler's own dependencies (e.g. PostgreSQL). */
typedef bool (*zw_stage_ready_fn)(void *arg, char *why, size_t whylen);

/* Scheduled work (embargoes coming due, parked retries, grace periods): runs
 * inside a Kafka transaction of its own, about every
 * delivery.schedule_interval_ms, and may emit. Returns ZW_OK to commit that
 * transaction; anything else aborts it. */
typedef enum zw_outcome (*zw_stage_due_fn)(void *arg, struct zw_stage *stage, char *err, size_t errlen);

/* Called right after the due transaction committed (committed true) or was
 * aborted (false), so the handler can commit or roll back what it holds open
 * in PostgreSQL: a crash between the two commits then redoes the work, never
 * skips it. */
typedef void (*zw_stage_settle_fn)(void *arg, bool committed);

/* Work done inside one PostgreSQL transaction by zw_stage_pg_transaction. */
typedef enum zw_outcome (*zw_stage_pg_work_fn)(void *arg, char *err, size_t errlen);

struct zw_stage_spec {
  const char *input;     /* topic suffix, e.g. "releases" */
  const char *group_key; /* config key of the consumer group, e.g. "classifier.group_id" */
  zw_stage_handler_fn handle;
  zw_stage_ready_fn ready; /* the handler's dependencies, e.g. zw_pg_ready */
  void *ready_arg;
  void *arg; /* handed to handle, due and settle */
  zw_stage_due_fn due;       /* NULL: nothing scheduled */
  zw_stage_settle_fn settle; /* may be NULL */
  /* May be NULL: called once the messages of a batch (or the scheduled work)
   * were handled and before the transaction commits, for work the handler
   * collects across messages (pages listing many of them). It cannot fail
   * the batch: what it could not do, it keeps for the next call. */
  void (*flush)(void *arg);
  /* May be NULL: the handler's PostgreSQL connection, when all its work on it
   * goes through zw_stage_pg_transaction. Each batch of messages then runs in
   * one PostgreSQL transaction (each message's work in a savepoint), which
   * commits right before the Kafka transaction: one WAL flush per batch. As
   * with a transaction per message, a crash between the two commits
   * redelivers the batch, and the handler finds it recorded. */
  struct zw_pg *batch_pg;
  /* May be NULL: runs before a batch, outside any transaction, for session
   * work that cannot run inside one (reloading the catalog). Anything but
   * ZW_OK puts the batch back and backs off. */
  zw_stage_pg_work_fn before_batch;
};

/* Builds the consumer and transactional producer (transactional.id
 * "zwgk-<daemon>-<instance>"), subscribes, and hooks the loop, readiness and
 * drain into the daemon d. Returns NULL with err on failure. */
struct zw_stage *zw_stage_new(struct zw_daemon *d, const struct zw_stage_spec *spec, char *err,
                              size_t errlen) __attribute__((warn_unused_result));
void zw_stage_destroy(struct zw_stage *stage);

/* Produces env (serialised) to topic suffix `topic` keyed by its release_id,
 * inside the current transaction, with the trace carried on from the input
 * message and zwgk-schema set from env's schema. Returns 0 or -1 with err
 * (the batch is then aborted and redone). */
int zw_stage_emit(struct zw_stage *stage, const char *topic, const json_t *env, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/* Dead-letters env (not from a consumed message: e.g. a parked delivery that
 * ran out of attempts) to zwgk.dlq inside the current transaction, with the
 * stage, kind and message of the error and env itself as the original.
 * Returns 0 or -1 with err. */
int zw_stage_dead_letter(struct zw_stage *stage, const json_t *env, const char *kind, const char *message,
                         char *err, size_t errlen) __attribute__((warn_unused_result));

/* Maps a failed PostgreSQL call to an outcome: transient trouble is retried,
 * anything else (a constraint, a missing calendar year) is permanent. Copies
 * pgerr into err. */
enum zw_outcome zw_stage_pg_failed(bool transient, const char *pgerr, char *err, size_t errlen);


/* Runs work between BEGIN and COMMIT on pg, rolling back unless it returns
 * ZW_OK and the commit succeeds — or, inside a batch (spec.batch_pg), between
 * SAVEPOINT and RELEASE, rolling back to the savepoint. Returns work's
 * outcome, or the mapped outcome of a failed BEGIN/COMMIT. */
enum zw_outcome zw_stage_pg_transaction(struct zw_pg *pg, zw_stage_pg_work_fn work, void *arg, char *err,
                                        size_t errlen);

/* "topic:partition:offset" of msg, to record where a decision came from. */
const char *zw_stage_source(const rd_kafka_message_t *msg, char *buf, size_t len);

#endif
