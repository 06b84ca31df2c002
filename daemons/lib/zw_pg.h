/* zw_pg — a PostgreSQL connection that reconnects with backoff. Statements are
 * always parameterised, never built from strings; those with parameters are
 * prepared once per connection. */
#ifndef ZW_PG_H
#define ZW_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct zw_pg;

/* Makes a connection holder for dsn; nothing is connected until first use.
 * Returns NULL when out of memory; caller owns the holder. */
struct zw_pg *zw_pg_new(const char *dsn, long connect_timeout_s) __attribute__((warn_unused_result));
void zw_pg_destroy(struct zw_pg *pg);

/* Returns the live connection, connecting if needed, or NULL with err when the
 * server cannot be reached (further attempts wait out a growing backoff, 0.5 s
 * to 30 s, so a caller in a loop does not hammer the server). */
PGconn *zw_pg_conn(struct zw_pg *pg, char *err, size_t errlen);

/* Runs sql with text parameters (NULL entries are SQL NULL). Returns the result
 * (caller PQclears it) when the status is COMMAND_OK or TUPLES_OK; otherwise
 * NULL with err filled and *transient telling whether retrying later may help
 * (connection lost, server shutting down, serialization failure, deadlock). */
PGresult *zw_pg_exec(struct zw_pg *pg, const char *sql, int nparams, const char *const *params,
                     bool *transient, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Runs sql and discards the result; returns 0 or -1 as zw_pg_exec. */
int zw_pg_run(struct zw_pg *pg, const char *sql, int nparams, const char *const *params,
              bool *transient, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Readiness probe in the shape of a daemon's ready callback: arg is a struct
 * zw_pg. Returns true when connected, else false with the reason in why. */
bool zw_pg_ready(void *arg, char *why, size_t whylen);

/* A number that changes whenever a new connection is made: session state
 * (LISTEN, prepared statements) must be set up again when it differs from the
 * one seen before. 0 until the first connection. */
unsigned long zw_pg_generation(const struct zw_pg *pg);

/* Reads what the server sent and drains pending notifications: returns 1 when
 * one of them was on channel, 0 when none was, -1 when not connected. */
int zw_pg_notified(struct zw_pg *pg, const char *channel);

/* A batch: one transaction around many units of work (zw_stage's messages of
 * one Kafka transaction), so that PostgreSQL commits, and waits for its WAL
 * flush, once per batch instead of once per message. While a batch is open
 * the connection is never replaced: losing it fails every call transiently
 * until zw_pg_batch_end, so nothing runs outside the batch's transaction.
 * Returns 0, or -1 with err and *transient. */
int zw_pg_batch_begin(struct zw_pg *pg, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Commits (commit true) or rolls back the batch's transaction and ends the
 * batch either way. Returns 0, or -1 with err and *transient when the commit
 * failed (the batch's work is then lost and must be redone). */
int zw_pg_batch_end(struct zw_pg *pg, bool commit, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True between zw_pg_batch_begin and zw_pg_batch_end. */
bool zw_pg_in_batch(const struct zw_pg *pg);

/* Inside a batch: queues sql (which must outlive the batch: a string literal)
 * with a copy of its parameters, to run in queue order right before the
 * batch's COMMIT — for work that takes a lock many writers share (the audit
 * chain), so the lock is held for the end of the batch only, not the whole of
 * it. A deferred statement that fails fails the commit. Returns 0, or -1 with
 * err (not in a batch, out of memory). */
int zw_pg_defer(struct zw_pg *pg, const char *sql, int nparams, const char *const *params, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/* How many statements are queued; zw_pg_deferred_truncate(pg, mark) drops
 * those queued since, when the work that queued them is rolled back (to a
 * savepoint). */
size_t zw_pg_deferred_mark(const struct zw_pg *pg);
/* True when sql (the same pointer) is queued. */
bool zw_pg_deferred_has(const struct zw_pg *pg, const char *sql);
void zw_pg_deferred_truncate(struct zw_pg *pg, size_t mark);

/* True when the last use found the server reachable. */
bool zw_pg_ok(const struct zw_pg *pg);

#endif
