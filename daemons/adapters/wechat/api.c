/* api — HTTP exchanges with the WeChat Official Account API, the access token
 * and the meaning of the API's error codes. */
#include "api.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_daemon.h"
#include "zw_log.h"

#define ANSWER_LIMIT (1024 * 1024) /* the API's answers are small; more is not the API */
#define TOKEN_MARGIN_S 300.0       /* refresh this long before the token expires */

struct buffer {
  char *data;
  size_t len;
  bool overflow;
};

struct wechat_api {
  CURL *curl;
  struct curl_slist *headers;
  char *base_url;
  char *appid;
  char *secret;
  long timeout_ms;
  struct zw_metrics *metrics;
  bool curl_initialised;
  char token[1024];     /* "" when none is cached */
  double token_refresh; /* zw_now() after which the token is fetched anew */
};

/* libcurl's write callback: appends to the buffer, up to ANSWER_LIMIT. */
static size_t collect(char *data, size_t size, size_t n, void *arg) {
  struct buffer *b = arg;
  size_t add = size * n;
  if (b->len + add > ANSWER_LIMIT) {
    b->overflow = true;
    return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
  }
  char *grown = realloc(b->data, b->len + add + 1);
  if (!grown) return 0;
  memcpy(grown + b->len, data, add);
  b->data = grown;
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

/* Counts one exchange: calls by endpoint and result, errors by errcode, latency. */
static void count(struct wechat_api *api, const char *endpoint, const char *result, long errcode, double started) {
  char labels[256], ep[96], res[64], code[64];
  zw_metrics_label(ep, sizeof ep, "endpoint", endpoint);
  snprintf(labels, sizeof labels, "%s,%s", ep, zw_metrics_label(res, sizeof res, "result", result));
  zw_metrics_add(api->metrics, "zwgk_wechat_api_calls_total", labels, 1);
  zw_metrics_observe(api->metrics, "zwgk_wechat_api_call_seconds", ep, zw_now() - started);
  if (errcode != 0) {
    char value[24];
    snprintf(value, sizeof value, "%ld", errcode);
    snprintf(labels, sizeof labels, "%s,%s", ep, zw_metrics_label(code, sizeof code, "errcode", value));
    zw_metrics_add(api->metrics, "zwgk_wechat_api_errors_total", labels, 1);
  }
}

/* Declares the client's metric families with their help texts. */
static void declare_metrics(struct zw_metrics *m) {
  zw_metrics_declare(m, "zwgk_wechat_api_calls_total", ZW_COUNTER,
                     "WeChat API calls, by endpoint and result (ok, api_error, http_error, timeout, "
                     "transport_error, bad_answer)");
  zw_metrics_declare(m, "zwgk_wechat_api_errors_total", ZW_COUNTER,
                     "WeChat API error answers, by endpoint and errcode");
  zw_metrics_declare(m, "zwgk_wechat_api_call_seconds", ZW_HISTOGRAM, "Duration of one WeChat API call, by endpoint");
  zw_metrics_declare(m, "zwgk_wechat_token_refreshes_total", ZW_COUNTER,
                     "Access tokens fetched with stable_token, by reason (none, expiry, invalid)");
}

struct wechat_api *wechat_api_new(const struct wechat_api_settings *s, char *err, size_t errlen) {
  struct wechat_api *api = calloc(1, sizeof *api);
  if (!api) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "libcurl cannot be initialised");
    goto failed;
  }
  api->curl_initialised = true;
  api->curl = curl_easy_init();
  api->base_url = strdup(s->base_url);
  api->appid = strdup(s->appid);
  api->secret = strdup(s->secret);
  api->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  /* No "Expect: 100-continue" round trip before larger articles. */
  if (api->headers) api->headers = curl_slist_append(api->headers, "Expect:");
  if (!api->curl || !api->base_url || !api->appid || !api->secret || !api->headers) {
    snprintf(err, errlen, "out of memory setting up libcurl");
    goto failed;
  }
  size_t n = strlen(api->base_url);
  while (n > 0 && api->base_url[n - 1] == '/') api->base_url[--n] = '\0';
  api->timeout_ms = s->timeout_ms;
  api->metrics = s->metrics;
  declare_metrics(api->metrics);
  curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(api->curl, CURLOPT_USERAGENT, "zwgk-wechat");
  curl_easy_setopt(api->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(api->curl, CURLOPT_HTTPHEADER, api->headers);
  curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, collect);
  return api;
failed:
  wechat_api_destroy(api);
  return NULL;
}

void wechat_api_destroy(struct wechat_api *api) {
  if (!api) return;
  if (api->curl) curl_easy_cleanup(api->curl);
  curl_slist_free_all(api->headers);
  if (api->secret) memset(api->secret, 0, strlen(api->secret));
  memset(api->token, 0, sizeof api->token);
  free(api->secret);
  free(api->appid);
  free(api->base_url);
  if (api->curl_initialised) curl_global_cleanup();
  free(api);
}

void wechat_api_set_timeout(struct wechat_api *api, long timeout_ms) { api->timeout_ms = timeout_ms; }

enum zw_outcome wechat_errcode_outcome(long errcode) {
  switch (errcode) {
  case WECHAT_SYSTEM_BUSY:
  case WECHAT_DAILY_QUOTA:
  case WECHAT_MINUTE_QUOTA:
  case WECHAT_SEND_QUOTA:
  case WECHAT_INVALID_CREDENTIAL: /* still refused after a fresh token: try later */
  case WECHAT_INVALID_TOKEN:
  case WECHAT_TOKEN_MISSING:
  case WECHAT_TOKEN_EXPIRED:
    return ZW_RETRY;
  default:
    return ZW_FAIL; /* 40164, 40013, 40125, 45002-45004, 40007, 48001, … */
  }
}

/* True for the errcodes that mean the access token itself was refused. */
static bool token_refused(long errcode) {
  return errcode == WECHAT_INVALID_CREDENTIAL || errcode == WECHAT_INVALID_TOKEN || errcode == WECHAT_TOKEN_MISSING ||
         errcode == WECHAT_TOKEN_EXPIRED;
}

/* Fills *failure and err from an answer with errcode != 0; returns the outcome. */
static enum zw_outcome api_error(const char *endpoint, const json_t *answer, long errcode,
                                 struct wechat_failure *failure, char *err, size_t errlen) {
  const char *errmsg = json_string_value(json_object_get(answer, "errmsg"));
  failure->errcode = errcode;
  failure->quota = errcode == WECHAT_DAILY_QUOTA || errcode == WECHAT_SEND_QUOTA;
  failure->rate_limit = errcode == WECHAT_MINUTE_QUOTA;
  snprintf(err, errlen, "wechat errcode %ld: %s (%s)", errcode, errmsg ? errmsg : "no errmsg", endpoint);
  if (errcode == WECHAT_IP_NOT_WHITELISTED)
    zw_error(NULL, "wechat refuses this host's IP address (40164): add it to the account's IP whitelist");
  return wechat_errcode_outcome(errcode);
}

/* POSTs data to url with the reused handle, collecting the answer into *b
 * (caller frees b->data). Returns libcurl's result; *status is the HTTP
 * status, and curl_err (CURL_ERROR_SIZE bytes) libcurl's message. */
static CURLcode perform(struct wechat_api *api, const char *url, const char *data, struct buffer *b, long *status,
                        char *curl_err) {
  curl_easy_setopt(api->curl, CURLOPT_URL, url);
  curl_easy_setopt(api->curl, CURLOPT_POSTFIELDS, data);
  curl_easy_setopt(api->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
  curl_easy_setopt(api->curl, CURLOPT_TIMEOUT_MS, api->timeout_ms);
  curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, curl_err);
  CURLcode rc = curl_easy_perform(api->curl);
  *status = 0;
  curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, status);
  curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(api->curl, CURLOPT_URL, ""); /* the token stays in no handle between calls */
  return rc;
}

/* One HTTP exchange: POSTs body to url and parses the answer. Returns ZW_OK
 * with *answer (caller owns it), or ZW_RETRY with err: every failure below the
 * API's own errcodes is transient. Counts the exchange unless it ends in OK
 * (the caller counts those once it knows the errcode). */
static enum zw_outcome exchange(struct wechat_api *api, const char *endpoint, const char *url, const json_t *body,
                                json_t **answer, char *err, size_t errlen) {
  struct buffer b = {0};
  char curl_err[CURL_ERROR_SIZE] = "";
  const char *result = NULL;
  double started = zw_now();
  long status;
  char *data = json_dumps(body, JSON_COMPACT); /* Chinese text as UTF-8, not \u escapes */
  *answer = NULL;
  if (!data) {
    snprintf(err, errlen, "out of memory serialising the %s request", endpoint);
    goto out;
  }
  CURLcode rc = perform(api, url, data, &b, &status, curl_err);
  if (rc == CURLE_OK && status == 200 && b.data) *answer = json_loads(b.data, 0, NULL);
  if (rc != CURLE_OK) {
    result = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "transport_error";
    snprintf(err, errlen, "wechat %s: %s", endpoint,
             b.overflow ? "answer larger than 1 MiB" : *curl_err ? curl_err : curl_easy_strerror(rc));
  } else if (status != 200) {
    result = "http_error";
    snprintf(err, errlen, "wechat %s: HTTP status %ld", endpoint, status);
  } else if (!json_is_object(*answer)) {
    result = "bad_answer";
    snprintf(err, errlen, "wechat %s: the answer is not a JSON object", endpoint);
    json_decref(*answer);
    *answer = NULL;
  }
  if (result) count(api, endpoint, result, 0, started);
out:
  free(data);
  free(b.data);
  return *answer ? ZW_OK : ZW_RETRY;
}

/* The errcode of an answer; absent means success (draft/add answers {media_id}). */
static long errcode_of(const json_t *answer) {
  const json_t *code = json_object_get(answer, "errcode");
  return json_is_integer(code) ? (long)json_integer_value(code) : 0;
}

enum zw_outcome wechat_api_token(struct wechat_api *api, bool force, struct wechat_failure *failure, char *err,
                                 size_t errlen) {
  double started = zw_now();
  if (!force && *api->token && started < api->token_refresh) return ZW_OK;
  const char *reason = force ? "invalid" : *api->token ? "expiry" : "none";
  char url[2048];
  snprintf(url, sizeof url, "%s/cgi-bin/stable_token", api->base_url);
  json_t *body = json_pack("{s:s, s:s, s:s, s:b}", "grant_type", "client_credential", "appid", api->appid, "secret",
                           api->secret, "force_refresh", force);
  json_t *answer = NULL;
  memset(failure, 0, sizeof *failure);
  enum zw_outcome o = body ? exchange(api, "stable_token", url, body, &answer, err, errlen) : ZW_RETRY;
  if (!body) snprintf(err, errlen, "out of memory");
  if (o != ZW_OK) goto out;
  long errcode = errcode_of(answer);
  const char *token = json_string_value(json_object_get(answer, "access_token"));
  json_int_t expires_in = json_integer_value(json_object_get(answer, "expires_in"));
  count(api, "stable_token", errcode ? "api_error" : "ok", errcode, started);
  if (errcode != 0) {
    o = api_error("stable_token", answer, errcode, failure, err, errlen);
    goto out;
  }
  if (!token || !*token || strlen(token) >= sizeof api->token || expires_in <= 0) {
    snprintf(err, errlen, "wechat stable_token: the answer has no usable access_token / expires_in");
    o = ZW_RETRY;
    goto out;
  }
  snprintf(api->token, sizeof api->token, "%s", token);
  double margin = (double)expires_in / 2 < TOKEN_MARGIN_S ? (double)expires_in / 2 : TOKEN_MARGIN_S;
  api->token_refresh = started + (double)expires_in - margin;
  char label[64];
  zw_metrics_add(api->metrics, "zwgk_wechat_token_refreshes_total",
                 zw_metrics_label(label, sizeof label, "reason", reason), 1);
  zw_info(NULL, "wechat access token fetched for appid %s (reason %s, valid %lld s)", api->appid, reason,
          (long long)expires_in);
out:
  json_decref(body);
  json_decref(answer);
  return o;
}

/* One authenticated call with the cached token; *refused tells whether the API
 * refused the token itself. */
static enum zw_outcome call_once(struct wechat_api *api, const char *endpoint, const json_t *body, json_t **answer,
                                 bool *refused, struct wechat_failure *failure, char *err, size_t errlen) {
  double started = zw_now();
  char url[4096];
  char *token = curl_easy_escape(api->curl, api->token, 0);
  if (!token) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  snprintf(url, sizeof url, "%s/cgi-bin/%s?access_token=%s", api->base_url, endpoint, token);
  curl_free(token);
  enum zw_outcome o = exchange(api, endpoint, url, body, answer, err, errlen);
  memset(url, 0, sizeof url);
  if (o != ZW_OK) return o;
  long errcode = errcode_of(*answer);
  count(api, endpoint, errcode ? "api_error" : "ok", errcode, started);
  if (errcode == 0) return ZW_OK;
  *refused = token_refused(errcode);
  o = api_error(endpoint, *answer, errcode, failure, err, errlen);
  json_decref(*answer);
  *answer = NULL;
  return o;
}

enum zw_outcome wechat_api_call(struct wechat_api *api, const char *endpoint, const json_t *body, json_t **answer,
                                struct wechat_failure *failure, char *err, size_t errlen) {
  *answer = NULL;
  memset(failure, 0, sizeof *failure);
  enum zw_outcome o = ZW_RETRY;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool refused = false;
    o = wechat_api_token(api, attempt > 0, failure, err, errlen);
    if (o != ZW_OK) return o;
    o = call_once(api, endpoint, body, answer, &refused, failure, err, errlen);
    if (o == ZW_OK || !refused) return o;
    zw_info(NULL, "wechat %s refused the access token (errcode %ld); fetching a new one", endpoint,
            failure->errcode);
    *api->token = '\0';
  }
  return o;
}
