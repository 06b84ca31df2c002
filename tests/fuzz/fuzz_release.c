/* fuzz_release — libFuzzer target for what zwgk-producer does with a request body:
 * parse it as the producer does (json_loadb, JSON_REJECT_DUPLICATES) and validate it
 * with zw_release_validate; and the two helpers that see raw strings,
 * zw_rfc3339_valid and zw_utf8_length, on the input as a C string.
 *
 * Besides the sanitizers' reports, the target aborts when the validator breaks its
 * contract: every violation counted is in details, as {"path", "message"} strings
 * with path "" or a JSON Pointer, and the count does not depend on details. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "zw_release.h"

static void check_details(const json_t *release) {
  json_t *details = json_array();
  if (!details) return;
  size_t count = zw_release_validate(release, details);
  if (json_array_size(details) != count) abort();
  if (zw_release_validate(release, NULL) != count) abort();
  size_t i;
  json_t *detail;
  json_array_foreach(details, i, detail) {
    const char *path = json_string_value(json_object_get(detail, "path"));
    const char *message = json_string_value(json_object_get(detail, "message"));
    if (!path || !message || (path[0] != '\0' && path[0] != '/')) abort();
  }
  json_decref(details);
}

/* A date-time the checker accepts has the profile's shape, whatever else it holds. */
static void check_date_time(const char *s) {
  if (!zw_rfc3339_valid(s)) return;
  size_t n = strlen(s);
  if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') abort();
  if (strspn(s, "0123456789-T:.Z+") != n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t error;
  json_t *release = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
  if (release) {
    check_details(release);
    json_decref(release);
  }
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  check_date_time(text);
  if (zw_utf8_length(text, size) > size) abort();
  free(text);
  return 0;
}
