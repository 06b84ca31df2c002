/* post — one HTTP POST of a CAP document to the broadcast platform, with
 * libcurl, and what came back: the status, the start of the answer and any
 * Retry-After. Blocking, bounded by a timeout. */
#ifndef ZWGK_BROADCAST_POST_H
#define ZWGK_BROADCAST_POST_H

#include <stdbool.h>
#include <stddef.h>

struct post;

struct post_result {
  long status;          /* HTTP status, 0 when no answer came */
  bool timed_out;       /* no complete answer within the timeout */
  char error[256];      /* the transport error when status is 0 */
  char body[204];       /* the answer's first 200 bytes: whole UTF-8 characters, controls blanked */
  double retry_after_s; /* the answer's Retry-After in seconds, 0 when none */
  double seconds;       /* how long the POST took */
};

/* Makes a poster for endpoint (an http or https URL). Returns NULL with err;
 * caller owns it. */
struct post *post_new(const char *endpoint, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Frees p; accepts NULL. */
void post_destroy(struct post *p);

/* The endpoint, owned by p. */
const char *post_endpoint(const struct post *p);

/* POSTs len bytes of doc as application/cap+xml, waiting at most timeout_ms,
 * and fills r. Returns 0 when an HTTP answer came (whatever its status), -1
 * when none did (r->error, r->timed_out say why). */
int post_cap(struct post *p, const char *doc, size_t len, long timeout_ms, struct post_result *r);

#endif
