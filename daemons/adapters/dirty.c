#include "dirty.h"

#include <stdlib.h>
#include <string.h>

int dirty_add(struct dirty *d, const char *key) {
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->keys[i], key) == 0) return 0;
  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 8;
    char **keys = realloc(d->keys, cap * sizeof *keys);
    if (!keys) return -1;
    d->keys = keys;
    d->cap = cap;
  }
  if (!(d->keys[d->n] = strdup(key))) return -1;
  d->n++;
  return 0;
}

int dirty_render(struct dirty *d, int (*render)(void *arg, const char *key), void *arg) {
  size_t done = 0;
  int rc = 0;
  for (; done < d->n; done++) {
    if (render(arg, d->keys[done]) < 0) {
      rc = -1;
      break;
    }
    free(d->keys[done]);
  }
  /* keys is NULL while nothing was ever added, and memmove must not see it. */
  if (done < d->n) memmove(d->keys, d->keys + done, (d->n - done) * sizeof *d->keys);
  d->n -= done;
  return rc < 0 ? -1 : (int)done;
}

void dirty_free(struct dirty *d) {
  for (size_t i = 0; i < d->n; i++) free(d->keys[i]);
  free(d->keys);
  *d = (struct dirty){0};
}
