/* zw_render — per-channel payloads rendered once, in the fan-out. The limits
 * and shortening rules are those of docs/channels.md; lengths are counted in
 * characters (Unicode code points, zw_text). */
#include "zw_render.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zw_html.h"
#include "zw_text.h"

enum {
  WECHAT_TITLE_LIMIT = 32,
  WECHAT_DIGEST_LIMIT = 128,
  WECHAT_CONTENT_LIMIT = 20000, /* content must stay strictly below it */
  BROADCAST_HEADLINE_LIMIT = 64,
  BROADCAST_TTS_LIMIT = 600,
  PUNCTUATION_WINDOW = 8, /* how far back a cut may move to a punctuation mark */
};

#define TTS_CUT_ENDING "详情请查看政府网站。"

static const char *member(const json_t *obj, const char *name) {
  return json_string_value(json_object_get(obj, name));
}

/* The public body, sanitised, without the characters no page may hold (a
 * text node keeps control characters the release sent). Caller frees. */
static char *public_html(const json_t *pub) {
  const char *body = member(pub, "body");
  char *sanitised = zw_html_sanitize(body ? body : ""), *clean = zw_text_clean(sanitised);
  free(sanitised);
  return clean;
}

json_t *zw_render_portal(const json_t *env) {
  const json_t *tags = json_object_get(env, "tags"), *pub = json_object_get(env, "public");
  const json_t *release = json_object_get(env, "release");
  const char *column = member(tags, "column"), *rid = member(env, "release_id");
  if (!column || !rid || !json_is_object(pub)) return NULL;
  char path[512];
  snprintf(path, sizeof path, "/zwgk/%s/%s.html", column, rid);
  /* The portal escapes title and summary as they are; only what no page or
   * feed may hold (control characters, noncharacters) goes. */
  const char *summary_sent = member(pub, "summary");
  char *body = public_html(pub), *title = zw_text_clean(member(pub, "title") ? member(pub, "title") : "");
  char *summary = summary_sent ? zw_text_clean(summary_sent) : NULL;
  json_t *payload = NULL;
  if (body && title && (summary || !summary_sent))
    payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "column", column, "column_name",
                        member(tags, "item_l2") ? member(tags, "item_l2") : column, "url_path", path, "title", title,
                        "body_html", body, "summary", summary, "region_code", member(release, "region_code"),
                        "department", member(release, "department"), "doc_type", member(release, "doc_type"),
                        "formed_at", member(release, "formed_at"));
  free(body);
  free(title);
  free(summary);
  return payload;
}

/* ---- shared by the channels ---- */

/* Returns the printf-style formatting of fmt; caller frees; NULL when out of memory. */
static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (!text) return NULL;
  va_start(args, fmt);
  vsnprintf(text, (size_t)n + 1, fmt, args);
  va_end(args);
  return text;
}

/* Whether s is a non-empty path of [A-Za-z0-9._~/-] without "..", safe to put
 * in a URL as it is. */
static bool url_safe(const char *s) {
  if (!s || !s[0] || strstr(s, "..")) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("._~/-", *s)))
      return false;
  return true;
}

/* The article's address on the portal, or NULL when the base URL, the column
 * or the release id is unknown or not safe in a URL (or out of memory).
 * Caller frees. */
static char *portal_url(const json_t *env, const struct zw_render_ctx *ctx) {
  const char *base = ctx ? ctx->portal_base_url : NULL;
  const char *column = member(json_object_get(env, "tags"), "column"), *rid = member(env, "release_id");
  if (!base || !base[0] || !url_safe(column) || !url_safe(rid)) return NULL;
  size_t base_length = strlen(base);
  if (base[base_length - 1] == '/') base_length--;
  return format("%.*s/zwgk/%s/%s.html", (int)base_length, base, column, rid);
}

/* Appends {field, from, to, rule} to shortened. Returns false when out of memory. */
static bool record(json_t *shortened, const char *field, size_t from, size_t to, const char *rule) {
  return json_array_append_new(shortened, json_pack("{s:s, s:I, s:I, s:s}", "field", field, "from", (json_int_t)from,
                                                    "to", (json_int_t)to, "rule", rule)) == 0;
}

/* Plain text shortened to limit characters by zw_text_shorten, recorded in
 * shortened as rule "ellipsis". Caller frees; NULL when out of memory. */
static char *fit_plain(const char *plain, size_t limit, const char *field, json_t *shortened) {
  char *fitted = zw_text_shorten(plain, limit, PUNCTUATION_WINDOW);
  size_t from = zw_text_length(plain);
  if (fitted && from > limit && !record(shortened, field, from, zw_text_length(fitted), "ellipsis")) {
    free(fitted);
    return NULL;
  }
  return fitted;
}

/* The plain text of the public member `name` ("" when absent); caller frees. */
static char *public_plain(const json_t *pub, const char *name) {
  const char *value = member(pub, name);
  return zw_text_plain(value ? value : "");
}

static xmlNodePtr find_body(xmlNodePtr node) {
  for (; node; node = node->next) {
    if (node->type == XML_ELEMENT_NODE && strcasecmp((const char *)node->name, "body") == 0) return node;
    xmlNodePtr inner = find_body(node->children);
    if (inner) return inner;
  }
  return NULL;
}

/* Parses sanitised HTML; *body is its <body> element, or NULL when empty. */
static htmlDocPtr parse_html(const char *html, xmlNodePtr *body) {
  size_t n = strlen(html);
  htmlDocPtr doc = n ? htmlReadMemory(html, (int)n, NULL, "UTF-8",
                                      HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)
                     : NULL;
  *body = doc ? find_body(xmlDocGetRootElement(doc)) : NULL;
  return doc;
}

/* ---- WeChat ---- */

/* Writes node as zw_html_sanitize writes it: the allowlist is all that is left,
 * with at most an href or src attribute. */
static void write_node(FILE *out, xmlNodePtr node) {
  if (node->type == XML_TEXT_NODE) {
    zw_html_escape(out, (const char *)node->content);
    return;
  }
  if (node->type != XML_ELEMENT_NODE) return;
  const char *name = (const char *)node->name;
  fprintf(out, "<%s", name);
  const char *attribute = strcmp(name, "a") == 0 ? "href" : strcmp(name, "img") == 0 ? "src" : NULL;
  xmlChar *value = attribute ? xmlGetProp(node, BAD_CAST attribute) : NULL;
  if (value) {
    fprintf(out, " %s=\"", attribute);
    zw_html_escape(out, (const char *)value);
    fputc('"', out);
    xmlFree(value);
  }
  fputc('>', out);
  if (strcmp(name, "br") == 0 || strcmp(name, "img") == 0) return;
  for (xmlNodePtr child = node->children; child; child = child->next) write_node(out, child);
  fprintf(out, "</%s>", name);
}

/* The whole top-level elements of html that fit in budget characters, in
 * order, stopping at the first that does not fit. Caller frees. */
static char *leading_elements(const char *html, size_t budget) {
  char *kept = NULL, *piece = NULL;
  size_t kept_size = 0, piece_size = 0, used = 0;
  FILE *out = open_memstream(&kept, &kept_size);
  if (!out) return NULL;
  xmlNodePtr body;
  htmlDocPtr doc = parse_html(html, &body);
  for (xmlNodePtr node = body ? body->children : NULL; node; node = node->next) {
    FILE *one = open_memstream(&piece, &piece_size);
    if (!one) break;
    write_node(one, node);
    if (fclose(one) != 0) break;
    size_t length = zw_text_length(piece);
    if (used + length > budget) break;
    fputs(piece, out);
    used += length;
    free(piece);
    piece = NULL;
  }
  free(piece);
  xmlFreeDoc(doc);
  if (fclose(out) != 0) {
    free(kept);
    return NULL;
  }
  return kept;
}

/* "<p>" + the first `keep` characters of text, escaped, + "…</p>". Caller frees. */
static char *excerpt_paragraph(char *text, size_t keep) {
  size_t cut = zw_text_offset(text, keep);
  char saved = text[cut];
  text[cut] = '\0';
  char *escaped = zw_html_escape_string(text), *paragraph = escaped ? format("<p>%s…</p>", escaped) : NULL;
  text[cut] = saved;
  free(escaped);
  return paragraph;
}

/* A paragraph of the body's text, as long as fits in budget characters with
 * its markup: for a body whose first element alone is too long. Escaping
 * lengthens the text by an amount that depends on it, so the longest excerpt
 * that fits is found by bisection. Caller frees. */
static char *text_excerpt(const char *html, size_t budget) {
  char *raw = zw_html_text(html), *text = raw ? zw_text_plain(raw) : NULL, *paragraph = NULL;
  free(raw);
  if (!text) return NULL;
  size_t fits = 0, too_long = budget; /* keeping `too_long` characters cannot fit */
  while (too_long - fits > 1) {
    size_t middle = fits + (too_long - fits) / 2;
    char *candidate = excerpt_paragraph(text, middle);
    if (!candidate) goto out;
    if (zw_text_length(candidate) <= budget) fits = middle;
    else too_long = middle;
    free(candidate);
  }
  paragraph = excerpt_paragraph(text, fits);
out:
  free(text);
  return paragraph;
}

/* The closing paragraph of a cut article: a link to the whole one on the
 * portal when its address is known. Caller frees. */
static char *continuation(const char *url) {
  if (!url) return strdup("<p>（全文较长，此处为节选，全文请查看政府网站。）</p>");
  char *escaped = zw_html_escape_string(url), *paragraph = NULL;
  if (escaped) paragraph = format("<p>（全文较长，此处为节选。阅读全文：<a href=\"%s\">%s</a>）</p>", escaped, escaped);
  free(escaped);
  return paragraph;
}

/* The sanitised body, cut below WECHAT_CONTENT_LIMIT characters when longer:
 * whole top-level elements, then the continuation paragraph. Caller frees. */
static char *wechat_content(const char *body_html, const char *url, json_t *shortened) {
  size_t length = zw_text_length(body_html);
  if (length < WECHAT_CONTENT_LIMIT) return strdup(body_html);
  char *ending = continuation(url), *kept = NULL, *content = NULL;
  if (!ending) return NULL;
  size_t budget = WECHAT_CONTENT_LIMIT - 1 - zw_text_length(ending);
  const char *rule = "element_boundary";
  kept = leading_elements(body_html, budget);
  if (kept && kept[0] == '\0') {
    free(kept);
    kept = text_excerpt(body_html, budget);
    rule = "text_excerpt";
  }
  if (kept) content = format("%s%s", kept, ending);
  if (content && !record(shortened, "content", length, zw_text_length(content), rule)) {
    free(content);
    content = NULL;
  }
  free(kept);
  free(ending);
  return content;
}

/* The digest's source: the summary, or else the body's text. Caller frees. */
static char *digest_source(const json_t *pub, const char *body_html) {
  char *summary = public_plain(pub, "summary");
  if (!summary || summary[0] != '\0') return summary;
  free(summary);
  char *text = zw_html_text(body_html), *plain = text ? zw_text_plain(text) : NULL;
  free(text);
  return plain;
}

static json_t *render_wechat(const json_t *env, const struct zw_render_ctx *ctx) {
  const json_t *pub = json_object_get(env, "public");
  json_t *payload = NULL, *shortened = json_array();
  char *url = portal_url(env, ctx), *title_text = public_plain(pub, "title");
  char *body_html = public_html(pub), *digest_text = NULL, *title = NULL, *digest = NULL;
  char *content = NULL;
  if (!shortened || !title_text || !body_html || !(digest_text = digest_source(pub, body_html))) goto out;
  if (!(title = fit_plain(title_text, WECHAT_TITLE_LIMIT, "title", shortened)) ||
      !(digest = fit_plain(digest_text, WECHAT_DIGEST_LIMIT, "digest", shortened)) ||
      !(content = wechat_content(body_html, url, shortened)))
    goto out;
  payload = json_pack("{s:s, s:s, s:s, s:s*, s:O}", "title", title, "digest", digest, "content", content,
                      "content_source_url", url, "shortened", shortened);
out:
  json_decref(shortened);
  free(url);
  free(title_text);
  free(body_html);
  free(digest_text);
  free(title);
  free(digest);
  free(content);
  return payload;
}

/* ---- broadcast ---- */

static bool is_block(const char *name) {
  static const char *const blocks[] = {"p", "br", "h2", "h3", "h4", "ul", "ol", "li", NULL};
  for (const char *const *b = blocks; *b; b++)
    if (strcmp(name, *b) == 0) return true;
  return false;
}

/* Writes the text to be read aloud under node: tables and images skipped. */
static void speakable_text(FILE *out, xmlNodePtr node) {
  for (xmlNodePtr child = node->children; child; child = child->next) {
    if (child->type == XML_TEXT_NODE) {
      fputs((const char *)child->content, out);
    } else if (child->type == XML_ELEMENT_NODE) {
      const char *name = (const char *)child->name;
      if (strcmp(name, "table") == 0 || strcmp(name, "img") == 0) continue;
      speakable_text(out, child);
      if (is_block(name)) fputc(' ', out);
    }
  }
}

/* The sanitised body's text without tables. Caller frees. */
static char *body_speech(const char *body_html) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) return NULL;
  xmlNodePtr body;
  htmlDocPtr doc = parse_html(body_html, &body);
  if (body) speakable_text(out, body);
  xmlFreeDoc(doc);
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

static bool ends_sentence(const char *s, size_t at_end) {
  static const char *const ends[] = {"。", "！", "？", "；", "!", "?", ";", NULL};
  for (const char *const *e = ends; *e; e++) {
    size_t n = strlen(*e);
    if (at_end >= n && memcmp(s + at_end - n, *e, n) == 0) return true;
  }
  return false;
}

static bool is_full_width_punctuation(uint32_t cp) {
  return (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
         (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65);
}

/* Removes, in place, the spaces next to full-width punctuation that markup and
 * removed addresses leave behind ("请访问 。" becomes "请访问。"). */
static void tidy_spaces(char *text) {
  size_t n = strlen(text), used = 0;
  uint32_t previous = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp = 0, next = 0;
    size_t length = zw_text_decode(text + i, n - i, &cp);
    if (length == 0) length = 1;
    if (cp == ' ' && i + 1 < n && zw_text_decode(text + i + 1, n - i - 1, &next) &&
        (is_full_width_punctuation(previous) || is_full_width_punctuation(next))) {
      i++;
      continue;
    }
    memmove(text + used, text + i, length);
    used += length, i += length, previous = cp;
  }
  text[used] = '\0';
}

/* Title, then the summary or else the body's text (tables skipped), as one
 * line of plain text without web or e-mail addresses. Caller frees. */
static char *speech(const json_t *pub, const char *body_html) {
  char *title = public_plain(pub, "title"), *rest = public_plain(pub, "summary"), *joined = NULL, *text = NULL;
  if (rest && rest[0] == '\0') {
    free(rest);
    char *raw = body_speech(body_html);
    rest = raw ? zw_text_plain(raw) : NULL;
    free(raw);
  }
  if (!title || !rest) goto out;
  const char *separator = title[0] && rest[0] && !ends_sentence(title, strlen(title)) ? "。" : "";
  joined = format("%s%s%s", title, separator, rest);
  char *without = joined ? zw_text_without_addresses(joined) : NULL;
  text = without ? zw_text_plain(without) : NULL;
  if (text) tidy_spaces(text);
  free(without);
out:
  free(title);
  free(rest);
  free(joined);
  return text;
}

static bool is_clause_break(const char *s, size_t at) {
  static const char *const breaks[] = {"，", "、", "：", ",", ":", " ", NULL};
  for (const char *const *b = breaks; *b; b++)
    if (strncmp(s + at, *b, strlen(*b)) == 0) return true;
  return false;
}

/* text cut to BROADCAST_TTS_LIMIT characters with TTS_CUT_ENDING appended:
 * after the last sentence end that leaves room for the ending; or, when that
 * would keep less than half of the room, before the last clause break (，、：
 * or a space), or else between two characters, with 。 added. Caller frees. */
static char *fit_speech(const char *text, json_t *shortened) {
  size_t length = zw_text_length(text);
  if (length <= BROADCAST_TTS_LIMIT) return strdup(text);
  size_t room = BROADCAST_TTS_LIMIT - zw_text_length(TTS_CUT_ENDING);
  size_t sentence = 0, sentence_kept = 0, clause = 0, clause_kept = 0, at = 0;
  for (size_t kept = 0; kept < room; kept++) {
    if (kept > 0 && is_clause_break(text, at)) clause = at, clause_kept = kept;
    at += zw_text_offset(text + at, 1);
    if (ends_sentence(text, at)) sentence = at, sentence_kept = kept + 1;
  }
  const char *rule = "sentence_end", *stop = "";
  size_t cut = sentence;
  if (sentence_kept < room / 2) {
    rule = clause_kept >= room / 2 ? "clause_end" : "character", stop = "。";
    cut = clause_kept >= room / 2 ? clause : zw_text_offset(text, room - 1);
    while (cut > 0 && zw_text_joins_at(text, cut))
      do cut--;
      while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80);
  }
  char *fitted = format("%.*s%s%s", (int)cut, text, stop, TTS_CUT_ENDING);
  if (fitted && !record(shortened, "tts_text", length, zw_text_length(fitted), rule)) {
    free(fitted);
    return NULL;
  }
  return fitted;
}

static json_t *render_broadcast(const json_t *env, const struct zw_render_ctx *ctx) {
  const json_t *pub = json_object_get(env, "public"), *tags = json_object_get(env, "tags");
  const json_t *release = json_object_get(env, "release");
  json_t *payload = NULL, *shortened = json_array();
  const char *region_code = member(release, "region_code");
  const char *region_name = ctx && ctx->region_name && ctx->region_name[0] ? ctx->region_name : NULL;
  const char *event = member(tags, "item_l2");
  char *url = portal_url(env, ctx), *title = public_plain(pub, "title"), *body_html = public_html(pub);
  char *area = zw_text_plain(region_name ? region_name : region_code && region_code[0] ? region_code : "全域");
  char *event_text = zw_text_plain(event && event[0] ? event : "政务公开"), *geocode = zw_text_plain(region_code);
  char *headline = NULL, *text = NULL, *tts = NULL;
  if (!shortened || !title || !body_html || !area || !event_text || !(text = speech(pub, body_html))) goto out;
  if (!(headline = fit_plain(title, BROADCAST_HEADLINE_LIMIT, "headline", shortened)) ||
      !(tts = fit_speech(text, shortened)))
    goto out;
  /* A withdrawal has no text: headline and tts_text are then left out, and the
   * adapter speaks the withdrawal in its own words. */
  payload = json_pack("{s:s*, s:s*, s:s, s:s*, s:s, s:s, s:s, s:s, s:s, s:s*, s:O}", "headline",
                      headline[0] ? headline : NULL, "tts_text", tts[0] ? tts : NULL, "area_desc", area, "geocode", geocode && geocode[0] ? geocode : NULL, "event",
                      event_text[0] ? event_text : "政务公开", "category", "Other", "urgency", "Expected", "severity",
                      "Minor", "certainty", "Observed", "web", url, "shortened", shortened);
out:
  json_decref(shortened);
  free(url);
  free(title);
  free(body_html);
  free(area);
  free(event_text);
  free(geocode);
  free(headline);
  free(text);
  free(tts);
  return payload;
}

/* ---- bulletin ---- */

static json_t *render_bulletin(const json_t *env, const struct zw_render_ctx *ctx) {
  const json_t *pub = json_object_get(env, "public"), *tags = json_object_get(env, "tags");
  const json_t *release = json_object_get(env, "release");
  const char *column_name = member(tags, "item_l2");
  json_t *payload = NULL;
  char *url = portal_url(env, ctx), *title = public_plain(pub, "title"), *summary = public_plain(pub, "summary");
  char *body_html = public_html(pub);
  if (!title || !summary || !body_html) goto out;
  payload = json_pack(
      "{s:s*, s:s*, s:s, s:s*, s:s, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*, s:[]}", "region_code",
      member(release, "region_code"), "region_name", ctx ? ctx->region_name : NULL, "title", title, "summary",
      summary[0] ? summary : NULL, "body_html", body_html, "department", member(release, "department"),
      "department_name", ctx ? ctx->department_name : NULL, "doc_type", member(release, "doc_type"), "formed_at",
      member(release, "formed_at"), "column_name", column_name ? column_name : member(tags, "column"), "portal_url",
      url, "shortened");
out:
  free(url);
  free(title);
  free(summary);
  free(body_html);
  return payload;
}

json_t *zw_render_channel(const char *channel, const json_t *env, const struct zw_render_ctx *ctx) {
  if (!channel || !json_is_object(json_object_get(env, "tags")) || !json_is_object(json_object_get(env, "public")))
    return NULL;
  json_t *payload = NULL;
  if (strcmp(channel, "portal") == 0) {
    /* zw_render_portal's own output stays as the portal adapter knows it. */
    payload = zw_render_portal(env);
    if (payload && json_object_set_new(payload, "shortened", json_array()) < 0) {
      json_decref(payload);
      payload = NULL;
    }
  } else if (strcmp(channel, "wechat") == 0) {
    payload = render_wechat(env, ctx);
  } else if (strcmp(channel, "broadcast") == 0) {
    payload = render_broadcast(env, ctx);
  } else if (strcmp(channel, "bulletin") == 0) {
    payload = render_bulletin(env, ctx);
  }
  return payload;
}
