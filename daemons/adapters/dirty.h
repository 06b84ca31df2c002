/* dirty — the pages a batch of deliveries touched and that are rendered once
 * for the whole batch (flush in adapter.h): a small set of keys, such as a
 * portal column's path or a board's region code, kept in the order added. */
#ifndef ZWGK_ADAPTERS_DIRTY_H
#define ZWGK_ADAPTERS_DIRTY_H

#include <stdbool.h>
#include <stddef.h>

struct dirty {
  char **keys;
  size_t n, cap;
};

/* Adds key unless it is there already. Returns 0, or -1 when out of memory. */
int dirty_add(struct dirty *d, const char *key) __attribute__((warn_unused_result));

/* Renders every key with render(arg, key), oldest first, dropping each one
 * rendered; stops at the first failure and keeps that key and the rest.
 * Returns the number rendered, or -1 after a failure. */
int dirty_render(struct dirty *d, int (*render)(void *arg, const char *key), void *arg);

void dirty_free(struct dirty *d);

#endif
