/* zw_file — reading a whole file. */
#include "zw_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *zw_file_read(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 65536, n = 0, got;
  char *buf = malloc(cap + 1);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    char *bigger = n == cap ? realloc(buf, (cap *= 2) + 1) : buf;
    if (!bigger) free(buf);
    buf = bigger;
  }
  bool failed = !buf || ferror(f);
  if (f != stdin) fclose(f);
  if (failed) {
    snprintf(err, errlen, buf ? "cannot read %s" : "out of memory reading %s", path);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}
