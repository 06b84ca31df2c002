/* Unit tests of zw_render: the payload of each channel (portal, wechat,
 * broadcast, bulletin) rendered from `public` and `tags`; every limit at and
 * one over its boundary; each shortening recorded in `shortened`; markup
 * injection absent from every payload; tables not read aloud; and the
 * character helpers of zw_text the limits rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zw_cap.h"
#include "zw_render.h"
#include "zw_text.h"

static const char release_id[] = "0123456789abcdef0123456789abcdef";
static const struct zw_render_ctx full_ctx = {
    .portal_base_url = "https://www.example.gov.cn",
    .region_name = "东山村",
    .department_name = "东山街道办事处",
};
static const char article_url[] = "https://www.example.gov.cn/zwgk/cwgk/0123456789abcdef0123456789abcdef.html";

/* An envelope as the fan-out sees it; title, summary and body go to `public`
 * (NULL leaves them out), while `release` holds different text that must never
 * reach a payload. */
static json_t *envelope(const char *title, const char *summary, const char *body) {
  json_t *pub = json_object();
  if (title) json_object_set_new(pub, "title", json_string(title));
  if (summary) json_object_set_new(pub, "summary", json_string(summary));
  if (body) json_object_set_new(pub, "body", json_string(body));
  json_t *env = json_pack(
      "{s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:[s, s]}, s:o}", "release_id", release_id,
      "revision", 1, "action", "publish", "release", "region_code", "370211001001", "department", "jdb", "doc_type",
      "public_list", "formed_at", "2026-11-28T09:00:00+08:00", "title", "原始标题RELEASE-ONLY", "summary",
      "原始摘要RELEASE-ONLY", "body", "<p>原始正文RELEASE-ONLY 370202198506152348</p>", "tags", "column", "cwgk",
      "item_l2", "村务公开", "channels", "wechat", "broadcast", "public", pub);
  assert_non_null(env);
  return env;
}

static json_t *render(const char *channel, const json_t *env, const struct zw_render_ctx *ctx) {
  json_t *payload = zw_render_channel(channel, env, ctx);
  if (!payload) fail_msg("no %s payload", channel);
  return payload;
}

static const char *text_of(const json_t *payload, const char *name) {
  const char *value = json_string_value(json_object_get(payload, name));
  if (!value) fail_msg("payload has no string \"%s\"", name);
  return value;
}

/* Characters (code points), counted independently of zw_text. */
static size_t characters(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* Whether haystack contains needle, ignoring ASCII case. */
static bool contains_nocase(const char *haystack, const char *needle) {
  for (size_t n = strlen(needle); *haystack; haystack++)
    if (strncasecmp(haystack, needle, n) == 0) return true;
  return false;
}

/* A string of `count` copies of `unit`; caller frees. */
static char *repeat(const char *unit, size_t count) {
  size_t n = strlen(unit);
  char *s = malloc(n * count + 1);
  assert_non_null(s);
  for (size_t i = 0; i < count; i++) memcpy(s + i * n, unit, n);
  s[n * count] = '\0';
  return s;
}

/* The `shortened` entry for field, or NULL. */
static const json_t *shortened_entry(const json_t *payload, const char *field) {
  const json_t *list = json_object_get(payload, "shortened");
  if (!json_is_array(list)) fail_msg("payload without a shortened array");
  size_t i;
  const json_t *entry;
  json_array_foreach(list, i, entry) if (strcmp(json_string_value(json_object_get(entry, "field")), field) == 0) return entry;
  return NULL;
}

static void assert_shortened(const json_t *payload, const char *field, size_t from, size_t to, const char *rule) {
  const json_t *entry = shortened_entry(payload, field);
  if (!entry) fail_msg("no shortened entry for %s", field);
  assert_int_equal(json_integer_value(json_object_get(entry, "from")), from);
  assert_int_equal(json_integer_value(json_object_get(entry, "to")), to);
  assert_string_equal(json_string_value(json_object_get(entry, "rule")), rule);
}

static void assert_nothing_shortened(const json_t *payload) {
  const json_t *list = json_object_get(payload, "shortened");
  assert_true(json_is_array(list));
  if (json_array_size(list) != 0) {
    char *dump = json_dumps(list, 0);
    fail_msg("unexpected shortenings: %s", dump);
  }
}

/* No text of `release` (only of `public`) anywhere in the payload. */
static void assert_no_release_text(const json_t *payload) {
  char *dump = json_dumps(payload, 0);
  assert_non_null(dump);
  assert_null(strstr(dump, "RELEASE-ONLY"));
  assert_null(strstr(dump, "370202198506152348"));
  free(dump);
}

/* ---- portal ---- */

static void test_portal_output_unchanged(void **state) {
  (void)state;
  json_t *env = envelope("东山村财务公开", "第三季度", "<p onclick=\"x\">收入<b>十二万</b>元</p>");
  json_t *portal = zw_render_portal(env);
  assert_non_null(portal);
  json_t *expected = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "column", "cwgk", "column_name", "村务公开", "url_path",
      "/zwgk/cwgk/0123456789abcdef0123456789abcdef.html", "title", "东山村财务公开", "body_html",
      "<p>收入十二万元</p>", "summary", "第三季度", "region_code", "370211001001", "department", "jdb", "doc_type",
      "public_list", "formed_at", "2026-11-28T09:00:00+08:00");
  assert_true(json_equal(portal, expected));
  /* Through the dispatcher: the same, plus an empty shortened list. */
  json_t *channel = render("portal", env, &full_ctx);
  json_object_set_new(expected, "shortened", json_array());
  assert_true(json_equal(channel, expected));
  json_decref(expected);
  json_decref(channel);
  json_decref(portal);
  json_decref(env);
}

/* The portal escapes a title and a summary as they are, but no page or feed
 * may hold a control character or a noncharacter: those go, markup stays. */
static void test_portal_text_without_control_characters(void **state) {
  (void)state;
  json_t *env = envelope("标题\x01<b>\x1b[31m</b>\xEF\xBF\xBE\xEF\xB7\x90", "摘要\x0b\xC2\x9b\t&amp;",
                         "<p>正文\x7f&#1;\xC2\x85</p>");
  json_t *portal = zw_render_portal(env);
  assert_non_null(portal);
  assert_string_equal(text_of(portal, "title"), "标题<b>[31m</b>");
  assert_string_equal(text_of(portal, "summary"), "摘要\t&amp;");
  assert_null(strpbrk(text_of(portal, "body_html"), "\x01\x7f"));
  assert_non_null(strstr(text_of(portal, "body_html"), "正文"));
  json_decref(portal);
  json_decref(env);
}

static void test_text_clean(void **state) {
  (void)state;
  char *s = zw_text_clean("a\tb\nc\r<d>\x01\x1f\x7f\xC2\x80\xC2\x9f\xC2\xA0\xEF\xB7\x90\xEF\xB7\xAF\xEF\xB7\xB0"
                          "\xEF\xBF\xBE\xEF\xBF\xBF\xF0\x9F\xBF\xBE\xF4\x8F\xBF\xBF\xFF\xE2\x80\xAE" "e");
  /* kept: tab, LF, CR, markup, U+00A0, U+FDF0, U+202E; gone: C0, DEL, C1,
   * U+FDD0-U+FDEF, U+xFFFE/U+xFFFF of every plane, ill-formed bytes */
  assert_string_equal(s, "a\tb\nc\r<d>\xC2\xA0\xEF\xB7\xB0\xE2\x80\xAE" "e");
  free(s);
  assert_null(zw_text_clean(NULL));
}

/* ---- WeChat ---- */

static void test_wechat_happy_path(void **state) {
  (void)state;
  json_t *env = envelope("东山村2026年第三季度财务收支公开", "本季度收入十二万元，支出八万元。",
                         "<h2>收入</h2><p>村集体收入<strong>十二万元</strong>。</p><div>支出八万元。</div>");
  json_t *p = render("wechat", env, &full_ctx);
  assert_string_equal(text_of(p, "title"), "东山村2026年第三季度财务收支公开");
  assert_string_equal(text_of(p, "digest"), "本季度收入十二万元，支出八万元。");
  assert_string_equal(text_of(p, "content"), "<h2>收入</h2><p>村集体收入<strong>十二万元</strong>。</p>支出八万元。");
  assert_string_equal(text_of(p, "content_source_url"), article_url);
  assert_nothing_shortened(p);
  assert_int_equal(json_object_size(p), 5);
  assert_no_release_text(p);
  json_decref(p);
  json_decref(env);
}

static void test_wechat_without_base_url(void **state) {
  (void)state;
  json_t *env = envelope("标题", NULL, "<p>正文第一段。</p><p>第二段。</p>");
  json_t *p = render("wechat", env, NULL);
  assert_null(json_object_get(p, "content_source_url"));
  /* No summary: the digest is the body's text. */
  assert_string_equal(text_of(p, "digest"), "正文第一段。 第二段。");
  json_decref(p);
  struct zw_render_ctx no_url = {.region_name = "东山村"};
  p = render("wechat", env, &no_url);
  assert_null(json_object_get(p, "content_source_url"));
  json_decref(p);
  json_decref(env);
}

static void test_wechat_title_32_and_33_cjk(void **state) {
  (void)state;
  char *title = repeat("政", 32);
  json_t *env = envelope(title, "摘要", "<p>正文</p>");
  json_t *p = render("wechat", env, &full_ctx);
  assert_string_equal(text_of(p, "title"), title);
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
  free(title);

  title = repeat("政", 33);
  env = envelope(title, "摘要", "<p>正文</p>");
  p = render("wechat", env, &full_ctx);
  char *expected = repeat("政", 31);
  char with_ellipsis[256];
  snprintf(with_ellipsis, sizeof with_ellipsis, "%s…", expected);
  assert_string_equal(text_of(p, "title"), with_ellipsis);
  assert_int_equal(characters(text_of(p, "title")), 32);
  assert_shortened(p, "title", 33, 32, "ellipsis");
  json_decref(p);
  json_decref(env);
  free(title);
  free(expected);
}

static void test_wechat_title_32_and_33_emoji(void **state) {
  (void)state;
  char *title = repeat("\xF0\x9F\x98\x80", 32); /* 😀, four bytes, one character */
  json_t *env = envelope(title, "摘要", "<p>正文</p>");
  json_t *p = render("wechat", env, &full_ctx);
  assert_string_equal(text_of(p, "title"), title);
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
  free(title);

  title = repeat("\xF0\x9F\x98\x80", 33);
  env = envelope(title, "摘要", "<p>正文</p>");
  p = render("wechat", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "title")), 32);
  assert_true(zw_text_is_utf8(text_of(p, "title"), NULL));
  assert_shortened(p, "title", 33, 32, "ellipsis");
  json_decref(p);
  json_decref(env);
  free(title);
}

static void test_wechat_title_cut_at_punctuation(void **state) {
  (void)state;
  /* 26 characters, a comma, then 13 more: the comma is among the last 8 of the
   * first 31, so the cut is just before it. */
  char *head = repeat("政", 26), *tail = repeat("务", 13), title[512];
  snprintf(title, sizeof title, "%s，%s", head, tail);
  json_t *env = envelope(title, "摘要", "<p>正文</p>");
  json_t *p = render("wechat", env, &full_ctx);
  char expected[256];
  snprintf(expected, sizeof expected, "%s…", head);
  assert_string_equal(text_of(p, "title"), expected);
  assert_shortened(p, "title", 40, 27, "ellipsis");
  json_decref(p);
  json_decref(env);
  /* A comma further back than 8 characters is not used. */
  free(head);
  head = repeat("政", 20);
  snprintf(title, sizeof title, "%s，%s", head, tail);
  env = envelope(title, "摘要", "<p>正文</p>");
  p = render("wechat", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "title")), 32);
  json_decref(p);
  json_decref(env);
  free(head);
  free(tail);
}

static void test_wechat_title_keeps_emoji_sequences_whole(void **state) {
  (void)state;
  /* 30 characters, then a family emoji (man ZWJ woman ZWJ girl: 5 code points)
   * across the cut at 31. */
  char *head = repeat("政", 30), title[512];
  snprintf(title, sizeof title, "%s\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", head);
  json_t *env = envelope(title, "摘要", "<p>正文</p>");
  json_t *p = render("wechat", env, &full_ctx);
  char expected[256];
  snprintf(expected, sizeof expected, "%s…", head);
  assert_string_equal(text_of(p, "title"), expected);
  json_decref(p);
  json_decref(env);
  free(head);
}

static void test_wechat_digest_128_and_129(void **state) {
  (void)state;
  char *summary = repeat("务", 128);
  json_t *env = envelope("标题", summary, "<p>正文</p>");
  json_t *p = render("wechat", env, &full_ctx);
  assert_string_equal(text_of(p, "digest"), summary);
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
  free(summary);

  summary = repeat("务", 129);
  env = envelope("标题", summary, "<p>正文</p>");
  p = render("wechat", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "digest")), 128);
  assert_shortened(p, "digest", 129, 128, "ellipsis");
  assert_null(shortened_entry(p, "title"));
  json_decref(p);
  json_decref(env);
  free(summary);
}

static void test_wechat_digest_from_long_body(void **state) {
  (void)state;
  char *text = repeat("公开", 100), body[1024];
  snprintf(body, sizeof body, "<p>%s</p><table><tr><td>表</td></tr></table>", text);
  json_t *env = envelope("标题", "", body);
  json_t *p = render("wechat", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "digest")), 128);
  assert_shortened(p, "digest", 202, 128, "ellipsis");
  json_decref(p);
  json_decref(env);
  free(text);
}

/* A body of `paragraphs` paragraphs, each "<p>" + `size` characters + "</p>"
 * (size + 7 characters), the last one `last` characters of text. */
static char *paragraphs_body(size_t paragraphs, size_t size, size_t last) {
  char *one = repeat("政", size), *final = repeat("务", last);
  size_t capacity = paragraphs * (strlen(one) + 8) + 1;
  char *body = malloc(capacity);
  assert_non_null(body);
  body[0] = '\0';
  for (size_t i = 0; i < paragraphs; i++) {
    strcat(body, "<p>");
    strcat(body, i + 1 == paragraphs ? final : one);
    strcat(body, "</p>");
  }
  free(one);
  free(final);
  return body;
}

static void test_wechat_content_19999_kept(void **state) {
  (void)state;
  char *body = paragraphs_body(100, 193, 192); /* 99 × 200 + 199 = 19999 */
  json_t *env = envelope("标题", "摘要", body);
  json_t *p = render("wechat", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "content")), 19999);
  assert_string_equal(text_of(p, "content"), body);
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
  free(body);
}

static void test_wechat_content_20000_cut(void **state) {
  (void)state;
  char *body = paragraphs_body(100, 193, 193); /* exactly 20000: one too many */
  json_t *env = envelope("标题", "摘要", body);
  json_t *p = render("wechat", env, &full_ctx);
  const char *content = text_of(p, "content");
  size_t length = characters(content);
  assert_true(length < 20000);
  /* Whole paragraphs of the original, then the link to the article. */
  const char *ending = strstr(content, "<p>（全文较长");
  assert_non_null(ending);
  assert_memory_equal(content, body, (size_t)(ending - content));
  assert_string_equal(ending + strlen(ending) - 4, "</p>");
  char link[256];
  snprintf(link, sizeof link, "<a href=\"%s\">%s</a>", article_url, article_url);
  assert_non_null(strstr(ending, link));
  size_t kept_paragraphs = 0;
  for (const char *c = content; (c = strstr(c, "<p>政")) != NULL; c++) kept_paragraphs++;
  assert_int_equal(kept_paragraphs, 99); /* 99 × 200 + ending ≤ 19999 */
  assert_shortened(p, "content", 20000, length, "element_boundary");
  json_decref(p);
  json_decref(env);
  free(body);
}

static void test_wechat_content_cut_without_base_url(void **state) {
  (void)state;
  char *body = paragraphs_body(120, 193, 193);
  json_t *env = envelope("标题", "摘要", body);
  json_t *p = render("wechat", env, NULL);
  const char *content = text_of(p, "content");
  assert_true(characters(content) < 20000);
  assert_non_null(strstr(content, "全文请查看政府网站"));
  assert_null(strstr(content, "<a "));
  json_decref(p);
  json_decref(env);
  free(body);
}

static void test_wechat_content_one_huge_paragraph(void **state) {
  (void)state;
  char *text = repeat("政&", 15000), *body = malloc(strlen(text) + 8);
  assert_non_null(body);
  sprintf(body, "<p>%s</p>", text);
  json_t *env = envelope("标题", "摘要", body);
  json_t *p = render("wechat", env, &full_ctx);
  const char *content = text_of(p, "content");
  size_t length = characters(content);
  assert_true(length < 20000);
  assert_true(length > 19000);
  assert_non_null(strstr(content, "<p>政&amp;政&amp;"));
  assert_non_null(strstr(content, article_url));
  assert_shortened(p, "content", characters(text) + 7 + 4 * 15000, length, "text_excerpt");
  json_decref(p);
  json_decref(env);
  free(text);
  free(body);
}

/* ---- broadcast ---- */

static void test_broadcast_happy_path(void **state) {
  (void)state;
  json_t *env = envelope("东山村2026年第三季度财务收支公开", "本季度收入十二万元，支出八万元。",
                         "<p>正文不读，因为有摘要。</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  assert_string_equal(text_of(p, "headline"), "东山村2026年第三季度财务收支公开");
  assert_string_equal(text_of(p, "tts_text"), "东山村2026年第三季度财务收支公开。本季度收入十二万元，支出八万元。");
  assert_string_equal(text_of(p, "area_desc"), "东山村");
  assert_string_equal(text_of(p, "geocode"), "370211001001");
  assert_string_equal(text_of(p, "event"), "村务公开");
  assert_string_equal(text_of(p, "category"), "Other");
  assert_string_equal(text_of(p, "urgency"), "Expected");
  assert_string_equal(text_of(p, "severity"), "Minor");
  assert_string_equal(text_of(p, "certainty"), "Observed");
  assert_string_equal(text_of(p, "web"), article_url);
  assert_nothing_shortened(p);
  assert_int_equal(json_object_size(p), 11);
  assert_no_release_text(p);
  json_decref(p);
  json_decref(env);
}

static void test_broadcast_defaults(void **state) {
  (void)state;
  json_t *env = envelope("通知！", NULL, "<p>第一段</p><ul><li>一</li><li>二</li></ul>");
  json_t *p = render("broadcast", env, NULL);
  assert_string_equal(text_of(p, "tts_text"), "通知！第一段 一 二");
  assert_string_equal(text_of(p, "area_desc"), "370211001001");
  assert_null(json_object_get(p, "web"));
  json_decref(p);
  json_object_del(json_object_get(env, "release"), "region_code");
  json_object_del(json_object_get(env, "tags"), "item_l2");
  p = render("broadcast", env, NULL);
  assert_string_equal(text_of(p, "area_desc"), "全域");
  assert_null(json_object_get(p, "geocode"));
  assert_string_equal(text_of(p, "event"), "政务公开");
  json_decref(p);
  json_decref(env);
}

static void test_broadcast_table_not_read(void **state) {
  (void)state;
  json_t *env = envelope("低保名单公示", NULL,
                         "<p>以下为本月名单。</p><table><thead><tr><th>姓名</th></tr></thead>"
                         "<tbody><tr><td>张三丰</td></tr></tbody></table><p>公示期七天。</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  const char *tts = text_of(p, "tts_text");
  assert_null(strstr(tts, "张三丰"));
  assert_null(strstr(tts, "姓名"));
  assert_string_equal(tts, "低保名单公示。以下为本月名单。公示期七天。");
  json_decref(p);
  json_decref(env);
}

static void test_broadcast_no_addresses_or_markup(void **state) {
  (void)state;
  json_t *env = envelope("<b>通知</b>", NULL,
                         "<p>详见 https://www.example.gov.cn/a?b=1&amp;c=2 或 www.example.gov.cn/x ，"
                         "邮件 office.dsc@example.gov.cn。</p><p>&lt;b&gt;粗体&lt;/b&gt; 与 &lt;script&gt;x&lt;/script&gt;</p>"
                         "<p>电话 0532-88881234。</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  const char *tts = text_of(p, "tts_text");
  assert_null(strchr(tts, '<'));
  assert_null(strchr(tts, '>'));
  assert_null(strchr(tts, '@'));
  assert_false(contains_nocase(tts, "http"));
  assert_false(contains_nocase(tts, "www"));
  assert_null(strstr(tts, "  "));
  assert_non_null(strstr(tts, "粗体"));
  assert_non_null(strstr(tts, "0532-88881234"));
  assert_string_equal(text_of(p, "headline"), "通知");
  json_decref(p);
  json_decref(env);
}

/* A text of exactly `total` characters: sentences of 9 characters and 。. */
static char *sentences(size_t total) {
  char *s = malloc(total * 3 + 1);
  assert_non_null(s);
  s[0] = '\0';
  for (size_t i = 0; i < total; i++) strcat(s, (i % 10 == 9) ? "。" : "政");
  return s;
}

static void test_tts_600_and_601(void **state) {
  (void)state;
  /* Title "通知" + "。" + summary: 3 + summary characters. */
  char *summary = sentences(597);
  json_t *env = envelope("通知", summary, "<p>正文</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "tts_text")), 600);
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
  free(summary);

  summary = sentences(598);
  env = envelope("通知", summary, "<p>正文</p>");
  p = render("broadcast", env, &full_ctx);
  const char *tts = text_of(p, "tts_text");
  size_t length = characters(tts);
  assert_true(length <= 600);
  const char *ending = "详情请查看政府网站。";
  assert_string_equal(tts + strlen(tts) - strlen(ending), ending);
  /* Cut just after a 。 at or before character 590. */
  assert_memory_equal(tts + strlen(tts) - strlen(ending) - strlen("。"), "。", strlen("。"));
  assert_int_equal(length, 583 + 10); /* "通知。" + 58 sentences of 10, then the ending */
  assert_shortened(p, "tts_text", 601, length, "sentence_end");
  json_decref(p);
  json_decref(env);
  free(summary);
}

static void test_tts_without_sentence_end(void **state) {
  (void)state;
  /* The title's 。 is the only sentence end: cutting there would keep less
   * than half, so the cut is between characters, with 。 added. */
  char *summary = repeat("政", 700), expected[4096];
  json_t *env = envelope("通知", summary, "<p>正文</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  const char *tts = text_of(p, "tts_text");
  char *kept = repeat("政", 586);
  snprintf(expected, sizeof expected, "通知。%s。详情请查看政府网站。", kept);
  assert_string_equal(tts, expected);
  assert_shortened(p, "tts_text", 703, 600, "character");
  json_decref(p);
  json_decref(env);
  free(kept);
  /* A clause break (，) late enough is preferred to a cut between characters. */
  char *head = repeat("政", 400), *tail = repeat("务", 300), summary2[4096];
  snprintf(summary2, sizeof summary2, "%s，%s", head, tail);
  env = envelope("", summary2, "<p>正文</p>");
  p = render("broadcast", env, &full_ctx);
  snprintf(expected, sizeof expected, "%s。详情请查看政府网站。", head);
  assert_string_equal(text_of(p, "tts_text"), expected);
  assert_shortened(p, "tts_text", 701, 411, "clause_end");
  json_decref(p);
  json_decref(env);
  free(head);
  free(tail);
  free(summary);
}

static void test_headline_64_and_65(void **state) {
  (void)state;
  char *title = repeat("政", 64);
  json_t *env = envelope(title, "摘要。", "<p>正文</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  assert_string_equal(text_of(p, "headline"), title);
  assert_null(shortened_entry(p, "headline"));
  json_decref(p);
  json_decref(env);
  free(title);
  title = repeat("政", 65);
  env = envelope(title, "摘要。", "<p>正文</p>");
  p = render("broadcast", env, &full_ctx);
  assert_int_equal(characters(text_of(p, "headline")), 64);
  assert_shortened(p, "headline", 65, 64, "ellipsis");
  json_decref(p);
  json_decref(env);
  free(title);
}

static void test_broadcast_payload_makes_a_cap_alert(void **state) {
  (void)state;
  char *long_summary = repeat("公开，", 400);
  json_t *env = envelope("通知\x01<b>标题</b>\x7f", long_summary, "<p>正文</p>");
  json_t *p = render("broadcast", env, &full_ctx);
  struct zw_cap_alert alert = {
      .identifier = "0123456789abcdef0123456789abcdef.1", .sender = "zwgk@example.gov.cn",
      .sent = "2026-11-28T09:30:00+08:00", .status = "Actual", .msg_type = "Alert", .scope = "Public",
      .language = "zh-CN", .category = text_of(p, "category"), .event = text_of(p, "event"),
      .urgency = text_of(p, "urgency"), .severity = text_of(p, "severity"), .certainty = text_of(p, "certainty"),
      .headline = text_of(p, "headline"), .description = text_of(p, "tts_text"), .web = text_of(p, "web"),
      .tts = text_of(p, "tts_text"), .area_desc = text_of(p, "area_desc"), .geocode = text_of(p, "geocode")};
  char err[256] = "";
  char *xml = zw_cap_write(&alert, err, sizeof err);
  if (!xml) fail_msg("the broadcast payload is not a valid CAP alert: %s", err);
  free(xml);
  json_decref(p);
  json_decref(env);
  free(long_summary);
}

static void test_unsafe_column_gives_no_url(void **state) {
  (void)state;
  json_t *env = envelope("标题", "摘要", "<p>正文</p>");
  const char *unsafe[] = {"a b", "../etc", "x\"onmouseover=y", "栏目", ""};
  for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
    json_object_set_new(json_object_get(env, "tags"), "column", json_string(unsafe[i]));
    json_t *w = render("wechat", env, &full_ctx), *b = render("broadcast", env, &full_ctx);
    json_t *n = render("bulletin", env, &full_ctx);
    assert_null(json_object_get(w, "content_source_url"));
    assert_null(json_object_get(b, "web"));
    assert_null(json_object_get(n, "portal_url"));
    json_decref(w);
    json_decref(b);
    json_decref(n);
  }
  json_decref(env);
}

/* ---- bulletin ---- */

static void test_bulletin_happy_path(void **state) {
  (void)state;
  json_t *env = envelope("东山村财务公开", "第三季度收支。", "<h2>收入</h2><p style=\"x\">十二万元</p>");
  json_t *p = render("bulletin", env, &full_ctx);
  json_t *expected = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "region_code", "370211001001", "region_name",
      "东山村", "title", "东山村财务公开", "summary", "第三季度收支。", "body_html", "<h2>收入</h2><p>十二万元</p>",
      "department", "jdb", "department_name", "东山街道办事处", "doc_type", "public_list", "formed_at",
      "2026-11-28T09:00:00+08:00", "column_name", "村务公开", "portal_url", article_url, "shortened");
  if (!json_equal(p, expected)) {
    char *dump = json_dumps(p, JSON_INDENT(1));
    fail_msg("bulletin payload: %s", dump);
  }
  json_decref(expected);
  json_decref(p);
  json_decref(env);
}

static void test_bulletin_without_context(void **state) {
  (void)state;
  json_t *env = envelope("标题", NULL, "<p>正文</p>");
  json_t *p = render("bulletin", env, NULL);
  assert_null(json_object_get(p, "summary"));
  assert_null(json_object_get(p, "portal_url"));
  assert_null(json_object_get(p, "region_name"));
  assert_null(json_object_get(p, "department_name"));
  assert_string_equal(text_of(p, "region_code"), "370211001001");
  assert_nothing_shortened(p);
  json_decref(p);
  json_decref(env);
}

/* ---- every channel ---- */

static const char *const channels[] = {"portal", "wechat", "broadcast", "bulletin"};

static void test_injection_absent_everywhere(void **state) {
  (void)state;
  const char *title = "通知<script>alert(1)</script><img src=x onerror=alert(2)>\x01\x1b[31m";
  const char *summary = "摘要<svg onload=alert(3)>完<a href=\"javascript:alert(4)\">点</a>";
  const char *body = "<p onmouseover=\"alert(5)\">正文<script>alert(6)</script></p>"
                     "<img src=\"x\" onerror=\"alert(7)\"><a href=\"JaVaScRiPt:alert(8)\">链接</a>"
                     "<a href=\" javascript:alert(9)\">二</a><iframe src=\"javascript:alert(10)\"></iframe>"
                     "<p>&lt;script&gt;alert(11)&lt;/script&gt;</p><style>p{}</style>"
                     "<object data=\"x\"></object><p><a href=\"vbscript:x\">三</a></p>";
  for (int with_summary = 0; with_summary < 2; with_summary++) {
    json_t *env = envelope(title, with_summary ? summary : NULL, body);
    for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++) {
      json_t *p = render(channels[c], env, &full_ctx);
      /* The portal's plain-text title is the portal adapter's to escape. */
      if (strcmp(channels[c], "portal") == 0) json_object_del(p, "title"), json_object_del(p, "summary");
      char *dump = json_dumps(p, 0);
      assert_non_null(dump);
      const char *forbidden[] = {"<script", "onerror", "onload", "onmouseover", "javascript:", "vbscript:",
                                 "<iframe", "<svg",    "<style", "<object",     "\\u0001",     "\\u001b"};
      for (size_t f = 0; f < sizeof forbidden / sizeof forbidden[0]; f++)
        if (contains_nocase(dump, forbidden[f])) fail_msg("%s payload contains %s: %s", channels[c], forbidden[f], dump);
      free(dump);
      json_decref(p);
    }
    json_decref(env);
  }
}

static void test_plain_text_fields_have_no_markup(void **state) {
  (void)state;
  json_t *env = envelope("<b>东山村</b>通知 <i>二</i>", "<p>摘要</p>", "<p>&lt;b&gt;正文&lt;/b&gt;</p>");
  const char *plain[][2] = {{"wechat", "title"},       {"wechat", "digest"},   {"broadcast", "headline"},
                            {"broadcast", "tts_text"}, {"bulletin", "title"},  {"bulletin", "summary"}};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    json_t *p = render(plain[i][0], env, &full_ctx);
    const char *value = text_of(p, plain[i][1]);
    if (strchr(value, '<') || strchr(value, '>')) fail_msg("%s %s has markup: %s", plain[i][0], plain[i][1], value);
    json_decref(p);
  }
  json_t *p = render("wechat", env, &full_ctx);
  assert_string_equal(text_of(p, "title"), "东山村通知 二");
  json_decref(p);
  json_decref(env);
}

static void test_missing_public_or_tags_is_null(void **state) {
  (void)state;
  json_t *env = envelope("标题", "摘要", "<p>正文</p>");
  json_t *without_public = json_deep_copy(env), *without_tags = json_deep_copy(env);
  json_object_del(without_public, "public");
  json_object_del(without_tags, "tags");
  for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++) {
    assert_null(zw_render_channel(channels[c], without_public, &full_ctx));
    assert_null(zw_render_channel(channels[c], without_tags, &full_ctx));
    json_t *p = render(channels[c], env, &full_ctx);
    assert_no_release_text(p);
    json_t *shortened = json_object_get(p, "shortened");
    assert_true(json_is_array(shortened));
    json_decref(p);
  }
  json_object_set_new(without_public, "public", json_string("not an object"));
  assert_null(zw_render_channel("wechat", without_public, &full_ctx));
  assert_null(zw_render_channel("fax", env, &full_ctx));
  assert_null(zw_render_channel(NULL, env, &full_ctx));
  assert_null(zw_render_channel("wechat", NULL, &full_ctx));
  json_decref(without_public);
  json_decref(without_tags);
  json_decref(env);
}

static void test_withdraw_envelope_without_text(void **state) {
  (void)state;
  json_t *env = envelope(NULL, NULL, NULL);
  for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++) {
    json_t *p = render(channels[c], env, &full_ctx);
    assert_no_release_text(p);
    json_decref(p);
  }
  /* Nothing to read: the broadcast adapter says the withdrawal in its words. */
  json_t *p = render("broadcast", env, &full_ctx);
  assert_null(json_object_get(p, "headline"));
  assert_null(json_object_get(p, "tts_text"));
  assert_string_equal(text_of(p, "area_desc"), "东山村");
  json_decref(p);
  json_decref(env);
}

/* ---- zw_text ---- */

static void test_text_length_and_offset(void **state) {
  (void)state;
  assert_int_equal(zw_text_length(""), 0);
  assert_int_equal(zw_text_length("a政\xF0\x9F\x98\x80"), 3);
  assert_int_equal(zw_text_offset("a政b", 2), 4);
  assert_int_equal(zw_text_offset("a政b", 9), 5);
  size_t bad = 0;
  assert_false(zw_text_is_utf8("ok\xC0\xAF", &bad));
  assert_int_equal(bad, 2);
  assert_true(zw_text_is_utf8("政务公开", NULL));
}

static void test_text_plain(void **state) {
  (void)state;
  char *s = zw_text_plain("  a\t\n b\xE3\x80\x80\xE3\x80\x80" "c\x01\x7f\xC2\x85 <!-- x > y --><b>d</b>\xE2\x80\xAE" "e 1 < 2 ");
  assert_string_equal(s, "a b c de 1 < 2");
  free(s);
  s = zw_text_plain("x<script type=x>if (a<b) y()</script>z<style>p{}</style>!<unclosed");
  assert_string_equal(s, "xz!unclosed");
  free(s);
}

static void test_text_without_addresses(void **state) {
  (void)state;
  char *s = zw_text_without_addresses("见https://a.gov.cn/x?y=1。或(www.b.cn)、c@d.gov.cn, HTTP://E.CN. mailto:f@g.cn 1@2");
  assert_string_equal(s, "见。或()、, .  1@2"); /* spaces are zw_text_plain's to collapse */
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_portal_output_unchanged),
      cmocka_unit_test(test_portal_text_without_control_characters),
      cmocka_unit_test(test_wechat_happy_path),
      cmocka_unit_test(test_wechat_without_base_url),
      cmocka_unit_test(test_wechat_title_32_and_33_cjk),
      cmocka_unit_test(test_wechat_title_32_and_33_emoji),
      cmocka_unit_test(test_wechat_title_cut_at_punctuation),
      cmocka_unit_test(test_wechat_title_keeps_emoji_sequences_whole),
      cmocka_unit_test(test_wechat_digest_128_and_129),
      cmocka_unit_test(test_wechat_digest_from_long_body),
      cmocka_unit_test(test_wechat_content_19999_kept),
      cmocka_unit_test(test_wechat_content_20000_cut),
      cmocka_unit_test(test_wechat_content_cut_without_base_url),
      cmocka_unit_test(test_wechat_content_one_huge_paragraph),
      cmocka_unit_test(test_broadcast_happy_path),
      cmocka_unit_test(test_broadcast_defaults),
      cmocka_unit_test(test_broadcast_table_not_read),
      cmocka_unit_test(test_broadcast_no_addresses_or_markup),
      cmocka_unit_test(test_tts_600_and_601),
      cmocka_unit_test(test_tts_without_sentence_end),
      cmocka_unit_test(test_headline_64_and_65),
      cmocka_unit_test(test_broadcast_payload_makes_a_cap_alert),
      cmocka_unit_test(test_unsafe_column_gives_no_url),
      cmocka_unit_test(test_bulletin_happy_path),
      cmocka_unit_test(test_bulletin_without_context),
      cmocka_unit_test(test_injection_absent_everywhere),
      cmocka_unit_test(test_plain_text_fields_have_no_markup),
      cmocka_unit_test(test_missing_public_or_tags_is_null),
      cmocka_unit_test(test_withdraw_envelope_without_text),
      cmocka_unit_test(test_text_length_and_offset),
      cmocka_unit_test(test_text_plain),
      cmocka_unit_test(test_text_clean),
      cmocka_unit_test(test_text_without_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
