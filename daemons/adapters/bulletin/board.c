/* board — sidecars, atomic writes and directory scans of the bulletin boards. */
#include "board.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zw_static.h"

#include "zw_envelope.h"
#include "zw_log.h"

bool board_region_valid(const char *code) {
  size_t n = code ? strlen(code) : 0;
  if (n < 6 || n > 12) return false;
  for (size_t i = 0; i < n; i++)
    if (code[i] < '0' || code[i] > '9') return false;
  return true;
}

const char *board_region_of(const char *code) { return board_region_valid(code) ? code : "all"; }

static bool board_dir_name(const char *name) { return strcmp(name, "all") == 0 || board_region_valid(name); }

void board_now(char out[48]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  time_t t = ts.tv_sec + 8 * 3600;
  struct tm tm;
  char seconds[24];
  gmtime_r(&t, &tm);
  if (strftime(seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &tm) == 0) *seconds = '\0';
  snprintf(out, 48, "%s.%03ld+08:00", seconds, ts.tv_nsec / 1000000);
}

int board_write(const struct board *b, const char *relpath, const char *content, size_t len, char *err,
                size_t errlen) {
  return zw_static_write(b->docroot, relpath, content, len, err, errlen);
}

/* True for "<32 hex>.json", the only sidecar names. */
static bool sidecar_name(const char *name, char release_id[ZW_RELEASE_ID_LEN + 1]) {
  if (strlen(name) != ZW_RELEASE_ID_LEN + 5 || strcmp(name + ZW_RELEASE_ID_LEN, ".json") != 0) return false;
  memcpy(release_id, name, ZW_RELEASE_ID_LEN);
  release_id[ZW_RELEASE_ID_LEN] = '\0';
  return zw_is_release_id(release_id);
}

/* The cached notices of region ({release_id -> sidecar}), or NULL when that
 * board has not been read yet. */
static json_t *cached(const struct board *b, const char *region) {
  return b->cache ? json_object_get(b->cache, region) : NULL;
}

int board_remove(const struct board *b, const char *relpath, char *err, size_t errlen) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", b->docroot, relpath);
  if (unlink(path) != 0 && errno != ENOENT) {
    snprintf(err, errlen, "removing %s: %s", path, strerror(errno));
    return -1;
  }
  /* bulletin/<region>/<release_id>.json: that notice leaves the cached board. */
  char region[BOARD_REGION_MAX], rid[ZW_RELEASE_ID_LEN + 1];
  const char *slash = strncmp(relpath, "bulletin/", 9) == 0 ? strchr(relpath + 9, '/') : NULL;
  if (slash && (size_t)(slash - relpath - 9) < sizeof region && sidecar_name(slash + 1, rid)) {
    snprintf(region, sizeof region, "%.*s", (int)(slash - relpath - 9), relpath + 9);
    json_t *notices = cached(b, region);
    /* An older notice, not kept, takes its place in the index: read again. */
    if (notices && !json_object_del(notices, rid) && b->trimmed && json_object_get(b->trimmed, region))
      json_object_del(b->cache, region);
  }
  return 0;
}

void board_forget(struct board *b) {
  json_decref(b->cache);
  json_decref(b->trimmed);
  b->cache = b->trimmed = NULL;
}

/* Reads a sidecar from disk: a new reference, or NULL. */
static json_t *meta_read(const struct board *b, const char *region, const char *release_id) {
  char path[1024];
  snprintf(path, sizeof path, "%s/bulletin/%s/%s.json", b->docroot, region, release_id);
  if (access(path, F_OK) != 0) return NULL;
  json_error_t jerr;
  json_t *meta = json_load_file(path, 0, &jerr);
  if (!json_is_object(meta)) {
    zw_warn(release_id, "unreadable sidecar %s: %s", path, meta ? "not an object" : jerr.text);
    json_decref(meta);
    return NULL;
  }
  return meta;
}

json_t *board_meta_load(const struct board *b, const char *region, const char *release_id) {
  json_t *notices = cached(b, region);
  if (!notices) return meta_read(b, region, release_id);
  json_t *meta = json_object_get(notices, release_id);
  if (meta) return json_deep_copy(meta); /* the caller may change its copy */
  return b->trimmed && json_object_get(b->trimmed, region) ? meta_read(b, region, release_id) : NULL;
}

int board_meta_save(const struct board *b, const char *region, const char *release_id, const json_t *meta,
                    char *err, size_t errlen) {
  char relpath[128];
  snprintf(relpath, sizeof relpath, "bulletin/%s/%s.json", region, release_id);
  char *text = json_dumps(meta, JSON_INDENT(1) | JSON_SORT_KEYS);
  if (!text) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = board_write(b, relpath, text, strlen(text), err, errlen);
  free(text);
  json_t *notices = cached(b, region);
  if (rc == 0 && notices && json_object_set_new(notices, release_id, json_deep_copy(meta)) < 0)
    json_object_del(b->cache, region); /* out of memory: read that board from disk again */
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Sorts a JSON array in place with cmp over its elements. */
static int sort_array(json_t *array, int (*cmp)(const void *, const void *)) {
  size_t n = json_array_size(array);
  json_t **items = calloc(n ? n : 1, sizeof *items);
  if (!items) return -1;
  for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(array, i));
  qsort(items, n, sizeof *items, cmp);
  json_array_clear(array);
  for (size_t i = 0; i < n; i++) json_array_append_new(array, items[i]);
  free(items);
  return 0;
}

json_t *board_regions(const struct board *b) {
  char path[600];
  snprintf(path, sizeof path, "%s/bulletin", b->docroot);
  json_t *regions = json_array();
  DIR *dir = regions ? opendir(path) : NULL;
  if (!dir) return regions; /* no board yet */
  struct dirent *e;
  while ((e = readdir(dir)))
    if (board_dir_name(e->d_name)) json_array_append_new(regions, json_string(e->d_name));
  closedir(dir);
  if (sort_array(regions, by_name) < 0) {
    json_decref(regions);
    return NULL;
  }
  return regions;
}

/* Newest first: published_at descending, then release_id ascending. */
static int by_newest(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  const char *px = json_string_value(json_object_get(x, "published_at"));
  const char *py = json_string_value(json_object_get(y, "published_at"));
  int c = strcmp(py ? py : "", px ? px : "");
  if (c) return c;
  const char *rx = json_string_value(json_object_get(x, "release_id"));
  const char *ry = json_string_value(json_object_get(y, "release_id"));
  return strcmp(rx ? rx : "", ry ? ry : "");
}

/* Reads every sidecar of board region from disk: {release_id -> sidecar},
 * or NULL when out of memory. */
static json_t *board_read(const struct board *b, const char *region) {
  char path[600], rid[ZW_RELEASE_ID_LEN + 1];
  snprintf(path, sizeof path, "%s/bulletin/%s", b->docroot, region);
  json_t *by_id = json_object();
  DIR *dir = by_id ? opendir(path) : NULL;
  if (!dir) return by_id; /* no such board yet */
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (!sidecar_name(e->d_name, rid)) continue;
    json_t *meta = meta_read(b, region, rid);
    if (meta) json_object_set_new(by_id, rid, meta);
  }
  closedir(dir);
  return by_id;
}

json_t *board_notices(const struct board *b, const char *region, bool *more) {
  json_t *by_id = cached(b, region);
  bool fresh = !by_id;
  if (by_id) json_incref(by_id);
  else if (!(by_id = board_read(b, region))) return NULL;
  json_t *notices = json_array();
  const char *rid;
  json_t *meta;
  json_object_foreach(by_id, rid, meta) json_array_append(notices, meta);
  if (!notices || sort_array(notices, by_newest) < 0) {
    json_decref(by_id);
    json_decref(notices);
    return NULL;
  }
  /* Keep the newest; the older ones stay on disk only. */
  bool trimmed = b->trimmed && json_object_get(b->trimmed, region);
  while (json_array_size(notices) > BOARD_INDEX_MAX) {
    size_t last = json_array_size(notices) - 1;
    json_object_del(by_id, json_string_value(json_object_get(json_array_get(notices, last), "release_id")));
    json_array_remove(notices, last);
    trimmed = true;
  }
  if (b->cache && b->trimmed) {
    if (fresh) json_object_set(b->cache, region, by_id);
    if (trimmed) json_object_set_new(b->trimmed, region, json_true());
    else json_object_del(b->trimmed, region);
  }
  json_decref(by_id);
  *more = trimmed;
  return notices;
}
