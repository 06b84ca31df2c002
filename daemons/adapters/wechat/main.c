/* zwgk-wechat — the WeChat adapter: publishes each work item of
 * zwgk.channel.wechat as an article of the Official Account (draft/add →
 * freepublish/submit → freepublish/get), replaces it on update and deletes it
 * on withdrawal.
 *
 * Every step that leaves something at WeChat is written to the delivery's
 * progress (zw_delivery_save) before the next step, and every attempt resumes
 * from there, so a redelivered, retried or crash-interrupted work item never
 * makes a second copy. See docs/wechat.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "api.h"
#include "zw_log.h"

#define CHINA_UTC_OFFSET_S (8 * 3600) /* the daily quotas reset at midnight China time */
#define QUOTA_SLACK_S 60              /* wait a little past midnight */
#define MINUTE_QUOTA_WAIT_S 60

struct wechat {
  struct zw_daemon *d;
  struct wechat_api *api;
};

/* One call of deliver or withdraw: the work item and the settings it runs with
 * (read anew each time, so that a reload applies to the next item). */
struct attempt {
  struct wechat *w;
  struct zw_delivery *dv;
  const char *author;
  const char *thumb_media_id;
  long poll_interval_ms;
  long poll_limit;
  long retry_cap_ms;
};

static const char *const publish_status_names[] = {
    "published",
    "publishing",
    "original-content check failed (原创失败)",
    "publishing failed (常规失败)",
    "rejected by the platform review (平台审核不通过)",
    "every article deleted after publishing (成功后用户删除所有文章)",
    "every article banned after publishing (成功后系统封禁所有文章)",
};

/* Seconds from now until QUOTA_SLACK_S past the next midnight in China
 * (UTC+8), when the daily quotas reset; at most cap_s. Pure but for the clock. */
static double quota_wait_s(double cap_s) {
  time_t now = time(NULL);
  long into_day = (long)((now + CHINA_UTC_OFFSET_S) % 86400);
  double wait = (double)(86400 - into_day + QUOTA_SLACK_S);
  return cap_s > 0 && wait > cap_s ? cap_s : wait;
}

/* Calls the API for the attempt; a quota answer sets dv->retry_after_s. The
 * outcome, *answer, *failed (when not NULL) and err are those of
 * wechat_api_call. */
static enum zw_outcome call(struct attempt *a, const char *endpoint, const json_t *body, json_t **answer,
                            struct wechat_failure *failed, char *err, size_t errlen) {
  struct wechat_failure failure;
  enum zw_outcome o = wechat_api_call(a->w->api, endpoint, body, answer, &failure, err, errlen);
  if (failed) *failed = failure;
  if (o == ZW_RETRY && (failure.quota || failure.rate_limit)) {
    double cap_s = (double)a->retry_cap_ms / 1000.0;
    a->dv->retry_after_s = failure.quota ? quota_wait_s(cap_s)
                                         : (cap_s > 0 && cap_s < MINUTE_QUOTA_WAIT_S ? cap_s : MINUTE_QUOTA_WAIT_S);
    zw_warn(a->dv->release_id, "wechat quota reached (errcode %ld); next attempt in %.1f s", failure.errcode,
            a->dv->retry_after_s);
  }
  return o;
}

/* The non-empty string the progress holds under key, or NULL; borrowed. */
static const char *progress_str(const struct zw_delivery *dv, const char *key) {
  const char *s = json_string_value(json_object_get(dv->progress, key));
  return s && *s ? s : NULL;
}

/* Records key = value in the progress and saves it at once. Returns 0, or -1
 * with err when PostgreSQL did not take it. */
static int remember(struct zw_delivery *dv, const char *key, const char *value, char *err, size_t errlen) {
  if (json_object_set_new(dv->progress, key, json_string(value)) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return zw_delivery_save(dv, err, errlen);
}

/* Copies an id the API gives as a string or a number into buf; NULL if none. */
static const char *id_of(const json_t *v, char *buf, size_t len) {
  if (json_is_string(v) && *json_string_value(v)) snprintf(buf, len, "%s", json_string_value(v));
  else if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  else return NULL;
  return buf;
}

/* Counts an article published or deleted (action). */
static void count_article(struct attempt *a, const char *action) {
  char label[64];
  zw_metrics_add(zw_daemon_metrics(a->w->d), "zwgk_wechat_articles_total",
                 zw_metrics_label(label, sizeof label, "action", action), 1);
}

/* draft/add of the payload's article; saves media_id in the progress before
 * returning ZW_OK, so that the draft is submitted at most once. */
static enum zw_outcome draft_add(struct attempt *a, char *err, size_t errlen) {
  const json_t *pl = a->dv->payload;
  const char *title = json_string_value(json_object_get(pl, "title"));
  const char *content = json_string_value(json_object_get(pl, "content"));
  const char *source = json_string_value(json_object_get(pl, "content_source_url"));
  const char *digest = json_string_value(json_object_get(pl, "digest"));
  if (!title || !*title || !content || !*content) {
    snprintf(err, errlen, "wechat payload without title or content");
    return ZW_FAIL;
  }
  json_t *answer = NULL;
  json_t *article = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "title", title, "author", a->author,
                              "digest", digest ? digest : "", "content", content,
                              "content_source_url", source ? source : "", "thumb_media_id", a->thumb_media_id,
                              "need_open_comment", 0, "only_fans_can_comment", 0);
  json_t *body = article ? json_pack("{s:[o]}", "articles", article) : NULL;
  enum zw_outcome o = ZW_RETRY;
  char media_id[256];
  if (!body) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  o = call(a, "draft/add", body, &answer, NULL, err, errlen);
  if (o != ZW_OK) goto out;
  if (!id_of(json_object_get(answer, "media_id"), media_id, sizeof media_id)) {
    snprintf(err, errlen, "wechat draft/add: the answer has no media_id");
    o = ZW_RETRY; /* the draft, if any, stays unused */
    goto out;
  }
  zw_info(a->dv->release_id, "wechat draft added: media_id %s (revision %d)", media_id, a->dv->revision);
  if (remember(a->dv, "media_id", media_id, err, errlen) < 0) o = ZW_RETRY; /* unsaved: a new draft next time */
out:
  json_decref(body);
  json_decref(answer);
  return o;
}

/* Pages of freepublish/batchget looked through for an article whose submit
 * answer was lost; the newest articles come first. */
#define LOST_SEARCH_PAGES 5
#define LOST_SEARCH_PAGE 20

/* True when a published list entry's first article is this work item's. */
static bool is_ours(const json_t *pl, const json_t *news) {
  static const char *const keys[] = {"title", "digest", "content_source_url"};
  if (json_is_true(json_object_get(news, "is_deleted"))) return false;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *mine = json_string_value(json_object_get(pl, keys[i]));
    const char *theirs = json_string_value(json_object_get(news, keys[i]));
    if (strcmp(mine ? mine : "", theirs ? theirs : "") != 0) return false;
  }
  return true;
}

/* Looks for this revision's article among the newest published ones, after a
 * submit whose answer never arrived consumed the draft. Found: fills dv with
 * it, notes it in the progress and returns ZW_OK. Not found (yet: the job may
 * still be publishing): ZW_RETRY with err, keeping media_id, so that the next
 * attempt submits again (which works if the job failed and WeChat gave the
 * draft back) or looks again. */
static enum zw_outcome find_lost(struct attempt *a, const char *why, char *err, size_t errlen) {
  for (int page = 0; page < LOST_SEARCH_PAGES; page++) {
    json_t *body = json_pack("{s:i, s:i, s:i}", "offset", page * LOST_SEARCH_PAGE, "count", LOST_SEARCH_PAGE,
                             "no_content", 1);
    json_t *answer = NULL;
    enum zw_outcome o = body ? call(a, "freepublish/batchget", body, &answer, NULL, err, errlen) : ZW_RETRY;
    json_decref(body);
    if (o != ZW_OK) return o == ZW_FAIL ? ZW_RETRY : o;
    size_t i;
    json_t *item;
    bool more = false;
    json_array_foreach(json_object_get(answer, "item"), i, item) {
      more = true;
      const json_t *news = json_array_get(json_object_get(json_object_get(item, "content"), "news_item"), 0);
      if (!is_ours(a->dv->payload, news)) continue;
      struct zw_delivery *dv = a->dv;
      if (!id_of(json_object_get(item, "article_id"), dv->external_id, sizeof dv->external_id)) continue;
      const char *url = json_string_value(json_object_get(news, "url"));
      snprintf(dv->url, sizeof dv->url, "%s", url ? url : "");
      json_object_set_new(dv->progress, "url", json_string(dv->url));
      char serr[256];
      if (remember(dv, "article_id", dv->external_id, serr, sizeof serr) < 0)
        zw_warn(dv->release_id, "article %s not noted in the progress: %s", dv->external_id, serr);
      zw_info(dv->release_id, "wechat article %s found published (revision %d) after a lost submit answer",
              dv->external_id, dv->revision);
      count_article(a, "published");
      json_decref(answer);
      return ZW_OK;
    }
    json_t *total = json_object_get(answer, "total_count");
    more = more && (!json_is_integer(total) || json_integer_value(total) > (page + 1) * LOST_SEARCH_PAGE);
    json_decref(answer);
    if (!more) break;
  }
  snprintf(err, errlen, "%s; draft %s is gone and its article is not among the newest published yet: "
           "looking again at the next attempt", why, progress_str(a->dv, "media_id"));
  return ZW_RETRY;
}

/* freepublish/submit of the saved draft; saves publish_id in the progress.
 * resumed: the draft comes from an earlier attempt, whose submit may have
 * gone through without its answer arriving; then a draft that is gone sends
 * the attempt to the published list (find_lost), and *adopted says the
 * article was found there. */
static enum zw_outcome submit(struct attempt *a, bool resumed, bool *adopted, char *err, size_t errlen) {
  const char *media_id = progress_str(a->dv, "media_id");
  *adopted = false;
  json_t *body = json_pack("{s:s}", "media_id", media_id), *answer = NULL;
  char publish_id[128], serr[256];
  struct wechat_failure failure = {0};
  enum zw_outcome o = ZW_RETRY;
  if (!body) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  o = call(a, "freepublish/submit", body, &answer, &failure, err, errlen);
  if (o == ZW_FAIL && resumed && failure.errcode == WECHAT_INVALID_MEDIA_ID) {
    /* Never a new draft within this delivery: that could be a second copy.
     * The earlier submit went through; its article is looked for instead. */
    char why[256];
    snprintf(why, sizeof why, "%s", err);
    o = find_lost(a, why, err, errlen);
    *adopted = o == ZW_OK;
    goto out;
  }
  if (o != ZW_OK) goto out;
  if (!id_of(json_object_get(answer, "publish_id"), publish_id, sizeof publish_id)) {
    snprintf(err, errlen, "wechat freepublish/submit: the answer has no publish_id");
    o = ZW_FAIL; /* submitted but untraceable: a retry must not submit again */
    goto out;
  }
  zw_info(a->dv->release_id, "wechat publishing: publish_id %s (revision %d)", publish_id, a->dv->revision);
  /* Unsaved, the attempt still polls to the end; a crash now is the one window
   * in which a later attempt would find only the consumed draft. */
  if (remember(a->dv, "publish_id", publish_id, serr, sizeof serr) < 0)
    zw_error(a->dv->release_id, "publish_id %s not saved: %s", publish_id, serr);
out:
  json_decref(body);
  json_decref(answer);
  return o;
}

/* Takes a finished publish job: fills dv and notes the article in the
 * progress. Returns 0, or -1 with err when the answer names no article. */
static int published(struct attempt *a, const json_t *answer, char *err, size_t errlen) {
  struct zw_delivery *dv = a->dv;
  const json_t *item = json_array_get(json_object_get(json_object_get(answer, "article_detail"), "item"), 0);
  const char *url = json_string_value(json_object_get(item, "article_url"));
  char serr[256];
  if (!id_of(json_object_get(answer, "article_id"), dv->external_id, sizeof dv->external_id)) {
    snprintf(err, errlen, "wechat freepublish/get: publish_status 0 without an article_id");
    return -1;
  }
  snprintf(dv->url, sizeof dv->url, "%s", url ? url : "");
  json_object_set_new(dv->progress, "url", json_string(dv->url));
  if (remember(dv, "article_id", dv->external_id, serr, sizeof serr) < 0)
    zw_warn(dv->release_id, "article %s not noted in the progress: %s", dv->external_id, serr);
  zw_info(dv->release_id, "wechat article %s published (revision %d)", dv->external_id, dv->revision);
  count_article(a, "published");
  return 0;
}

/* Ends a job that failed at WeChat (publish_status 2..6): returns ZW_FAIL with
 * the status named, and forgets the job, so that a replay from the DLQ submits
 * the draft again rather than reading this job's verdict once more. */
static enum zw_outcome publish_failed(struct attempt *a, const char *publish_id, json_int_t status, char *err,
                                      size_t errlen) {
  char serr[256];
  snprintf(err, errlen, "wechat publish_id %s: publish_status %lld, %s", publish_id, (long long)status,
           publish_status_names[status]);
  json_object_del(a->dv->progress, "publish_id");
  if (zw_delivery_save(a->dv, serr, sizeof serr) < 0) zw_warn(a->dv->release_id, "progress not saved: %s", serr);
  return ZW_FAIL;
}

/* Polls freepublish/get for the saved publish_id every poll_interval_ms, at
 * most poll_limit times. ZW_OK once published; ZW_RETRY while it is still
 * publishing (the next attempt polls again); ZW_FAIL for statuses 2..6. */
static enum zw_outcome poll(struct attempt *a, char *err, size_t errlen) {
  char publish_id[128];
  snprintf(publish_id, sizeof publish_id, "%s", progress_str(a->dv, "publish_id"));
  json_t *body = json_pack("{s:s}", "publish_id", publish_id);
  if (!body) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  enum zw_outcome o = ZW_RETRY;
  json_int_t status = 1;
  struct timespec interval = {a->poll_interval_ms / 1000, (a->poll_interval_ms % 1000) * 1000000};
  for (long i = 0; i < a->poll_limit && status == 1; i++) {
    if (i > 0) nanosleep(&interval, NULL);
    json_t *answer = NULL;
    o = call(a, "freepublish/get", body, &answer, NULL, err, errlen);
    if (o != ZW_OK) break;
    const json_t *st = json_object_get(answer, "publish_status");
    status = json_is_integer(st) ? json_integer_value(st) : 1;
    if (status == 0) o = published(a, answer, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
    else if (status >= 2 && status <= 6) o = publish_failed(a, publish_id, status, err, errlen);
    else status = 1; /* publishing, or a status this adapter does not know yet */
    json_decref(answer);
  }
  if (o == ZW_OK && status == 1) {
    snprintf(err, errlen, "wechat publish_id %s still publishing after %ld polls", publish_id, a->poll_limit);
    o = ZW_RETRY;
  }
  json_decref(body);
  return o;
}

/* freepublish/delete of article_id. An article already gone (53600) is fine. */
static enum zw_outcome delete_article(struct attempt *a, const char *article_id, char *err, size_t errlen) {
  json_t *body = json_pack("{s:s}", "article_id", article_id), *answer = NULL;
  if (!body) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  struct wechat_failure failure;
  enum zw_outcome o = call(a, "freepublish/delete", body, &answer, &failure, err, errlen);
  json_decref(body);
  json_decref(answer);
  if (o == ZW_FAIL && failure.errcode == WECHAT_ARTICLE_ID_INVALID) {
    zw_info(a->dv->release_id, "wechat article %s was already deleted", article_id);
    return ZW_OK;
  }
  if (o == ZW_OK) {
    zw_info(a->dv->release_id, "wechat article %s deleted", article_id);
    count_article(a, "deleted");
  }
  return o;
}

/* The article of the previous revision, when it is another revision's copy
 * this work item replaces; NULL when there is none. */
static const char *previous_article(const struct zw_delivery *dv) {
  if (!dv->previous) return NULL;
  const json_t *rev = json_object_get(dv->previous, "revision");
  if (json_is_integer(rev) && json_integer_value(rev) == dv->revision) return NULL;
  const char *id = json_string_value(json_object_get(dv->previous, "external_id"));
  return id && *id ? id : NULL;
}

/* Deletes the previous revision's article unless the progress says it is done. */
static enum zw_outcome replace_previous(struct attempt *a, char *err, size_t errlen) {
  const char *old = previous_article(a->dv);
  const char *done = progress_str(a->dv, "deleted_previous");
  if (!old || (done && strcmp(done, old) == 0)) return ZW_OK;
  enum zw_outcome o = delete_article(a, old, err, errlen);
  char serr[256];
  if (o == ZW_OK && remember(a->dv, "deleted_previous", old, serr, sizeof serr) < 0)
    zw_warn(a->dv->release_id, "deletion of %s not noted (a retry deletes again, harmlessly): %s", old, serr);
  return o;
}

/* Reads the settings of one attempt from the current configuration. */
static void attempt_start(struct attempt *a, struct wechat *w, struct zw_delivery *dv) {
  const struct zw_config *cfg = zw_daemon_config(w->d);
  *a = (struct attempt){.w = w,
                        .dv = dv,
                        .author = zw_config_str(cfg, "wechat.author"),
                        .thumb_media_id = zw_config_str(cfg, "wechat.thumb_media_id"),
                        .poll_interval_ms = zw_config_int(cfg, "wechat.poll_interval_ms"),
                        .poll_limit = zw_config_int(cfg, "wechat.poll_limit"),
                        .retry_cap_ms = zw_config_int(cfg, "delivery.retry_cap_ms")};
  if (a->poll_limit < 1) a->poll_limit = 1;
  if (a->poll_interval_ms < 0) a->poll_interval_ms = 0;
  wechat_api_set_timeout(w->api, zw_config_int(cfg, "wechat.timeout_ms"));
}

/* Publishes this revision, resuming from its progress: article_id (done),
 * publish_id (poll), media_id (submit), nothing (draft first). An update's or
 * republication's earlier article is deleted after the draft was accepted and
 * before the new one is submitted. */
static enum zw_outcome deliver(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct attempt a;
  attempt_start(&a, state, dv);
  if (!json_is_object(dv->progress)) {
    snprintf(err, errlen, "the runner gave no progress object");
    return ZW_FAIL;
  }
  const char *done = progress_str(dv, "article_id");
  if (done) {
    snprintf(dv->external_id, sizeof dv->external_id, "%s", done);
    const char *url = progress_str(dv, "url");
    snprintf(dv->url, sizeof dv->url, "%s", url ? url : "");
    zw_info(dv->release_id, "wechat revision %d was published before as %s", dv->revision, done);
    return ZW_OK;
  }
  enum zw_outcome o = ZW_OK;
  bool adopted = false;
  if (!progress_str(dv, "publish_id")) {
    bool resumed = progress_str(dv, "media_id") != NULL;
    if (!resumed) o = draft_add(&a, err, errlen);
    if (o == ZW_OK) o = replace_previous(&a, err, errlen);
    if (o == ZW_OK) o = submit(&a, resumed, &adopted, err, errlen);
  }
  return o == ZW_OK && !adopted ? poll(&a, err, errlen) : o;
}

/* Deletes the article of the revision last delivered; nothing there is done. */
static enum zw_outcome withdraw(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct attempt a;
  attempt_start(&a, state, dv);
  const char *old = dv->previous ? json_string_value(json_object_get(dv->previous, "external_id")) : NULL;
  if (!old || !*old) {
    zw_info(dv->release_id, "wechat withdrawal of revision %d: no article on wechat, nothing to delete",
            dv->revision);
    return ZW_OK;
  }
  snprintf(dv->external_id, sizeof dv->external_id, "%s", old);
  return delete_article(&a, old, err, errlen);
}

/* Counts the UTF-8 characters of s. */
static size_t characters(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* Checks the settings the adapter cannot work without; returns 0 or -1 with err. */
static int check_config(const struct zw_config *cfg, char *err, size_t errlen) {
  static const char *const required[][2] = {{"wechat.base_url", "ZWGK_WECHAT_BASE_URL"},
                                            {"wechat.appid", "ZWGK_WECHAT_APPID"},
                                            {"wechat.secret", "ZWGK_WECHAT_SECRET"},
                                            {"wechat.thumb_media_id", "ZWGK_WECHAT_THUMB_MEDIA_ID"}};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    if (!*zw_config_str(cfg, required[i][0])) {
      snprintf(err, errlen, "%s is empty: set it in the config file or with %s", required[i][0], required[i][1]);
      return -1;
    }
  }
  const char *base = zw_config_str(cfg, "wechat.base_url");
  if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) {
    snprintf(err, errlen, "wechat.base_url %s is not an http(s) URL", base);
    return -1;
  }
  if (characters(zw_config_str(cfg, "wechat.author")) > 16) {
    snprintf(err, errlen, "wechat.author is longer than the 16 characters WeChat allows");
    return -1;
  }
  return 0;
}

/* Frees the adapter; accepts NULL and a half-built state. */
static void destroy(void *state) {
  struct wechat *w = state;
  if (!w) return;
  wechat_api_destroy(w->api);
  free(w);
}

/* Asks for an access token once at start-up: credentials the API refuses for
 * good (40013 appid, 40125 secret, 40164 IP not whitelisted) stop the daemon
 * here, before it would dead-letter every work item; an API that cannot be
 * reached now is only a warning. Returns 0 or -1 with err. */
static int check_credentials(struct wechat *w, char *err, size_t errlen) {
  struct wechat_failure failure;
  char why[512];
  enum zw_outcome o = wechat_api_token(w->api, false, &failure, why, sizeof why);
  if (o == ZW_FAIL) {
    snprintf(err, errlen, "the WeChat API refuses the account's credentials: %s", why);
    return -1;
  }
  if (o == ZW_RETRY) zw_warn(NULL, "no access token yet (deliveries will retry): %s", why);
  return 0;
}

/* Builds the adapter from the [wechat] settings: NULL with err when one it
 * cannot work without is missing or the API refuses the credentials. */
static void *init(struct zw_daemon *d, struct zw_pg *pg, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(d);
  struct wechat *w = NULL;
  if (check_config(cfg, err, errlen) < 0) return NULL;
  w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  w->d = d;
  struct wechat_api_settings s = {.base_url = zw_config_str(cfg, "wechat.base_url"),
                                  .appid = zw_config_str(cfg, "wechat.appid"),
                                  .secret = zw_config_str(cfg, "wechat.secret"),
                                  .timeout_ms = zw_config_int(cfg, "wechat.timeout_ms"),
                                  .metrics = zw_daemon_metrics(d)};
  w->api = wechat_api_new(&s, err, errlen);
  if (!w->api || check_credentials(w, err, errlen) < 0) goto failed;
  zw_metrics_declare(zw_daemon_metrics(d), "zwgk_wechat_articles_total", ZW_COUNTER,
                     "Articles published and deleted on the Official Account");
  zw_info(NULL, "wechat adapter for appid %s at %s", s.appid, s.base_url);
  return w;
failed:
  destroy(w);
  return NULL;
}

static const struct zw_adapter_ops wechat_ops = {"wechat", init, deliver, withdraw, destroy, NULL, false};

int main(int argc, char **argv) { return zw_adapter_main(&wechat_ops, argc, argv); }
