/* fuzz_privacy — libFuzzer target for the personal-data screening of zw_privacy:
 * the input, as a C string (up to its first NUL), is masked and scanned as plain
 * text and as HTML; when it parses as a JSON object it is also taken as a
 * release and given to zw_privacy_public.
 *
 * Besides the sanitizers' reports, the target aborts when the screening breaks
 * its contract (zw_privacy.h): a masked copy has the length of the original and
 * differs from it only where a digit became an asterisk (an ASCII digit '*', a
 * full-width one '＊'), so well-formed UTF-8 stays well-formed; scanning finds
 * exactly what masking masks; masking a masked text changes nothing and finds
 * nothing; and the public text of a release is its fields masked one by one. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "zw_privacy.h"
#include "zw_text.h"

static bool same_counts(const struct zw_privacy_counts *a, const struct zw_privacy_counts *b) {
  return memcmp(a->n, b->n, sizeof a->n) == 0;
}

/* True when masked differs from text only by digits masked. */
static bool only_digits_masked(const char *text, const char *masked) {
  size_t n = strlen(text);
  if (strlen(masked) != n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i], m = (unsigned char)masked[i];
    if (c == m) continue;
    if (c >= '0' && c <= '9' && m == '*') continue;
    /* ０–９ (EF BC 90–99) become ＊ (EF BC 8A): only the last byte changes. */
    bool wide = i >= 2 && (unsigned char)text[i - 2] == 0xEF && (unsigned char)text[i - 1] == 0xBC && c >= 0x90 &&
                c <= 0x99 && m == 0x8A;
    if (!wide) return false;
  }
  return true;
}

/* Masks text as plain text or HTML and checks every property above. */
static void check_mode(const char *text, bool html) {
  struct zw_privacy_counts masked_counts = {{0}}, scanned = {{0}}, again_counts = {{0}}, rescanned = {{0}};
  char *masked = html ? zw_privacy_mask_html(text, &masked_counts) : zw_privacy_mask_text(text, &masked_counts);
  if (!masked) return;
  zw_privacy_scan(text, html, &scanned);
  if (!same_counts(&masked_counts, &scanned)) abort();
  if (!only_digits_masked(text, masked)) abort();
  if (zw_text_is_utf8(text, NULL) && !zw_text_is_utf8(masked, NULL)) abort();
  if (zw_privacy_total(&masked_counts) == 0 && strcmp(text, masked) != 0) abort();
  char *again = html ? zw_privacy_mask_html(masked, &again_counts) : zw_privacy_mask_text(masked, &again_counts);
  if (again) {
    if (strcmp(again, masked) != 0 || zw_privacy_total(&again_counts) != 0) abort();
    free(again);
  }
  zw_privacy_scan(masked, html, &rescanned);
  if (zw_privacy_total(&rescanned) != 0) abort();
  free(masked);
}

/* The public text of a release is each of title, summary (plain text) and body
 * (HTML) masked on its own, and its counts are their sum. */
static void check_public(const json_t *release) {
  static const char *const fields[] = {"title", "summary", "body"};
  struct zw_privacy_counts counts = {{0}}, expected = {{0}};
  json_t *pub = zw_privacy_public(release, &counts);
  if (!pub) return;
  for (size_t i = 0; i < 3; i++) {
    const char *text = json_string_value(json_object_get(release, fields[i]));
    const char *got = json_string_value(json_object_get(pub, fields[i]));
    if (!text) {
      if (json_object_get(pub, fields[i])) abort();
      continue;
    }
    char *want = i == 2 ? zw_privacy_mask_html(text, &expected) : zw_privacy_mask_text(text, &expected);
    if (want && (!got || strcmp(got, want) != 0)) abort();
    free(want);
  }
  if (!same_counts(&counts, &expected)) abort();
  json_t *again = zw_privacy_public(release, NULL);
  if (again && !json_equal(again, pub)) abort();
  json_decref(again);
  json_decref(pub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  check_mode(text, false);
  check_mode(text, true);
  free(text);

  json_error_t error;
  json_t *release = json_loadb((const char *)data, size, 0, &error);
  if (json_is_object(release)) check_public(release);
  json_decref(release);
  return 0;
}
