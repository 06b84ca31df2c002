/* Unit tests of zw_envelope: release identity (CONTRACT §1), SHA-256, W3C trace
 * context, timestamps, and building, parsing and deriving the Kafka envelope
 * (CONTRACT §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"
#include "zw_release.h"

static const char trace_hex[] = "4bf92f3577b34da6a3ce929d0e0e4736";
static const char span_hex[] = "00f067aa0ba902b7";
static const char good_traceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static const char release_text[] =
    "{\"source_id\": \"2024-001\", \"revision\": 3, \"action\": \"update\","
    " \"department\": \"czj\", \"region_code\": \"370211\", \"title\": \"2024年预算公开\","
    " \"body\": \"<p>正文</p>\", \"doc_type\": \"budget\", \"formed_at\": \"2024-05-01T09:00:00+08:00\","
    " \"secrecy_review\": {\"reviewer\": \"王建国\", \"reviewed_at\": \"2024-05-01T10:00:00+08:00\"}}";

static json_t *load(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!j) fail_msg("test JSON does not parse: %s", jerr.text);
  return j;
}

/* The producer's envelope for release_text, serialised and parsed back as JSON. */
static json_t *new_envelope(void) {
  json_t *release = load(release_text);
  char *text = zw_envelope_serialize(release, release_text, strlen(release_text), "d21ed88b4394943a532698c7efb07dbe",
                                     "2024-05-01T01:02:03.456Z", "czj", "zwgk-ingest-01", trace_hex);
  assert_non_null(text);
  json_t *env = load(text);
  free(text);
  json_decref(release);
  return env;
}

/* Serialises env, parses it back with zw_envelope_parse and returns the result. */
static json_t *round_trip(const json_t *env, char *err, size_t errlen) {
  char *text = json_dumps(env, JSON_COMPACT);
  assert_non_null(text);
  json_t *parsed = zw_envelope_parse(text, strlen(text), err, errlen);
  free(text);
  return parsed;
}

/* Whether zw_envelope_parse rejects text with an error mentioning needle; if
 * not, why not is written to why. */
static bool parse_rejects(const char *text, const char *needle, char *why, size_t whylen) {
  char err[256] = "";
  json_t *env = zw_envelope_parse(text, strlen(text), err, sizeof err);
  if (env) {
    json_decref(env);
    snprintf(why, whylen, "accepted: %s", text);
    return false;
  }
  if (!strstr(err, needle)) {
    snprintf(why, whylen, "error '%s' does not mention '%s'", err, needle);
    return false;
  }
  return true;
}

static void assert_parse_rejects(const char *text, const char *needle) {
  char why[1024];
  if (!parse_rejects(text, needle, why, sizeof why)) fail_msg("%s", why);
}

/* Asserts that the good envelope, with member `name` set to `value` (stolen;
 * NULL deletes it), is rejected with an error mentioning needle. */
static void assert_member_rejected(const char *name, json_t *value, const char *needle) {
  json_t *env = new_envelope();
  if (value) json_object_set_new(env, name, value);
  else json_object_del(env, name);
  char *text = json_dumps(env, JSON_COMPACT), why[1024];
  json_decref(env);
  assert_non_null(text);
  bool rejected = parse_rejects(text, needle, why, sizeof why);
  free(text);
  if (!rejected) fail_msg("%s", why);
}

static void test_release_id_vectors(void **state) {
  (void)state;
  /* hashlib.sha256((department + "\n" + source_id).encode()).hexdigest()[:32] */
  static const struct {
    const char *department, *source_id, *id;
  } vectors[] = {
      {"czj", "2024-001", "d21ed88b4394943a532698c7efb07dbe"},
      {"fgw", "policy/2024/17", "4e77d5835e4543c2399d693f0622e2ac"},
      {"财政局", "预算-2024-001", "f1c8ec096d9a69ecd64a455092ccb93f"},
      {"xzfb", "公告：第1号", "ad3311f36b8d9c73808798be520ee513"},
      {"czj", "", "a09bcccac2238c663405f33714c4b09b"},
      {"", "", "01ba4719c80b6fe911b091a7c05124b6"},
      {"mzj-01", "a.b_c:d/e-f", "a535dfcc8f85cc5a698fb6503671e501"},
  };
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    char id[ZW_RELEASE_ID_LEN + 1];
    memset(id, 'x', sizeof id);
    zw_release_id(vectors[i].department, vectors[i].source_id, id);
    assert_string_equal(id, vectors[i].id);
    assert_true(zw_is_release_id(id));
  }
}

static void test_release_id_separator_matters(void **state) {
  (void)state;
  char a[ZW_RELEASE_ID_LEN + 1], b[ZW_RELEASE_ID_LEN + 1];
  zw_release_id("ab", "c", a);
  zw_release_id("a", "bc", b);
  assert_string_not_equal(a, b);
}

static void test_is_release_id(void **state) {
  (void)state;
  assert_true(zw_is_release_id("0123456789abcdef0123456789abcdef"));
  assert_false(zw_is_release_id("0123456789ABCDEF0123456789abcdef"));
  assert_false(zw_is_release_id("0123456789abcdef0123456789abcde"));
  assert_false(zw_is_release_id("0123456789abcdef0123456789abcdef0"));
  assert_false(zw_is_release_id("0123456789abcdef0123456789abcdeg"));
  assert_false(zw_is_release_id(" 123456789abcdef0123456789abcdef"));
  assert_false(zw_is_release_id(""));
  assert_false(zw_is_release_id(NULL));
}

static void test_sha256_hex_vectors(void **state) {
  (void)state;
  char hex[65];
  zw_sha256_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  zw_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  zw_sha256_hex("abcdef", 3, hex); /* only len bytes count */
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static int all_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return 0;
  return s[n] == '\0';
}

static void test_trace_new(void **state) {
  (void)state;
  char t1[ZW_TRACE_ID_LEN + 1], s1[ZW_SPAN_ID_LEN + 1], t2[ZW_TRACE_ID_LEN + 1], s2[ZW_SPAN_ID_LEN + 1];
  assert_int_equal(zw_trace_new(t1, s1), 0);
  assert_int_equal(zw_trace_new(t2, s2), 0);
  assert_true(all_lower_hex(t1, ZW_TRACE_ID_LEN));
  assert_true(all_lower_hex(s1, ZW_SPAN_ID_LEN));
  assert_string_not_equal(t1, t2);
  assert_string_not_equal(s1, s2);
}

static void test_traceparent_format(void **state) {
  (void)state;
  char tp[ZW_TRACEPARENT_LEN + 1];
  zw_traceparent_format(tp, trace_hex, span_hex);
  assert_string_equal(tp, good_traceparent);
  assert_int_equal(strlen(tp), ZW_TRACEPARENT_LEN);
}

static void test_traceparent_round_trip(void **state) {
  (void)state;
  char trace[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1], tp[ZW_TRACEPARENT_LEN + 1],
      parsed[ZW_TRACE_ID_LEN + 1];
  assert_int_equal(zw_trace_new(trace, span), 0);
  zw_traceparent_format(tp, trace, span);
  assert_int_equal(zw_traceparent_parse(tp, strlen(tp), parsed), 0);
  assert_string_equal(parsed, trace);
}

static void test_traceparent_parse_honours_len(void **state) {
  (void)state;
  /* A header value is not NUL-terminated: whatever follows len bytes is not part of it. */
  char buf[80], parsed[ZW_TRACE_ID_LEN + 1];
  snprintf(buf, sizeof buf, "%s,garbage", good_traceparent);
  assert_int_equal(zw_traceparent_parse(buf, ZW_TRACEPARENT_LEN, parsed), 0);
  assert_string_equal(parsed, trace_hex);
  assert_int_equal(zw_traceparent_parse(buf, strlen(buf), parsed), -1);
}

/* Asserts that value is rejected and the output buffer is left alone. */
static void assert_traceparent_rejected(const char *value) {
  char parsed[ZW_TRACE_ID_LEN + 1] = "untouched";
  if (zw_traceparent_parse(value, strlen(value), parsed) != -1) fail_msg("accepted '%s'", value);
  assert_string_equal(parsed, "untouched");
}

static void test_traceparent_rejects_malformed(void **state) {
  (void)state;
  assert_traceparent_rejected("");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01");
  assert_traceparent_rejected("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01");
  assert_traceparent_rejected("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert_traceparent_rejected("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert_traceparent_rejected("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01");
}

/* W3C trace context: trace-flags are two lower-case hex digits. */
static void test_traceparent_rejects_bad_flags(void **state) {
  (void)state;
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz");
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A");
}

/* W3C trace context: an all-zero trace-id is invalid, and the envelope schema
 * rejects it as ingest.trace_id. */
static void test_traceparent_rejects_zero_trace_id(void **state) {
  (void)state;
  assert_traceparent_rejected("00-00000000000000000000000000000000-00f067aa0ba902b7-01");
}

/* W3C trace context: an all-zero parent-id is invalid. */
static void test_traceparent_rejects_zero_parent_id(void **state) {
  (void)state;
  assert_traceparent_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
}

static void test_timestamp_now_shape(void **state) {
  (void)state;
  char ts[32];
  zw_timestamp_now(ts);
  /* 2024-05-01T01:02:03.456Z */
  assert_int_equal(strlen(ts), 24);
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t i = 0; i < 24; i++) {
    if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) : ts[i] != shape[i])
      fail_msg("'%s' differs from %s at %zu", ts, shape, i);
  }
  assert_true(zw_rfc3339_valid(ts));
  assert_true(strncmp(ts, "2024", 4) >= 0);
}

static void test_envelope_new_members(void **state) {
  (void)state;
  json_t *release = load(release_text);
  json_t *env = new_envelope();
  assert_string_equal(json_string_value(json_object_get(env, "schema")), "zwgk.release.v1");
  assert_string_equal(json_string_value(json_object_get(env, "release_id")),
                      "d21ed88b4394943a532698c7efb07dbe");
  assert_true(json_is_integer(json_object_get(env, "revision")));
  assert_int_equal(json_integer_value(json_object_get(env, "revision")), 3);
  assert_string_equal(json_string_value(json_object_get(env, "action")), "update");
  assert_true(json_equal(json_object_get(env, "release"), release));
  json_t *ingest = json_object_get(env, "ingest");
  assert_true(json_is_object(ingest));
  assert_int_equal(json_object_size(ingest), 4);
  assert_string_equal(json_string_value(json_object_get(ingest, "received_at")), "2024-05-01T01:02:03.456Z");
  assert_string_equal(json_string_value(json_object_get(ingest, "department")), "czj");
  assert_string_equal(json_string_value(json_object_get(ingest, "producer")), "zwgk-ingest-01");
  assert_string_equal(json_string_value(json_object_get(ingest, "trace_id")), trace_hex);
  assert_int_equal(json_object_size(env), 6);
  json_decref(env);
  json_decref(release);
}

/* The request body is embedded byte for byte: spacing and member order kept. */
static void test_envelope_serialize_embeds_the_body_as_sent(void **state) {
  (void)state;
  json_t *release = load(release_text);
  char *text = zw_envelope_serialize(release, release_text, strlen(release_text), "d21ed88b4394943a532698c7efb07dbe",
                                     "2024-05-01T01:02:03.456Z", "czj", "zwgk-ingest-01", trace_hex);
  assert_non_null(text);
  assert_non_null(strstr(text, release_text));
  assert_int_equal(text[strlen(text) - 1], '}');
  char err[256] = "";
  json_t *env = zw_envelope_parse(text, strlen(text), err, sizeof err);
  if (!env) fail_msg("serialised envelope does not parse: %s", err);
  json_decref(env);
  free(text);
  json_decref(release);
}

static void test_envelope_parse_round_trip(void **state) {
  (void)state;
  json_t *env = new_envelope();
  char err[256] = "";
  json_t *parsed = round_trip(env, err, sizeof err);
  if (!parsed) fail_msg("rejected: %s", err);
  assert_true(json_equal(parsed, env));
  assert_string_equal(zw_envelope_release_id(parsed), "d21ed88b4394943a532698c7efb07dbe");
  assert_int_equal(zw_envelope_revision(parsed), 3);
  assert_string_equal(zw_envelope_action(parsed), "update");
  assert_true(json_equal(zw_envelope_release(parsed), json_object_get(env, "release")));
  json_decref(parsed);
  json_decref(env);
}

static void test_envelope_parse_honours_len(void **state) {
  (void)state;
  json_t *env = new_envelope();
  char *text = json_dumps(env, JSON_COMPACT), err[256] = "";
  assert_non_null(text);
  size_t len = strlen(text);
  char *padded = malloc(len + 8);
  assert_non_null(padded);
  memcpy(padded, text, len);
  memcpy(padded + len, "garbage", 8);
  json_t *parsed = zw_envelope_parse(padded, len, err, sizeof err);
  if (!parsed) fail_msg("rejected: %s", err);
  json_decref(parsed);
  free(padded);
  free(text);
  json_decref(env);
}

static void test_parse_rejects_not_json(void **state) {
  (void)state;
  assert_parse_rejects("{\"schema\": ", "not JSON");
  assert_parse_rejects("", "not JSON");
}

static void test_parse_rejects_not_object(void **state) {
  (void)state;
  char err[256] = "";
  json_t *env = zw_envelope_parse("[1, 2]", 6, err, sizeof err);
  assert_null(env);
  assert_true(err[0] != '\0');
  env = zw_envelope_parse("\"zwgk\"", 6, err, sizeof err);
  assert_null(env);
}

static void test_parse_rejects_missing_schema(void **state) {
  (void)state;
  assert_member_rejected("schema", NULL, "schema");
  assert_member_rejected("schema", json_integer(1), "schema");
}

static void test_parse_rejects_bad_release_id(void **state) {
  (void)state;
  assert_member_rejected("release_id", json_string("D21ED88B4394943A532698C7EFB07DBE"), "release_id");
  assert_member_rejected("release_id", json_string("d21ed88b"), "release_id");
  assert_member_rejected("release_id", NULL, "release_id");
}

static void test_parse_rejects_revision_zero(void **state) {
  (void)state;
  assert_member_rejected("revision", json_integer(0), "revision");
  assert_member_rejected("revision", json_integer(-1), "revision");
  assert_member_rejected("revision", json_integer(2147483648LL), "revision");
}

static void test_parse_rejects_revision_not_integer(void **state) {
  (void)state;
  assert_member_rejected("revision", json_string("1"), "revision");
  assert_member_rejected("revision", json_real(1.5), "revision");
  assert_member_rejected("revision", NULL, "revision");
}

static void test_parse_rejects_missing_ingest(void **state) {
  (void)state;
  assert_member_rejected("ingest", NULL, "ingest");
  assert_member_rejected("ingest", json_string("czj"), "ingest");
}

static void test_parse_rejects_missing_release(void **state) {
  (void)state;
  assert_member_rejected("release", NULL, "release");
  assert_member_rejected("release", json_array(), "release");
}

static void test_parse_rejects_missing_action(void **state) {
  (void)state;
  assert_member_rejected("action", NULL, "action");
}

static void test_parse_rejects_duplicate_keys(void **state) {
  (void)state;
  assert_parse_rejects("{\"schema\": \"zwgk.release.v1\", \"schema\": \"zwgk.tagged.v1\","
                       " \"release_id\": \"d21ed88b4394943a532698c7efb07dbe\", \"revision\": 1,"
                       " \"action\": \"publish\", \"ingest\": {}, \"release\": {}}",
                       "duplicate");
}

static void test_envelope_derive(void **state) {
  (void)state;
  json_t *env = new_envelope();
  json_t *derived = zw_envelope_derive(env, "zwgk.tagged.v1");
  assert_non_null(derived);
  assert_string_equal(json_string_value(json_object_get(derived, "schema")), "zwgk.tagged.v1");
  assert_string_equal(json_string_value(json_object_get(env, "schema")), "zwgk.release.v1");
  /* Apart from schema the copy is equal. */
  json_object_set_new(derived, "schema", json_string("zwgk.release.v1"));
  assert_true(json_equal(derived, env));
  json_decref(derived);
  json_decref(env);
}

static void test_envelope_derive_is_deep(void **state) {
  (void)state;
  json_t *env = new_envelope();
  json_t *original = json_deep_copy(env);
  json_t *derived = zw_envelope_derive(env, "zwgk.tagged.v1");
  assert_non_null(original);
  assert_non_null(derived);
  assert_ptr_not_equal(json_object_get(derived, "release"), json_object_get(env, "release"));
  json_object_set_new(json_object_get(derived, "release"), "title", json_string("changed"));
  json_object_set_new(json_object_get(derived, "ingest"), "producer", json_string("changed"));
  json_object_del(json_object_get(json_object_get(derived, "release"), "secrecy_review"), "reviewer");
  json_object_set_new(derived, "tags", json_object());
  assert_true(json_equal(env, original));
  json_decref(derived);
  json_decref(original);
  json_decref(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_release_id_vectors),
      cmocka_unit_test(test_release_id_separator_matters),
      cmocka_unit_test(test_is_release_id),
      cmocka_unit_test(test_sha256_hex_vectors),
      cmocka_unit_test(test_trace_new),
      cmocka_unit_test(test_traceparent_format),
      cmocka_unit_test(test_traceparent_round_trip),
      cmocka_unit_test(test_traceparent_parse_honours_len),
      cmocka_unit_test(test_traceparent_rejects_malformed),
      cmocka_unit_test(test_traceparent_rejects_bad_flags),
      cmocka_unit_test(test_traceparent_rejects_zero_trace_id),
      cmocka_unit_test(test_traceparent_rejects_zero_parent_id),
      cmocka_unit_test(test_timestamp_now_shape),
      cmocka_unit_test(test_envelope_new_members),
      cmocka_unit_test(test_envelope_serialize_embeds_the_body_as_sent),
      cmocka_unit_test(test_envelope_parse_round_trip),
      cmocka_unit_test(test_envelope_parse_honours_len),
      cmocka_unit_test(test_parse_rejects_not_json),
      cmocka_unit_test(test_parse_rejects_not_object),
      cmocka_unit_test(test_parse_rejects_missing_schema),
      cmocka_unit_test(test_parse_rejects_bad_release_id),
      cmocka_unit_test(test_parse_rejects_revision_zero),
      cmocka_unit_test(test_parse_rejects_revision_not_integer),
      cmocka_unit_test(test_parse_rejects_missing_ingest),
      cmocka_unit_test(test_parse_rejects_missing_release),
      cmocka_unit_test(test_parse_rejects_missing_action),
      cmocka_unit_test(test_parse_rejects_duplicate_keys),
      cmocka_unit_test(test_envelope_derive),
      cmocka_unit_test(test_envelope_derive_is_deep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
