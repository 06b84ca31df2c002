/* Unit tests of zw_release: the C validator of release.v1 (CONTRACT §2). Each
 * rule is broken once on an otherwise valid release, and the violation must be
 * reported at the JSON Pointer of the offending member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_release.h"

/* Every field of release.v1, valid. */
static const char publish_text[] =
    "{"
    "\"source_id\": \"fgw/2024/jd-017\","
    "\"revision\": 1,"
    "\"action\": \"publish\","
    "\"department\": \"fgw\","
    "\"title\": \"《关于促进民营经济发展的若干措施》政策解读\","
    "\"body\": \"<h2>一、出台背景</h2><p>为贯彻落实……</p><ul><li>措施一</li></ul>\","
    "\"summary\": \"解读若干措施的背景、目标和主要内容。\","
    "\"doc_type\": \"interpretation\","
    "\"catalog_code\": \"zcjd-001\","
    "\"region_code\": \"370211001001\","
    "\"formed_at\": \"2024-05-01T09:00:00+08:00\","
    "\"publish_at\": \"2024-05-02T00:00:00Z\","
    "\"interprets\": \"4e77d5835e4543c2399d693f0622e2ac\","
    "\"secrecy_review\": {\"reviewer\": \"王建国\", \"reviewed_at\": \"2024-05-01T16:30:00.250+08:00\"},"
    "\"urgency\": \"urgent\","
    "\"area\": \"西海岸新区全域\","
    "\"attachments\": [{\"name\": \"措施全文.pdf\", \"url\": \"https://www.example.gov.cn/files/017.pdf\","
    " \"sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\", \"bytes\": 183422},"
    " {\"name\": \"图解.png\", \"url\": \"http://www.example.gov.cn/files/017.png\","
    " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"bytes\": 0}]"
    "}";

static const char withdraw_text[] =
    "{\"source_id\": \"2024-001\", \"revision\": 2, \"action\": \"withdraw\","
    " \"department\": \"czj\", \"region_code\": \"370211\"}";

static json_t *load(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!j) fail_msg("test JSON does not parse: %s (%s)", jerr.text, text);
  return j;
}

/* A valid publish (doc_type policy, so without interprets). */
static json_t *publish(void) {
  json_t *r = load(publish_text);
  json_object_set_new(r, "doc_type", json_string("policy"));
  json_object_del(r, "interprets");
  return r;
}

/* Returns a string of n copies of the UTF-8 character c; caller frees. */
static char *repeat(const char *c, size_t n) {
  size_t len = strlen(c);
  char *s = malloc(len * n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) memcpy(s + i * len, c, len);
  s[len * n] = '\0';
  return s;
}

/* Path of a {path, message} detail. */
static const char *path_of(const json_t *detail) { return json_string_value(json_object_get(detail, "path")); }

/* Validates r and returns its details array (caller decrefs), checking that the
 * count matches the details and that every detail is a {path, message}. */
static json_t *validate(const json_t *r, size_t *count) {
  json_t *details = json_array();
  assert_non_null(details);
  *count = zw_release_validate(r, details);
  assert_int_equal(*count, json_array_size(details));
  assert_int_equal(zw_release_validate(r, NULL), *count);
  size_t i;
  json_t *d;
  json_array_foreach(details, i, d) {
    assert_non_null(path_of(d));
    const char *message = json_string_value(json_object_get(d, "message"));
    assert_non_null(message);
    assert_true(message[0] != '\0');
  }
  return details;
}

/* Fails with what was expected and the details actually reported; frees them
 * first, since cmocka leaves a failed test by longjmp and never returns here. */
static void fail_with_details(json_t *details, const char *expected) {
  char *text = json_dumps(details, JSON_COMPACT), message[2048];
  snprintf(message, sizeof message, "expected %s, got %s", expected, text ? text : "?");
  free(text);
  json_decref(details);
  fail_msg("%s", message);
}

static void assert_valid(const json_t *r) {
  size_t n;
  json_t *details = validate(r, &n);
  if (n) fail_with_details(details, "no violation");
  else json_decref(details);
}

/* Asserts r has at least one violation and every one is at `path`; decrefs r. */
static void assert_only_at(json_t *r, const char *path) {
  size_t n, i;
  json_t *details = validate(r, &n), *d;
  json_decref(r);
  bool only = n > 0;
  json_array_foreach(details, i, d) if (strcmp(path_of(d), path) != 0) only = false;
  if (only) {
    json_decref(details);
    return;
  }
  char expected[256];
  snprintf(expected, sizeof expected, "violations only at '%s'", path);
  fail_with_details(details, expected);
}

/* Sets member name of r (value stolen) and asserts the violation is at path. */
static void assert_member_violation(json_t *r, const char *name, json_t *value, const char *path) {
  json_object_set_new(r, name, value);
  assert_only_at(r, path);
}

/* publish with member name set to value (stolen) is valid. */
static void assert_member_ok(const char *name, json_t *value) {
  json_t *r = publish();
  json_object_set_new(r, name, value);
  assert_valid(r);
  json_decref(r);
}

/* The i-th attachment of r, borrowed. */
static json_t *attachment(json_t *r, size_t i) { return json_array_get(json_object_get(r, "attachments"), i); }

static void test_valid_publish_all_fields(void **state) {
  (void)state;
  json_t *r = load(publish_text);
  assert_int_equal(json_object_size(r), 17);
  assert_valid(r);
  json_decref(r);
}

static void test_valid_update(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(r, "action", json_string("update"));
  json_object_set_new(r, "revision", json_integer(2147483647));
  assert_valid(r);
  json_decref(r);
}

static void test_valid_withdraw_minimal(void **state) {
  (void)state;
  json_t *r = load(withdraw_text);
  assert_valid(r);
  json_decref(r);
}

static void test_unknown_field(void **state) {
  (void)state;
  assert_member_violation(publish(), "foo", json_true(), "/foo");
  assert_member_violation(load(withdraw_text), "release_id", json_string("x"), "/release_id");
}

/* RFC 6901: in a reference token '/' is written "~1" and '~' is written "~0". */
static void test_unknown_field_pointer_is_escaped(void **state) {
  (void)state;
  assert_member_violation(publish(), "a/b", json_true(), "/a~1b");
  assert_member_violation(publish(), "m~n", json_true(), "/m~0n");
}

static void test_nested_unknown_field_pointer_is_escaped(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(json_object_get(r, "secrecy_review"), "by/unit", json_true());
  assert_only_at(r, "/secrecy_review/by~1unit");
  r = publish();
  json_object_set_new(attachment(r, 0), "x~y", json_true());
  assert_only_at(r, "/attachments/0/x~0y");
}

static void test_always_required_fields(void **state) {
  (void)state;
  static const char *const fields[] = {"source_id", "revision", "action", "department", "region_code"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    char path[64];
    snprintf(path, sizeof path, "/%s", fields[i]);
    json_t *r = load(withdraw_text);
    json_object_del(r, fields[i]);
    assert_only_at(r, path);
  }
}

static void test_publish_requires_title(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_del(r, "title");
  assert_only_at(r, "/title");
}

static void test_publish_requires_content(void **state) {
  (void)state;
  static const char *const fields[] = {"body", "doc_type", "formed_at", "secrecy_review"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    char path[64];
    snprintf(path, sizeof path, "/%s", fields[i]);
    json_t *r = publish();
    json_object_del(r, fields[i]);
    assert_only_at(r, path);
  }
}

static void test_title_200_characters(void **state) {
  (void)state;
  char *title = repeat("政", 200);
  assert_member_ok("title", json_string(title));
  free(title);
}

static void test_title_201_characters(void **state) {
  (void)state;
  char *title = repeat("政", 201);
  assert_member_violation(publish(), "title", json_string(title), "/title");
  free(title);
}

static void test_title_empty(void **state) {
  (void)state;
  assert_member_violation(publish(), "title", json_string(""), "/title");
}

static void test_title_not_string(void **state) {
  (void)state;
  assert_member_violation(publish(), "title", json_integer(1), "/title");
}

static void test_summary_length(void **state) {
  (void)state;
  char *ok = repeat("公", 500), *bad = repeat("公", 501);
  assert_member_ok("summary", json_string(ok));
  assert_member_violation(publish(), "summary", json_string(bad), "/summary");
  free(ok);
  free(bad);
}

static void test_source_id_with_space(void **state) {
  (void)state;
  assert_member_violation(publish(), "source_id", json_string("2024 001"), "/source_id");
}

static void test_source_id_length(void **state) {
  (void)state;
  char *ok = repeat("a", 128), *bad = repeat("a", 129);
  assert_member_ok("source_id", json_string(ok));
  assert_member_violation(publish(), "source_id", json_string(bad), "/source_id");
  assert_member_violation(publish(), "source_id", json_string(""), "/source_id");
  free(ok);
  free(bad);
}

static void test_source_id_non_ascii(void **state) {
  (void)state;
  assert_member_violation(publish(), "source_id", json_string("预算-001"), "/source_id");
}

static void test_revision_zero(void **state) {
  (void)state;
  assert_member_violation(publish(), "revision", json_integer(0), "/revision");
}

static void test_revision_string(void **state) {
  (void)state;
  assert_member_violation(publish(), "revision", json_string("1"), "/revision");
}

static void test_revision_real(void **state) {
  (void)state;
  assert_member_violation(publish(), "revision", json_real(1.0), "/revision");
}

static void test_action_delete(void **state) {
  (void)state;
  assert_member_violation(publish(), "action", json_string("delete"), "/action");
  assert_member_violation(load(withdraw_text), "action", json_string("delete"), "/action");
}

static void test_department_uppercase(void **state) {
  (void)state;
  assert_member_violation(publish(), "department", json_string("FGW"), "/department");
  assert_member_violation(publish(), "department", json_string("fGw"), "/department");
  assert_member_violation(publish(), "department", json_string("-fgw"), "/department");
  assert_member_ok("department", json_string("fgw_jd-2"));
}

static void test_doc_type_unknown(void **state) {
  (void)state;
  assert_member_violation(publish(), "doc_type", json_string("memo"), "/doc_type");
}

static void test_region_code(void **state) {
  (void)state;
  assert_member_violation(publish(), "region_code", json_string("3702111"), "/region_code");
  assert_member_violation(publish(), "region_code", json_string("37021a"), "/region_code");
  assert_member_violation(publish(), "region_code", json_integer(370211), "/region_code");
  assert_member_ok("region_code", json_string("370211"));
  assert_member_ok("region_code", json_string("370211001"));
}

static void test_catalog_code(void **state) {
  (void)state;
  assert_member_violation(publish(), "catalog_code", json_string("CZ_1"), "/catalog_code");
  assert_member_violation(publish(), "catalog_code", json_string("czyjs-"), "/catalog_code");
  assert_member_violation(publish(), "catalog_code", json_string("czyjs--001"), "/catalog_code");
  assert_member_ok("catalog_code", json_string("czyjs-001"));
}

static void test_formed_at_rejected(void **state) {
  (void)state;
  static const char *const bad[] = {
      "2024-05-01T09:00:00",       /* no offset */
      "2024-05-01T09:00:00z",      /* lower-case z */
      "2024-13-01T09:00:00Z",      /* month 13 */
      "2025-02-29T09:00:00+08:00", /* 2025 is not a leap year */
      "2024-05-01T24:00:00Z",      /* hour 24 */
      "2024-05-01",                /* a date is not a date-time */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_member_violation(publish(), "formed_at", json_string(bad[i]), "/formed_at");
}

static void test_formed_at_accepted(void **state) {
  (void)state;
  static const char *const good[] = {
      "2024-02-29T09:00:00+08:00", /* 2024 is a leap year */
      "2024-05-01T09:00:00.123456Z",
      "2024-05-01T09:00:00+08:00",
      "2024-05-01T01:00:00-05:30",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_member_ok("formed_at", json_string(good[i]));
}

static void test_publish_at_checked(void **state) {
  (void)state;
  assert_member_violation(publish(), "publish_at", json_string("tomorrow"), "/publish_at");
}

static void test_interprets_on_non_interpretation(void **state) {
  (void)state;
  assert_member_violation(publish(), "interprets", json_string("4e77d5835e4543c2399d693f0622e2ac"),
                          "/interprets");
}

static void test_interpretation_without_interprets(void **state) {
  (void)state;
  json_t *r = load(publish_text);
  json_object_del(r, "interprets");
  assert_only_at(r, "/interprets");
}

static void test_interprets_not_release_id(void **state) {
  (void)state;
  assert_member_violation(load(publish_text), "interprets", json_string("4E77D5835E4543C2399D693F0622E2AC"),
                          "/interprets");
}

static void test_update_requires_secrecy_review(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(r, "action", json_string("update"));
  json_object_del(r, "secrecy_review");
  assert_only_at(r, "/secrecy_review");
}

static void test_secrecy_review_extra_field(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(json_object_get(r, "secrecy_review"), "approved", json_true());
  assert_only_at(r, "/secrecy_review/approved");
}

static void test_secrecy_review_reviewer_empty(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(json_object_get(r, "secrecy_review"), "reviewer", json_string(""));
  assert_only_at(r, "/secrecy_review/reviewer");
}

static void test_secrecy_review_reviewed_at(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_del(json_object_get(r, "secrecy_review"), "reviewed_at");
  assert_only_at(r, "/secrecy_review/reviewed_at");
  r = publish();
  json_object_set_new(json_object_get(r, "secrecy_review"), "reviewed_at", json_string("2024-05-01"));
  assert_only_at(r, "/secrecy_review/reviewed_at");
}

static void test_secrecy_review_not_object(void **state) {
  (void)state;
  assert_member_violation(publish(), "secrecy_review", json_string("王建国"), "/secrecy_review");
}

/* Returns an attachments array of n copies of the first attachment of publish. */
static json_t *attachments(size_t n) {
  json_t *r = publish(), *list = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(list, json_deep_copy(attachment(r, 0)));
  json_decref(r);
  return list;
}

static void test_attachments_count(void **state) {
  (void)state;
  assert_member_ok("attachments", attachments(20));
  assert_member_ok("attachments", attachments(0));
  assert_member_violation(publish(), "attachments", attachments(21), "/attachments");
}

static void test_attachments_not_array(void **state) {
  (void)state;
  assert_member_violation(publish(), "attachments", json_object(), "/attachments");
}

static void test_attachment_ftp_url(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(attachment(r, 0), "url", json_string("ftp://www.example.gov.cn/files/017.pdf"));
  assert_only_at(r, "/attachments/0/url");
  r = publish();
  json_object_set_new(attachment(r, 1), "url", json_string("https://www.example.gov.cn/a b.pdf"));
  assert_only_at(r, "/attachments/1/url");
}

static void test_attachment_sha256_uppercase(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(attachment(r, 0), "sha256",
                      json_string("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  assert_only_at(r, "/attachments/0/sha256");
}

static void test_attachment_bytes_negative(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_set_new(attachment(r, 0), "bytes", json_integer(-1));
  assert_only_at(r, "/attachments/0/bytes");
}

static void test_attachment_missing_and_unknown_members(void **state) {
  (void)state;
  json_t *r = publish();
  json_object_del(attachment(r, 1), "name");
  assert_only_at(r, "/attachments/1/name");
  r = publish();
  json_object_set_new(attachment(r, 0), "mime", json_string("application/pdf"));
  assert_only_at(r, "/attachments/0/mime");
}

static void test_urgency_unknown(void **state) {
  (void)state;
  assert_member_violation(publish(), "urgency", json_string("critical"), "/urgency");
  assert_member_ok("urgency", json_string("routine"));
  assert_member_ok("urgency", json_string("emergency"));
}

static bool has_path(const json_t *details, const char *path) {
  size_t i;
  json_t *d;
  json_array_foreach(details, i, d) if (strcmp(path_of(d), path) == 0) return true;
  return false;
}

static void test_several_violations_all_reported(void **state) {
  (void)state;
  json_t *r = load("{\"source_id\": \"a b\", \"revision\": 0, \"action\": \"publish\","
                   " \"department\": \"CZJ\", \"region_code\": \"1234567\", \"foo\": 1}");
  size_t n;
  json_t *details = validate(r, &n);
  json_decref(r);
  static const char *const paths[] = {"/foo", "/source_id", "/revision", "/department", "/region_code",
                                      "/title", "/body", "/doc_type", "/formed_at", "/secrecy_review"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    if (!has_path(details, paths[i])) {
      char expected[128];
      snprintf(expected, sizeof expected, "a violation at %s", paths[i]);
      fail_with_details(details, expected);
    }
  }
  assert_true(n >= 3);
  json_decref(details);
}

static void test_non_object_release(void **state) {
  (void)state;
  static const char *const texts[] = {"[]", "\"release\"", "42", "null"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_t *r = load(texts[i]);
    size_t n;
    json_t *details = validate(r, &n);
    json_decref(r);
    if (n != 1 || strcmp(path_of(json_array_get(details, 0)), "") != 0)
      fail_with_details(details, "one violation at \"\"");
    else json_decref(details);
  }
}

static void test_is_member(void **state) {
  (void)state;
  assert_true(zw_release_is_member("source_id"));
  assert_true(zw_release_is_member("attachments"));
  assert_false(zw_release_is_member("Title"));
  assert_false(zw_release_is_member("k19999"));
  assert_false(zw_release_is_member(""));
}

static void test_utf8_length(void **state) {
  (void)state;
  assert_int_equal(zw_utf8_length("", 0), 0);
  assert_int_equal(zw_utf8_length("release", 7), 7);
  assert_int_equal(zw_utf8_length("政府信息公开", strlen("政府信息公开")), 6);
  assert_int_equal(strlen("😀"), 4);
  assert_int_equal(zw_utf8_length("😀", 4), 1);
  assert_int_equal(zw_utf8_length("a政😀é", strlen("a政😀é")), 4);
  assert_int_equal(zw_utf8_length("abcdef", 3), 3); /* only `bytes` bytes count */
}

static void test_rfc3339_valid(void **state) {
  (void)state;
  static const char *const good[] = {
      "2024-05-01T08:00:00Z",        "2024-05-01T08:00:00.1Z",      "2024-05-01T08:00:00.123456789Z",
      "2024-05-01T08:00:00+08:00",   "2024-05-01T08:00:00.5-05:30", "2024-02-29T00:00:00Z",
      "2000-02-29T00:00:00Z",        "2024-12-31T23:59:59+14:59",   "2024-04-30T00:00:00Z",
      "0001-01-01T00:00:00Z",
  };
  static const char *const bad[] = {
      "",
      "2024-05-01",
      "2024-05-01T08:00:00",
      "2024-05-01t08:00:00Z",
      "2024-05-01 08:00:00Z",
      "2024-05-01T08:00:00z",
      "2024-05-01T08:00Z",
      "2024-5-01T08:00:00Z",
      "2024-00-01T08:00:00Z",
      "2024-13-01T08:00:00Z",
      "2024-05-00T08:00:00Z",
      "2024-04-31T08:00:00Z",
      "2025-02-29T08:00:00Z",
      "1900-02-29T08:00:00Z",
      "2024-05-01T24:00:00Z",
      "2024-05-01T23:60:00Z",
      "2024-05-01T23:59:60Z",
      "2024-05-01T08:00:00.Z",
      "2024-05-01T08:00:00,5Z",
      "2024-05-01T08:00:00+0800",
      "2024-05-01T08:00:00+08",
      "2024-05-01T08:00:00+24:00",
      "2024-05-01T08:00:00+15:00",
      "2024-05-01T08:00:00-23:59",
      "0000-01-01T00:00:00Z",
      "2024-05-01T08:00:00+08:60",
      "2024-05-01T08:00:00Z ",
      "2024-05-01T08:00:00Z\n",
      "2024-05-01T08:00:00ZZ",
      "２０２４-05-01T08:00:00Z",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!zw_rfc3339_valid(good[i])) fail_msg("rejected '%s'", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (zw_rfc3339_valid(bad[i])) fail_msg("accepted '%s'", bad[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_publish_all_fields),
      cmocka_unit_test(test_valid_update),
      cmocka_unit_test(test_valid_withdraw_minimal),
      cmocka_unit_test(test_unknown_field),
      cmocka_unit_test(test_unknown_field_pointer_is_escaped),
      cmocka_unit_test(test_nested_unknown_field_pointer_is_escaped),
      cmocka_unit_test(test_always_required_fields),
      cmocka_unit_test(test_publish_requires_title),
      cmocka_unit_test(test_publish_requires_content),
      cmocka_unit_test(test_title_200_characters),
      cmocka_unit_test(test_title_201_characters),
      cmocka_unit_test(test_title_empty),
      cmocka_unit_test(test_title_not_string),
      cmocka_unit_test(test_summary_length),
      cmocka_unit_test(test_source_id_with_space),
      cmocka_unit_test(test_source_id_length),
      cmocka_unit_test(test_source_id_non_ascii),
      cmocka_unit_test(test_revision_zero),
      cmocka_unit_test(test_revision_string),
      cmocka_unit_test(test_revision_real),
      cmocka_unit_test(test_action_delete),
      cmocka_unit_test(test_department_uppercase),
      cmocka_unit_test(test_doc_type_unknown),
      cmocka_unit_test(test_region_code),
      cmocka_unit_test(test_catalog_code),
      cmocka_unit_test(test_formed_at_rejected),
      cmocka_unit_test(test_formed_at_accepted),
      cmocka_unit_test(test_publish_at_checked),
      cmocka_unit_test(test_interprets_on_non_interpretation),
      cmocka_unit_test(test_interpretation_without_interprets),
      cmocka_unit_test(test_interprets_not_release_id),
      cmocka_unit_test(test_update_requires_secrecy_review),
      cmocka_unit_test(test_secrecy_review_extra_field),
      cmocka_unit_test(test_secrecy_review_reviewer_empty),
      cmocka_unit_test(test_secrecy_review_reviewed_at),
      cmocka_unit_test(test_secrecy_review_not_object),
      cmocka_unit_test(test_attachments_count),
      cmocka_unit_test(test_attachments_not_array),
      cmocka_unit_test(test_attachment_ftp_url),
      cmocka_unit_test(test_attachment_sha256_uppercase),
      cmocka_unit_test(test_attachment_bytes_negative),
      cmocka_unit_test(test_attachment_missing_and_unknown_members),
      cmocka_unit_test(test_urgency_unknown),
      cmocka_unit_test(test_several_violations_all_reported),
      cmocka_unit_test(test_non_object_release),
      cmocka_unit_test(test_is_member),
      cmocka_unit_test(test_utf8_length),
      cmocka_unit_test(test_rfc3339_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
