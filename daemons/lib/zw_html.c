/* zw_html — escaping and allowlist sanitising of release bodies. */
#include "zw_html.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every page the portal and the boards write goes through here, character by
 * character of every title and body: the runs between special characters are
 * written whole, not one locked putc at a time. */
void zw_html_escape(FILE *out, const char *s) {
  while (s && *s) {
    size_t run = strcspn(s, "&<>\"'");
    if (run) fwrite(s, 1, run, out);
    s += run;
    switch (*s) {
      case '&': fputs("&amp;", out); break;
      case '<': fputs("&lt;", out); break;
      case '>': fputs("&gt;", out); break;
      case '"': fputs("&quot;", out); break;
      case '\'': fputs("&#39;", out); break;
      default: continue; /* the end of the string */
    }
    s++;
  }
}

char *zw_html_escape_string(const char *s) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return NULL;
  zw_html_escape(out, s);
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

static const char *const allowed[] = {"p",  "br",    "h2",    "h3",    "h4", "ul", "ol", "li",
                                      "table", "thead", "tbody", "tr", "th", "td", "strong",
                                      "em", "a",     "img",   NULL};
/* Dropped with everything inside: their content is code or not for readers. */
static const char *const dropped[] = {"script", "style", "iframe", "object", "embed", "template",
                                      "noscript", "svg", "math", "head", "title", NULL};

static bool listed(const char *name, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(name, *list) == 0) return true;
  return false;
}

/* True for URLs safe to keep: http, https, mailto (href only) or relative. */
static bool safe_url(const char *url, bool allow_mailto) {
  while (*url && isspace((unsigned char)*url)) url++;
  const char *colon = strchr(url, ':');
  const char *slash = strpbrk(url, "/?#");
  if (!colon || (slash && slash < colon)) return true; /* relative */
  size_t n = (size_t)(colon - url);
  return (n == 4 && strncasecmp(url, "http", 4) == 0) || (n == 5 && strncasecmp(url, "https", 5) == 0) ||
         (allow_mailto && n == 6 && strncasecmp(url, "mailto", 6) == 0);
}

/* Where in the output an element would land: the nearest element written
 * (NULL at the top), whether a link encloses it, and whether only phrasing
 * content may stand there (inside a paragraph, heading, link or emphasis). */
struct place {
  const char *parent;
  bool in_link;
  bool phrasing;
};

/* Elements whose content is phrasing content only. */
static const char *const phrasing_only[] = {"p", "h2", "h3", "h4", "a", "strong", "em", NULL};
/* Block elements: never inside phrasing content. */
static const char *const blocks[] = {"p", "h2", "h3", "h4", "ul", "ol", "li", "table", "thead", "tbody",
                                     "tr", "th", "td", NULL};

static void sanitize_children(FILE *out, xmlNode *node, struct place at);

/* True when name may stand where `at` is: list items only in lists, rows and
 * cells only in tables, row groups only in tables, no link inside a link, no
 * block inside a paragraph, heading, link or emphasis (its text is kept) — so
 * that the result is valid HTML whatever the release sent. */
static bool fits(const char *name, struct place at) {
  const char *parent = at.parent ? at.parent : "";
  if (strcmp(name, "li") == 0) return strcmp(parent, "ul") == 0 || strcmp(parent, "ol") == 0;
  if (strcmp(name, "thead") == 0 || strcmp(name, "tbody") == 0) return strcmp(parent, "table") == 0;
  if (strcmp(name, "tr") == 0)
    return strcmp(parent, "table") == 0 || strcmp(parent, "thead") == 0 || strcmp(parent, "tbody") == 0;
  if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
    return listed(parent, (const char *const[]){"tr", "table", "thead", "tbody", NULL});
  if (strcmp(name, "a") == 0) return !at.in_link;
  return !(at.phrasing && listed(name, blocks)); /* e.g. a paragraph inside a paragraph */
}

/* True inside elements that hold only other elements (rows, cells, items). */
static bool holds_elements_only(const char *parent) {
  return parent && (listed(parent, (const char *const[]){"table", "thead", "tbody", "tr", "ul", "ol", NULL}));
}

/* Writes a number attribute (colspan, rowspan) when it is 1 to 3 digits. */
static void number_attribute(FILE *out, xmlNode *node, const char *attr) {
  xmlChar *value = xmlGetProp(node, (const xmlChar *)attr);
  size_t n = value ? strlen((const char *)value) : 0;
  if (n > 0 && n <= 3 && strspn((const char *)value, "0123456789") == n && atoi((const char *)value) > 0)
    fprintf(out, " %s=\"%d\"", attr, atoi((const char *)value));
  xmlFree(value);
}

static void url_attribute(FILE *out, xmlNode *node, const char *attr, bool allow_mailto) {
  xmlChar *value = xmlGetProp(node, (const xmlChar *)attr);
  if (value && safe_url((const char *)value, allow_mailto)) {
    fprintf(out, " %s=\"", attr);
    zw_html_escape(out, (const char *)value);
    fputc('"', out);
  }
  xmlFree(value);
}

static void sanitize_element(FILE *out, xmlNode *node, struct place at) {
  const char *name = (const char *)node->name;
  if (listed(name, dropped)) return;
  if (!listed(name, allowed) || !fits(name, at)) {
    sanitize_children(out, node, at); /* unwrapped: its text stays */
    return;
  }
  /* Block content straight inside a list becomes a list item of its own; a
   * cell straight inside a table gets its row. */
  const char *wrap = NULL;
  if (at.parent && (strcmp(at.parent, "ul") == 0 || strcmp(at.parent, "ol") == 0) && strcmp(name, "li") != 0)
    wrap = "li";
  else if (at.parent && (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) &&
           listed(at.parent, (const char *const[]){"table", "thead", "tbody", NULL}))
    wrap = "tr";
  if (wrap) fprintf(out, "<%s>", wrap);
  fprintf(out, "<%s", name);
  if (strcmp(name, "a") == 0) url_attribute(out, node, "href", true);
  if (strcmp(name, "img") == 0) {
    url_attribute(out, node, "src", false);
    xmlChar *alt = xmlGetProp(node, (const xmlChar *)"alt");
    fputs(" alt=\"", out); /* required: empty when the release gave none */
    zw_html_escape(out, alt ? (const char *)alt : "");
    fputc('"', out);
    xmlFree(alt);
  }
  if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
    number_attribute(out, node, "colspan");
    number_attribute(out, node, "rowspan");
  }
  fputc('>', out);
  if (strcmp(name, "br") != 0 && strcmp(name, "img") != 0) {
    struct place inside = {name, at.in_link || strcmp(name, "a") == 0, at.phrasing || listed(name, phrasing_only)};
    sanitize_children(out, node, inside);
    fprintf(out, "</%s>", name);
  }
  if (wrap) fprintf(out, "</%s>", wrap);
}

/* True when s is only white space. */
static bool blank(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s)) return false;
  return true;
}

static void sanitize_children(FILE *out, xmlNode *node, struct place at) {
  for (xmlNode *child = node->children; child; child = child->next) {
    if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) {
      const char *text = (const char *)child->content;
      /* Text between rows or items has no place in valid HTML: a list gets it
       * as an item of its own, a table drops it (it is not part of a cell). */
      if (!holds_elements_only(at.parent) || blank(text)) {
        zw_html_escape(out, text);
      } else if (strcmp(at.parent, "ul") == 0 || strcmp(at.parent, "ol") == 0) {
        fputs("<li>", out);
        zw_html_escape(out, text);
        fputs("</li>", out);
      }
    } else if (child->type == XML_ELEMENT_NODE) {
      sanitize_element(out, child, at);
    }
  }
}

static void sanitize_body(FILE *out, xmlNode *body) {
  sanitize_children(out, body, (struct place){NULL, false, false});
}

static xmlNode *find_body(xmlNode *node) {
  for (; node; node = node->next) {
    if (node->type == XML_ELEMENT_NODE && strcasecmp((const char *)node->name, "body") == 0) return node;
    xmlNode *inner = find_body(node->children);
    if (inner) return inner;
  }
  return NULL;
}

/* Parses html and writes the body's children through fn. */
static char *with_parsed(const char *html, void (*fn)(FILE *, xmlNode *)) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return NULL;
  size_t n = strlen(html);
  htmlDocPtr doc = n ? htmlReadMemory(html, (int)n, NULL, "UTF-8",
                                      HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)
                     : NULL;
  xmlNode *body = doc ? find_body(xmlDocGetRootElement(doc)) : NULL;
  if (body) fn(out, body);
  xmlFreeDoc(doc);
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

char *zw_html_sanitize(const char *html) { return with_parsed(html, sanitize_body); }

static void text_children(FILE *out, xmlNode *node) {
  for (xmlNode *child = node->children; child; child = child->next) {
    if (child->type == XML_TEXT_NODE) {
      for (const char *p = (const char *)child->content; *p;) {
        size_t run = strcspn(p, " \t\n\v\f\r");
        if (run) fwrite(p, 1, run, out);
        p += run;
        if (*p) {
          fputc(' ', out);
          p++;
        }
      }
    } else if (child->type == XML_ELEMENT_NODE && !listed((const char *)child->name, dropped)) {
      text_children(out, child);
      if (!listed((const char *)child->name, (const char *const[]){"strong", "em", "a", NULL})) fputc(' ', out);
    }
  }
}

char *zw_html_text(const char *html) {
  char *raw = with_parsed(html, text_children);
  if (!raw) return NULL;
  char *w = raw;
  bool space = true;
  for (const char *r = raw; *r; r++) {
    if (*r == ' ') {
      if (!space) *w++ = ' ';
      space = true;
    } else {
      *w++ = *r;
      space = false;
    }
  }
  if (w > raw && w[-1] == ' ') w--;
  *w = '\0';
  return raw;
}
