/* tokens — the ingest API's credential cache. Only hashes are ever held. */
#include "tokens.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"
#include "zw_log.h"

struct token_entry {
  char sha256[65];
  char department[65];
};

/* Unknown hashes remembered until the next refresh, so that a client
 * retrying a bad token does not cost a database query per request. */
#define UNKNOWN_MAX 1024

struct tokens {
  struct zw_pg *pg;
  struct token_entry *entries; /* sorted by sha256 */
  size_t count;
  char (*unknown)[65];
  size_t unknown_count;
};

struct tokens *tokens_new(struct zw_pg *pg) {
  struct tokens *t = calloc(1, sizeof *t);
  if (t) t->pg = pg;
  return t;
}

void tokens_destroy(struct tokens *t) {
  if (!t) return;
  free(t->entries);
  free(t->unknown);
  free(t);
}

static int entry_cmp(const void *a, const void *b) {
  return strcmp(((const struct token_entry *)a)->sha256, ((const struct token_entry *)b)->sha256);
}

int tokens_refresh(struct tokens *t) {
  char err[512];
  bool transient;
  PGresult *res = zw_pg_exec(t->pg,
                             "SELECT token_sha256, department_code FROM department_tokens "
                             "WHERE revoked_at IS NULL ORDER BY token_sha256",
                             0, NULL, &transient, err, sizeof err);
  if (!res) {
    zw_warn(NULL, "token refresh: %s", err);
    return -1;
  }
  size_t n = (size_t)PQntuples(res);
  struct token_entry *entries = calloc(n ? n : 1, sizeof *entries);
  if (!entries) {
    PQclear(res);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    snprintf(entries[i].sha256, sizeof entries[i].sha256, "%s", PQgetvalue(res, (int)i, 0));
    snprintf(entries[i].department, sizeof entries[i].department, "%s", PQgetvalue(res, (int)i, 1));
  }
  PQclear(res);
  qsort(entries, n, sizeof *entries, entry_cmp);
  free(t->entries);
  t->entries = entries;
  t->count = n;
  t->unknown_count = 0; /* a token created since may be one of them */
  return 0;
}

/* Asks PostgreSQL for one token not yet cached (e.g. created a moment ago). */
static enum token_result lookup_db(struct tokens *t, const char *sha, char *department, size_t len) {
  char err[512];
  bool transient;
  const char *params[] = {sha};
  PGresult *res = zw_pg_exec(t->pg,
                             "SELECT department_code FROM department_tokens "
                             "WHERE token_sha256 = $1 AND revoked_at IS NULL",
                             1, params, &transient, err, sizeof err);
  if (!res) {
    zw_warn(NULL, "token lookup: %s", err);
    return TOKEN_UNAVAILABLE;
  }
  enum token_result r = TOKEN_UNKNOWN;
  if (PQntuples(res) == 1) {
    snprintf(department, len, "%s", PQgetvalue(res, 0, 0));
    struct token_entry *grown = realloc(t->entries, (t->count + 1) * sizeof *grown);
    if (grown) {
      t->entries = grown;
      snprintf(grown[t->count].sha256, sizeof grown->sha256, "%s", sha);
      snprintf(grown[t->count].department, sizeof grown->department, "%s", department);
      t->count++;
      qsort(t->entries, t->count, sizeof *t->entries, entry_cmp);
    }
    r = TOKEN_OK;
  } else if (t->unknown_count < UNKNOWN_MAX && (t->unknown || (t->unknown = calloc(UNKNOWN_MAX, 65)))) {
    snprintf(t->unknown[t->unknown_count++], 65, "%s", sha);
  }
  PQclear(res);
  return r;
}

enum token_result tokens_lookup(struct tokens *t, const char *token, char *department, size_t len) {
  struct token_entry key;
  zw_sha256_hex(token, strlen(token), key.sha256);
  struct token_entry *hit = bsearch(&key, t->entries, t->count, sizeof *t->entries, entry_cmp);
  if (hit && CRYPTO_memcmp(hit->sha256, key.sha256, 64) == 0) {
    snprintf(department, len, "%s", hit->department);
    return TOKEN_OK;
  }
  for (size_t i = 0; i < t->unknown_count; i++)
    if (CRYPTO_memcmp(t->unknown[i], key.sha256, 64) == 0) return TOKEN_UNKNOWN;
  return lookup_db(t, key.sha256, department, len);
}
