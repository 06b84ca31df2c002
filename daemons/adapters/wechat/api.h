/* api — a client of the WeChat Official Account API for zwgk-wechat: one reused
 * libcurl handle, the stable access token (cached, refreshed before it
 * expires, and once more when the API calls it invalid), and the sorting of
 * every answer into ZW_OK, ZW_RETRY or ZW_FAIL.
 *
 * Single-threaded, like the daemon's event loop that calls it. The secret and
 * the access token never appear in an error message or a log line. */
#ifndef ZWGK_WECHAT_API_H
#define ZWGK_WECHAT_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_metrics.h"
#include "zw_stage.h"

/* Error codes of the API that zwgk treats specially (the global error code
 * list, 全局返回码, and the freepublish pages). */
enum {
  WECHAT_SYSTEM_BUSY = -1,
  WECHAT_INVALID_CREDENTIAL = 40001,
  WECHAT_INVALID_MEDIA_ID = 40007,
  WECHAT_INVALID_APPID = 40013,
  WECHAT_INVALID_TOKEN = 40014,
  WECHAT_INVALID_SECRET = 40125,
  WECHAT_IP_NOT_WHITELISTED = 40164,
  WECHAT_TOKEN_MISSING = 41001,
  WECHAT_TOKEN_EXPIRED = 42001,
  WECHAT_DAILY_QUOTA = 45009,
  WECHAT_MINUTE_QUOTA = 45011,
  WECHAT_SEND_QUOTA = 45028,
  WECHAT_ARTICLE_ID_INVALID = 53600,
};

struct wechat_api;

struct wechat_api_settings {
  const char *base_url; /* e.g. https://api.weixin.qq.com, without /cgi-bin */
  const char *appid;
  const char *secret;
  long timeout_ms;            /* longest wait for one HTTP exchange */
  struct zw_metrics *metrics; /* borrowed; outlives the client */
};

/* What a failed call left behind, for the caller's decisions. */
struct wechat_failure {
  long errcode;    /* the API's errcode, or 0 when the failure was not an API answer */
  bool quota;      /* 45009 / 45028: the daily quota is used up */
  bool rate_limit; /* 45011: too many calls this minute */
};

/* Builds a client (copies every string of s) and declares its metrics.
 * Returns NULL with err when libcurl cannot be set up. Caller owns the client. */
struct wechat_api *wechat_api_new(const struct wechat_api_settings *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Accepts NULL and a half-built client. */
void wechat_api_destroy(struct wechat_api *api);

/* Applies a reloaded wechat.timeout_ms. */
void wechat_api_set_timeout(struct wechat_api *api, long timeout_ms);

/* Makes sure a usable access token is cached: fetched with
 * cgi-bin/stable_token when there is none or it expires within five minutes;
 * force asks the API for a new one (force_refresh). Returns ZW_OK, or ZW_RETRY
 * / ZW_FAIL with err and *failure filled. */
enum zw_outcome wechat_api_token(struct wechat_api *api, bool force, struct wechat_failure *failure, char *err,
                                 size_t errlen);

/* POSTs body (borrowed) as JSON to <base>/cgi-bin/<endpoint>?access_token=…
 * and returns ZW_OK with *answer set to the answer object (caller owns it) when
 * its errcode is 0 or absent. On errcode 40001 / 40014 / 41001 / 42001 it
 * refreshes the token once and repeats the call once. Otherwise returns
 * ZW_RETRY (HTTP status other than 200, timeout, connection trouble,
 * unparseable answer, -1 system busy, quotas, a token still refused after the
 * refresh) or ZW_FAIL (any other errcode: "wechat errcode N: errmsg"), with
 * err and *failure filled and *answer NULL. */
enum zw_outcome wechat_api_call(struct wechat_api *api, const char *endpoint, const json_t *body, json_t **answer,
                                struct wechat_failure *failure, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The outcome zwgk gives an errcode the API answered (not 0). Pure. */
enum zw_outcome wechat_errcode_outcome(long errcode);

#endif
