/* zw_tagging — catalog look-up, classification rules and deadlines. */
#include "zw_tagging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_envelope.h"

static enum zw_outcome query_failed(bool transient, const char *what, const char *pgerr, char *err,
                                    size_t errlen) {
  snprintf(err, errlen, "%s: %s", what, pgerr);
  return transient ? ZW_RETRY : ZW_FAIL;
}

/* The deadline: formed_at's date in China Standard Time plus the item's
 * limit — working days from the calendar, calendar days, the next working day
 * for real-time items, and for periodic items 15 days after the end of the
 * month, quarter or year the release was formed in (the catalog's usual
 * "每月终了后15日内"; docs/catalog.md). Computed once, then compared. */
static const char due_sql[] =
    "WITH f AS (SELECT (($1::timestamptz) AT TIME ZONE 'Asia/Shanghai')::date AS day), "
    "d AS MATERIALIZED ("
    "  SELECT CASE $2 WHEN 'days' THEN f.day + $3::int "
    "                 WHEN 'realtime' THEN zw_add_working_days(f.day, 1) "
    "                 WHEN 'periodic' THEN (date_trunc(CASE $4 WHEN 'monthly' THEN 'month' "
    "                     WHEN 'quarterly' THEN 'quarter' ELSE 'year' END, f.day) "
    "                   + CASE $4 WHEN 'monthly' THEN interval '1 month' "
    "                     WHEN 'quarterly' THEN interval '3 months' ELSE interval '1 year' END)::date + 14 "
    "                 ELSE zw_add_working_days(f.day, CASE WHEN $3::int > 0 THEN $3::int ELSE 20 END) "
    "         END AS due FROM f) "
    "SELECT due::text, (now() AT TIME ZONE 'Asia/Shanghai')::date > due FROM d";

static enum zw_outcome add_deadline(struct zw_pg *pg, const json_t *release, const json_t *item, json_t *tags,
                                    char *err, size_t errlen) {
  char days[16];
  snprintf(days, sizeof days, "%lld", (long long)json_integer_value(json_object_get(item, "time_limit_days")));
  const char *params[] = {json_string_value(json_object_get(release, "formed_at")),
                          json_string_value(json_object_get(item, "time_limit_kind")), days,
                          json_string_value(json_object_get(item, "period"))};
  char pgerr[512];
  bool transient;
  PGresult *res = zw_pg_exec(pg, due_sql, 4, params, &transient, pgerr, sizeof pgerr);
  if (!res) return query_failed(transient, "deadline", pgerr, err, errlen);
  json_object_set_new(tags, "due_by", json_string(PQgetvalue(res, 0, 0)));
  json_object_set_new(tags, "late", json_boolean(strcmp(PQgetvalue(res, 0, 1), "t") == 0));
  PQclear(res);
  return ZW_OK;
}

static json_t *tags_from_item(const json_t *item, int version, const char *classified_by) {
  char ts[32];
  zw_timestamp_now(ts);
  const char *fields[] = {"catalog_code", "code",  "domain",   "domain", "item_l1", "item_l1", "item_l2", "item_l2",
                          "column",       "column", "audience", "audience", "mode",  "mode",    "level",   "level"};
  json_t *tags = json_object();
  for (size_t i = 0; tags && i < sizeof fields / sizeof fields[0]; i += 2)
    json_object_set(tags, fields[i], json_object_get(item, fields[i + 1]));
  if (!tags) return NULL;
  json_object_set_new(tags, "catalog_version", json_integer(version));
  json_object_set(tags, "channels", json_object_get(item, "channels"));
  json_object_set(tags, "manual_channels", json_object_get(item, "manual_channels"));
  json_object_set_new(tags, "redactions", json_array());
  json_object_set_new(tags, "classified_by", json_string(classified_by));
  json_object_set_new(tags, "classified_at", json_string(ts));
  return tags;
}

enum zw_outcome zw_tagging_item(struct zw_pg *pg, const struct zw_catalog *cat, const json_t *release,
                                const char *code, const char *classified_by, struct zw_tagging *t, char *err,
                                size_t errlen) {
  memset(t, 0, sizeof *t);
  const json_t *item = zw_catalog_item(cat, code);
  if (!item) {
    t->reason = "unclassified";
    snprintf(t->detail, sizeof t->detail, "catalog item '%s' does not exist or is inactive", code);
    return ZW_OK;
  }
  t->tags = tags_from_item(item, zw_catalog_version(cat), classified_by);
  if (!t->tags) {
    snprintf(err, errlen, "out of memory");
    return ZW_RETRY;
  }
  t->on_request = strcmp(json_string_value(json_object_get(item, "mode")), "on_request") == 0;
  enum zw_outcome o = add_deadline(pg, release, item, t->tags, err, errlen);
  if (o != ZW_OK) {
    json_decref(t->tags);
    t->tags = NULL;
  }
  return o;
}

enum zw_outcome zw_tagging_run(struct zw_pg *pg, const struct zw_catalog *cat, const json_t *release,
                               const char *dept, struct zw_tagging *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  char code[80] = "", classified_by[96] = "explicit";
  const char *explicit_code = json_string_value(json_object_get(release, "catalog_code"));
  if (explicit_code) {
    snprintf(code, sizeof code, "%s", explicit_code);
  } else {
    const json_t *rule = zw_catalog_match(cat, dept, json_string_value(json_object_get(release, "doc_type")),
                                          json_string_value(json_object_get(release, "title")));
    if (!rule) {
      t->reason = "unclassified";
      snprintf(t->detail, sizeof t->detail, "no catalog_code and no classification rule matched");
      return ZW_OK;
    }
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(rule, "catalog_code")));
    snprintf(classified_by, sizeof classified_by, "rule:%lld",
             (long long)json_integer_value(json_object_get(rule, "id")));
  }
  const json_t *item = zw_catalog_item(cat, code);
  if (item && !zw_catalog_item_has_body(item, dept)) {
    t->reason = "catalog_owner_mismatch";
    snprintf(t->detail, sizeof t->detail, "department '%s' is not a responsible body of item '%s'", dept, code);
    return ZW_OK;
  }
  return zw_tagging_item(pg, cat, release, code, classified_by, t, err, errlen);
}
