/* tagging — catalog look-up, classification rules and deadlines. */
#include "tagging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"

static enum zw_outcome query_failed(bool transient, const char *what, const char *pgerr, char *err,
                                    size_t errlen) {
  snprintf(err, errlen, "%s: %s", what, pgerr);
  return transient ? ZW_RETRY : ZW_FAIL;
}

/* Finds the first active rule matching department, doc_type and a title keyword. */
static enum zw_outcome match_rule(struct zw_pg *pg, const json_t *release, const char *dept,
                                  char *code, size_t codelen, int *rule_id, char *err, size_t errlen) {
  const char *params[] = {dept, json_string_value(json_object_get(release, "doc_type")),
                          json_string_value(json_object_get(release, "title"))};
  char pgerr[512];
  bool transient;
  PGresult *res = zw_pg_exec(pg,
                             "SELECT r.id, r.catalog_code FROM classification_rules r "
                             "WHERE r.active AND (r.department_code IS NULL OR r.department_code = $1) "
                             "AND EXISTS (SELECT 1 FROM catalog_item_bodies b "
                             "            WHERE b.item_code = r.catalog_code AND b.department_code = $1) "
                             "AND (r.doc_type IS NULL OR r.doc_type = $2) "
                             "AND (cardinality(r.keywords) = 0 OR EXISTS ("
                             "  SELECT 1 FROM unnest(r.keywords) k WHERE strpos($3, k) > 0)) "
                             "ORDER BY r.priority, r.id LIMIT 1",
                             3, params, &transient, pgerr, sizeof pgerr);
  if (!res) return query_failed(transient, "classification rules", pgerr, err, errlen);
  *rule_id = 0;
  if (PQntuples(res) == 1) {
    *rule_id = atoi(PQgetvalue(res, 0, 0));
    snprintf(code, codelen, "%s", PQgetvalue(res, 0, 1));
  }
  PQclear(res);
  return ZW_OK;
}

static const char item_sql[] =
    "SELECT i.code, d.name, i.item_l1, i.item_l2, i.column_path, i.audience, i.mode, i.level, "
    "  i.time_limit_kind, coalesce(i.time_limit_days, 0), coalesce(i.catalog_version, 0), "
    "  coalesce((SELECT json_agg(c.channel ORDER BY c.channel) FROM catalog_item_channels c "
    "            JOIN channels ch ON ch.code = c.channel WHERE c.item_code = i.code AND ch.automated), '[]'), "
    "  coalesce((SELECT json_agg(c.channel ORDER BY c.channel) FROM catalog_item_channels c "
    "            JOIN channels ch ON ch.code = c.channel WHERE c.item_code = i.code AND NOT ch.automated), '[]'), "
    "  EXISTS (SELECT 1 FROM catalog_item_bodies b WHERE b.item_code = i.code AND b.department_code = $2) "
    "FROM catalog_items i JOIN catalog_domains d ON d.code = i.domain_code "
    "WHERE i.code = $1 AND i.active";

/* The deadline: formed_at's date in China Standard Time plus the item's limit. */
static const char due_sql[] =
    "WITH f AS (SELECT (($1::timestamptz) AT TIME ZONE 'Asia/Shanghai')::date AS day) "
    "SELECT due::text, (now() AT TIME ZONE 'Asia/Shanghai')::date > due FROM ("
    "  SELECT CASE $2 WHEN 'days' THEN f.day + $3::int "
    "                 WHEN 'realtime' THEN zw_add_working_days(f.day, 1) "
    "                 ELSE zw_add_working_days(f.day, CASE WHEN $3::int > 0 THEN $3::int ELSE 20 END) "
    "         END AS due FROM f) x";

static enum zw_outcome add_deadline(struct zw_pg *pg, const json_t *release, PGresult *item,
                                    json_t *tags, char *err, size_t errlen) {
  const char *params[] = {json_string_value(json_object_get(release, "formed_at")),
                          PQgetvalue(item, 0, 8), PQgetvalue(item, 0, 9)};
  char pgerr[512];
  bool transient;
  PGresult *res = zw_pg_exec(pg, due_sql, 3, params, &transient, pgerr, sizeof pgerr);
  if (!res) return query_failed(transient, "deadline", pgerr, err, errlen);
  json_object_set_new(tags, "due_by", json_string(PQgetvalue(res, 0, 0)));
  json_object_set_new(tags, "late", json_boolean(strcmp(PQgetvalue(res, 0, 1), "t") == 0));
  PQclear(res);
  return ZW_OK;
}

static json_t *tags_from_item(PGresult *item, const char *classified_by) {
  char ts[32];
  zw_timestamp_now(ts);
  const char *mode = PQgetvalue(item, 0, 6);
  return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:[], s:s, s:s}",
                   "catalog_code", PQgetvalue(item, 0, 0), "catalog_version",
                   (json_int_t)atoll(PQgetvalue(item, 0, 10)), "domain", PQgetvalue(item, 0, 1),
                   "item_l1", PQgetvalue(item, 0, 2), "item_l2", PQgetvalue(item, 0, 3), "column",
                   PQgetvalue(item, 0, 4), "channels", json_loads(PQgetvalue(item, 0, 11), 0, NULL),
                   "manual_channels", json_loads(PQgetvalue(item, 0, 12), 0, NULL), "audience",
                   PQgetvalue(item, 0, 5), "mode", mode, "level", PQgetvalue(item, 0, 7),
                   "redactions", "classified_by", classified_by, "classified_at", ts);
}

enum zw_outcome tagging_run(struct zw_pg *pg, const json_t *release, const char *dept,
                            struct tagging *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  char code[80] = "", classified_by[96] = "explicit", pgerr[512];
  const char *explicit_code = json_string_value(json_object_get(release, "catalog_code"));
  if (explicit_code) {
    snprintf(code, sizeof code, "%s", explicit_code);
  } else {
    int rule_id;
    enum zw_outcome o = match_rule(pg, release, dept, code, sizeof code, &rule_id, err, errlen);
    if (o != ZW_OK) return o;
    if (!rule_id) {
      t->reason = "unclassified";
      snprintf(t->detail, sizeof t->detail, "no catalog_code and no classification rule matched");
      return ZW_OK;
    }
    snprintf(classified_by, sizeof classified_by, "rule:%d", rule_id);
  }
  const char *params[] = {code, dept};
  bool transient;
  PGresult *item = zw_pg_exec(pg, item_sql, 2, params, &transient, pgerr, sizeof pgerr);
  if (!item) return query_failed(transient, "catalog", pgerr, err, errlen);
  enum zw_outcome o = ZW_OK;
  if (PQntuples(item) != 1) {
    t->reason = "unclassified";
    snprintf(t->detail, sizeof t->detail, "catalog item '%s' does not exist or is inactive", code);
  } else if (strcmp(PQgetvalue(item, 0, 13), "t") != 0) {
    t->reason = "catalog_owner_mismatch";
    snprintf(t->detail, sizeof t->detail, "department '%s' is not a responsible body of item '%s'", dept, code);
  } else {
    t->tags = tags_from_item(item, classified_by);
    t->on_request = strcmp(PQgetvalue(item, 0, 6), "on_request") == 0;
    o = t->tags ? add_deadline(pg, release, item, t->tags, err, errlen) : ZW_RETRY;
    if (o != ZW_OK) {
      json_decref(t->tags);
      t->tags = NULL;
    }
  }
  PQclear(item);
  return o;
}
