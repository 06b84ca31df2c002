/* zw_render — the channel payloads the fan-out puts on zwgk.channel.*: each is
 * rendered from the envelope's `public` text (never from `release`) and its tags. */
#ifndef ZW_RENDER_H
#define ZW_RENDER_H

#include <jansson.h>

/* Returns the portal payload for a tagged envelope: column, url_path, title,
 * summary, body_html (sanitised), region_code, department, doc_type,
 * formed_at; or NULL when out of memory or the envelope lacks tags/public.
 * Caller owns the result. */
json_t *zw_render_portal(const json_t *env) __attribute__((warn_unused_result));

/* Returns the payload of `channel` for env (dispatching on the channel name),
 * or NULL for a channel zwgk cannot render. Caller owns the result. */
json_t *zw_render_channel(const char *channel, const json_t *env) __attribute__((warn_unused_result));

#endif
