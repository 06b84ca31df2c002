/* site — renders the portal's pages from PostgreSQL and writes them atomically. */
#include "site.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zw_html.h"
#include "zw_static.h"
#include "zw_text.h"

/* Writes s escaped, without the characters no page or feed may hold (the
 * fan-out removes them; rows written before it did may still have them). */
static void E(FILE *out, const char *s) {
  char *clean = zw_text_clean(s);
  zw_html_escape(out, clean ? clean : "");
  free(clean);
}

/* Writes s as plain text, escaped: for the feed, whose readers show a
 * title and a description as HTML, so no text of a release may look like
 * markup there. */
static void plain(FILE *out, const char *s) {
  char *text = zw_text_plain(s);
  zw_html_escape(out, text ? text : "");
  free(text);
}

bool site_column_valid(const char *column) {
  if (!column || !*column || *column == '/' || column[strlen(column) - 1] == '/' || strstr(column, "//"))
    return false;
  for (const char *p = column; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '/')) return false;
  return true;
}

int site_write(const struct site *s, const char *relpath, const char *content, size_t len, char *err,
               size_t errlen) {
  return zw_static_write(s->docroot, relpath, content, len, err, errlen);
}

/* Writes the page head: doctype, title, the section's navigation. */
static void page_head(FILE *out, const struct site *s, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
  E(out, title);
  fputs(" - ", out);
  E(out, s->name);
  fputs("</title>\n<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em;line-height:1.6}"
        "nav a{margin-right:1em}.meta{color:#555}table{border-collapse:collapse}td,th{border:1px solid #999;"
        "padding:.2em .5em}.withdrawn{color:#a00;font-weight:bold}</style>\n</head>\n<body>\n<header>\n<nav>"
        "<a href=\"/zwgk/index.html\">", out);
  E(out, s->name);
  fputs("</a><a href=\"/zwgk/hdjl/index.html\">互动交流</a><a href=\"/zwgk/zxbs/index.html\">在线办事</a>"
        "</nav>\n</header>\n<main>\n", out);
}

static void page_foot(FILE *out) { fputs("</main>\n</body>\n</html>\n", out); }

/* Finishes a page built in the memory stream out (opened on *text, *len: both
 * are only valid once the stream is closed) and writes it to relpath. */
static int finish(const struct site *s, FILE *out, char **text, size_t *len, const char *relpath, char *err,
                  size_t errlen) {
  page_foot(out);
  int rc = -1;
  if (fclose(out) != 0) snprintf(err, errlen, "out of memory rendering %s", relpath);
  else rc = site_write(s, relpath, *text, *len, err, errlen);
  free(*text);
  *text = NULL;
  return rc;
}

static PGresult *query(const struct site *s, const char *sql, int n, const char *const *params, bool *transient,
                       char *err, size_t errlen) {
  return zw_pg_exec(s->pg, sql, n, params, transient, err, errlen);
}

static void article_body(FILE *out, PGresult *a, const char *body_html) {
  bool withdrawn = strcmp(PQgetvalue(a, 0, 5), "withdrawn") == 0;
  fputs("<article>\n<h1>", out);
  E(out, PQgetvalue(a, 0, 1));
  fputs("</h1>\n<p class=\"meta\">发布机构：", out);
  E(out, PQgetvalue(a, 0, 3));
  fputs(" · 发布日期：", out);
  E(out, PQgetvalue(a, 0, 4));
  fputs(" · 第 ", out);
  E(out, PQgetvalue(a, 0, 6));
  fputs(" 版</p>\n", out);
  if (withdrawn) {
    fputs("<p class=\"withdrawn\">本信息已于 ", out);
    E(out, PQgetvalue(a, 0, 7));
    fputs(" 撤回。</p>\n", out);
  } else {
    if (!PQgetisnull(a, 0, 2) && *PQgetvalue(a, 0, 2)) {
      fputs("<p class=\"meta\">摘要：", out);
      E(out, PQgetvalue(a, 0, 2));
      fputs("</p>\n", out);
    }
    fputs("<div class=\"content\">", out);
    fputs(body_html, out); /* sanitised by the fan-out and again here */
    fputs("</div>\n", out);
  }
  json_t *history = json_loads(PQgetvalue(a, 0, 8), 0, NULL);
  if (json_array_size(history) > 1) {
    fputs("<section>\n<h2>修订记录</h2>\n<ol>\n", out);
    size_t i;
    json_t *h;
    json_array_foreach(history, i, h) {
      fprintf(out, "<li>第 %lld 版 · ", (long long)json_integer_value(json_object_get(h, "revision")));
      E(out, json_string_value(json_object_get(h, "at")));
      fputs(" · ", out);
      E(out, json_string_value(json_object_get(h, "title")));
      fputs("</li>\n", out);
    }
    fputs("</ol>\n</section>\n", out);
  }
  json_decref(history);
  fputs("</article>\n", out);
}

int site_article(const struct site *s, const char *release_id, bool *transient, char *err, size_t errlen) {
  const char *params[] = {release_id};
  PGresult *a = query(s,
                      "SELECT column_path, title, summary, "
                      "  coalesce((SELECT name FROM departments WHERE code = department), department), "
                      "  to_char(published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'), status, revision::text, "
                      "  coalesce(to_char(withdrawn_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), ''), "
                      "  history::text, body_html "
                      "FROM portal_articles WHERE release_id = $1",
                      1, params, transient, err, errlen);
  if (!a) return -1;
  int rc = -1;
  char *text = NULL, relpath[600];
  size_t len = 0;
  FILE *out = PQntuples(a) == 1 ? open_memstream(&text, &len) : NULL;
  if (!out) {
    snprintf(err, errlen, "no article %s", release_id);
    *transient = false;
    goto out;
  }
  char *sanitised = zw_html_sanitize(PQgetvalue(a, 0, 9)), *body = zw_text_clean(sanitised);
  free(sanitised);
  page_head(out, s, PQgetvalue(a, 0, 1));
  article_body(out, a, body ? body : "");
  free(body);
  snprintf(relpath, sizeof relpath, "zwgk/%s/%s.html", PQgetvalue(a, 0, 0), release_id);
  rc = finish(s, out, &text, &len, relpath, err, errlen);
  /* A withdrawn article answers 410: the server looks for this marker. */
  char marker[640];
  snprintf(marker, sizeof marker, "%s.gone", relpath);
  if (rc == 0 && strcmp(PQgetvalue(a, 0, 5), "withdrawn") == 0) rc = site_write(s, marker, "", 0, err, errlen);
  else if (rc == 0) {
    char full[1200];
    snprintf(full, sizeof full, "%s/%s", s->docroot, marker);
    unlink(full);
  }
  *transient = false;
out:
  PQclear(a);
  return rc;
}

/* Writes a list of articles (rows: release_id, title, date, column_path). */
static void article_list(FILE *out, PGresult *res) {
  if (PQntuples(res) == 0) fputs("<p>暂无信息。</p>\n", out);
  else fputs("<ul>\n", out);
  for (int i = 0; i < PQntuples(res); i++) {
    fputs("<li><a href=\"/zwgk/", out);
    E(out, PQgetvalue(res, i, 3));
    fputc('/', out);
    E(out, PQgetvalue(res, i, 0));
    fputs(".html\">", out);
    E(out, PQgetvalue(res, i, 1));
    fputs("</a> <span class=\"meta\">", out);
    E(out, PQgetvalue(res, i, 2));
    fputs("</span></li>\n", out);
  }
  if (PQntuples(res)) fputs("</ul>\n", out);
}

/* A list page: its title (looked up by title_sql, then suffixed) and the
 * published articles list_sql selects for param, newest first. */
struct list_spec {
  const char *title_sql;
  const char *title_suffix;
  const char *list_sql;
};

static int list_page(const struct site *s, const struct list_spec *spec, const char *param, const char *relpath,
                     bool *transient, char *err, size_t errlen) {
  const char *params[] = {param};
  char title[512];
  PGresult *res = query(s, spec->title_sql, 1, params, transient, err, errlen);
  if (!res) return -1;
  snprintf(title, sizeof title, "%s%s", PQgetvalue(res, 0, 0), spec->title_suffix);
  PQclear(res);
  if (!(res = query(s, spec->list_sql, 1, params, transient, err, errlen))) return -1;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int rc = -1;
  if (out) {
    page_head(out, s, title);
    fputs("<h1>", out);
    E(out, title);
    fputs("</h1>\n", out);
    article_list(out, res);
    rc = finish(s, out, &text, &len, relpath, err, errlen);
  }
  *transient = false;
  PQclear(res);
  return rc;
}

#define LIST_SELECT                                                                                  \
  "SELECT release_id, title, to_char(published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'), "    \
  "column_path FROM portal_articles "
#define LIST_ORDER " AND status = 'published' ORDER BY published_at DESC, release_id LIMIT 500"

static const struct list_spec column_list = {
    "SELECT coalesce((SELECT name FROM portal_columns WHERE path = $1), $1)", "",
    LIST_SELECT "WHERE column_path = $1" LIST_ORDER};

static const struct list_spec village_list = {
    "SELECT coalesce((SELECT name FROM regions WHERE code = $1), $1)", " 村(居)务公开",
    LIST_SELECT "WHERE region_code = $1" LIST_ORDER};

int site_column(const struct site *s, const char *column, bool *transient, char *err, size_t errlen) {
  char relpath[600];
  snprintf(relpath, sizeof relpath, "zwgk/%s/index.html", column);
  return list_page(s, &column_list, column, relpath, transient, err, errlen);
}

int site_village(const struct site *s, const char *region, bool *transient, char *err, size_t errlen) {
  char relpath[128];
  snprintf(relpath, sizeof relpath, "zwgk/cjwgk/%s/index.html", region);
  return list_page(s, &village_list, region, relpath, transient, err, errlen);
}

/* The section index: every domain with its item columns and article counts,
 * the village pages, and the interaction and online-service entrances. */
static void index_columns(FILE *out, PGresult *res) {
  const char *domain = "";
  for (int i = 0; i < PQntuples(res); i++) {
    if (strcmp(domain, PQgetvalue(res, i, 0)) != 0) {
      if (*domain) fputs("</ul>\n</section>\n", out);
      domain = PQgetvalue(res, i, 0);
      fputs("<section>\n<h2>", out);
      E(out, PQgetvalue(res, i, 1));
      fputs("</h2>\n<ul>\n", out);
    }
    fputs("<li><a href=\"/zwgk/", out);
    E(out, PQgetvalue(res, i, 2));
    fputs("/index.html\">", out);
    E(out, PQgetvalue(res, i, 3));
    fprintf(out, "</a> <span class=\"meta\">(%s)</span></li>\n", PQgetvalue(res, i, 4));
  }
  if (*domain) fputs("</ul>\n</section>\n", out);
}

static void index_villages(FILE *out, PGresult *res) {
  fputs("<section>\n<h2>村(居)务公开</h2>\n<ul>\n", out);
  for (int i = 0; i < PQntuples(res); i++) {
    fputs("<li><a href=\"/zwgk/cjwgk/", out);
    E(out, PQgetvalue(res, i, 0));
    fputs("/index.html\">", out);
    E(out, PQgetvalue(res, i, 1));
    fputs("</a></li>\n", out);
  }
  fputs("</ul>\n</section>\n", out);
}

static int entrance_page(const struct site *s, const char *relpath, const char *title, const char *text,
                         char *err, size_t errlen) {
  char *page = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&page, &len);
  if (!out) return -1;
  page_head(out, s, title);
  fprintf(out, "<h1>%s</h1>\n<p>%s</p>\n", title, text);
  return finish(s, out, &page, &len, relpath, err, errlen);
}

int site_index(const struct site *s, bool *transient, char *err, size_t errlen) {
  PGresult *cols = query(s,
                         "WITH counts AS (SELECT column_path, count(*) AS n FROM portal_articles "
                         "                WHERE status = 'published' GROUP BY column_path) "
                         "SELECT d.code, d.name, c.path, c.name, coalesce(k.n, 0) "
                         "FROM portal_columns c JOIN catalog_items i ON i.code = c.item_code "
                         "JOIN catalog_domains d ON d.code = i.domain_code "
                         "LEFT JOIN counts k ON k.column_path = c.path "
                         "WHERE i.active AND i.mode = 'active' ORDER BY d.sort, d.code, c.sort, c.path",
                         0, NULL, transient, err, errlen);
  if (!cols) return -1;
  PGresult *villages = query(s,
                             "SELECT r.code, r.name FROM regions r WHERE r.level = 'village' ORDER BY r.code",
                             0, NULL, transient, err, errlen);
  if (!villages) {
    PQclear(cols);
    return -1;
  }
  *transient = false;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int rc = -1;
  if (out) {
    page_head(out, s, s->name);
    fputs("<h1>", out);
    E(out, s->name);
    fputs("</h1>\n<p><a href=\"/zwgk/hdjl/index.html\">互动交流</a> · <a href=\"/zwgk/zxbs/index.html\">在线办事</a>"
          " · <a href=\"/zwgk/feed.xml\">RSS</a></p>\n", out);
    index_columns(out, cols);
    index_villages(out, villages);
    rc = finish(s, out, &text, &len, "zwgk/index.html", err, errlen);
  }
  if (rc == 0)
    rc = entrance_page(s, "zwgk/hdjl/index.html", "互动交流",
                       "政民互动的统一入口：领导信箱、意见征集、在线访谈与12345政务服务便民热线。", err, errlen);
  if (rc == 0)
    rc = entrance_page(s, "zwgk/zxbs/index.html", "在线办事",
                       "网上办事的统一入口：办事指南、在线申报与办件查询。", err, errlen);
  PQclear(cols);
  PQclear(villages);
  return rc;
}

static void feed_item(FILE *out, PGresult *res, int i, const char *base_url) {
  fputs("<item>\n<title>", out);
  plain(out, PQgetvalue(res, i, 1));
  fprintf(out, "</title>\n<link>");
  E(out, base_url);
  fputs("/zwgk/", out);
  E(out, PQgetvalue(res, i, 2));
  fputc('/', out);
  E(out, PQgetvalue(res, i, 0));
  fputs(".html</link>\n<guid isPermaLink=\"false\">", out);
  E(out, PQgetvalue(res, i, 0));
  fputs("</guid>\n<pubDate>", out);
  E(out, PQgetvalue(res, i, 3));
  fputs("</pubDate>\n<description>", out);
  plain(out, PQgetvalue(res, i, 4));
  fputs("</description>\n</item>\n", out);
}

int site_feed(const struct site *s, const char *base_url, bool *transient, char *err, size_t errlen) {
  PGresult *res = query(s,
                        "SELECT release_id, title, column_path, "
                        "  to_char(published_at AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS') || ' +0000', "
                        "  coalesce(summary, '') FROM portal_articles WHERE status = 'published' "
                        "ORDER BY published_at DESC, release_id LIMIT 50",
                        0, NULL, transient, err, errlen);
  if (!res) return -1;
  *transient = false;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int rc = -1;
  if (out) {
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n<title>", out);
    E(out, s->name);
    fputs("</title>\n<link>", out);
    E(out, base_url);
    fputs("/zwgk/index.html</link>\n<description>", out);
    E(out, s->name);
    fputs("</description>\n<language>zh-cn</language>\n", out);
    for (int i = 0; i < PQntuples(res); i++) feed_item(out, res, i, base_url);
    fputs("</channel>\n</rss>\n", out);
    if (fclose(out) == 0) rc = site_write(s, "zwgk/feed.xml", text, len, err, errlen);
    free(text);
  }
  PQclear(res);
  return rc;
}
