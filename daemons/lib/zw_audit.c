/* zw_audit — appending to the hash-chained audit log; the chain is defined in zw_audit.h. */
#include "zw_audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"
#include "zw_log.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Takes the chain's lock and reports the transaction's isolation level. */
static const char lock_sql[] = "SELECT pg_advisory_xact_lock(" STR(ZW_AUDIT_LOCK_CLASS) ", " STR(
    ZW_AUDIT_LOCK_OBJECT) "), current_setting('transaction_isolation')";

/* Reads the last hash and inserts the new row with its hash, computed by
 * ZW_AUDIT_HASH_SQL over a derived table whose columns carry the names and
 * types of audit_log's, so the stored row hashes to exactly what is stored. */
static const char insert_sql[] =
    "INSERT INTO audit_log (at, actor, action, release_id, revision, detail, prev_hash, hash) "
    "SELECT at, actor, action, release_id, revision, detail, prev_hash, " ZW_AUDIT_HASH_SQL
    " FROM (SELECT clock_timestamp() AS at, $1::text AS actor, $2::text AS action, "
    "$3::text AS release_id, $4::int AS revision, $5::jsonb AS detail, "
    "coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)) "
    "AS prev_hash) AS r "
    "RETURNING id";

static bool plain_field(const char *s) { return s && *s && !strchr(s, '|'); }

static int check_arguments(const char *actor, const char *action, const char *release_id,
                           int revision, char *err, size_t errlen) {
  if (!plain_field(actor) || !plain_field(action)) {
    snprintf(err, errlen, "audit: actor and action must be non-empty and contain no '|'");
    return -1;
  }
  if (release_id && !zw_is_release_id(release_id)) {
    snprintf(err, errlen, "audit: release_id '%s' is not 32 lowercase hex digits", release_id);
    return -1;
  }
  if (revision < 0) {
    snprintf(err, errlen, "audit: revision %d is negative", revision);
    return -1;
  }
  return 0;
}

/* Takes the lock and inserts the row; the connection is inside a transaction. */
static int append_locked(struct zw_pg *pg, const char *const params[5], char *err,
                         size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(pg, lock_sql, 0, NULL, &transient, err, errlen);
  if (!res) return -1;
  bool read_committed = strcmp(PQgetvalue(res, 0, 1), "read committed") == 0;
  PQclear(res);
  if (!read_committed) {
    snprintf(err, errlen, "audit: the transaction must be READ COMMITTED");
    return -1;
  }
  return zw_pg_run(pg, insert_sql, 5, params, &transient, err, errlen);
}

int zw_audit_append(struct zw_pg *pg, const char *actor, const char *action,
                    const char *release_id, int revision, const json_t *detail, char *err,
                    size_t errlen) {
  int rc = -1;
  bool own_transaction = false, transient;
  char *detail_text = NULL;
  if (check_arguments(actor, action, release_id, revision, err, errlen) < 0) goto out;
  detail_text = detail ? json_dumps(detail, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
  if (!detail_text) {
    snprintf(err, errlen, "audit: cannot serialise detail");
    goto out;
  }
  if (zw_pg_in_batch(pg)) { /* the chain is locked for the batch's commit only */
    char revision_text[16];
    snprintf(revision_text, sizeof revision_text, "%d", revision);
    const char *const params[5] = {actor, action, release_id, revision ? revision_text : NULL, detail_text};
    if ((zw_pg_deferred_has(pg, lock_sql) || zw_pg_defer(pg, lock_sql, 0, NULL, err, errlen) == 0) &&
        zw_pg_defer(pg, insert_sql, 5, params, err, errlen) == 0)
      rc = 0;
    goto out;
  }
  PGconn *conn = zw_pg_conn(pg, err, errlen);
  if (!conn) goto out;
  PGTransactionStatusType status = PQtransactionStatus(conn);
  if (status != PQTRANS_IDLE && status != PQTRANS_INTRANS) {
    snprintf(err, errlen, "audit: the connection's transaction has failed or is busy");
    goto out;
  }
  own_transaction = status == PQTRANS_IDLE;
  if (own_transaction && zw_pg_run(pg, "BEGIN", 0, NULL, &transient, err, errlen) < 0) goto out;
  char revision_text[16];
  snprintf(revision_text, sizeof revision_text, "%d", revision);
  const char *const params[5] = {actor, action, release_id, revision ? revision_text : NULL,
                                 detail_text};
  if (append_locked(pg, params, err, errlen) < 0) goto out;
  if (own_transaction && zw_pg_run(pg, "COMMIT", 0, NULL, &transient, err, errlen) < 0) goto out;
  own_transaction = false;
  rc = 0;
out:
  if (own_transaction) {
    char rollback_err[256];
    if (zw_pg_run(pg, "ROLLBACK", 0, NULL, &transient, rollback_err, sizeof rollback_err) < 0)
      zw_warn(NULL, "audit: rollback: %s", rollback_err);
  }
  free(detail_text);
  return rc;
}

int zw_audit_hash(const char *prev_hash, const char *at_text, const char *actor,
                  const char *action, const char *release_id, const char *revision,
                  const char *detail_text, char out[65]) {
  const char *fields[] = {prev_hash, at_text, actor, action, release_id ? release_id : "",
                          revision ? revision : "", detail_text};
  size_t nfields = sizeof fields / sizeof fields[0], len = 0;
  for (size_t i = 0; i < nfields; i++) len += strlen(fields[i]) + 1;
  char *text = malloc(len);
  if (!text) return -1;
  size_t at = 0;
  for (size_t i = 0; i < nfields; i++) {
    size_t n = strlen(fields[i]);
    memcpy(text + at, fields[i], n);
    at += n;
    if (i + 1 < nfields) text[at++] = '|';
  }
  zw_sha256_hex(text, at, out);
  free(text);
  return 0;
}
