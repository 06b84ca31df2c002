/* zwgk-portal — the portal adapter: keeps the static 政府信息公开 site under the
 * document root in step with zwgk.channel.portal and serves it over HTTP. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "dirty.h"
#include "site.h"
#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_static.h"

struct portal {
  struct site site;
  struct zw_static_server *serve;
  char base_url[512]; /* portal.base_url without a trailing slash */
  /* Pages that list articles, re-rendered once per batch (flush): the
   * columns and villages the batch touched, and the index and feed. */
  struct dirty columns, villages;
  bool index_dirty;
  struct event *retry; /* flushes again what a failed flush left */
};

static const struct zw_static_site portal_site = {"/zwgk/", "/zwgk/index.html", false};

static enum zw_outcome failed(bool transient) { return transient ? ZW_RETRY : ZW_FAIL; }

/* Renders the article's page now, and notes the pages that list it for the
 * batch's flush. */
static enum zw_outcome render_all(struct portal *p, const char *rid, const char *column, const char *region,
                                  char *err, size_t errlen) {
  bool transient = false;
  if (site_article(&p->site, rid, &transient, err, errlen) < 0) return failed(transient);
  if (dirty_add(&p->columns, column) < 0 ||
      (region && strlen(region) == 12 && dirty_add(&p->villages, region) < 0)) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  p->index_dirty = true;
  return ZW_OK;
}

static int render_column(void *arg, const char *column) {
  struct portal *p = arg;
  bool transient;
  char err[512];
  if (site_column(&p->site, column, &transient, err, sizeof err) == 0) return 0;
  zw_warn(NULL, "column page %s not rendered (tried again shortly): %s", column, err);
  return -1;
}

static int render_village(void *arg, const char *region) {
  struct portal *p = arg;
  bool transient;
  char err[512];
  if (site_village(&p->site, region, &transient, err, sizeof err) == 0) return 0;
  zw_warn(NULL, "village page %s not rendered (tried again shortly): %s", region, err);
  return -1;
}

/* Renders the list pages the last batch touched: each column and village
 * page once, then the index and the feed. What fails is tried again a second
 * later, and with the next batch. */
static void flush(void *state) {
  struct portal *p = state;
  bool left = dirty_render(&p->columns, render_column, p) < 0;
  left |= dirty_render(&p->villages, render_village, p) < 0;
  if (p->index_dirty) {
    bool transient;
    char err[512];
    if (site_index(&p->site, &transient, err, sizeof err) < 0 ||
        site_feed(&p->site, p->base_url, &transient, err, sizeof err) < 0) {
      zw_warn(NULL, "index or feed not rendered (tried again shortly): %s", err);
      left = true;
    } else {
      p->index_dirty = false;
    }
  }
  if (left && p->retry) {
    struct timeval second = {1, 0};
    event_add(p->retry, &second);
  }
}

static void on_retry(evutil_socket_t fd, short what, void *arg) { flush(arg); }

static const char upsert_sql[] =
    "INSERT INTO portal_articles AS a (release_id, revision, column_path, region_code, department, title, "
    "  summary, body_html, status, published_at, history) "
    "VALUES ($1, $2::int, $3, $4, $5, $6, $7, $8, 'published', now(), "
    "  jsonb_build_array(jsonb_build_object('revision', $2::int, 'title', $6::text, "
    "    'at', to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')))) "
    "ON CONFLICT (release_id) DO UPDATE SET revision = EXCLUDED.revision, column_path = EXCLUDED.column_path, "
    "  region_code = EXCLUDED.region_code, title = EXCLUDED.title, summary = EXCLUDED.summary, "
    "  body_html = EXCLUDED.body_html, status = 'published', withdrawn_at = NULL, updated_at = now(), "
    "  history = CASE WHEN a.revision = EXCLUDED.revision THEN a.history ELSE a.history || EXCLUDED.history END "
    "WHERE a.revision <= EXCLUDED.revision";

static enum zw_outcome deliver(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct portal *p = state;
  const json_t *pl = dv->payload;
  const char *column = json_string_value(json_object_get(pl, "column"));
  const char *region = json_string_value(json_object_get(pl, "region_code"));
  if (!site_column_valid(column) || !zw_is_release_id(dv->release_id)) {
    snprintf(err, errlen, "unsafe column or release id in the payload");
    return ZW_FAIL;
  }
  char rev[16];
  snprintf(rev, sizeof rev, "%d", dv->revision);
  const char *params[] = {dv->release_id, rev, column, region,
                          json_string_value(json_object_get(pl, "department")),
                          json_string_value(json_object_get(pl, "title")),
                          json_string_value(json_object_get(pl, "summary")),
                          json_string_value(json_object_get(pl, "body_html"))};
  bool transient;
  PGresult *res = zw_pg_exec(p->site.pg, upsert_sql, 8, params, &transient, err, errlen);
  if (!res) return failed(transient);
  PQclear(res);
  enum zw_outcome o = render_all(p, dv->release_id, column, region, err, errlen);
  snprintf(dv->external_id, sizeof dv->external_id, "%s", dv->release_id);
  snprintf(dv->url, sizeof dv->url, "%s%s", p->base_url,
           json_string_value(json_object_get(pl, "url_path")));
  return o;
}

static enum zw_outcome withdraw(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  struct portal *p = state;
  const char *params[] = {dv->release_id};
  bool transient;
  PGresult *res = zw_pg_exec(p->site.pg,
                             "UPDATE portal_articles SET status = 'withdrawn', "
                             "  withdrawn_at = coalesce(withdrawn_at, now()), updated_at = now() "
                             "WHERE release_id = $1 RETURNING column_path, coalesce(region_code, '')",
                             1, params, &transient, err, errlen);
  if (!res) return failed(transient);
  enum zw_outcome o = ZW_OK;
  if (PQntuples(res) == 1) {
    o = render_all(p, dv->release_id, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), err, errlen);
    snprintf(dv->url, sizeof dv->url, "%s/zwgk/%s/%s.html", p->base_url, PQgetvalue(res, 0, 0),
             dv->release_id);
  }
  snprintf(dv->external_id, sizeof dv->external_id, "%s", dv->release_id);
  PQclear(res);
  return o;
}

static void *init(struct zw_daemon *d, struct zw_pg *pg, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(d);
  struct portal *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->site.pg = pg;
  snprintf(p->site.docroot, sizeof p->site.docroot, "%s", zw_config_str(cfg, "portal.docroot"));
  snprintf(p->site.name, sizeof p->site.name, "%s", zw_config_str(cfg, "portal.site_name"));
  snprintf(p->base_url, sizeof p->base_url, "%s", zw_config_str(cfg, "portal.base_url"));
  size_t n = strlen(p->base_url);
  if (n && p->base_url[n - 1] == '/') p->base_url[n - 1] = '\0';
  p->serve = zw_static_server_new(zw_daemon_base(d), zw_config_str(cfg, "portal.listen"), p->site.docroot,
                                  &portal_site, err, errlen);
  if (!p->serve) {
    free(p);
    return NULL;
  }
  if (!(p->retry = evtimer_new(zw_daemon_base(d), on_retry, p))) {
    snprintf(err, errlen, "out of memory");
    zw_static_server_destroy(p->serve);
    free(p);
    return NULL;
  }
  bool transient;
  char ierr[512];
  if (site_index(&p->site, &transient, ierr, sizeof ierr) < 0) zw_warn(NULL, "index not rendered yet: %s", ierr);
  return p;
}

static void destroy(void *state) {
  struct portal *p = state;
  if (!p) return;
  if (p->columns.n || p->villages.n || p->index_dirty) flush(p); /* a last try before the exit */
  if (p->retry) event_free(p->retry);
  dirty_free(&p->columns);
  dirty_free(&p->villages);
  zw_static_server_destroy(p->serve);
  free(p);
}

static const struct zw_adapter_ops portal_ops = {"portal", init, deliver, withdraw, destroy, flush, true};

int main(int argc, char **argv) { return zw_adapter_main(&portal_ops, argc, argv); }
