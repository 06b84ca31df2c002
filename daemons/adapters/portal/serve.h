/* serve — the portal's HTTP server: the static site under the document root,
 * with 410 Gone for withdrawn articles. */
#ifndef ZWGK_PORTAL_SERVE_H
#define ZWGK_PORTAL_SERVE_H

#include <event2/event.h>
#include <stddef.h>

struct serve;

/* Listens on address and serves docroot. Returns NULL with err on failure;
 * caller owns the server. */
struct serve *serve_new(struct event_base *base, const char *address, const char *docroot,
                        const char *base_url, char *err, size_t errlen) __attribute__((warn_unused_result));
void serve_destroy(struct serve *s);

/* The public base URL (portal.base_url), without a trailing slash; owned by s. */
const char *serve_base_url(const struct serve *s);

#endif
