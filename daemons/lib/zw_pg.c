/* zw_pg — reconnecting PostgreSQL access for the daemons and zwgkctl. */
#include "zw_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_daemon.h"
#include "zw_log.h"

struct zw_pg {
  char *dsn;
  long connect_timeout_s;
  PGconn *conn;
  double next_attempt; /* zw_now() before which no reconnect is tried */
  double backoff;
  unsigned long generation;
  bool ok;
  bool in_batch;
};

struct zw_pg *zw_pg_new(const char *dsn, long connect_timeout_s) {
  struct zw_pg *pg = calloc(1, sizeof *pg);
  if (!pg || !(pg->dsn = strdup(dsn))) {
    free(pg);
    return NULL;
  }
  pg->connect_timeout_s = connect_timeout_s;
  return pg;
}

void zw_pg_destroy(struct zw_pg *pg) {
  if (!pg) return;
  if (pg->conn) PQfinish(pg->conn);
  free(pg->dsn);
  free(pg);
}

bool zw_pg_ok(const struct zw_pg *pg) { return pg->ok; }

static void mark_failed(struct zw_pg *pg) {
  pg->ok = false;
  pg->backoff = pg->backoff ? pg->backoff * 2 : 0.5;
  if (pg->backoff > 30) pg->backoff = 30;
  pg->next_attempt = zw_now() + pg->backoff;
}

PGconn *zw_pg_conn(struct zw_pg *pg, char *err, size_t errlen) {
  if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) return pg->conn;
  if (pg->in_batch) {
    snprintf(err, errlen, "PostgreSQL connection lost inside a batch's transaction");
    return NULL;
  }
  if (zw_now() < pg->next_attempt) {
    snprintf(err, errlen, "PostgreSQL unreachable; next attempt in %.1f s",
             pg->next_attempt - zw_now());
    return NULL;
  }
  if (pg->conn) PQfinish(pg->conn);
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%ld", pg->connect_timeout_s);
  const char *const kw[] = {"dbname", "connect_timeout", "application_name", NULL};
  const char *const val[] = {pg->dsn, timeout, "zwgk", NULL};
  pg->conn = PQconnectdbParams(kw, val, 1);
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
    snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
             pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
    mark_failed(pg);
    return NULL;
  }
  if (pg->backoff) zw_info(NULL, "connected to PostgreSQL");
  pg->ok = true;
  pg->backoff = 0;
  pg->generation++;
  return pg->conn;
}

unsigned long zw_pg_generation(const struct zw_pg *pg) { return pg->generation; }

int zw_pg_notified(struct zw_pg *pg, const char *channel) {
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) return -1;
  if (!PQconsumeInput(pg->conn)) return -1;
  int found = 0;
  PGnotify *n;
  while ((n = PQnotifies(pg->conn))) {
    if (strcmp(n->relname, channel) == 0) found = 1;
    PQfreemem(n);
  }
  return found;
}

static bool sqlstate_transient(const char *state) {
  if (!state) return true;
  return strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
         strncmp(state, "57P", 3) == 0 || strcmp(state, "40001") == 0 ||
         strcmp(state, "40P01") == 0;
}

PGresult *zw_pg_exec(struct zw_pg *pg, const char *sql, int nparams, const char *const *params,
                     bool *transient, char *err, size_t errlen) {
  *transient = true;
  PGconn *conn = zw_pg_conn(pg, err, errlen);
  if (!conn) return NULL;
  PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  *transient = sqlstate_transient(state) || PQstatus(conn) != CONNECTION_OK;
  snprintf(err, errlen, "PostgreSQL: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  char *nl = strchr(err, '\n');
  if (nl) *nl = '\0';
  PQclear(res);
  if (PQstatus(conn) != CONNECTION_OK) mark_failed(pg);
  return NULL;
}

int zw_pg_run(struct zw_pg *pg, const char *sql, int nparams, const char *const *params,
              bool *transient, char *err, size_t errlen) {
  PGresult *res = zw_pg_exec(pg, sql, nparams, params, transient, err, errlen);
  if (!res) return -1;
  PQclear(res);
  return 0;
}

int zw_pg_batch_begin(struct zw_pg *pg, bool *transient, char *err, size_t errlen) {
  if (pg->in_batch) {
    *transient = false;
    snprintf(err, errlen, "a batch is already open");
    return -1;
  }
  if (zw_pg_run(pg, "BEGIN", 0, NULL, transient, err, errlen) < 0) return -1;
  pg->in_batch = true;
  return 0;
}

int zw_pg_batch_end(struct zw_pg *pg, bool commit, bool *transient, char *err, size_t errlen) {
  if (!pg->in_batch) {
    *transient = false;
    snprintf(err, errlen, "no batch is open");
    return -1;
  }
  PGresult *res = zw_pg_exec(pg, commit ? "COMMIT" : "ROLLBACK", 0, NULL, transient, err, errlen);
  pg->in_batch = false;
  int rc = res ? 0 : -1;
  /* COMMIT of a transaction that had failed answers ROLLBACK, successfully. */
  if (res && commit && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
    *transient = false;
    snprintf(err, errlen, "PostgreSQL rolled the batch back: a statement in it had failed");
    rc = -1;
  }
  PQclear(res);
  /* Whatever failed, nothing is left open: a failed COMMIT or ROLLBACK on a
   * live connection ends the transaction, and a lost connection is replaced
   * by the next call. */
  return commit ? rc : 0;
}

bool zw_pg_in_batch(const struct zw_pg *pg) { return pg->in_batch; }

bool zw_pg_ready(void *arg, char *why, size_t whylen) {
  char err[256];
  if (zw_pg_conn(arg, err, sizeof err)) return true;
  snprintf(why, whylen, "postgresql: %s", err);
  return false;
}
