/* zw_static — files of the static sites the adapters publish (the portal, the
 * bulletin boards), written so that a reader never sees half a page. */
#ifndef ZW_STATIC_H
#define ZW_STATIC_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes content (len bytes) to docroot/relpath atomically: the directories
 * are created, the bytes go to a temporary file beside it, which is fsynced
 * and renamed over the old one. Returns 0, or -1 with err (the old file, if
 * any, is left as it was). relpath must already be a safe relative path. */
int zw_static_write(const char *docroot, const char *relpath, const char *content, size_t len, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* What one static site serves. */
struct zw_static_site {
  const char *prefix; /* every served path starts with it, e.g. "/zwgk/" */
  const char *index;  /* where "/" and the bare prefix redirect, e.g. "/zwgk/index.html" */
  bool html_only;     /* serve only .html files (otherwise also .xml and .css) */
};

struct zw_static_server;

/* Listens on address ("host:port") and serves GET and HEAD of the files under
 * docroot whose paths the site allows: under its prefix, no dot segments,
 * backslashes, temporary files (".tmp.") or markers (".gone"). A page with a
 * "<file>.gone" marker beside it answers 410 Gone (it says it was withdrawn);
 * a missing one 404; a path ending in "/" means its index.html. site is
 * copied. Returns NULL with err; caller owns the server. */
struct zw_static_server *zw_static_server_new(struct event_base *base, const char *address, const char *docroot,
                                              const struct zw_static_site *site, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Stops listening and frees s; accepts NULL. */
void zw_static_server_destroy(struct zw_static_server *s);

#endif
