/* zw_catalog — the in-memory catalog and rules, reloaded on NOTIFY. */
#include "zw_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_log.h"

struct zw_catalog {
  json_t *items; /* code -> item */
  json_t *rules; /* ordered by priority, id */
  int version;
  unsigned long generation; /* connection the copy was loaded on; 0 = never loaded */
};

static const char items_sql[] =
    "SELECT coalesce(json_object_agg(i.code, json_build_object("
    "  'code', i.code, 'domain', d.name, 'item_l1', i.item_l1, 'item_l2', i.item_l2, "
    "  'column', i.column_path, 'audience', i.audience, 'mode', i.mode, 'level', i.level, "
    "  'time_limit_kind', i.time_limit_kind, 'time_limit_days', coalesce(i.time_limit_days, 0), "
    "  'period', i.period, "
    "  'channels', coalesce((SELECT json_agg(c.channel ORDER BY c.channel) FROM catalog_item_channels c "
    "      JOIN channels ch ON ch.code = c.channel WHERE c.item_code = i.code AND ch.automated), '[]'), "
    "  'manual_channels', coalesce((SELECT json_agg(c.channel ORDER BY c.channel) FROM catalog_item_channels c "
    "      JOIN channels ch ON ch.code = c.channel WHERE c.item_code = i.code AND NOT ch.automated), '[]'), "
    "  'bodies', coalesce((SELECT json_agg(b.department_code ORDER BY b.department_code) "
    "      FROM catalog_item_bodies b WHERE b.item_code = i.code), '[]'))), '{}')::text, "
    "  (SELECT coalesce(max(version), 0) FROM catalog_versions)::text "
    "FROM catalog_items i JOIN catalog_domains d ON d.code = i.domain_code WHERE i.active";

static const char rules_sql[] =
    "SELECT coalesce(json_agg(json_build_object('id', r.id, 'department', r.department_code, "
    "  'doc_type', r.doc_type, 'keywords', to_json(r.keywords), 'catalog_code', r.catalog_code) "
    "  ORDER BY r.priority, r.id), '[]')::text "
    "FROM classification_rules r WHERE r.active";

struct zw_catalog *zw_catalog_new(void) { return calloc(1, sizeof(struct zw_catalog)); }

void zw_catalog_destroy(struct zw_catalog *cat) {
  if (!cat) return;
  json_decref(cat->items);
  json_decref(cat->rules);
  free(cat);
}

int zw_catalog_version(const struct zw_catalog *cat) { return cat->version; }

/* Reads items and rules in one read-only snapshot. */
static enum zw_outcome load(struct zw_catalog *cat, struct zw_pg *pg, char *err, size_t errlen) {
  bool transient;
  PGresult *items = NULL, *rules = NULL;
  enum zw_outcome o = ZW_RETRY;
  if (zw_pg_run(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &transient, err, errlen) < 0)
    return ZW_RETRY;
  if (!(items = zw_pg_exec(pg, items_sql, 0, NULL, &transient, err, errlen))) goto out;
  if (!(rules = zw_pg_exec(pg, rules_sql, 0, NULL, &transient, err, errlen))) goto out;
  json_t *new_items = json_loads(PQgetvalue(items, 0, 0), 0, NULL);
  json_t *new_rules = json_loads(PQgetvalue(rules, 0, 0), 0, NULL);
  if (!json_is_object(new_items) || !json_is_array(new_rules)) {
    json_decref(new_items);
    json_decref(new_rules);
    snprintf(err, errlen, "catalog: unreadable JSON from PostgreSQL");
    goto out;
  }
  json_decref(cat->items);
  json_decref(cat->rules);
  cat->items = new_items;
  cat->rules = new_rules;
  cat->version = atoi(PQgetvalue(items, 0, 1));
  o = ZW_OK;
out:
  PQclear(items);
  PQclear(rules);
  char ignored[128];
  if (zw_pg_run(pg, o == ZW_OK ? "COMMIT" : "ROLLBACK", 0, NULL, &transient, ignored, sizeof ignored) < 0)
    o = ZW_RETRY;
  return o;
}

enum zw_outcome zw_catalog_refresh(struct zw_catalog *cat, struct zw_pg *pg, char *err, size_t errlen) {
  bool transient;
  PGconn *conn = zw_pg_conn(pg, err, errlen);
  if (!conn) return ZW_RETRY;
  unsigned long generation = zw_pg_generation(pg);
  bool fresh_connection = generation != cat->generation;
  if (fresh_connection && zw_pg_run(pg, "LISTEN zwgk_catalog", 0, NULL, &transient, err, errlen) < 0)
    return ZW_RETRY;
  int notified = zw_pg_notified(pg, "zwgk_catalog");
  if (notified < 0) {
    snprintf(err, errlen, "catalog: lost the PostgreSQL connection");
    return ZW_RETRY;
  }
  if (!fresh_connection && !notified) return ZW_OK;
  cat->generation = 0; /* until loaded */
  enum zw_outcome o = load(cat, pg, err, errlen);
  if (o != ZW_OK) return o;
  cat->generation = generation;
  zw_info(NULL, "catalog version %d loaded: %zu active items, %zu rules", cat->version,
          json_object_size(cat->items), json_array_size(cat->rules));
  return ZW_OK;
}

const json_t *zw_catalog_item(const struct zw_catalog *cat, const char *code) {
  return code && cat->items ? json_object_get(cat->items, code) : NULL;
}

bool zw_catalog_item_has_body(const json_t *item, const char *dept) {
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(item, "bodies"), i, b) {
    if (dept && strcmp(json_string_value(b), dept) == 0) return true;
  }
  return false;
}

/* NULL in the rule matches anything; otherwise it must equal value. */
static bool field_matches(const json_t *rule, const char *field, const char *value) {
  const char *want = json_string_value(json_object_get(rule, field));
  return !want || (value && strcmp(want, value) == 0);
}

static bool keyword_matches(const json_t *rule, const char *title) {
  const json_t *keywords = json_object_get(rule, "keywords");
  size_t i;
  json_t *k;
  if (json_array_size(keywords) == 0) return true;
  json_array_foreach(keywords, i, k) {
    if (title && strstr(title, json_string_value(k))) return true;
  }
  return false;
}

const json_t *zw_catalog_match(const struct zw_catalog *cat, const char *dept, const char *doc_type, const char *title) {
  size_t i;
  json_t *rule;
  json_array_foreach(cat->rules, i, rule) {
    if (!field_matches(rule, "department", dept) || !field_matches(rule, "doc_type", doc_type) ||
        !keyword_matches(rule, title))
      continue;
    const json_t *item = zw_catalog_item(cat, json_string_value(json_object_get(rule, "catalog_code")));
    if (item && zw_catalog_item_has_body(item, dept)) return rule;
  }
  return NULL;
}
