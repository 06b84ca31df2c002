/* zw_html — escaping and allowlist sanitising of release bodies. */
#include "zw_html.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void zw_html_escape(FILE *out, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '&': fputs("&amp;", out); break;
      case '<': fputs("&lt;", out); break;
      case '>': fputs("&gt;", out); break;
      case '"': fputs("&quot;", out); break;
      case '\'': fputs("&#39;", out); break;
      default: fputc(*s, out);
    }
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

static void sanitize_children(FILE *out, xmlNode *node);

static void sanitize_element(FILE *out, xmlNode *node) {
  const char *name = (const char *)node->name;
  if (listed(name, dropped)) return;
  if (!listed(name, allowed)) {
    sanitize_children(out, node);
    return;
  }
  fprintf(out, "<%s", name);
  const char *attr = strcmp(name, "a") == 0 ? "href" : strcmp(name, "img") == 0 ? "src" : NULL;
  if (attr) {
    xmlChar *value = xmlGetProp(node, (const xmlChar *)attr);
    if (value && safe_url((const char *)value, attr[0] == 'h')) {
      fprintf(out, " %s=\"", attr);
      zw_html_escape(out, (const char *)value);
      fputc('"', out);
    }
    xmlFree(value);
  }
  fputc('>', out);
  if (strcmp(name, "br") == 0 || strcmp(name, "img") == 0) return;
  sanitize_children(out, node);
  fprintf(out, "</%s>", name);
}

static void sanitize_children(FILE *out, xmlNode *node) {
  for (xmlNode *child = node->children; child; child = child->next) {
    if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
      zw_html_escape(out, (const char *)child->content);
    else if (child->type == XML_ELEMENT_NODE)
      sanitize_element(out, child);
  }
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

char *zw_html_sanitize(const char *html) { return with_parsed(html, sanitize_children); }

static void text_children(FILE *out, xmlNode *node) {
  for (xmlNode *child = node->children; child; child = child->next) {
    if (child->type == XML_TEXT_NODE) {
      for (const char *p = (const char *)child->content; *p; p++)
        fputc(isspace((unsigned char)*p) ? ' ' : *p, out);
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
