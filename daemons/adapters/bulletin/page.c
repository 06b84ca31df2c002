/* page — renders the bulletin's notice pages and indexes into memory and
 * writes them with board_write. */
#include "page.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_html.h"
#include "zw_text.h"

/* Writes s escaped, without the characters no page may hold (the fan-out
 * removes them; a notice written before it did may still have them). */
static void E(FILE *out, const char *s) {
  char *clean = zw_text_clean(s);
  zw_html_escape(out, clean ? clean : "");
  free(clean);
}

static const char style[] =
    "@page { size: A4; margin: 20mm }\n"
    "html{background:#fff;color:#000}\n"
    "body{font-family:\"Noto Serif CJK SC\",\"Source Han Serif SC\",\"SimSun\",serif;font-size:16pt;"
    "line-height:1.75;max-width:170mm;margin:0 auto;padding:6mm 0}\n"
    "h1{font-size:24pt;line-height:1.4;text-align:center;margin:0 0 5mm}\n"
    ".board{font-size:14pt;text-align:center;letter-spacing:.2em;margin:0 0 4mm}\n"
    ".meta{font-size:13pt;text-align:center;color:#333}\n"
    ".summary{font-weight:bold}\n"
    ".content table,table.list{border-collapse:collapse;width:100%}\n"
    ".content td,.content th,table.list td,table.list th{border:1px solid #000;padding:1mm 2mm;"
    "vertical-align:top}\n"
    ".content img{max-width:100%}\n"
    ".withdrawn-note{font-size:20pt;font-weight:bold;text-align:center;border:2px solid #000;padding:4mm}\n"
    "tr.withdrawn td{color:#555}\n"
    ".mark{font-weight:bold}\n"
    "footer{margin-top:10mm;border-top:1px solid #000;font-size:12pt}\n"
    "a{color:inherit}\n"
    "@media print{a{text-decoration:none}}\n";

/* The member key of obj as a string, "" when absent. */
static const char *str(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

/* Writes "YYYY-MM-DD HH:MM" of an RFC 3339 time ("…T…:…:…+08:00"). */
static void display_time(FILE *out, const char *iso) {
  char buf[17];
  snprintf(buf, sizeof buf, "%s", iso);
  if (strlen(buf) == 16 && buf[10] == 'T') buf[10] = ' ';
  E(out, buf);
}

static void head(FILE *out, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
        out);
  E(out, *title ? title : "公示栏");
  fputs("</title>\n<style>\n", out);
  fputs(style, out);
  fputs("</style>\n</head>\n<body>\n<main>\n", out);
}

/* Closes the page in the memory stream and writes it to relpath. */
static int finish(const struct board *b, FILE *out, char **text, size_t *len, const char *relpath, char *err,
                  size_t errlen) {
  fputs("</main>\n</body>\n</html>\n", out);
  int rc = -1;
  if (fclose(out) != 0) snprintf(err, errlen, "out of memory rendering %s", relpath);
  else rc = board_write(b, relpath, *text, *len, err, errlen);
  free(*text);
  *text = NULL;
  return rc;
}

/* The board's display name: its region's name, the code, or nothing for "all". */
static void board_name(FILE *out, const json_t *meta) {
  const char *name = str(meta, "region_name");
  const char *region = str(meta, "region");
  if (*name) E(out, name);
  else if (strcmp(region, "all") != 0) E(out, region);
}

static void notice_meta_line(FILE *out, const json_t *meta) {
  fputs("<p class=\"meta\">发布单位：", out);
  E(out, *str(meta, "department_name") ? str(meta, "department_name") : str(meta, "department"));
  fputs("<br>日期：", out);
  E(out, str(meta, "date"));
  json_int_t revision = json_integer_value(json_object_get(meta, "revision"));
  if (json_array_size(json_object_get(meta, "revisions")) > 1) {
    fprintf(out, "<br>第 %lld 版，更新于 ", (long long)revision);
    display_time(out, str(meta, "updated_at"));
  }
  fputs("</p>\n", out);
}

static void notice_footer(FILE *out, const json_t *meta) {
  fputs("<footer>\n", out);
  if (*str(meta, "column_name")) {
    fputs("<p>公开栏目：", out);
    E(out, str(meta, "column_name"));
    fputs("</p>\n", out);
  }
  const char *url = str(meta, "portal_url");
  if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
    fputs("<p>网上公开地址：<a href=\"", out);
    E(out, url);
    fputs("\">", out);
    E(out, url);
    fputs("</a></p>\n", out);
  }
  fputs("</footer>\n", out);
}

int page_notice(const struct board *b, const json_t *meta, const char *body_html, char *err, size_t errlen) {
  bool withdrawn = strcmp(str(meta, "status"), "withdrawn") == 0;
  char relpath[128], *text = NULL, *body = NULL;
  size_t len = 0;
  snprintf(relpath, sizeof relpath, "bulletin/%s/%s.html", str(meta, "region"), str(meta, "release_id"));
  if (!withdrawn) {
    char *sanitised = zw_html_sanitize(body_html ? body_html : "");
    body = zw_text_clean(sanitised);
    free(sanitised);
    if (!body) goto oom;
  }
  FILE *out = open_memstream(&text, &len);
  if (!out) goto oom;
  head(out, str(meta, "title"));
  fprintf(out, "<article class=\"notice%s\">\n<p class=\"board\">", withdrawn ? " withdrawn" : "");
  board_name(out, meta);
  fputs("公示栏</p>\n<h1>", out);
  E(out, str(meta, "title"));
  fputs("</h1>\n", out);
  notice_meta_line(out, meta);
  if (withdrawn) {
    fputs("<p class=\"withdrawn-note\">已撤回：本公告已于 ", out);
    display_time(out, str(meta, "withdrawn_at"));
    fputs(" 撤回，内容不再公示。</p>\n", out);
  } else {
    if (*str(meta, "summary")) {
      fputs("<p class=\"summary\">", out);
      E(out, str(meta, "summary"));
      fputs("</p>\n", out);
    }
    fputs("<div class=\"content\">\n", out);
    fputs(body, out); /* sanitised by the fan-out, and again above */
    fputs("\n</div>\n", out);
  }
  notice_footer(out, meta);
  fputs("</article>\n", out);
  free(body);
  return finish(b, out, &text, &len, relpath, err, errlen);
oom:
  free(body);
  snprintf(err, errlen, "out of memory rendering %s", relpath);
  return -1;
}

/* One row of a board index. */
static void index_row(FILE *out, const json_t *meta, size_t i) {
  bool withdrawn = strcmp(str(meta, "status"), "withdrawn") == 0;
  fprintf(out, "<tr%s><td>%zu</td><td>", withdrawn ? " class=\"withdrawn\"" : "", i + 1);
  E(out, str(meta, "date"));
  fputs("</td><td><a href=\"", out);
  E(out, str(meta, "release_id"));
  fputs(".html\">", out);
  E(out, str(meta, "title"));
  fputs("</a></td><td>", out);
  E(out, *str(meta, "department_name") ? str(meta, "department_name") : str(meta, "department"));
  fputs("</td><td>", out);
  if (withdrawn) {
    fputs("<span class=\"mark\">已撤回</span> ", out);
    display_time(out, str(meta, "withdrawn_at"));
  } else if (json_array_size(json_object_get(meta, "revisions")) > 1) {
    fprintf(out, "已更新（第 %lld 版）", (long long)json_integer_value(json_object_get(meta, "revision")));
  } else {
    fputs("公示中", out);
  }
  fputs("</td></tr>\n", out);
}

/* The plain title of a board's index: its region's name (from the newest
 * notice that names it) or code, then 公示栏. */
static void board_title(char *title, size_t len, const char *region, const json_t *notices) {
  const char *name = strcmp(region, "all") == 0 ? "" : region;
  size_t i;
  json_t *meta;
  json_array_foreach(notices, i, meta) {
    if (*str(meta, "region_name")) {
      name = str(meta, "region_name");
      break;
    }
  }
  snprintf(title, len, "%s公示栏 · 公告目录", name);
}

int page_board_index(const struct board *b, const char *region, char *err, size_t errlen) {
  char relpath[64], title[512], *text = NULL;
  size_t len = 0;
  snprintf(relpath, sizeof relpath, "bulletin/%s/index.html", region);
  bool more = false;
  json_t *notices = board_notices(b, region, &more);
  FILE *out = notices ? open_memstream(&text, &len) : NULL;
  if (!out) {
    json_decref(notices);
    snprintf(err, errlen, "out of memory rendering %s", relpath);
    return -1;
  }
  board_title(title, sizeof title, region, notices);
  head(out, title);
  fputs("<h1>", out);
  E(out, title);
  fputs("</h1>\n", out);
  if (json_array_size(notices) == 0) fputs("<p>暂无公告。</p>\n", out);
  else
    fputs("<table class=\"list\">\n<thead><tr><th>序号</th><th>日期</th><th>标题</th><th>发布单位</th>"
          "<th>状态</th></tr></thead>\n<tbody>\n",
          out);
  size_t i;
  json_t *meta;
  json_array_foreach(notices, i, meta) index_row(out, meta, i);
  if (json_array_size(notices)) fputs("</tbody>\n</table>\n", out);
  if (more) fprintf(out, "<p class=\"more\">本目录列出最新的 %d 条公告；更早的公告页面仍可按原地址查阅。</p>\n", BOARD_INDEX_MAX);
  json_decref(notices);
  return finish(b, out, &text, &len, relpath, err, errlen);
}

int page_boards(const struct board *b, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  json_t *regions = board_regions(b);
  FILE *out = regions ? open_memstream(&text, &len) : NULL;
  if (!out) {
    json_decref(regions);
    snprintf(err, errlen, "out of memory rendering the list of boards");
    return -1;
  }
  head(out, "公示栏");
  fputs("<h1>公示栏</h1>\n<ul>\n", out);
  size_t i;
  json_t *region;
  json_array_foreach(regions, i, region) {
    const char *name = json_string_value(region);
    fputs("<li><a href=\"", out);
    E(out, name);
    fputs("/index.html\">", out);
    E(out, strcmp(name, "all") == 0 ? "未指定村（居）的公告" : name);
    fputs("</a></li>\n", out);
  }
  fputs("</ul>\n", out);
  json_decref(regions);
  return finish(b, out, &text, &len, "bulletin/index.html", err, errlen);
}
