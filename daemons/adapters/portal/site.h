/* site — the portal's static site under the document root: article pages,
 * column pages, village (村(居)务公开) pages and the section index, each
 * written atomically (temporary file, fsync, rename). */
#ifndef ZWGK_PORTAL_SITE_H
#define ZWGK_PORTAL_SITE_H

#include <stdbool.h>
#include <stddef.h>

#include "zw_pg.h"

struct site {
  struct zw_pg *pg;  /* borrowed */
  char docroot[512];
  char name[128];    /* the section's title, portal.site_name */
};

/* True for a safe column path: ^[a-z0-9-]+(/[a-z0-9-]+)*$. */
bool site_column_valid(const char *column);

/* Writes content to docroot/relpath atomically, creating directories. Returns 0
 * or -1 with err. */
int site_write(const struct site *s, const char *relpath, const char *content, size_t len, char *err,
               size_t errlen) __attribute__((warn_unused_result));

/* Renders the article page of release_id from portal_articles. withdrawn pages
 * say so and when. Returns 0, or -1 with err (*transient for database trouble). */
int site_article(const struct site *s, const char *release_id, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Re-renders a column page, newest first. */
int site_column(const struct site *s, const char *column, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Re-renders the village page of a 12-digit region code. */
int site_village(const struct site *s, const char *region, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Re-renders /zwgk/feed.xml (RSS 2.0): the 50 newest published articles;
 * base_url makes the links absolute. */
int site_feed(const struct site *s, const char *base_url, bool *transient, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Re-renders /zwgk/index.html with every column and the interaction and online
 * service entrances. */
int site_index(const struct site *s, bool *transient, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
