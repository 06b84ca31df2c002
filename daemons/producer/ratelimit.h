/* ratelimit — a token bucket per department for the ingest API (429). */
#ifndef ZWGK_PRODUCER_RATELIMIT_H
#define ZWGK_PRODUCER_RATELIMIT_H

#include <stdbool.h>

struct ratelimit;

/* Returns an empty set of buckets; caller owns it. NULL when out of memory. */
struct ratelimit *ratelimit_new(void);
void ratelimit_destroy(struct ratelimit *r);

/* Takes n tokens from department's bucket, which refills at rate per second up
 * to burst (a new bucket starts full). rate 0 means no limit. Returns true when
 * taken; otherwise false with *retry_after_s set to the whole seconds (≥ 1)
 * until n tokens will be there (when n > burst, until the bucket is full). */
bool ratelimit_take(struct ratelimit *r, const char *department, double n, double rate, double burst,
                    double now, long *retry_after_s);

#endif
