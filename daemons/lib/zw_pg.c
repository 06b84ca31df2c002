/* zw_pg — reconnecting PostgreSQL access for the daemons and zwgkctl. */
#include "zw_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_daemon.h"
#include "zw_log.h"

/* Statements with parameters are prepared once per connection and then only
 * executed: PostgreSQL parses, analyses and plans each of them once instead of
 * at every call (about a third of its CPU per release otherwise). Found by
 * their text; a connection prepares at most PREPARED_MAX, the rest run as
 * before. */
#define PREPARED_MAX 128

struct prepared {
  char *sql;
  unsigned long hash;
};

struct deferred {
  const char *sql;
  int nparams;
  char **params; /* copies; NULL entries are SQL NULL */
};

struct zw_pg {
  char *dsn;
  struct deferred *deferred; /* queued for the batch's commit */
  size_t ndeferred, deferred_cap;
  struct prepared prepared[PREPARED_MAX];
  size_t nprepared;
  unsigned long prepared_generation; /* the connection they were prepared on */
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

static void forget_prepared(struct zw_pg *pg) {
  for (size_t i = 0; i < pg->nprepared; i++) free(pg->prepared[i].sql);
  pg->nprepared = 0;
}

void zw_pg_deferred_truncate(struct zw_pg *pg, size_t mark) {
  while (pg->ndeferred > mark) {
    struct deferred *d = &pg->deferred[--pg->ndeferred];
    for (int i = 0; i < d->nparams; i++) free(d->params[i]);
    free(d->params);
  }
}

size_t zw_pg_deferred_mark(const struct zw_pg *pg) { return pg->ndeferred; }

bool zw_pg_deferred_has(const struct zw_pg *pg, const char *sql) {
  for (size_t i = 0; i < pg->ndeferred; i++)
    if (pg->deferred[i].sql == sql) return true;
  return false;
}

void zw_pg_destroy(struct zw_pg *pg) {
  if (!pg) return;
  zw_pg_deferred_truncate(pg, 0);
  free(pg->deferred);
  forget_prepared(pg);
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

static unsigned long text_hash(const char *s) {
  unsigned long h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

/* The name sql is prepared under on conn ("zw<n>"), preparing it if needed;
 * NULL to run it unprepared (no room), or NULL with *refused set to the
 * server's answer when it could not be prepared — the statement is wrong, and
 * that answer says why. */
static const char *prepared_name(struct zw_pg *pg, PGconn *conn, const char *sql, int nparams, char *name,
                                 size_t namelen, PGresult **refused) {
  if (pg->prepared_generation != pg->generation) {
    forget_prepared(pg);
    pg->prepared_generation = pg->generation;
  }
  unsigned long h = text_hash(sql);
  for (size_t i = 0; i < pg->nprepared; i++)
    if (pg->prepared[i].hash == h && strcmp(pg->prepared[i].sql, sql) == 0) {
      snprintf(name, namelen, "zw%zu", i);
      return name;
    }
  /* In a failed transaction, running it reports that. */
  if (pg->nprepared == PREPARED_MAX || PQtransactionStatus(conn) == PQTRANS_INERROR) return NULL;
  char *copy = strdup(sql);
  if (!copy) return NULL;
  snprintf(name, namelen, "zw%zu", pg->nprepared);
  PGresult *res = PQprepare(conn, name, sql, nparams, NULL);
  if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
    free(copy);
    *refused = res;
    return NULL;
  }
  PQclear(res);
  pg->prepared[pg->nprepared++] = (struct prepared){copy, h};
  return name;
}

PGresult *zw_pg_exec(struct zw_pg *pg, const char *sql, int nparams, const char *const *params,
                     bool *transient, char *err, size_t errlen) {
  *transient = true;
  PGconn *conn = zw_pg_conn(pg, err, errlen);
  if (!conn) return NULL;
  char name[32];
  PGresult *res = NULL;
  const char *stmt = nparams > 0 ? prepared_name(pg, conn, sql, nparams, name, sizeof name, &res) : NULL;
  if (stmt) res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
  else if (!res) res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
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
  /* Explicitly READ COMMITTED whatever the server's default: deferred work
   * such as the audit chain reads the last row after taking its lock. */
  if (zw_pg_run(pg, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL, transient, err, errlen) < 0) return -1;
  pg->in_batch = true;
  return 0;
}

int zw_pg_defer(struct zw_pg *pg, const char *sql, int nparams, const char *const *params, char *err,
                size_t errlen) {
  if (!pg->in_batch) {
    snprintf(err, errlen, "statements are deferred only inside a batch");
    return -1;
  }
  if (pg->ndeferred == pg->deferred_cap) {
    size_t cap = pg->deferred_cap ? pg->deferred_cap * 2 : 64;
    struct deferred *bigger = realloc(pg->deferred, cap * sizeof *bigger);
    if (!bigger) goto oom;
    pg->deferred = bigger;
    pg->deferred_cap = cap;
  }
  struct deferred d = {sql, nparams, nparams ? calloc((size_t)nparams, sizeof(char *)) : NULL};
  if (nparams && !d.params) goto oom;
  for (int i = 0; i < nparams; i++)
    if (params[i] && !(d.params[i] = strdup(params[i]))) {
      for (int j = 0; j < i; j++) free(d.params[j]);
      free(d.params);
      goto oom;
    }
  pg->deferred[pg->ndeferred++] = d;
  return 0;
oom:
  snprintf(err, errlen, "out of memory deferring a statement");
  return -1;
}

/* Runs the queued statements in order; 0, or -1 with err at the first that fails. */
static int run_deferred(struct zw_pg *pg, bool *transient, char *err, size_t errlen) {
  for (size_t i = 0; i < pg->ndeferred; i++) {
    const struct deferred *d = &pg->deferred[i];
    if (zw_pg_run(pg, d->sql, d->nparams, (const char *const *)d->params, transient, err, errlen) < 0) return -1;
  }
  return 0;
}

int zw_pg_batch_end(struct zw_pg *pg, bool commit, bool *transient, char *err, size_t errlen) {
  if (!pg->in_batch) {
    *transient = false;
    snprintf(err, errlen, "no batch is open");
    return -1;
  }
  if (commit && run_deferred(pg, transient, err, errlen) < 0) {
    zw_pg_deferred_truncate(pg, 0);
    char ignored[256];
    bool t;
    if (zw_pg_run(pg, "ROLLBACK", 0, NULL, &t, ignored, sizeof ignored) < 0) zw_warn(NULL, "rollback: %s", ignored);
    pg->in_batch = false;
    return -1;
  }
  zw_pg_deferred_truncate(pg, 0);
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
