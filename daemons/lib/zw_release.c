/* zw_release — the C validator of release.v1, kept in step with the JSON Schema. */
#include "zw_release.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct violations {
  json_t *details;
  size_t count;
};

__attribute__((format(printf, 3, 4))) static void violation(struct violations *v, const char *path,
                                                        const char *fmt, ...) {
  v->count++;
  if (!v->details) return;
  char message[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof message) {
    /* Cut at a character boundary: json_pack refuses a string that is not UTF-8,
     * and the violation would be counted but missing from details. */
    size_t end = sizeof message - 1;
    while (end > 0 && ((unsigned char)message[end - 1] & 0xC0) == 0x80) end--;
    if (end > 0 && ((unsigned char)message[end - 1] & 0x80)) end--;
    message[end] = '\0';
  }
  json_array_append_new(v->details, json_pack("{s:s, s:s}", "path", path, "message", message));
}

/* Returns base + "/" + name as a JSON Pointer, escaping '~' and '/' (RFC 6901);
 * the caller frees it. NULL when out of memory. A member name may be as long as
 * the body, so the pointer is never cut to a buffer. */
static char *pointer(const char *base, const char *name) {
  size_t len = strlen(base) + 2;
  for (const char *p = name; *p; p++) len += (*p == '~' || *p == '/') ? 2 : 1;
  char *out = malloc(len);
  if (!out) return NULL;
  size_t pos = strlen(base);
  memcpy(out, base, pos);
  out[pos++] = '/';
  for (const char *p = name; *p; p++) {
    if (*p == '~' || *p == '/') {
      out[pos++] = '~';
      out[pos++] = *p == '~' ? '0' : '1';
    } else {
      out[pos++] = *p;
    }
  }
  out[pos] = '\0';
  return out;
}

/* Reports the member name of the object at base as unknown, at its own pointer. */
static void unknown_field(struct violations *v, const char *base, const char *name) {
  char *path = pointer(base, name);
  violation(v, path ? path : base, "unknown field '%s'", name);
  free(path);
}

/* True when s (valid UTF-8) holds a character that ECMA-262's \s matches, white
 * space or a line terminator: what \S in the schema's url pattern excludes. */
static bool has_space(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    int extra = *p < 0x80 ? 0 : *p < 0xE0 ? 1 : *p < 0xF0 ? 2 : 3;
    uint32_t c = extra ? *p & (0x3Fu >> extra) : *p;
    for (int i = 1; i <= extra && p[i]; i++) c = c << 6 | (p[i] & 0x3Fu);
    p += extra + 1;
    if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
        c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF)
      return true;
  }
  return false;
}

size_t zw_utf8_length(const char *s, size_t bytes) {
  size_t n = 0;
  for (size_t i = 0; i < bytes; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
  return n;
}

static bool in_set(const char *s, const char *const *set) {
  for (; *set; set++)
    if (strcmp(s, *set) == 0) return true;
  return false;
}

static bool all_chars(const char *s, size_t min, size_t max, const char *extra, bool hex_lower) {
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    bool ok = hex_lower ? (isdigit(c) || (c >= 'a' && c <= 'f'))
                        : (isalnum(c) || (extra && strchr(extra, c)));
    if (!ok || c > 0x7f) return false;
  }
  return true;
}

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  return true;
}

static int number(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

bool zw_rfc3339_valid(const char *s) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
      !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
      !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
    return false;
  int year = number(s, 4), month = number(s + 5, 2), day = number(s + 8, 2);
  if (year == 0) return false; /* there is no year 0 (nor in PostgreSQL) */
  if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1]) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return false;
  if (number(s + 11, 2) > 23 || number(s + 14, 2) > 59 || number(s + 17, 2) > 59) return false;
  const char *p = s + 19;
  if (*p == '.') {
    const char *q = ++p;
    while (isdigit((unsigned char)*p)) p++;
    if (p == q) return false;
  }
  if (strcmp(p, "Z") == 0) return true;
  return (p[0] == '+' || p[0] == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' &&
         digits(p + 4, 2) && number(p + 1, 2) <= 14 && number(p + 4, 2) <= 59;
}

/* Checks a string member: type and length in characters; returns it or NULL. */
static const char *string_member(struct violations *v, const json_t *obj, const char *name,
                                 const char *path, size_t min, size_t max) {
  json_t *m = json_object_get(obj, name);
  if (!m) return NULL;
  if (!json_is_string(m)) {
    violation(v, path, "%s must be a string", name);
    return NULL;
  }
  size_t len = zw_utf8_length(json_string_value(m), json_string_length(m));
  if (len < min) violation(v, path, "%s must not be empty", name);
  else if (len > max) violation(v, path, "%s is longer than its limit", name);
  return json_string_value(m);
}

static void check_date_time(struct violations *v, const json_t *obj, const char *name, const char *path) {
  const char *s = string_member(v, obj, name, path, 0, 64);
  if (s && !zw_rfc3339_valid(s)) violation(v, path, "%s must be an RFC 3339 date-time with an offset", name);
}

static void check_attachment(struct violations *v, const json_t *a, size_t i) {
  static const char *const known[] = {"name", "url", "sha256", "bytes", NULL};
  char base[64], path[96]; /* path holds base + a known member name */
  snprintf(base, sizeof base, "/attachments/%zu", i);
  if (!json_is_object(a)) {
    violation(v, base, "%s must be an object", "attachment");
    return;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)a, key, value) {
    if (!in_set(key, known)) unknown_field(v, base, key);
  }
  for (const char *const *k = known; *k; k++) {
    snprintf(path, sizeof path, "%s/%s", base, *k);
    if (!json_object_get(a, *k)) violation(v, path, "%s is required", *k);
  }
  string_member(v, a, "name", (snprintf(path, sizeof path, "%s/name", base), path), 1, 255);
  const char *url = string_member(v, a, "url", (snprintf(path, sizeof path, "%s/url", base), path), 0, 2048);
  if (url && ((strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) || has_space(url) ||
              !url[strncmp(url, "https://", 8) ? 7 : 8]))
    violation(v, path, "%s must be an http(s) URL", "url");
  const char *sha = string_member(v, a, "sha256", (snprintf(path, sizeof path, "%s/sha256", base), path), 0, 64);
  if (sha && !all_chars(sha, 64, 64, NULL, true)) violation(v, path, "%s must be 64 lowercase hex digits", "sha256");
  json_t *bytes = json_object_get(a, "bytes");
  snprintf(path, sizeof path, "%s/bytes", base);
  if (bytes && (!json_is_integer(bytes) || json_integer_value(bytes) < 0))
    violation(v, path, "%s must be an integer >= 0", "bytes");
}

static void check_secrecy_review(struct violations *v, const json_t *sr) {
  if (!json_is_object(sr)) {
    violation(v, "/secrecy_review", "%s must be an object", "secrecy_review");
    return;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)sr, key, value) {
    if (strcmp(key, "reviewer") && strcmp(key, "reviewed_at")) unknown_field(v, "/secrecy_review", key);
  }
  if (!json_object_get(sr, "reviewer")) violation(v, "/secrecy_review/reviewer", "%s is required", "reviewer");
  if (!json_object_get(sr, "reviewed_at")) violation(v, "/secrecy_review/reviewed_at", "%s is required", "reviewed_at");
  string_member(v, sr, "reviewer", "/secrecy_review/reviewer", 1, 64);
  check_date_time(v, sr, "reviewed_at", "/secrecy_review/reviewed_at");
}

static const char *const known_fields[] = {
    "source_id", "revision",     "action",     "department", "title",     "body",
    "summary",   "doc_type",     "catalog_code", "region_code", "formed_at", "publish_at",
    "interprets", "secrecy_review", "urgency",  "area",       "attachments", NULL};
static const char *const actions[] = {"publish", "update", "withdraw", NULL};
static const char *const doc_types[] = {"notice", "policy", "interpretation", "public_list",
                                        "report", "plan", "budget", "procurement",
                                        "emergency", "news", "other", NULL};
static const char *const urgencies[] = {"routine", "urgent", "emergency", NULL};

bool zw_release_is_member(const char *name) { return in_set(name, known_fields); }

static void check_enum(struct violations *v, const json_t *obj, const char *name, const char *path,
                       const char *const *set) {
  json_t *m = json_object_get(obj, name);
  if (m && (!json_is_string(m) || !in_set(json_string_value(m), set)))
    violation(v, path, "%s is not one of the allowed values", name);
}

static void check_required(struct violations *v, const json_t *r) {
  static const char *const always[] = {"source_id", "revision", "action", "department", "region_code", NULL};
  static const char *const content[] = {"title", "body", "doc_type", "formed_at", "secrecy_review", NULL};
  char path[64];
  for (const char *const *k = always; *k; k++)
    if (!json_object_get(r, *k)) violation(v, (snprintf(path, sizeof path, "/%s", *k), path), "%s is required", *k);
  const char *action = json_string_value(json_object_get(r, "action"));
  if (action && (!strcmp(action, "publish") || !strcmp(action, "update")))
    for (const char *const *k = content; *k; k++)
      if (!json_object_get(r, *k))
        violation(v, (snprintf(path, sizeof path, "/%s", *k), path), "%s is required for publish and update", *k);
}

static void check_interprets(struct violations *v, const json_t *r) {
  const char *doc_type = json_string_value(json_object_get(r, "doc_type"));
  json_t *interprets = json_object_get(r, "interprets");
  bool is_interpretation = doc_type && strcmp(doc_type, "interpretation") == 0;
  if (is_interpretation && !interprets)
    violation(v, "/interprets", "%s is required for an interpretation", "interprets");
  else if (!is_interpretation && interprets)
    violation(v, "/interprets", "%s is allowed only with doc_type interpretation", "interprets");
  else if (interprets && (!json_is_string(interprets) || !all_chars(json_string_value(interprets), 32, 32, NULL, true)))
    violation(v, "/interprets", "%s must be a release_id (32 lowercase hex digits)", "interprets");
}

static void check_codes(struct violations *v, const json_t *r) {
  const char *s = string_member(v, r, "source_id", "/source_id", 0, 1000);
  if (s && !all_chars(s, 1, 128, "._:/-", false))
    violation(v, "/source_id", "%s must be 1-128 of [A-Za-z0-9._:/-]", "source_id");
  s = string_member(v, r, "department", "/department", 0, 1000);
  if (s && (!all_chars(s, 1, 64, "_-", false) || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])) ||
            strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")))
    violation(v, "/department", "%s must be a lowercase department code", "department");
  s = string_member(v, r, "region_code", "/region_code", 0, 1000);
  size_t n = s ? strlen(s) : 0;
  if (s && (!(n == 6 || n == 9 || n == 12) || !digits(s, n)))
    violation(v, "/region_code", "%s must be 6, 9 or 12 digits", "region_code");
  s = string_member(v, r, "catalog_code", "/catalog_code", 0, 1000);
  if (s && (!all_chars(s, 1, 64, "-", false) || s[0] == '-' || s[strlen(s) - 1] == '-' || strstr(s, "--") ||
            strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")))
    violation(v, "/catalog_code", "%s must be a catalog item code such as czyjs-001", "catalog_code");
}

size_t zw_release_validate(const json_t *r, json_t *details) {
  struct violations v = {details, 0};
  if (!json_is_object(r)) {
    violation(&v, "", "%s must be a JSON object", "a release");
    return v.count;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)r, key, value) {
    if (!in_set(key, known_fields)) unknown_field(&v, "", key);
  }
  check_required(&v, r);
  check_codes(&v, r);
  json_t *rev = json_object_get(r, "revision");
  if (rev && (!json_is_integer(rev) || json_integer_value(rev) < 1 || json_integer_value(rev) > 2147483647))
    violation(&v, "/revision", "%s must be an integer >= 1", "revision");
  check_enum(&v, r, "action", "/action", actions);
  check_enum(&v, r, "doc_type", "/doc_type", doc_types);
  check_enum(&v, r, "urgency", "/urgency", urgencies);
  string_member(&v, r, "title", "/title", 1, 200);
  const char *body = string_member(&v, r, "body", "/body", 0, 262144);
  if (body && json_string_length(json_object_get(r, "body")) > 262144)
    violation(&v, "/body", "%s is larger than 256 KiB of UTF-8", "body");
  string_member(&v, r, "summary", "/summary", 0, 500);
  string_member(&v, r, "area", "/area", 0, 200);
  check_date_time(&v, r, "formed_at", "/formed_at");
  check_date_time(&v, r, "publish_at", "/publish_at");
  check_interprets(&v, r);
  json_t *sr = json_object_get(r, "secrecy_review");
  if (sr) check_secrecy_review(&v, sr);
  json_t *att = json_object_get(r, "attachments");
  if (att && !json_is_array(att)) violation(&v, "/attachments", "%s must be an array", "attachments");
  else if (att && json_array_size(att) > 20) violation(&v, "/attachments", "%s: at most 20", "attachments");
  for (size_t i = 0; att && json_is_array(att) && i < json_array_size(att); i++)
    check_attachment(&v, json_array_get(att, i), i);
  return v.count;
}
