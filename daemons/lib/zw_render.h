/* zw_render — the channel payloads the fan-out puts on zwgk.channel.*: each is
 * rendered from the envelope's `public` text (never from `release`) and its tags,
 * checked against the channel's limits, and shortened by documented rules
 * (docs/channels.md) where it does not fit; every shortening is listed in the
 * payload's `shortened` array. */
#ifndef ZW_RENDER_H
#define ZW_RENDER_H

#include <jansson.h>

/* What the fan-out knows besides the envelope; any member may be NULL. */
struct zw_render_ctx {
  const char *portal_base_url; /* e.g. "https://www.example.gov.cn", no trailing slash */
  const char *region_name;     /* name of release.region_code, e.g. "东山村" */
  const char *department_name; /* name of release.department */
};

/* Returns the portal payload for a tagged envelope: column, url_path, title,
 * summary, body_html (sanitised), region_code, department, doc_type,
 * formed_at; or NULL when out of memory or the envelope lacks tags/public.
 * Caller owns the result. */
json_t *zw_render_portal(const json_t *env) __attribute__((warn_unused_result));

/* Returns the payload of `channel` (portal, wechat, broadcast, bulletin) for
 * env, or NULL for a channel zwgk cannot render or an envelope without
 * tags/public. ctx may be NULL. Caller owns the result. */
json_t *zw_render_channel(const char *channel, const json_t *env, const struct zw_render_ctx *ctx)
    __attribute__((warn_unused_result));

#endif
