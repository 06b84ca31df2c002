/* zw_html — HTML for the public: escaping, and sanitising release bodies to the
 * contract's allowlist by parsing them (libxml2's HTML parser), never with
 * regular expressions. */
#ifndef ZW_HTML_H
#define ZW_HTML_H

#include <stdio.h>

/* Writes s to out with &, <, >, " and ' escaped. */
void zw_html_escape(FILE *out, const char *s);

/* Returns s escaped as zw_html_escape would write it; caller frees. NULL when
 * out of memory. */
char *zw_html_escape_string(const char *s) __attribute__((warn_unused_result));

/* Returns html reduced to the allowlist p, br, h2–h4, ul, ol, li, table,
 * thead, tbody, tr, th[colspan,rowspan], td[colspan,rowspan], strong, em,
 * a[href], img[src,alt]: other elements are unwrapped (their text kept),
 * script-like elements dropped with their content, every other attribute
 * removed, and href/src kept only for http, https, mailto or relative URLs.
 * The result is valid HTML whatever came in: an img always has an alt (empty
 * when none was given), list items stand only in lists (other content straight
 * in a list becomes an item), rows and cells only in tables (a cell straight
 * in a table gets a row; text between rows is dropped), no link inside a
 * link. Caller frees. NULL when out of memory. */
char *zw_html_sanitize(const char *html) __attribute__((warn_unused_result));

/* Returns the text of html without markup, whitespace collapsed; caller frees. */
char *zw_html_text(const char *html) __attribute__((warn_unused_result));

#endif
