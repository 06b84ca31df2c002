/* tokens — department credentials for the ingest API: SHA-256 of each bearer
 * token, cached from PostgreSQL and refreshed so revocations take effect. */
#ifndef ZWGK_PRODUCER_TOKENS_H
#define ZWGK_PRODUCER_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "zw_pg.h"

struct tokens;

enum token_result { TOKEN_OK, TOKEN_UNKNOWN, TOKEN_UNAVAILABLE };

/* Returns an empty cache reading from pg (borrowed); caller owns the cache. */
struct tokens *tokens_new(struct zw_pg *pg);
void tokens_destroy(struct tokens *t);

/* Re-reads every live token; on failure the old cache stays. Returns 0 or -1. */
int tokens_refresh(struct tokens *t);

/* Looks up a bearer token: fills department (len bytes) and returns TOKEN_OK,
 * TOKEN_UNKNOWN for an unknown or revoked token, or TOKEN_UNAVAILABLE when it is
 * not cached and PostgreSQL cannot be asked. */
enum token_result tokens_lookup(struct tokens *t, const char *token, char *department, size_t len);

#endif
