/* Unit tests of zw_html: the sanitiser keeps the allowlist, neutralises
 * scripts and unsafe URLs, and always yields valid HTML structure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zw_html.h"

static void expect_sanitized(const char *in, const char *want) {
  char *got = zw_html_sanitize(in);
  assert_non_null(got);
  if (strcmp(got, want) != 0) fail_msg("sanitize(%s)\n  got  %s\n  want %s", in, got, want);
  free(got);
}

static void test_allowlist_kept(void **state) {
  (void)state;
  expect_sanitized("<h2>一、收入</h2><p>总计<strong>926.15</strong>万元。</p>",
                   "<h2>一、收入</h2><p>总计<strong>926.15</strong>万元。</p>");
  expect_sanitized("<p><a href=\"https://www.example.gov.cn/x\" class=\"c\">链接</a></p>",
                   "<p><a href=\"https://www.example.gov.cn/x\">链接</a></p>");
}

static void test_scripts_and_handlers_removed(void **state) {
  (void)state;
  expect_sanitized("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>");
  expect_sanitized("<p onclick=\"x()\">t</p>", "<p>t</p>");
  expect_sanitized("<p><a href=\"javascript:alert(1)\">x</a></p>", "<p><a>x</a></p>");
  expect_sanitized("<p><a href=\" JaVaScRiPt:alert(1)\">x</a></p>", "<p><a>x</a></p>");
  expect_sanitized("<div><style>p{}</style>正文</div>", "正文");
}

static void test_img_always_has_alt(void **state) {
  (void)state;
  expect_sanitized("<p><img src=\"/a.png\" onerror=\"x()\"></p>", "<p><img src=\"/a.png\" alt=\"\"></p>");
  expect_sanitized("<p><img src=\"x\" alt=\"图 &quot;1&quot;\"></p>", "<p><img src=\"x\" alt=\"图 &quot;1&quot;\"></p>");
  expect_sanitized("<p><img src=\"data:image/png;base64,AA\"></p>", "<p><img alt=\"\"></p>");
}

static void test_list_structure(void **state) {
  (void)state;
  expect_sanitized("<li>孤立的条目</li>", "孤立的条目");
  expect_sanitized("<ul><p>段落</p><li>条目</li></ul>", "<ul><li><p>段落</p></li><li>条目</li></ul>");
}

static void test_table_structure(void **state) {
  (void)state;
  expect_sanitized("<td>孤立的单元格</td>", "孤立的单元格");
  expect_sanitized("<table><tr><td colspan=\"2\" rowspan=\"x\" style=\"s\">合计</td></tr></table>",
                   "<table><tr><td colspan=\"2\">合计</td></tr></table>");
  expect_sanitized("<table><tr><td colspan=\"99999\">a</td></tr></table>", "<table><tr><td>a</td></tr></table>");
}

static void test_no_link_in_link(void **state) {
  (void)state;
  expect_sanitized("<p><a href=\"/a\">x<a href=\"/b\">y</a></a></p>", "<p><a href=\"/a\">x</a><a href=\"/b\">y</a></p>");
}

static void test_no_block_in_phrasing_content(void **state) {
  (void)state;
  /* libxml2 keeps what a browser would split; the text stays, the block goes. */
  expect_sanitized("<p><span><p>x</p></span></p>", "<p>x</p>");
  expect_sanitized("<p><a href=\"/a\"><span><table><tr><td>t</td></tr></table></span></a></p>",
                   "<p><a href=\"/a\">t</a></p>");
  expect_sanitized("<h2><span><ul><li>条目</li></ul></span></h2>", "<h2>条目</h2>");
  expect_sanitized("<ul><li><p>段落</p></li></ul><table><tr><td><p>格</p></td></tr></table>",
                   "<ul><li><p>段落</p></li></ul><table><tr><td><p>格</p></td></tr></table>");
}

static void test_text_of_html(void **state) {
  (void)state;
  char *text = zw_html_text("<h2>标题</h2><p>第一段<script>x</script>。</p><p>第二段</p>");
  assert_string_equal(text, "标题 第一段。 第二段");
  free(text);
}

static void test_escape_every_special_and_the_runs_between(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"", ""},
      {"plain 文字", "plain 文字"},
      {"&", "&amp;"},
      {"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&#39;f"},
      {"<<>>", "&lt;&lt;&gt;&gt;"},
      {"尾&", "尾&amp;"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = zw_html_escape_string(cases[i][0]);
    assert_non_null(got);
    assert_string_equal(got, cases[i][1]);
    free(got);
  }
}

static void test_text_collapses_every_kind_of_whitespace(void **state) {
  (void)state;
  char *text = zw_html_text("<p>a\tb\nc\r\nd  e</p>");
  assert_string_equal(text, "a b c d e");
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allowlist_kept),      cmocka_unit_test(test_scripts_and_handlers_removed),
      cmocka_unit_test(test_img_always_has_alt),  cmocka_unit_test(test_list_structure),
      cmocka_unit_test(test_table_structure),     cmocka_unit_test(test_no_link_in_link),
      cmocka_unit_test(test_no_block_in_phrasing_content), cmocka_unit_test(test_text_of_html),
      cmocka_unit_test(test_escape_every_special_and_the_runs_between),
      cmocka_unit_test(test_text_collapses_every_kind_of_whitespace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
