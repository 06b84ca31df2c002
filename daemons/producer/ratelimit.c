/* ratelimit — per-department token buckets. */
#include "ratelimit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
  char department[65];
  double tokens;
  double updated;
};

struct ratelimit {
  struct bucket *buckets;
  size_t count;
};

struct ratelimit *ratelimit_new(void) { return calloc(1, sizeof(struct ratelimit)); }

void ratelimit_destroy(struct ratelimit *r) {
  if (!r) return;
  free(r->buckets);
  free(r);
}

static struct bucket *find(struct ratelimit *r, const char *department, double burst, double now) {
  for (size_t i = 0; i < r->count; i++)
    if (strcmp(r->buckets[i].department, department) == 0) return &r->buckets[i];
  struct bucket *grown = realloc(r->buckets, (r->count + 1) * sizeof *grown);
  if (!grown) return NULL;
  r->buckets = grown;
  struct bucket *b = &grown[r->count++];
  snprintf(b->department, sizeof b->department, "%s", department);
  b->tokens = burst;
  b->updated = now;
  return b;
}

bool ratelimit_take(struct ratelimit *r, const char *department, double n, double rate, double burst,
                    double now, long *retry_after_s) {
  if (rate <= 0) return true;
  struct bucket *b = find(r, department, burst, now);
  if (!b) return true; /* out of memory: do not refuse work for it */
  b->tokens = fmin(burst, b->tokens + (now - b->updated) * rate);
  b->updated = now;
  if (b->tokens >= n) {
    b->tokens -= n;
    return true;
  }
  double wanted = fmin(n, burst) - b->tokens;
  *retry_after_s = (long)ceil(wanted / rate);
  if (*retry_after_s < 1) *retry_after_s = 1;
  return false;
}
