/* jansson_cost — CPU time of the JSON work zwgk-producer does for each
 * release, in isolation: parse the request body as the producer does
 * (json_loadb with JSON_REJECT_DUPLICATES), then wrap it in an object and
 * serialize it compactly (json_pack + json_dumps, the shape of the envelope).
 *
 *   cc -O2 -o jansson_cost tests/bench/ingest/jansson_cost.c -ljansson
 *   ./jansson_cost [-n ITERATIONS] release.json ...
 *
 * tests/bench/ingest/run.sh runs it on the 16 request bodies of release.lua.
 * Prints key=value lines: the mean body size and the microseconds per release
 * of each step. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  int iterations = 2000, first = 1;
  if (argc > 2 && strcmp(argv[1], "-n") == 0) {
    iterations = atoi(argv[2]);
    first = 3;
  }
  if (first >= argc || iterations <= 0) {
    fprintf(stderr, "usage: jansson_cost [-n ITERATIONS] release.json ...\n");
    return 2;
  }
  double parse = 0, dump = 0;
  size_t bytes = 0;
  long n = 0;
  for (int a = first; a < argc; a++) {
    size_t len;
    char *body = slurp(argv[a], &len);
    if (!body) {
      fprintf(stderr, "jansson_cost: cannot read %s\n", argv[a]);
      return 1;
    }
    for (int i = 0; i < iterations; i++) {
      json_error_t err;
      double t0 = now();
      json_t *release = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
      double t1 = now();
      if (!release) {
        fprintf(stderr, "jansson_cost: %s: %s\n", argv[a], err.text);
        return 1;
      }
      json_t *envelope = json_pack("{s:s, s:s, s:O}", "schema", "zwgk.release.v1", "release_id",
                                   "0f8e1c3a9b7d4e2f8a6c5b4d3e2f1a0b", "release", release);
      char *text = json_dumps(envelope, JSON_COMPACT);
      double t2 = now();
      parse += t1 - t0;
      dump += t2 - t1;
      bytes += len;
      n++;
      free(text);
      json_decref(envelope);
      json_decref(release);
    }
    free(body);
  }
  printf("jansson_body_bytes_mean=%.0f\n", (double)bytes / (double)n);
  printf("jansson_parse_us=%.1f\n", parse / (double)n * 1e6);
  printf("jansson_dump_us=%.1f\n", dump / (double)n * 1e6);
  return 0;
}
