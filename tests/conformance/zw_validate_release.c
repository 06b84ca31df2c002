/* zw_validate_release — the C judge of the conformance tests: validates each file
 * named on the command line as zwgk-producer validates a request body, and prints
 * one JSON line per file: {"file", "valid", "paths"}.
 *
 * A body the producer cannot parse (not JSON, not UTF-8, a duplicate key, "\u0000",
 * a lone surrogate) is one violation at the path "", as in the 400 it answers.
 * Exits 0 whatever the verdicts; 1 only when a file cannot be read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "zw_file.h"
#include "zw_release.h"

/* Returns the verdict on one body as {"valid", "paths"}; caller owns it. */
static json_t *judge(const char *text, size_t len) {
  json_t *paths = json_array();
  json_error_t error;
  json_t *release = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
  if (!release) {
    json_array_append_new(paths, json_string(""));
    return json_pack("{s:b, s:o}", "valid", 0, "paths", paths);
  }
  json_t *details = json_array();
  size_t count = zw_release_validate(release, details);
  size_t i;
  json_t *detail;
  json_array_foreach(details, i, detail) json_array_append(paths, json_object_get(detail, "path"));
  json_decref(details);
  json_decref(release);
  return json_pack("{s:b, s:o}", "valid", count == 0, "paths", paths);
}

int main(int argc, char **argv) {
  int status = 0;
  for (int i = 1; i < argc; i++) {
    size_t len;
    char err[512];
    char *text = zw_file_read(argv[i], &len, err, sizeof err);
    if (!text) {
      fprintf(stderr, "zw_validate_release: %s\n", err);
      status = 1;
      continue;
    }
    json_t *verdict = judge(text, len);
    free(text);
    char *line = NULL;
    if (json_object_set_new(verdict, "file", json_string(argv[i])) == 0)
      line = json_dumps(verdict, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(verdict);
    if (!line) {
      fprintf(stderr, "zw_validate_release: %s: cannot write the verdict\n", argv[i]);
      status = 1;
      continue;
    }
    puts(line);
    free(line);
  }
  return status;
}
