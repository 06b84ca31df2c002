/* fuzz_html — libFuzzer target for zw_html: the input, as a C string (up to its
 * first NUL), is sanitised as a release body, reduced to its text and escaped.
 *
 * Besides the sanitizers' reports, the target aborts when a result breaks the
 * contract of zw_html.h. The sanitised body is read back tag by tag (its text is
 * escaped, so every '<' in it starts a tag) and must hold only allowlisted
 * elements, each closed in order, with only their allowlisted attributes,
 * double-quoted; no script element and no event handler; an href or src whose
 * scheme, as a browser reads it, is http, https or (href only) mailto, or none;
 * an alt on every img; li only in ul or ol, tr only in table, thead or tbody,
 * td and th only in tr, thead and tbody only in table, no a inside an a, and no
 * text straight inside a table, row or list.
 *
 * Sanitising the result again must give it back unchanged but for what
 * libxml2's HTML parser (2.9) does to any markup it reads, which the sanitiser
 * can leave where an element it unwrapped stood (<span>x</span> gives x): text
 * at the very start is put in a p; a start tag closes the element it stands in when the parser's
 * table says so (a p before p, h2–h4, ul, ol, li or table; a heading before p,
 * li or table; an a before table); what is nested deeper than its limit of 256
 * elements is dropped; and blank text between tags is dropped. A result with
 * one of the first three is not compared, blank text is ignored in the
 * comparison, and the second result is held to all of the above too. The
 * comparison is made when the input is well-formed UTF-8, as release bodies
 * are (they come in JSON), and then the sanitised body and the text must be
 * well-formed UTF-8 too; other bytes the parser passes through or reads as
 * Latin-1.
 *
 * The text has its white space collapsed: no tab or line break, no two spaces
 * in a row, none at either end. The escaped string has no markup characters
 * and reads back as the original. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "zw_html.h"
#include "zw_text.h"

/* MAX_DEPTH: how deep this target follows the sanitised body. PARSER_DEPTH:
 * below libxml2's limit of 256 open elements (html and body among them),
 * beyond which the parser drops the rest of what it reads. */
enum { MAX_DEPTH = 512, PARSER_DEPTH = 250 };

static const char *const elements[] = {"p",  "br", "h2", "h3", "h4", "ul",     "ol", "li", "table", "thead",
                                       "tbody", "tr", "th", "td", "strong", "em", "a",  "img", NULL};

static bool is(const char *name, const char *want) { return name && strcmp(name, want) == 0; }

/* Returns the value of an attribute as a browser decodes it: the escapes
 * zw_html_escape writes are the only references in the output. Caller frees. */
static char *unescape(const char *s, size_t n) {
  static const struct {
    const char *entity;
    char c;
  } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
  char *out = malloc(n + 1), *w = out;
  if (!out) abort();
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    while (s[i] == '&' && k < 5 && strncmp(s + i, entities[k].entity, strlen(entities[k].entity)) != 0) k++;
    if (s[i] == '&' && k == 5) abort(); /* a bare & the escaper would have written as &amp; */
    if (s[i] == '&') {
      *w++ = entities[k].c;
      i += strlen(entities[k].entity);
    } else {
      *w++ = s[i++];
    }
  }
  *w = '\0';
  return out;
}

/* The URL's scheme as the URL standard reads it: leading C0 controls and
 * spaces stripped, tabs and line breaks removed anywhere, then letters, digits,
 * '+', '-' and '.' from a letter up to a ':'. Aborts unless it is http, https
 * or, where mailto is allowed, mailto. */
static void check_url(const char *value, size_t n, bool allow_mailto) {
  char *url = unescape(value, n), *w = url;
  const char *r = url;
  while (*r && (unsigned char)*r <= ' ') r++;
  for (; *r; r++)
    if (*r != '\t' && *r != '\n' && *r != '\r') *w++ = *r;
  *w = '\0';
  size_t len = 0;
  if (isalpha((unsigned char)url[0]))
    while (isalnum((unsigned char)url[len]) || url[len] == '+' || url[len] == '-' || url[len] == '.') len++;
  if (len > 0 && url[len] == ':') {
    bool ok = (len == 4 && strncasecmp(url, "http", 4) == 0) || (len == 5 && strncasecmp(url, "https", 5) == 0) ||
              (allow_mailto && len == 6 && strncasecmp(url, "mailto", 6) == 0);
    if (!ok) abort();
  }
  free(url);
}

/* Reads the attributes of a start tag of element name at p, up to '>'; returns
 * the position after it. */
static const char *read_attributes(const char *p, const char *name) {
  bool img = is(name, "img"), alt = false;
  while (*p == ' ') {
    p++;
    size_t n = strcspn(p, "=");
    const char *attr = p;
    if (strncmp(p + n, "=\"", 2) != 0) abort();
    const char *value = p + n + 2;
    size_t vn = strcspn(value, "\"<>'");
    if (value[vn] != '"') abort();
    bool cell = is(name, "td") || is(name, "th");
    bool span = n == 7 && (strncmp(attr, "colspan", 7) == 0 || strncmp(attr, "rowspan", 7) == 0);
    if (is(name, "a") && n == 4 && strncmp(attr, "href", 4) == 0)
      check_url(value, vn, true);
    else if (img && n == 3 && strncmp(attr, "src", 3) == 0)
      check_url(value, vn, false);
    else if (img && n == 3 && strncmp(attr, "alt", 3) == 0)
      alt = true;
    else if (!(cell && span))
      abort(); /* not an allowlisted attribute of this element: an event handler, style, … */
    else if (vn < 1 || vn > 3 || strspn(value, "0123456789") < vn || value[0] == '0')
      abort(); /* colspan and rowspan are 1–999 */
    free(unescape(value, vn)); /* aborts on an & that is not one of the escapes */
    p = value + vn + 1;
  }
  if (*p != '>' || (img && !alt)) abort();
  return p + 1;
}

/* True when element child may stand straight inside parent (NULL: the top). */
static bool placed_well(const char *child, const char *parent, bool in_link) {
  bool in_list = is(parent, "ul") || is(parent, "ol");
  if (is(child, "li")) return in_list;
  if (is(child, "tr")) return is(parent, "table") || is(parent, "thead") || is(parent, "tbody");
  if (is(child, "td") || is(child, "th")) return is(parent, "tr");
  if (is(child, "thead") || is(child, "tbody")) return is(parent, "table");
  if (is(child, "a")) return !in_link;
  return !in_list; /* anything else in a list is wrapped in an item */
}

/* True when libxml2's HTML parser closes parent on reading a start tag of
 * child in it (htmlStartClose in HTMLparser.c, for the allowlisted elements). */
static bool closes(const char *child, const char *parent) {
  static const char *const pairs[][2] = {
      {"p", "p"},      {"p", "h2"},     {"p", "h3"},     {"p", "h4"},     {"h2", "p"},     {"h3", "p"},
      {"h4", "p"},     {"ul", "p"},     {"ul", "ol"},    {"ol", "p"},     {"ol", "ul"},    {"li", "p"},
      {"li", "h2"},    {"li", "h3"},    {"li", "h4"},    {"li", "li"},    {"a", "a"},      {"table", "p"},
      {"table", "h2"}, {"table", "h3"}, {"table", "h4"}, {"table", "a"},  {"td", "p"},     {"td", "a"},
      {"td", "td"},    {"td", "th"},    {"th", "p"},     {"th", "a"},     {"th", "td"},    {"th", "th"},
      {"tr", "p"},     {"tr", "td"},    {"tr", "th"},    {"tr", "tr"},    {"tbody", "p"},  {"tbody", "td"},
      {"tbody", "th"}, {"tbody", "tr"}, {"tbody", "thead"}, {"tbody", "tbody"},
  };
  for (size_t i = 0; parent && i < sizeof pairs / sizeof pairs[0]; i++)
    if (is(child, pairs[i][0]) && is(parent, pairs[i][1])) return true;
  return false;
}

/* Reads the sanitised body back and aborts on anything the contract rules out.
 * Returns true when the parser would read it otherwise than it was written:
 * an element closed early, or nested too deep. */
static bool check_sanitized(const char *html) {
  const char *stack[MAX_DEPTH];
  size_t depth = 0, links = 0;
  bool reread_otherwise = false;
  for (const char *p = html; *p;) {
    const char *parent = depth ? stack[depth - 1] : NULL;
    if (*p != '<') {
      /* Text: in a table, row or list only white space. */
      size_t n = strcspn(p, "<");
      bool holds_elements = is(parent, "table") || is(parent, "thead") || is(parent, "tbody") || is(parent, "tr") ||
                            is(parent, "ul") || is(parent, "ol");
      for (size_t i = 0; holds_elements && i < n; i++)
        if (!isspace((unsigned char)p[i])) abort();
      if (memchr(p, '>', n)) abort(); /* text is escaped */
      p += n;
      continue;
    }
    bool end_tag = p[1] == '/';
    const char *name = p + 1 + end_tag;
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
    size_t k = 0;
    while (elements[k] && !(strlen(elements[k]) == n && strncmp(name, elements[k], n) == 0)) k++;
    if (!elements[k]) abort(); /* <script, <iframe, <svg, … */
    const char *element = elements[k];
    if (end_tag) {
      if (!depth || !is(stack[depth - 1], element) || name[n] != '>') abort();
      depth--;
      if (is(element, "a")) links--;
      p = name + n + 1;
      continue;
    }
    if (!placed_well(element, parent, links > 0)) abort();
    reread_otherwise = reread_otherwise || closes(element, parent);
    p = read_attributes(name + n, element);
    if (is(element, "br") || is(element, "img")) continue;
    if (depth == MAX_DEPTH) return true; /* deeper than this target follows */
    reread_otherwise = reread_otherwise || depth >= PARSER_DEPTH;
    stack[depth++] = element;
    if (is(element, "a")) links++;
  }
  if (depth) abort();
  return reread_otherwise;
}

/* True when html starts with text, which the parser puts in a p. */
static bool starts_with_text(const char *html) {
  html += strspn(html, " \t\n\r");
  return *html && *html != '<';
}

/* Returns a copy of html without blank text between tags or at the ends,
 * which the parser drops (areBlanks in HTMLparser.c). Caller frees. */
static char *without_blanks(const char *html) {
  char *out = malloc(strlen(html) + 1), *w = out;
  if (!out) abort();
  for (const char *p = html; *p;) {
    size_t blank = strspn(p, " \t\n\r");
    bool between = (p == html || p[-1] == '>') && (p[blank] == '<' || p[blank] == '\0');
    if (blank && between) {
      p += blank;
      continue;
    }
    *w++ = *p++;
  }
  *w = '\0';
  return out;
}

/* Checks clean, a sanitised body, and sanitises it again; compares the two
 * when asked to, unless the parser reads clean otherwise than it was written.
 * Returns the second result (caller frees), or NULL when out of memory. */
static char *resanitize(const char *clean, bool compare) {
  bool reread_otherwise = check_sanitized(clean);
  char *again = zw_html_sanitize(clean);
  if (again && compare && !reread_otherwise && !starts_with_text(clean)) {
    char *a = without_blanks(clean), *b = without_blanks(again);
    if (strcmp(a, b) != 0) abort();
    free(a);
    free(b);
  }
  return again;
}

/* The text has its white space collapsed to single spaces, none at the ends. */
static void check_text(const char *text) {
  size_t n = strlen(text);
  if (n && (text[0] == ' ' || text[n - 1] == ' ')) abort();
  for (size_t i = 0; i < n; i++)
    if ((isspace((unsigned char)text[i]) && text[i] != ' ') || (text[i] == ' ' && text[i + 1] == ' ')) abort();
}

static void check_escaped(const char *s, const char *escaped) {
  if (strpbrk(escaped, "<>\"'")) abort();
  char *back = unescape(escaped, strlen(escaped));
  if (strcmp(back, s) != 0) abort();
  free(back);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  xmlInitParser();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *html = malloc(size + 1);
  if (!html) return 0;
  memcpy(html, data, size);
  html[size] = '\0';

  /* Release bodies are well-formed UTF-8 (they come in JSON); what the parser
   * makes of other bytes need not survive a second reading. */
  bool utf8 = zw_text_is_utf8(html, NULL);
  char *clean = zw_html_sanitize(html);
  if (clean) {
    if (utf8 && !zw_text_is_utf8(clean, NULL)) abort();
    char *again = resanitize(clean, utf8);
    if (again) free(resanitize(again, utf8));
    free(again);
    free(clean);
  }
  char *text = zw_html_text(html);
  if (text) {
    if (utf8 && !zw_text_is_utf8(text, NULL)) abort();
    check_text(text);
  }
  free(text);
  char *escaped = zw_html_escape_string(html);
  if (escaped) check_escaped(html, escaped);
  free(escaped);
  free(html);
  return 0;
}
