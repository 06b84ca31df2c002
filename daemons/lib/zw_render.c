/* zw_render — per-channel payloads rendered once, in the fan-out. */
#include "zw_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_html.h"

static const char *member(const json_t *obj, const char *name) {
  return json_string_value(json_object_get(obj, name));
}

json_t *zw_render_portal(const json_t *env) {
  const json_t *tags = json_object_get(env, "tags"), *pub = json_object_get(env, "public");
  const json_t *release = json_object_get(env, "release");
  const char *column = member(tags, "column"), *rid = member(env, "release_id");
  if (!column || !rid || !json_is_object(pub)) return NULL;
  char path[512];
  snprintf(path, sizeof path, "/zwgk/%s/%s.html", column, rid);
  char *body = zw_html_sanitize(member(pub, "body") ? member(pub, "body") : "");
  if (!body) return NULL;
  json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "column", column,
                              "column_name", member(tags, "item_l2") ? member(tags, "item_l2") : column,
                              "url_path", path, "title", member(pub, "title") ? member(pub, "title") : "",
                              "body_html", body, "summary", member(pub, "summary"), "region_code",
                              member(release, "region_code"), "department", member(release, "department"),
                              "doc_type", member(release, "doc_type"), "formed_at", member(release, "formed_at"));
  free(body);
  return payload;
}

json_t *zw_render_channel(const char *channel, const json_t *env) {
  if (strcmp(channel, "portal") == 0) return zw_render_portal(env);
  return NULL;
}
