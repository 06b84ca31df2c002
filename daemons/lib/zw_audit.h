/* zw_audit — the append-only, hash-chained audit log (table audit_log).
 *
 * Every row carries the hash of the row before it (prev_hash; 64 zeros for the
 * first row) and its own hash, so that altering, deleting or reordering a row
 * breaks the chain and `zwgkctl audit verify` can name the first broken row.
 *
 * The hash of a row is SHA-256, written as 64 lowercase hex digits, over the
 * UTF-8 bytes of the fields joined with '|':
 *
 *   prev_hash '|' at_text '|' actor '|' action '|' release_id '|' revision '|' detail_text
 *
 * where
 *   prev_hash    the previous row's hash (by id), or 64 '0' characters for the first row;
 *   at_text      the row's `at` in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ (always six
 *                fraction digits), i.e. to_char(at AT TIME ZONE 'UTC',
 *                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
 *   release_id   the release id, or the empty string when NULL;
 *   revision     the revision in decimal, or the empty string when NULL;
 *   detail_text  PostgreSQL's text form of the jsonb detail (detail::text), which is
 *                canonical: keys ordered, ", " and ": " separators.
 *
 * ZW_AUDIT_HASH_SQL is that definition as a SQL expression over the columns of
 * audit_log; zw_audit_hash computes the same in C. Because '|' also occurs
 * inside fields, the encoding is unambiguous only together with the rules
 * zw_audit_append enforces and a verifier must check too: actor and action are
 * non-empty and contain no '|', release_id is NULL or 32 lowercase hex digits,
 * revision is NULL or ≥ 1. See docs/audit.md. */
#ifndef ZW_AUDIT_H
#define ZW_AUDIT_H

#include <jansson.h>
#include <stddef.h>

#include "zw_pg.h"

/* The transaction-level advisory lock (pg_advisory_xact_lock(int, int)) every
 * appender holds from reading the last hash until its transaction ends:
 * class 2054645611 is "zwgk" in ASCII, object 1 is the audit chain. */
#define ZW_AUDIT_LOCK_CLASS 2054645611
#define ZW_AUDIT_LOCK_OBJECT 1

/* The row's `at` as hashed (see above), as a SQL expression over column at. */
#define ZW_AUDIT_AT_TEXT_SQL "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A row's hash as a SQL expression over the columns prev_hash, at, actor,
 * action, release_id, revision and detail of audit_log. */
#define ZW_AUDIT_HASH_SQL                                                                    \
  "encode(sha256(convert_to(prev_hash || '|' || " ZW_AUDIT_AT_TEXT_SQL                       \
  " || '|' || actor || '|' || action || '|' || coalesce(release_id, '') || '|' || "          \
  "coalesce(revision::text, '') || '|' || detail::text, 'UTF8')), 'hex')"

/* Appends one row to audit_log, chained to the last one, in the connection's
 * current transaction if there is one (the row then commits or rolls back with
 * the caller's work, and the chain stays locked until then), otherwise in a
 * transaction of its own. Inside a stage's batch (zw_pg_in_batch) the row is
 * queued (zw_pg_defer) and written, with the chain's lock, right before the
 * batch commits, so that the chain is not locked for the whole batch. The caller's transaction must be READ COMMITTED, so
 * that the last row is read after the lock is taken.
 *
 * actor and action: non-empty, without '|'. release_id: NULL or 32 lowercase hex
 * digits. revision: 0 for none, else ≥ 1. detail: NULL for {} (not stolen; any
 * JSON value). Returns 0, or -1 with err; after a failure inside the caller's
 * transaction, that transaction is aborted and the caller must roll it back. */
int zw_audit_append(struct zw_pg *pg, const char *actor, const char *action,
                    const char *release_id, int revision, const json_t *detail, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Computes a row's hash in C, exactly as ZW_AUDIT_HASH_SQL does, into out (64
 * lowercase hex digits and a NUL). at_text and detail_text are the texts
 * defined above; release_id and revision (decimal text) may be NULL for none.
 * Returns 0, or -1 when out of memory. */
int zw_audit_hash(const char *prev_hash, const char *at_text, const char *actor,
                  const char *action, const char *release_id, const char *revision,
                  const char *detail_text, char out[65]) __attribute__((warn_unused_result));

#endif
