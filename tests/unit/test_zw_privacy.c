/* Unit tests of zw_privacy: the personal-data screening of CONTRACT §4. A
 * labelled corpus (privacy_corpus.h) holds the precision and recall cases;
 * the other tests check what must hold for any input: scanning finds what
 * masking masks, masking is idempotent and changes digits only, the birth
 * date bound is today, and hostile or huge input is handled in linear time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zw_privacy.h"

struct privacy_case {
  const char *input;
  const char *expected;
  bool html;
  size_t counts[ZW_PRIVACY_KINDS];
  const char *note;
};

#include "privacy_corpus.h"

enum { CORPUS_SIZE = sizeof privacy_corpus / sizeof privacy_corpus[0] };

static char *mask(const char *s, bool html, struct zw_privacy_counts *counts) {
  char *out = html ? zw_privacy_mask_html(s, counts) : zw_privacy_mask_text(s, counts);
  assert_non_null(out);
  return out;
}

static bool is_negative(const struct privacy_case *c) {
  return strcmp(c->input, c->expected) == 0 && c->counts[0] + c->counts[1] + c->counts[2] == 0;
}

/* "recall" when fewer findings than labelled, "precision" when more, else
 * "masking" (right count, wrong characters). */
static const char *failure_kind(const struct privacy_case *c, const struct zw_privacy_counts *got) {
  for (size_t k = 0; k < ZW_PRIVACY_KINDS; k++)
    if (got->n[k] < c->counts[k]) return "recall";
  for (size_t k = 0; k < ZW_PRIVACY_KINDS; k++)
    if (got->n[k] > c->counts[k]) return "precision";
  return "masking";
}

/* Runs case i; returns true when it passes, else prints both strings. */
static bool run_case(size_t i) {
  const struct privacy_case *c = &privacy_corpus[i];
  struct zw_privacy_counts got = {{0}};
  char *out = mask(c->input, c->html, &got);
  bool ok = strcmp(out, c->expected) == 0 && memcmp(got.n, c->counts, sizeof got.n) == 0;
  if (!ok)
    print_error("case %zu (%s): %s failure\n"
                "  input:    %s\n"
                "  expected: %s {%zu,%zu,%zu}\n"
                "  got:      %s {%zu,%zu,%zu}\n",
                i, c->note, failure_kind(c, &got), c->input, c->expected, c->counts[0], c->counts[1],
                c->counts[2], out, got.n[0], got.n[1], got.n[2]);
  free(out);
  return ok;
}

static void test_corpus(void **state) {
  (void)state;
  size_t failures = 0, negatives = 0, findings[ZW_PRIVACY_KINDS] = {0};
  for (size_t i = 0; i < CORPUS_SIZE; i++) {
    failures += !run_case(i);
    negatives += is_negative(&privacy_corpus[i]);
    for (size_t k = 0; k < ZW_PRIVACY_KINDS; k++) findings[k] += privacy_corpus[i].counts[k];
  }
  print_message("corpus: %d cases, %zu with findings, %zu to stay untouched; %zu IDs, %zu mobiles, %zu cards\n",
                (int)CORPUS_SIZE, CORPUS_SIZE - negatives, negatives, findings[0], findings[1], findings[2]);
  assert_true(CORPUS_SIZE >= 150);
  assert_true(negatives >= 60);
  assert_int_equal(failures, 0);
}

static void test_scan_finds_what_mask_masks(void **state) {
  (void)state;
  for (size_t i = 0; i < CORPUS_SIZE; i++) {
    const struct privacy_case *c = &privacy_corpus[i];
    struct zw_privacy_counts masked = {{0}}, scanned = {{0}};
    free(mask(c->input, c->html, &masked));
    zw_privacy_scan(c->input, c->html, &scanned);
    if (memcmp(masked.n, scanned.n, sizeof masked.n) != 0)
      fail_msg("case %zu (%s): scan and mask disagree", i, c->note);
  }
}

/* A masked string has nothing left to find. */
static void test_masking_is_idempotent(void **state) {
  (void)state;
  for (size_t i = 0; i < CORPUS_SIZE; i++) {
    const struct privacy_case *c = &privacy_corpus[i];
    struct zw_privacy_counts counts = {{0}};
    char *again = mask(c->expected, c->html, &counts);
    if (strcmp(again, c->expected) != 0 || zw_privacy_total(&counts) != 0)
      fail_msg("case %zu (%s): masking the masked text changed it: %s", i, c->note, again);
    free(again);
  }
}

/* Text without markup reads the same as plain text and as HTML. */
static void test_html_mode_agrees_on_plain_text(void **state) {
  (void)state;
  for (size_t i = 0; i < CORPUS_SIZE; i++) {
    const struct privacy_case *c = &privacy_corpus[i];
    if (c->html || strpbrk(c->input, "<>")) continue;
    char *out = mask(c->input, true, NULL);
    if (strcmp(out, c->expected) != 0) fail_msg("case %zu (%s) as HTML: %s", i, c->note, out);
    free(out);
  }
}

static void test_counts_add_up_and_may_be_null(void **state) {
  (void)state;
  struct zw_privacy_counts counts = {{1, 2, 3}};
  free(mask("13812345678、13987654321", false, &counts));
  free(mask("<p>11010119900307123X</p>", true, &counts));
  free(mask("13812345678", false, NULL));
  zw_privacy_scan("6222021234567890128", false, &counts);
  assert_int_equal(counts.n[ZW_PRIVACY_ID_CARD], 1);
  assert_int_equal(counts.n[ZW_PRIVACY_MOBILE], 4);
  assert_int_equal(counts.n[ZW_PRIVACY_BANK_CARD], 4);
  assert_int_equal(zw_privacy_total(&counts), 9);
  char *empty = mask("", false, &counts);
  assert_string_equal(empty, "");
  free(empty);
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(zw_privacy_kind_name(ZW_PRIVACY_ID_CARD), "id_card");
  assert_string_equal(zw_privacy_kind_name(ZW_PRIVACY_MOBILE), "mobile");
  assert_string_equal(zw_privacy_kind_name(ZW_PRIVACY_BANK_CARD), "bank_card");
  assert_null(zw_privacy_kind_name(ZW_PRIVACY_KINDS));
}

/* A resident ID for region 370202 born on the Beijing date `days` from now. */
static void id_born(int days, char id[19]) {
  static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
  struct tm tm;
  assert_non_null(gmtime_r(&t, &tm));
  char date[16];
  assert_int_equal(strftime(date, sizeof date, "%Y%m%d", &tm), 8);
  memcpy(id, "370202", 6);
  memcpy(id + 6, date, 8);
  memcpy(id + 14, "123", 3);
  int sum = 0;
  for (size_t i = 0; i < 17; i++) sum += (id[i] - '0') * weights[i];
  id[17] = "10X98765432"[sum % 11];
  id[18] = '\0';
}

static size_t ids_in(const char *text) {
  struct zw_privacy_counts counts = {{0}};
  zw_privacy_scan(text, false, &counts);
  return counts.n[ZW_PRIVACY_ID_CARD];
}

/* Born today is a person; born tomorrow is not yet. Retried if the date
 * changes while the test runs. */
static void test_birth_date_bound_is_today(void **state) {
  (void)state;
  char today[19], tomorrow[19], check[19];
  do {
    id_born(0, today);
    id_born(1, tomorrow);
    assert_int_equal(ids_in(today), 1);
    assert_int_equal(ids_in(tomorrow), 0);
    id_born(0, check);
  } while (strcmp(today, check) != 0);
}

/* Every changed byte is a digit turned into '*', or the last byte of a
 * full-width digit turned into that of '＊'. */
static void assert_only_digits_changed(const unsigned char *in, const unsigned char *out, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (in[i] == out[i]) continue;
    bool ascii = in[i] >= '0' && in[i] <= '9' && out[i] == '*';
    bool wide = i >= 2 && in[i - 2] == 0xEF && in[i - 1] == 0xBC && in[i] >= 0x90 && in[i] <= 0x99 && out[i] == 0x8A;
    if (!ascii && !wide) fail_msg("byte %zu changed from 0x%02x to 0x%02x", i, in[i], out[i]);
  }
}

/* Masks s both ways and checks what must hold for any input: same length,
 * only digits changed, scan agrees, masking again changes nothing. */
static void check_invariants(const char *s) {
  size_t len = strlen(s);
  for (int html = 0; html < 2; html++) {
    struct zw_privacy_counts masked = {{0}}, scanned = {{0}}, again = {{0}};
    char *out = mask(s, html, &masked);
    assert_int_equal(strlen(out), len);
    assert_only_digits_changed((const unsigned char *)s, (const unsigned char *)out, len);
    zw_privacy_scan(s, html, &scanned);
    assert_memory_equal(masked.n, scanned.n, sizeof masked.n);
    char *twice = mask(out, html, &again);
    if (strcmp(twice, out) != 0 || zw_privacy_total(&again) != 0)
      fail_msg("not idempotent (html=%d):\n  input: %s\n  once:  %s\n  twice: %s", html, s, out, twice);
    free(twice);
    free(out);
  }
}

/* Random strings over the characters the scanner cares about, including
 * asterisks, truncated full-width forms and unterminated markup. */
static void test_random_input(void **state) {
  (void)state;
  static const char *const pieces[] = {
      "0", "1", "2", "3", "6", "8", "9", "X", "x", "a", " ", "-", ".", "*", "+86", "0086",
      "<", ">", "<p>", "</p>", "<a href=\"", "\"", "'", "=", " alt=", "<!--", "-->", "<script>", "</script>",
      "http://", "，", "号", "\xEF\xBC\x91", "\xEF\xBC\x98", "\xEF\xBC\xB8", "\xEF\xBC\x8A", "\xEF\xBC", "\xEF",
      "138", "1234", "5678", "6222", "110101", "19900307", "123", "1399", "16228", "13812345678",
      "4804 0256 4899 ",
  };
  enum { NPIECES = sizeof pieces / sizeof pieces[0] };
  uint32_t seed = 12345;
  char buf[512];
  for (int round = 0; round < 20000; round++) {
    size_t len = 0;
    int count = (int)(seed % 60);
    for (int i = 0; i < count; i++) {
      seed = seed * 1103515245u + 12345u;
      const char *p = pieces[(seed >> 16) % NPIECES];
      size_t n = strlen(p);
      if (len + n >= sizeof buf) break;
      memcpy(buf + len, p, n);
      len += n;
    }
    buf[len] = '\0';
    check_invariants(buf);
    seed = seed * 1103515245u + 12345u;
  }
}

/* Returns n copies of unit; caller frees. */
static char *repeat(const char *unit, size_t n) {
  size_t len = strlen(unit);
  char *s = malloc(len * n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) memcpy(s + i * len, unit, len);
  s[len * n] = '\0';
  return s;
}

/* Each of these is a few megabytes that a quadratic scanner would not finish;
 * the last one is a real list, all of it masked. */
static void test_large_input(void **state) {
  (void)state;
  static const struct {
    const char *unit;
    size_t findings;
  } inputs[] = {{"1", 0},       {"1 ", 0},      {"1-", 0},       {"*", 0},
                {"<a ", 0},     {"<!--", 0},    {"<p title=\"", 0}, {"<script>", 0},
                {"http://", 0}, {"\xEF\xBC\x91", 0}, {"13812345678、", 1}};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    char *big = repeat(inputs[i].unit, 2000000 / strlen(inputs[i].unit));
    for (int html = 0; html < 2; html++) {
      struct zw_privacy_counts counts = {{0}};
      free(mask(big, html, &counts));
      assert_int_equal(zw_privacy_total(&counts), inputs[i].findings * (2000000 / strlen(inputs[i].unit)));
    }
    free(big);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corpus),
      cmocka_unit_test(test_scan_finds_what_mask_masks),
      cmocka_unit_test(test_masking_is_idempotent),
      cmocka_unit_test(test_html_mode_agrees_on_plain_text),
      cmocka_unit_test(test_counts_add_up_and_may_be_null),
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_birth_date_bound_is_today),
      cmocka_unit_test(test_random_input),
      cmocka_unit_test(test_large_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
