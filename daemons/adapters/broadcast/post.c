/* post — libcurl POSTs of CAP documents; the connection is kept between posts. */
#include "post.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zw_daemon.h"

struct post {
  CURL *curl;
  struct curl_slist *headers;
  char endpoint[1024];
};

/* Collects the answer's first 200 bytes and swallows the rest. */
static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct post_result *r = arg;
  size_t have = strlen(r->body), len = size * n;
  size_t room = have < 200 ? 200 - have : 0;
  if (room) {
    size_t take = len < room ? len : room;
    memcpy(r->body + have, data, take);
    r->body[have + take] = '\0';
  }
  return len;
}

/* Picks Retry-After (seconds form) out of the answer's headers. */
static size_t on_header(char *data, size_t size, size_t n, void *arg) {
  struct post_result *r = arg;
  size_t len = size * n;
  if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
    char value[32];
    size_t vlen = len - 12 < sizeof value - 1 ? len - 12 : sizeof value - 1;
    memcpy(value, data + 12, vlen);
    value[vlen] = '\0';
    char *end;
    long s = strtol(value, &end, 10);
    if (end != value && s > 0 && s < 86400) r->retry_after_s = (double)s;
  }
  return len;
}

/* Makes r->body safe to carry in a JSON string and a log line: a UTF-8
 * sequence cut at the end is dropped, control characters become spaces. */
static void clean_body(char *s) {
  size_t n = strlen(s), i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0) {
      s[i++] = '?';
      continue;
    }
    if (i + need > n) {
      s[i] = '\0';
      return;
    }
    if (need == 1 && (c < 0x20 || c == 0x7f)) s[i] = ' ';
    for (size_t k = 1; k < need; k++)
      if (((unsigned char)s[i + k] & 0xC0) != 0x80) s[i + k] = '?';
    i += need;
  }
}

struct post *post_new(const char *endpoint, char *err, size_t errlen) {
  if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
    snprintf(err, errlen, "broadcast.endpoint '%s' is not an http or https URL", endpoint);
    return NULL;
  }
  struct post *p = calloc(1, sizeof *p);
  if (!p) goto oom;
  snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
  p->curl = curl_easy_init();
  p->headers = curl_slist_append(NULL, "Content-Type: application/cap+xml; charset=utf-8");
  /* An empty Expect: saves the 100-continue round trip. */
  struct curl_slist *h = p->headers ? curl_slist_append(p->headers, "Expect:") : NULL;
  if (!p->curl || !h) goto oom;
  curl_easy_setopt(p->curl, CURLOPT_URL, p->endpoint);
  curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
  curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "zwgk-broadcast/0.1");
  curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(p->curl, CURLOPT_HEADERFUNCTION, on_header);
  return p;
oom:
  snprintf(err, errlen, "out of memory");
  post_destroy(p);
  return NULL;
}

void post_destroy(struct post *p) {
  if (!p) return;
  if (p->curl) curl_easy_cleanup(p->curl);
  curl_slist_free_all(p->headers);
  free(p);
}

const char *post_endpoint(const struct post *p) { return p->endpoint; }

int post_cap(struct post *p, const char *doc, size_t len, long timeout_ms, struct post_result *r) {
  memset(r, 0, sizeof *r);
  char curl_err[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(p->curl, CURLOPT_POST, 1L);
  curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, doc);
  curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
  curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(p->curl, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, curl_err);
  double start = zw_now();
  CURLcode rc = curl_easy_perform(p->curl);
  r->seconds = zw_now() - start;
  curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, NULL);
  clean_body(r->body);
  if (rc != CURLE_OK) {
    r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    snprintf(r->error, sizeof r->error, "%s", *curl_err ? curl_err : curl_easy_strerror(rc));
    clean_body(r->error);
    return -1;
  }
  curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &r->status);
  return 0;
}
