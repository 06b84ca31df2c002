/* serve — the bulletin's HTTP server: the notice pages under the document
 * root's bulletin/ directory, with 410 Gone for withdrawn notices. The same
 * approach as the portal's server (daemons/adapters/portal/serve.c). */
#ifndef ZWGK_BULLETIN_SERVE_H
#define ZWGK_BULLETIN_SERVE_H

#include <event2/event.h>
#include <stddef.h>

struct serve;

/* Listens on address ("host:port") and serves the .html files under
 * docroot/bulletin/. Returns NULL with err on failure; caller owns the server. */
struct serve *serve_new(struct event_base *base, const char *address, const char *docroot, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

/* Stops listening and frees s; accepts NULL. */
void serve_destroy(struct serve *s);

#endif
