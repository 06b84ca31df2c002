/* zw_envelope — release_id, trace context and envelope construction/parsing. */
#include "zw_envelope.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void to_hex(const unsigned char *bytes, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

static void sha256(const void *data, size_t len, unsigned char digest[32]) {
  unsigned int n = 0;
  EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
}

void zw_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char digest[32];
  sha256(data, len, digest);
  to_hex(digest, 32, out);
}

void zw_release_id(const char *department, const char *source_id, char out[ZW_RELEASE_ID_LEN + 1]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char digest[32];
  unsigned int n = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  EVP_DigestUpdate(ctx, department, strlen(department));
  EVP_DigestUpdate(ctx, "\n", 1);
  EVP_DigestUpdate(ctx, source_id, strlen(source_id));
  EVP_DigestFinal_ex(ctx, digest, &n);
  EVP_MD_CTX_free(ctx);
  to_hex(digest, 16, out);
}

static int is_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int zw_is_release_id(const char *s) {
  return s && strlen(s) == ZW_RELEASE_ID_LEN && is_lower_hex(s, ZW_RELEASE_ID_LEN);
}

int zw_trace_new(char trace_id[ZW_TRACE_ID_LEN + 1], char span_id[ZW_SPAN_ID_LEN + 1]) {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return -1;
  to_hex(bytes, 16, trace_id);
  to_hex(bytes + 16, 8, span_id);
  return 0;
}

void zw_traceparent_format(char out[ZW_TRACEPARENT_LEN + 1], const char *trace_id,
                           const char *span_id) {
  snprintf(out, ZW_TRACEPARENT_LEN + 1, "00-%.32s-%.16s-01", trace_id, span_id);
}

static int all_zero(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != '0') return 0;
  return 1;
}

int zw_traceparent_parse(const char *value, size_t len, char trace_id[ZW_TRACE_ID_LEN + 1]) {
  /* W3C trace context: all-zero trace and parent ids are invalid. */
  if (len != ZW_TRACEPARENT_LEN || memcmp(value, "00-", 3) != 0 || value[35] != '-' ||
      value[52] != '-' || !is_lower_hex(value + 3, 32) || !is_lower_hex(value + 36, 16) ||
      !is_lower_hex(value + 53, 2) || all_zero(value + 3, 32) || all_zero(value + 36, 16))
    return -1;
  memcpy(trace_id, value + 3, 32);
  trace_id[32] = '\0';
  return 0;
}

void zw_timestamp_now(char out[32]) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

char *zw_envelope_serialize(const json_t *release, const char *raw, size_t raw_len, const char *release_id,
                            const char *received_at, const char *department, const char *producer,
                            const char *trace_id) {
  json_t *head = json_pack("{s:s, s:s, s:O, s:O, s:{s:s, s:s, s:s, s:s}}", "schema", "zwgk.release.v1",
                           "release_id", release_id, "revision", json_object_get(release, "revision"), "action",
                           json_object_get(release, "action"), "ingest", "received_at", received_at,
                           "department", department, "producer", producer, "trace_id", trace_id);
  char *text = head ? json_dumps(head, JSON_COMPACT) : NULL;
  json_decref(head);
  if (!text) return NULL;
  /* text is "{…}": drop its closing brace and append ,"release":<raw>} */
  static const char member[] = ",\"release\":";
  size_t head_len = strlen(text) - 1;
  char *out = malloc(head_len + sizeof member - 1 + raw_len + 2);
  if (out) {
    char *p = out;
    memcpy(p, text, head_len);
    p += head_len;
    memcpy(p, member, sizeof member - 1);
    p += sizeof member - 1;
    memcpy(p, raw, raw_len);
    p += raw_len;
    *p++ = '}';
    *p = '\0';
  }
  free(text);
  return out;
}

json_t *zw_envelope_parse(const void *data, size_t len, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *env = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!env) {
    snprintf(err, errlen, "not JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
    return NULL;
  }
  const char *problem = NULL;
  json_t *rev = json_object_get(env, "revision");
  if (!json_is_object(env)) problem = "not a JSON object";
  else if (!json_is_string(json_object_get(env, "schema"))) problem = "schema missing";
  else if (!zw_is_release_id(json_string_value(json_object_get(env, "release_id"))))
    problem = "release_id missing or not 32 lowercase hex digits";
  else if (!json_is_integer(rev) || json_integer_value(rev) < 1 || json_integer_value(rev) > 2147483647)
    problem = "revision missing or not an integer >= 1";
  else if (!json_is_string(json_object_get(env, "action"))) problem = "action missing";
  else if (!json_is_object(json_object_get(env, "ingest"))) problem = "ingest missing";
  else if (!json_is_object(json_object_get(env, "release"))) problem = "release missing";
  if (problem) {
    snprintf(err, errlen, "bad envelope: %s", problem);
    json_decref(env);
    return NULL;
  }
  return env;
}

json_t *zw_envelope_derive(const json_t *env, const char *schema) {
  json_t *copy = json_deep_copy(env);
  if (copy && json_object_set_new(copy, "schema", json_string(schema)) < 0) {
    json_decref(copy);
    return NULL;
  }
  return copy;
}

const char *zw_envelope_release_id(const json_t *env) {
  return json_string_value(json_object_get(env, "release_id"));
}
int zw_envelope_revision(const json_t *env) {
  return (int)json_integer_value(json_object_get(env, "revision"));
}
const char *zw_envelope_action(const json_t *env) {
  return json_string_value(json_object_get(env, "action"));
}
json_t *zw_envelope_release(const json_t *env) { return json_object_get(env, "release"); }
