/* zwgk-bulletin — the bulletin-board adapter: keeps print-ready A4 notices
 * for village and community 公示栏 boards and screens under the document root
 * in step with zwgk.channel.bulletin, and serves them over HTTP. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "board.h"
#include "dirty.h"
#include "page.h"
#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_static.h"

struct bulletin {
  struct zw_daemon *d;
  struct board board;
  struct zw_static_server *serve;
  char base_url[512]; /* bulletin.base_url without a trailing slash */
  /* Indexes re-rendered once per batch (flush): the boards the batch touched,
   * and the list of boards. */
  struct dirty boards;
  bool boards_dirty;
  struct event *retry; /* flushes again what a failed flush left */
};

/* Notes board region's index, and the list of boards, for the batch's flush. */
static int touch(struct bulletin *bl, const char *region, char *err, size_t errlen) {
  if (dirty_add(&bl->boards, region) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  bl->boards_dirty = true;
  return 0;
}

/* The string member key of obj, or NULL. */
static const char *jstr(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

/* Copies member key of from into to when it is a non-empty string. */
static void copy_str(json_t *to, const json_t *from, const char *key) {
  const char *s = jstr(from, key);
  if (s && *s) json_object_set_new(to, key, json_string(s));
}

/* Counts one notice written, by action. */
static void count(struct bulletin *bl, const char *action) {
  char label[64];
  zw_metrics_add(zw_daemon_metrics(bl->d), "zwgk_bulletin_notices_total",
                 zw_metrics_label(label, sizeof label, "action", action), 1);
}

/* Fills the receipt's external_id ("<board>/<release_id>") and url. */
static void locate(struct bulletin *bl, struct zw_delivery *dv, const char *region) {
  snprintf(dv->external_id, sizeof dv->external_id, "%s/%s", region, dv->release_id);
  snprintf(dv->url, sizeof dv->url, "%s/bulletin/%s/%s.html", bl->base_url, region, dv->release_id);
}

/* The sidecar of a delivered notice: what its page and the index show, the
 * first time this board showed it and every revision it carried. old is the
 * sidecar it replaces, or NULL. Returns a new object or NULL (out of memory). */
static json_t *notice_meta(const struct zw_delivery *dv, const char *region, const json_t *old) {
  const json_t *pl = dv->payload;
  char now[48], date[11] = "";
  board_now(now);
  const char *formed = jstr(pl, "formed_at");
  if (formed && strlen(formed) >= 10 && formed[4] == '-' && formed[7] == '-') memcpy(date, formed, 10);
  else memcpy(date, now, 10);
  const char *published = jstr(old, "published_at");
  json_t *revisions = json_is_array(json_object_get(old, "revisions"))
                          ? json_deep_copy(json_object_get(old, "revisions"))
                          : json_array();
  json_t *last = json_array_get(revisions, json_array_size(revisions) - 1);
  if (!last || json_integer_value(json_object_get(last, "revision")) != dv->revision)
    json_array_append_new(revisions, json_pack("{s:i, s:s}", "revision", dv->revision, "at", now));
  json_t *meta = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "release_id", dv->release_id, "revision",
                           dv->revision, "region", region, "date", date, "status", "published", "published_at",
                           published ? published : now, "updated_at", now, "revisions", revisions);
  if (!meta) return NULL;
  static const char *const keys[] = {"region_name", "title", "summary", "department", "department_name",
                                     "doc_type", "column_name", "portal_url", NULL};
  for (const char *const *k = keys; *k; k++) copy_str(meta, pl, *k);
  return meta;
}

/* Writes a notice's page and sidecar on its board, and notes the board's
 * index and the list of boards for the flush. body_html is NULL for a
 * withdrawn notice. */
static int publish_files(struct bulletin *bl, const char *region, const char *rid, const json_t *meta,
                         const char *body_html, char *err, size_t errlen) {
  char marker[128];
  snprintf(marker, sizeof marker, "bulletin/%s/%s.html.gone", region, rid);
  bool withdrawn = strcmp(jstr(meta, "status"), "withdrawn") == 0;
  if (page_notice(&bl->board, meta, body_html, err, errlen) < 0 ||
      board_meta_save(&bl->board, region, rid, meta, err, errlen) < 0)
    return -1;
  if (withdrawn ? board_write(&bl->board, marker, "", 0, err, errlen) < 0
                : board_remove(&bl->board, marker, err, errlen) < 0)
    return -1;
  return touch(bl, region, err, errlen);
}

/* Takes notice rid off every board but keep (NULL: all), noting their
 * indexes for the flush: a notice whose region changed leaves its old board. */
static int remove_elsewhere(struct bulletin *bl, const char *rid, const char *keep, char *err, size_t errlen) {
  json_t *regions = board_regions(&bl->board);
  if (!regions) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = 0;
  size_t i;
  json_t *r;
  json_array_foreach(regions, i, r) {
    const char *region = json_string_value(r);
    json_t *meta = keep && strcmp(region, keep) == 0 ? NULL : board_meta_load(&bl->board, region, rid);
    if (!meta) continue;
    json_decref(meta);
    char rel[128];
    static const char *const suffixes[] = {".json", ".html", ".html.gone", NULL};
    for (const char *const *s = suffixes; rc == 0 && *s; s++) {
      snprintf(rel, sizeof rel, "bulletin/%s/%s%s", region, rid, *s);
      rc = board_remove(&bl->board, rel, err, errlen);
    }
    if (rc == 0) rc = touch(bl, region, err, errlen);
    if (rc < 0) break;
    zw_info(rid, "notice moved off board %s", region);
  }
  json_decref(regions);
  return rc;
}

static enum zw_outcome deliver(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct bulletin *bl = state;
  const json_t *pl = dv->payload;
  const char *code = jstr(pl, "region_code"), *title = jstr(pl, "title");
  if (!zw_is_release_id(dv->release_id) || !title || !*title) {
    snprintf(err, errlen, "payload without a title, or an unsafe release id");
    return ZW_FAIL;
  }
  const char *region = board_region_of(code);
  if (code && *code && !board_region_valid(code))
    zw_warn(dv->release_id, "region_code is not a division code; the notice goes to board 'all'");
  json_t *old = board_meta_load(&bl->board, region, dv->release_id);
  json_int_t old_revision = json_integer_value(json_object_get(old, "revision"));
  if (old && old_revision > dv->revision) {
    zw_info(dv->release_id, "board %s already shows revision %lld; revision %d not written", region,
            (long long)old_revision, dv->revision);
    json_decref(old);
    locate(bl, dv, region);
    return ZW_OK;
  }
  json_t *meta = notice_meta(dv, region, old);
  json_decref(old);
  enum zw_outcome o = ZW_RETRY; /* a full or unwritable disk may heal */
  if (!meta) snprintf(err, errlen, "out of memory");
  else if (publish_files(bl, region, dv->release_id, meta, jstr(pl, "body_html"), err, errlen) == 0 &&
           remove_elsewhere(bl, dv->release_id, region, err, errlen) == 0)
    o = ZW_OK;
  json_decref(meta);
  if (o != ZW_OK) return o;
  locate(bl, dv, region);
  count(bl, strcmp(dv->action, "update") == 0 ? "update" : "publish");
  return ZW_OK;
}

/* Marks notice rid withdrawn on board region. */
static int withdraw_on(struct bulletin *bl, const struct zw_delivery *dv, const char *region, json_t *meta,
                       char *err, size_t errlen) {
  char now[48];
  board_now(now);
  if (strcmp(jstr(meta, "status") ? jstr(meta, "status") : "", "withdrawn") != 0)
    json_object_set_new(meta, "withdrawn_at", json_string(now));
  json_object_set_new(meta, "status", json_string("withdrawn"));
  json_object_set_new(meta, "withdrawn_revision", json_integer(dv->revision));
  json_object_set_new(meta, "updated_at", json_string(now));
  return publish_files(bl, region, dv->release_id, meta, NULL, err, errlen);
}

static enum zw_outcome withdraw(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct bulletin *bl = state;
  if (!zw_is_release_id(dv->release_id)) {
    snprintf(err, errlen, "unsafe release id");
    return ZW_FAIL;
  }
  json_t *regions = board_regions(&bl->board);
  if (!regions) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  enum zw_outcome o = ZW_OK;
  size_t i;
  json_t *r;
  json_array_foreach(regions, i, r) {
    const char *region = json_string_value(r);
    json_t *meta = board_meta_load(&bl->board, region, dv->release_id);
    if (!meta) continue;
    if (json_integer_value(json_object_get(meta, "revision")) > dv->revision)
      zw_info(dv->release_id, "board %s shows a revision newer than withdrawal %d; kept", region, dv->revision);
    else if (withdraw_on(bl, dv, region, meta, err, errlen) < 0)
      o = ZW_RETRY;
    else
      locate(bl, dv, region);
    json_decref(meta);
    if (o != ZW_OK) break;
  }
  json_decref(regions);
  if (o == ZW_OK && !*dv->external_id) zw_info(dv->release_id, "not on any board; nothing to withdraw");
  else if (o == ZW_OK) count(bl, "withdraw");
  return o;
}

static int render_board(void *arg, const char *region) {
  struct bulletin *bl = arg;
  char err[512];
  if (page_board_index(&bl->board, region, err, sizeof err) == 0) return 0;
  zw_warn(NULL, "index of board %s not rendered (tried again shortly): %s", region, err);
  return -1;
}

/* Renders the indexes the last batch touched, each once, then the list of
 * boards. What fails is tried again a second later, and with the next batch. */
static void flush(void *state) {
  struct bulletin *bl = state;
  bool left = dirty_render(&bl->boards, render_board, bl) < 0;
  if (!left && bl->boards_dirty) {
    char err[512];
    if (page_boards(&bl->board, err, sizeof err) < 0) {
      zw_warn(NULL, "list of boards not rendered (tried again shortly): %s", err);
      left = true;
    } else {
      bl->boards_dirty = false;
    }
  }
  if (left && bl->retry) {
    struct timeval second = {1, 0};
    event_add(bl->retry, &second);
  }
}

static void on_retry(evutil_socket_t fd, short what, void *arg) { flush(arg); }

/* The boards' pages: only .html files under /bulletin/ (sidecars stay private). */
static const struct zw_static_site bulletin_site = {"/bulletin/", "/bulletin/index.html", true};

static void *init(struct zw_daemon *d, struct zw_pg *pg, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(d);
  struct bulletin *bl = calloc(1, sizeof *bl);
  if (!bl) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  bl->d = d;
  bl->board.cache = json_object(); /* either NULL only reads the disk every time */
  bl->board.trimmed = json_object();
  snprintf(bl->board.docroot, sizeof bl->board.docroot, "%s", zw_config_str(cfg, "bulletin.docroot"));
  snprintf(bl->base_url, sizeof bl->base_url, "%s", zw_config_str(cfg, "bulletin.base_url"));
  size_t n = strlen(bl->board.docroot);
  if (n > 1 && bl->board.docroot[n - 1] == '/') bl->board.docroot[n - 1] = '\0';
  n = strlen(bl->base_url);
  if (n && bl->base_url[n - 1] == '/') bl->base_url[n - 1] = '\0';
  zw_metrics_declare(zw_daemon_metrics(d), "zwgk_bulletin_notices_total", ZW_COUNTER,
                     "Notices written, by action (publish, update, withdraw)");
  /* The list of boards is written first: it proves the document root writable. */
  if (page_boards(&bl->board, err, errlen) < 0 ||
      !(bl->serve = zw_static_server_new(zw_daemon_base(d), zw_config_str(cfg, "bulletin.listen"),
                                         bl->board.docroot, &bulletin_site, err, errlen)) ||
      !(bl->retry = evtimer_new(zw_daemon_base(d), on_retry, bl))) {
    if (!*err) snprintf(err, errlen, "out of memory");
    zw_static_server_destroy(bl->serve);
    board_forget(&bl->board);
    free(bl);
    return NULL;
  }
  return bl;
}

static void destroy(void *state) {
  struct bulletin *bl = state;
  if (!bl) return;
  if (bl->boards.n || bl->boards_dirty) flush(bl); /* a last try before the exit */
  if (bl->retry) event_free(bl->retry);
  dirty_free(&bl->boards);
  zw_static_server_destroy(bl->serve);
  board_forget(&bl->board);
  free(bl);
}

static const struct zw_adapter_ops bulletin_ops = {"bulletin", init, deliver, withdraw, destroy, flush, true};

int main(int argc, char **argv) { return zw_adapter_main(&bulletin_ops, argc, argv); }
