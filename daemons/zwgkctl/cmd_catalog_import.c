/* cmd_catalog_import — `zwgkctl catalog import FILE`: a catalog file becomes
 * the next catalog version. Everything in the file is validated against the
 * database first — inside the import's transaction, with the catalog locked
 * against other imports, so that what is checked is what is written — and
 * every problem is reported with its FILE:LINE; one problem and nothing is
 * written. Otherwise, in the same transaction: the version row, the domains,
 * the items with their channels, bodies and portal columns, optionally the
 * deactivation of items missing from the file (--replace), the rules, and the
 * audit record. Then the difference is printed, and the releases held as
 * unclassified are tried again. See docs/catalog.md. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_catalog.h"
#include "zw_audit.h"

/* One import: the file, what the database holds, and what will change. */
struct import {
  struct ctl *ctl;
  const char *path, *source_name, *note;
  bool replace, dry_run, reevaluate;
  struct catalog_source src;
  struct catalog_problems pr;
  /* the database, read inside the import's transaction */
  json_t *db_domains;     /* code -> {name, sort} */
  json_t *db_channels;    /* code -> automated */
  json_t *db_departments; /* code -> true */
  json_t *db_items;       /* code -> item as `catalog list --json` shows it */
  json_t *db_columns;     /* path -> owning item code or null */
  json_t *db_rules;       /* [{id, department_code, doc_type, keywords, catalog_code, priority, active}] */
  /* the file, validated and normalised */
  json_t *domains, *items, *rules;
  json_t *file_domains;   /* code -> normalised domain */
  json_t *file_codes;     /* every item code in the file -> true */
  json_t *file_items;     /* code -> the line (CSV) or index (JSON) it was first seen at */
  json_t *file_columns;   /* column path -> item code */
  /* the outcome */
  int version;
  json_t *added, *changed, *deactivated; /* codes; changed: [{code, item_l2, fields}] */
  size_t unchanged, domains_added, domains_changed, columns_created, rules_added, rules_changed, rules_unchanged;
};

/* Where an element of the file is: its line and a name for messages. */
struct at {
  int line;
  char where[96];
};

static void locate(const struct import *im, const char *what, size_t index, const json_t *lines, const json_t *obj,
                   struct at *at) {
  at->line = (int)json_integer_value(json_array_get(lines, index));
  const char *code = json_is_object(obj) ? json_string_value(json_object_get(obj, "code")) : NULL;
  if (!code && json_is_object(obj)) code = json_string_value(json_object_get(obj, "catalog_code"));
  if (im->src.json)
    snprintf(at->where, sizeof at->where, "%s[%zu]%s%.60s", what, index, code ? " " : "", code ? code : "");
  else
    snprintf(at->where, sizeof at->where, "%.60s", code ? code : "");
}

static void bad(struct import *im, const struct at *at, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad(struct import *im, const struct at *at, const char *field, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  catalog_problem(&im->pr, at->line, at->where, field, "%s", msg);
}

/* Names members of obj not in keys. */
static void unknown_members(struct import *im, const struct at *at, const json_t *obj, const char *const *keys) {
  const char *key;
  json_t *value;
  char known[400];
  json_object_foreach((json_t *)obj, key, value) {
    if (!catalog_in_set(key, keys))
      bad(im, at, key, "unknown field (the fields are %s)", catalog_set_text(keys, known, sizeof known));
  }
}

/* Copies the text member key to norm and returns it; NULL (after a problem
 * when required, or when not a string) when missing or null. Required text
 * must not be blank. */
static const char *text_member(struct import *im, const struct at *at, const json_t *obj, json_t *norm,
                               const char *key, bool required) {
  json_t *v = json_object_get(obj, key);
  json_object_set(norm, key, v && json_is_string(v) ? v : json_null());
  if (!v || json_is_null(v)) {
    if (required) bad(im, at, key, "required");
    return NULL;
  }
  if (!json_is_string(v)) return bad(im, at, key, "must be text"), NULL;
  const char *s = json_string_value(v);
  if (required && strspn(s, " \t\r\n") == strlen(s)) return bad(im, at, key, "must not be empty"), NULL;
  return s;
}

static void check_choice(struct import *im, const struct at *at, const char *key, const char *value,
                         const char *const *set) {
  char known[200];
  if (value && !catalog_in_set(value, set))
    bad(im, at, key, "'%s' is not one of %s", value, catalog_set_text(set, known, sizeof known));
}

/* [a-z][a-z0-9]*, at most 32 characters: a domain code. */
static bool is_domain_code(const char *s) {
  return s && *s >= 'a' && *s <= 'z' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(s) &&
         strlen(s) <= 32;
}

/* <domain>-NNN: an item code. */
static bool is_item_code(const char *s) {
  const char *dash = s ? strchr(s, '-') : NULL;
  if (!dash || dash == s || *s < 'a' || *s > 'z') return false;
  for (const char *p = s; p < dash; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return false;
  return strlen(dash + 1) == 3 && strspn(dash + 1, "0123456789") == 3;
}

/* A whole number in [min, max], or an absent/null member (def). */
static json_int_t number_member(struct import *im, const struct at *at, const json_t *obj, const char *key,
                                json_int_t min, json_int_t max, json_int_t def) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return def;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    bad(im, at, key, "must be a whole number from %lld to %lld", (long long)min, (long long)max);
    return def;
  }
  return json_integer_value(v);
}

static bool bool_member(struct import *im, const struct at *at, const json_t *obj, const char *key, bool def) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return def;
  if (!json_is_boolean(v)) bad(im, at, key, "must be true or false");
  return json_is_boolean(v) ? json_is_true(v) : def;
}

/* A list of codes, each one a key of known (what names them in messages);
 * returns a new sorted array of the valid ones. A missing list is empty,
 * after a problem when required. */
static json_t *code_list(struct import *im, const struct at *at, const json_t *obj, const char *key,
                         const json_t *known, const char *what, bool required) {
  json_t *list = json_object_get(obj, key), *ok = json_array(), *s;
  size_t i;
  if (!list || json_is_null(list)) {
    if (required) bad(im, at, key, "required (it may be an empty list)");
  } else if (!json_is_array(list)) {
    bad(im, at, key, "must be a list of %s codes", what);
  } else {
    json_array_foreach(list, i, s) {
      const char *code = json_string_value(s);
      bool twice = false;
      for (size_t j = 0; code && j < i; j++) twice = twice || json_equal(s, json_array_get(list, j));
      if (!code) bad(im, at, key, "element %zu is not a %s code", i, what);
      else if (!json_object_get(known, code)) bad(im, at, key, "unknown %s '%s'", what, code);
      else if (twice) bad(im, at, key, "'%s' is listed twice", code);
      else json_array_append(ok, s);
    }
  }
  json_t *sorted = catalog_sorted_strings(ok);
  json_decref(ok);
  return sorted;
}

static const char *const audiences[] = {"public", "group", NULL};
static const char *const modes[] = {"active", "on_request", NULL};
static const char *const levels[] = {"county", "township", "village", NULL};
static const char *const kinds[] = {"working_days", "days", "realtime", "periodic", NULL};
static const char *const periods[] = {"monthly", "quarterly", "yearly", NULL};

/* time_limit_days is set exactly for counted limits, period exactly for periodic ones. */
static void check_time_limit(struct import *im, const struct at *at, const json_t *obj, json_t *norm) {
  const char *kind = text_member(im, at, obj, norm, "time_limit_kind", true);
  check_choice(im, at, "time_limit_kind", kind, kinds);
  bool counted = catalog_in_set(kind, (const char *const[]){"working_days", "days", NULL});
  bool periodic = kind && strcmp(kind, "periodic") == 0;
  json_int_t days = number_member(im, at, obj, "time_limit_days", 1, 3650, 0);
  json_object_set_new(norm, "time_limit_days", days ? json_integer(days) : json_null());
  json_t *d = json_object_get(obj, "time_limit_days");
  if (counted && (!d || json_is_null(d))) bad(im, at, "time_limit_days", "required for time_limit_kind %s", kind);
  if (kind && !counted && d && !json_is_null(d))
    bad(im, at, "time_limit_days", "must be empty for time_limit_kind %s", kind);
  const char *period = text_member(im, at, obj, norm, "period", false);
  check_choice(im, at, "period", period, periods);
  if (periodic && !period) bad(im, at, "period", "required for time_limit_kind periodic");
  if (kind && !periodic && period) bad(im, at, "period", "must be empty for time_limit_kind %s", kind);
}

/* The column is the domain's column plus one segment, owned by no other item. */
static void check_column(struct import *im, const struct at *at, const char *code, const char *domain,
                         const char *path) {
  size_t n = domain ? strlen(domain) : 0;
  const char *slug = path + n + 1;
  if (!path || !domain) return;
  if (strncmp(path, domain, n) != 0 || path[n] != '/' || !*slug ||
      strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(slug)) {
    bad(im, at, "column_path", "'%s' must be %s/<slug>, the slug of lowercase letters, digits and '-'", path, domain);
    return;
  }
  const char *owner = json_string_value(json_object_get(im->db_columns, path));
  const char *other = json_string_value(json_object_get(im->file_columns, path));
  if (owner && code && strcmp(owner, code) != 0 && !json_object_get(im->file_codes, owner))
    bad(im, at, "column_path", "the portal column %s belongs to item %s", path, owner);
  else if (other && code && strcmp(other, code) != 0)
    bad(im, at, "column_path", "%s is also the column of item %s in this file", path, other);
  else if (code)
    json_object_set_new(im->file_columns, path, json_string(code));
}

/* The item's code: its form, its domain, and that it is not in the file twice. */
static void check_code(struct import *im, const struct at *at, size_t index, const char *code, const char *domain) {
  if (code && !is_item_code(code))
    bad(im, at, "code", "'%s' is not an item code (<domain>-NNN, e.g. czyjs-001)", code);
  else if (code && domain && (strncmp(code, domain, strlen(domain)) != 0 || code[strlen(domain)] != '-'))
    bad(im, at, "code", "'%s' does not start with its domain '%s-'", code, domain);
  if (domain && !is_domain_code(domain))
    bad(im, at, "domain_code", "'%s' is not a domain code (a-z, then a-z and 0-9, at most 32)", domain);
  else if (domain && !json_object_get(im->db_domains, domain) && !json_object_get(im->file_domains, domain))
    bad(im, at, "domain_code", "unknown domain '%s' (a JSON file may add it under \"domains\")", domain);
  json_t *seen = code ? json_object_get(im->file_items, code) : NULL;
  long long first = (long long)json_integer_value(seen);
  if (seen && im->src.json) bad(im, at, "code", "item %s is also items[%lld]", code, first);
  else if (seen) bad(im, at, "code", "item %s is also on line %lld", code, first);
  else if (code) json_object_set_new(im->file_items, code, json_integer(im->src.json ? (json_int_t)index : at->line));
}

static const char *const item_fields[] = {
    "code", "domain_code", "item_l1", "item_l2", "content", "basis", "time_limit_text", "time_limit_kind",
    "time_limit_days", "period", "audience", "mode", "level", "column_path", "column_name", "active", "channels",
    "manual_channels", "bodies",
    "domain_name", "catalog_version", /* what `catalog list --json` adds; ignored */
    NULL};

/* channels, and manual_channels as `catalog list --json` splits them, as one
 * sorted list (new reference). */
static json_t *all_channels(struct import *im, const struct at *at, const json_t *raw) {
  json_t *channels = code_list(im, at, raw, "channels", im->db_channels, "channel", true);
  json_t *manual = code_list(im, at, raw, "manual_channels", im->db_channels, "channel", false), *c;
  size_t i;
  json_array_foreach(manual, i, c) {
    bool twice = false;
    for (size_t j = 0; j < json_array_size(channels); j++) twice = twice || json_equal(c, json_array_get(channels, j));
    if (twice) bad(im, at, "manual_channels", "'%s' is also under channels", json_string_value(c));
    else json_array_append(channels, c);
  }
  json_t *sorted = catalog_sorted_strings(channels);
  json_decref(channels);
  json_decref(manual);
  return sorted;
}

/* Validates one item of the file; returns it normalised (new reference) or NULL after problems. */
static json_t *check_item(struct import *im, size_t index, const json_t *raw) {
  struct at at;
  size_t before = json_array_size(im->pr.list);
  locate(im, "items", index, im->src.item_lines, raw, &at);
  if (!json_is_object(raw)) return bad(im, &at, NULL, "an item must be an object"), NULL;
  unknown_members(im, &at, raw, item_fields);
  json_t *norm = json_object();
  const char *code = text_member(im, &at, raw, norm, "code", true);
  const char *domain = text_member(im, &at, raw, norm, "domain_code", true);
  check_code(im, &at, index, code, domain);
  for (const char *const *f = item_fields + 2; f < item_fields + 7; f++) text_member(im, &at, raw, norm, *f, true);
  check_time_limit(im, &at, raw, norm);
  check_choice(im, &at, "audience", text_member(im, &at, raw, norm, "audience", true), audiences);
  check_choice(im, &at, "mode", text_member(im, &at, raw, norm, "mode", true), modes);
  check_choice(im, &at, "level", text_member(im, &at, raw, norm, "level", true), levels);
  check_column(im, &at, code, domain, text_member(im, &at, raw, norm, "column_path", true));
  json_object_set_new(norm, "active", json_boolean(bool_member(im, &at, raw, "active", true)));
  json_object_set_new(norm, "channels", all_channels(im, &at, raw));
  json_object_set_new(norm, "bodies", code_list(im, &at, raw, "bodies", im->db_departments, "department", true));
  const char *column_name = text_member(im, &at, raw, norm, "column_name", false);
  if (column_name && !*column_name) bad(im, &at, "column_name", "must not be empty (leave it out for item_l2)");
  if (json_array_size(im->pr.list) == before) return norm;
  json_decref(norm);
  return NULL;
}

static const char *const domain_fields[] = {"code", "name", "name_en", "sort", NULL};

/* Validates one domain of a JSON file; returns it normalised (new reference) or NULL after problems. */
static json_t *check_domain(struct import *im, size_t index, const json_t *raw) {
  struct at at;
  size_t before = json_array_size(im->pr.list);
  locate(im, "domains", index, im->src.domain_lines, raw, &at);
  if (!json_is_object(raw)) return bad(im, &at, NULL, "a domain must be an object"), NULL;
  unknown_members(im, &at, raw, domain_fields);
  json_t *norm = json_object();
  const char *code = text_member(im, &at, raw, norm, "code", true);
  text_member(im, &at, raw, norm, "name", true);
  text_member(im, &at, raw, norm, "name_en", true);
  json_int_t sort = number_member(im, &at, raw, "sort", 0, 1000000, -1);
  json_object_set_new(norm, "sort", sort >= 0 ? json_integer(sort) : json_null());
  if (code && !is_domain_code(code))
    bad(im, &at, "code", "'%s' is not a domain code (a-z, then a-z and 0-9, at most 32)", code);
  else if (code && strcmp(code, "cjwgk") == 0)
    bad(im, &at, "code", "cjwgk is the portal's path for the village pages, not a domain");
  else if (code && json_object_get(im->file_domains, code))
    bad(im, &at, "code", "domain %s is listed twice", code);
  if (json_array_size(im->pr.list) == before) return json_object_set(im->file_domains, code, norm), norm;
  json_decref(norm);
  return NULL;
}

/* True when a[key] and b[key] are equal, a missing member counting as null. */
static bool same(const json_t *a, const json_t *b, const char *key) {
  json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
  return json_equal(x ? x : json_null(), y ? y : json_null());
}

static const char *const rule_fields[] = {"department_code", "doc_type", "keywords", "catalog_code", "priority",
                                          "active", NULL};
static const char *const doc_types[] = {"notice", "policy",      "interpretation", "public_list", "report", "plan",
                                        "budget", "procurement", "emergency",      "news",        "other",  NULL};

/* keywords: a list of non-blank texts; returns the valid ones (new reference). */
static json_t *check_keywords(struct import *im, const struct at *at, const json_t *raw) {
  json_t *list = json_object_get(raw, "keywords"), *ok = json_array(), *k;
  size_t i;
  if (list && !json_is_null(list) && !json_is_array(list)) bad(im, at, "keywords", "must be a list of texts");
  json_array_foreach(list, i, k) {
    const char *s = json_string_value(k);
    if (!s || strspn(s, " \t\r\n") == strlen(s)) bad(im, at, "keywords", "keyword %zu is not a non-empty text", i);
    else json_array_append(ok, k);
  }
  return ok;
}

/* Validates one classification rule of a JSON file; returns it normalised or NULL after problems. */
static json_t *check_rule(struct import *im, size_t index, const json_t *raw) {
  struct at at;
  size_t before = json_array_size(im->pr.list);
  locate(im, "rules", index, im->src.rule_lines, raw, &at);
  if (!json_is_object(raw)) return bad(im, &at, NULL, "a rule must be an object"), NULL;
  unknown_members(im, &at, raw, rule_fields);
  json_t *norm = json_object();
  const char *dept = text_member(im, &at, raw, norm, "department_code", false);
  const char *doc_type = text_member(im, &at, raw, norm, "doc_type", false);
  const char *code = text_member(im, &at, raw, norm, "catalog_code", true);
  json_t *keywords = check_keywords(im, &at, raw);
  json_object_set_new(norm, "keywords", keywords);
  if (dept && !json_object_get(im->db_departments, dept))
    bad(im, &at, "department_code", "unknown department '%s'", dept);
  check_choice(im, &at, "doc_type", doc_type, doc_types);
  if (code && !json_object_get(im->db_items, code) && !json_object_get(im->file_codes, code))
    bad(im, &at, "catalog_code", "unknown item '%s' (neither in the catalog nor in this file)", code);
  json_object_set_new(norm, "priority", json_integer(number_member(im, &at, raw, "priority", -1000000, 1000000, 100)));
  json_object_set_new(norm, "active", json_boolean(bool_member(im, &at, raw, "active", true)));
  if (!dept && !doc_type && json_array_size(keywords) == 0 && !json_array_size(json_object_get(raw, "keywords")))
    bad(im, &at, NULL, "a rule needs a condition: department_code, doc_type or keywords");
  size_t i;
  json_t *other;
  json_array_foreach(im->rules, i, other) {
    if (json_equal(json_object_get(other, "keywords"), keywords) && same(other, norm, "department_code") &&
        same(other, norm, "doc_type") && same(other, norm, "catalog_code"))
      bad(im, &at, NULL, "the same conditions and item as an earlier rule of this file");
  }
  if (json_array_size(im->pr.list) == before) return norm;
  json_decref(norm);
  return NULL;
}

/* Validates the whole file into im->domains, items and rules; -1 when there were problems. */
static int validate(struct import *im) {
  size_t i;
  json_t *v, *norm;
  json_array_foreach(im->src.items, i, v) {
    const char *code = json_string_value(json_object_get(v, "code"));
    if (code) json_object_set_new(im->file_codes, code, json_true());
  }
  json_array_foreach(im->src.domains, i, v) {
    if ((norm = check_domain(im, i, v))) json_array_append_new(im->domains, norm);
  }
  json_array_foreach(im->src.items, i, v) {
    if ((norm = check_item(im, i, v))) json_array_append_new(im->items, norm);
  }
  json_array_foreach(im->src.rules, i, v) {
    if ((norm = check_rule(im, i, v))) json_array_append_new(im->rules, norm);
  }
  if (json_array_size(im->src.items) == 0)
    catalog_problem(&im->pr, 0, NULL, NULL, "the file holds no items");
  return json_array_size(im->pr.list) ? -1 : 0;
}

/* --- the database ------------------------------------------------------------ */

static const char lock_sql[] = "LOCK TABLE catalog_versions IN EXCLUSIVE MODE";
static const char domains_sql[] =
    "SELECT coalesce(json_object_agg(code, json_build_object('name', name, 'sort', sort)), '{}')::text "
    "FROM catalog_domains";
static const char channels_sql[] = "SELECT coalesce(json_object_agg(code, automated), '{}')::text FROM channels";
static const char departments_sql[] = "SELECT coalesce(json_object_agg(code, true), '{}')::text FROM departments";
static const char columns_sql[] = "SELECT coalesce(json_object_agg(path, item_code), '{}')::text FROM portal_columns";
static const char rules_sql[] =
    "SELECT coalesce(json_agg(json_build_object('id', id, 'department_code', department_code, "
    "  'doc_type', doc_type, 'keywords', to_json(keywords), 'catalog_code', catalog_code, "
    "  'priority', priority, 'active', active) ORDER BY id), '[]')::text FROM classification_rules";

/* The items as catalog list shows them, by code, with all their channels in one list. */
static json_t *load_items(struct import *im, char *err, size_t errlen) {
  const char *params[] = {NULL, "true"};
  json_t *list = catalog_query_json(im->ctl, catalog_list_sql, 2, params, err, errlen), *item;
  json_t *items = list ? json_object() : NULL;
  size_t i;
  json_array_foreach(list, i, item) {
    json_t *all = json_deep_copy(json_object_get(item, "channels"));
    json_array_extend(all, json_object_get(item, "manual_channels"));
    json_object_set_new(item, "channels", catalog_sorted_strings(all));
    json_decref(all);
    json_object_set(items, json_string_value(json_object_get(item, "code")), item);
  }
  json_decref(list);
  return items;
}

/* Locks the catalog against other imports and reads what validation needs. */
static int load_database(struct import *im, char *err, size_t errlen) {
  bool transient;
  struct ctl *ctl = im->ctl;
  if (zw_pg_run(ctl->pg, lock_sql, 0, NULL, &transient, err, errlen) < 0) return -1;
  if (!(im->db_domains = catalog_query_json(ctl, domains_sql, 0, NULL, err, errlen)) ||
      !(im->db_channels = catalog_query_json(ctl, channels_sql, 0, NULL, err, errlen)) ||
      !(im->db_departments = catalog_query_json(ctl, departments_sql, 0, NULL, err, errlen)) ||
      !(im->db_columns = catalog_query_json(ctl, columns_sql, 0, NULL, err, errlen)) ||
      !(im->db_rules = catalog_query_json(ctl, rules_sql, 0, NULL, err, errlen)) ||
      !(im->db_items = load_items(im, err, errlen)))
    return -1;
  return 0;
}

/* --- writing ------------------------------------------------------------------ */

static const char version_sql[] =
    "INSERT INTO catalog_versions (version, source, note) "
    "SELECT coalesce(max(version), 0) + 1, $1, $2 FROM catalog_versions RETURNING version";

/* A new domain or a changed one: RETURNING true for a new row; no row when unchanged. */
static const char domain_sql[] =
    "INSERT INTO catalog_domains (code, name, name_en, sort) VALUES ($1, $2, $3, $4::int) "
    "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, "
    "  sort = coalesce(EXCLUDED.sort, catalog_domains.sort) "
    "WHERE (catalog_domains.name, catalog_domains.name_en, catalog_domains.sort) IS DISTINCT FROM "
    "  (EXCLUDED.name, EXCLUDED.name_en, coalesce(EXCLUDED.sort, catalog_domains.sort)) "
    "RETURNING xmax = 0";

static const char item_sql[] =
    "INSERT INTO catalog_items (code, domain_code, item_l1, item_l2, content, basis, time_limit_text, "
    "  time_limit_kind, time_limit_days, period, audience, mode, level, column_path, active, catalog_version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::int, $10, $11, $12, $13, $14, $15::boolean, $16::int) "
    "ON CONFLICT (code) DO UPDATE SET domain_code = EXCLUDED.domain_code, item_l1 = EXCLUDED.item_l1, "
    "  item_l2 = EXCLUDED.item_l2, content = EXCLUDED.content, basis = EXCLUDED.basis, "
    "  time_limit_text = EXCLUDED.time_limit_text, time_limit_kind = EXCLUDED.time_limit_kind, "
    "  time_limit_days = EXCLUDED.time_limit_days, period = EXCLUDED.period, audience = EXCLUDED.audience, "
    "  mode = EXCLUDED.mode, level = EXCLUDED.level, column_path = EXCLUDED.column_path, "
    "  active = EXCLUDED.active, catalog_version = EXCLUDED.catalog_version";

/* An item's channels [0] and bodies [1] become the list $2 (JSON): the rest
 * removed, the missing added. */
static const char *const link_sql[2][2] = {
    {"DELETE FROM catalog_item_channels WHERE item_code = $1 "
     "  AND channel <> ALL (ARRAY(SELECT json_array_elements_text($2::json)))",
     "INSERT INTO catalog_item_channels (item_code, channel) "
     "SELECT $1, c FROM json_array_elements_text($2::json) c ON CONFLICT DO NOTHING"},
    {"DELETE FROM catalog_item_bodies WHERE item_code = $1 "
     "  AND department_code <> ALL (ARRAY(SELECT json_array_elements_text($2::json)))",
     "INSERT INTO catalog_item_bodies (item_code, department_code) "
     "SELECT $1, b FROM json_array_elements_text($2::json) b ON CONFLICT DO NOTHING"}};

/* The domain's column (named after the domain) when it has none. */
static const char domain_column_sql[] =
    "INSERT INTO portal_columns (path, name, sort) SELECT code, name, sort FROM catalog_domains WHERE code = $1 "
    "ON CONFLICT (path) DO NOTHING RETURNING path";

/* The item's column: created, or made the item's; renamed only when the file names it ($6). */
static const char item_column_sql[] =
    "INSERT INTO portal_columns (path, name, parent_path, item_code, sort) VALUES ($1, $2, $3, $4, $5::int) "
    "ON CONFLICT (path) DO UPDATE SET item_code = EXCLUDED.item_code, "
    "  name = CASE WHEN $6::boolean THEN EXCLUDED.name ELSE portal_columns.name END "
    "WHERE portal_columns.item_code IS DISTINCT FROM EXCLUDED.item_code "
    "   OR ($6::boolean AND portal_columns.name <> EXCLUDED.name) "
    "RETURNING xmax = 0";

/* A column the item has left keeps its pages but no longer names the item. */
static const char old_column_sql[] = "UPDATE portal_columns SET item_code = NULL WHERE item_code = $1 AND path <> $2";

static const char deactivate_sql[] =
    "UPDATE catalog_items SET active = false, catalog_version = $1::int "
    "WHERE active AND code <> ALL (ARRAY(SELECT json_array_elements_text($2::json))) RETURNING code, item_l2";

static const char insert_rule_sql[] =
    "INSERT INTO classification_rules (department_code, doc_type, keywords, catalog_code, priority, active) "
    "VALUES ($1, $2, ARRAY(SELECT k FROM json_array_elements_text($3::json) WITH ORDINALITY AS t(k, n) ORDER BY n), "
    "  $4, $5::int, $6::boolean)";
static const char update_rule_sql[] = "UPDATE classification_rules SET priority = $2::int, active = $3::boolean "
                                      "WHERE id = $1::int";

static const char *const diff_fields[] = {"domain_code", "item_l1", "item_l2", "content", "basis", "time_limit_text",
                                          "time_limit_kind", "time_limit_days", "period", "audience", "mode", "level",
                                          "column_path", "active", "channels", "bodies", "column_name", NULL};

/* The fields of norm that differ from old (column_name only when the file names it). */
static json_t *changed_fields(const json_t *old, const json_t *norm) {
  json_t *fields = json_array();
  for (const char *const *f = diff_fields; *f; f++) {
    json_t *n = json_object_get(norm, *f), *o = json_object_get(old, *f);
    if (strcmp(*f, "column_name") == 0 && json_is_null(n)) continue;
    if (!json_equal(o ? o : json_null(), n ? n : json_null())) json_array_append_new(fields, json_string(*f));
  }
  return fields;
}

/* Text of a member for a statement parameter: NULL for null, numbers in decimal. */
static const char *param(const json_t *obj, const char *key, char *buf, size_t len) {
  json_t *v = json_object_get(obj, key);
  if (json_is_integer(v)) return snprintf(buf, len, "%lld", (long long)json_integer_value(v)), buf;
  if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
  return json_string_value(v);
}

static int run(struct import *im, const char *sql, int n, const char *const *params, char *err, size_t errlen) {
  bool transient;
  return zw_pg_run(im->ctl->pg, sql, n, params, &transient, err, errlen);
}

/* Runs sql; *returned tells whether it returned a row, *first whether that row's first value is true. */
static int run_returning(struct import *im, const char *sql, int n, const char *const *params, bool *returned,
                         bool *first, char *err, size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(im->ctl->pg, sql, n, params, &transient, err, errlen);
  if (!res) return -1;
  *returned = PQntuples(res) > 0;
  if (first) *first = *returned && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return 0;
}

static int write_version(struct import *im, char *err, size_t errlen) {
  bool transient;
  const char *params[] = {im->source_name, im->note};
  PGresult *res = zw_pg_exec(im->ctl->pg, version_sql, 2, params, &transient, err, errlen);
  if (!res) return -1;
  im->version = atoi(PQgetvalue(res, 0, 0));
  PQclear(res);
  return 0;
}

static int write_domain(struct import *im, const json_t *d, char *err, size_t errlen) {
  char sort[24];
  bool returned, created;
  const char *params[] = {param(d, "code", NULL, 0), param(d, "name", NULL, 0), param(d, "name_en", NULL, 0),
                          param(d, "sort", sort, sizeof sort)};
  if (run_returning(im, domain_sql, 4, params, &returned, &created, err, errlen) < 0) return -1;
  if (returned) created ? im->domains_added++ : im->domains_changed++;
  return 0;
}

/* The item row, its channels and bodies, under the new version. */
static int write_item_row(struct import *im, const json_t *norm, char *err, size_t errlen) {
  char bufs[16][24], version[16];
  const char *params[16];
  for (int i = 0; i < 14; i++) params[i] = param(norm, item_fields[i], bufs[i], sizeof bufs[i]);
  params[14] = param(norm, "active", NULL, 0);
  snprintf(version, sizeof version, "%d", im->version);
  params[15] = version;
  if (run(im, item_sql, 16, params, err, errlen) < 0) return -1;
  for (int k = 0; k < 2; k++) {
    char *list = json_dumps(json_object_get(norm, k ? "bodies" : "channels"), JSON_COMPACT);
    const char *lp[] = {param(norm, "code", NULL, 0), list};
    int rc = list ? run(im, link_sql[k][0], 2, lp, err, errlen) : -1;
    if (rc == 0) rc = run(im, link_sql[k][1], 2, lp, err, errlen);
    free(list);
    if (rc < 0) return list ? -1 : (snprintf(err, errlen, "out of memory"), -1);
  }
  return 0;
}

/* The domain's and the item's portal columns, created when missing. */
static int write_columns(struct import *im, const json_t *norm, char *err, size_t errlen) {
  const char *code = param(norm, "code", NULL, 0), *path = param(norm, "column_path", NULL, 0);
  const char *domain = param(norm, "domain_code", NULL, 0), *name = param(norm, "column_name", NULL, 0);
  char sort[8];
  bool returned, created;
  snprintf(sort, sizeof sort, "%d", atoi(code + strlen(domain) + 1));
  const char *dp[] = {domain};
  const char *ip[] = {path, name ? name : param(norm, "item_l2", NULL, 0), domain, code, sort, name ? "true" : "false"};
  const char *op[] = {code, path};
  if (run_returning(im, domain_column_sql, 1, dp, &returned, NULL, err, errlen) < 0) return -1;
  im->columns_created += returned;
  if (run_returning(im, item_column_sql, 6, ip, &returned, &created, err, errlen) < 0) return -1;
  im->columns_created += created;
  return run(im, old_column_sql, 2, op, err, errlen);
}

/* Writes the item when it is new or changed, and records which it was. */
static int write_item(struct import *im, const json_t *norm, char *err, size_t errlen) {
  const char *code = param(norm, "code", NULL, 0);
  const json_t *old = json_object_get(im->db_items, code);
  json_t *fields = old ? changed_fields(old, norm) : NULL;
  json_t *entry = json_pack("{s:s, s:O}", "code", code, "item_l2", json_object_get(norm, "item_l2"));
  int rc = 0;
  if (!old || json_array_size(fields)) rc = write_item_row(im, norm, err, errlen);
  if (rc == 0) rc = write_columns(im, norm, err, errlen);
  if (!old) json_array_append(im->added, entry);
  else if (json_array_size(fields)) json_object_set(entry, "fields", fields), json_array_append(im->changed, entry);
  else im->unchanged++;
  json_decref(fields);
  json_decref(entry);
  return rc;
}

/* --replace: the active items the file does not name are deactivated. */
static int deactivate_missing(struct import *im, char *err, size_t errlen) {
  bool transient;
  char version[16], *codes = NULL;
  json_t *keys = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(im->file_items, key, v) json_array_append_new(keys, json_string(key));
  snprintf(version, sizeof version, "%d", im->version);
  codes = json_dumps(keys, JSON_COMPACT);
  json_decref(keys);
  const char *params[] = {version, codes};
  PGresult *res = codes ? zw_pg_exec(im->ctl->pg, deactivate_sql, 2, params, &transient, err, errlen) : NULL;
  free(codes);
  if (!res) return -1;
  for (int r = 0; r < PQntuples(res); r++)
    json_array_append_new(im->deactivated, json_pack("{s:s, s:s}", "code", PQgetvalue(res, r, 0), "item_l2",
                                                     PQgetvalue(res, r, 1)));
  PQclear(res);
  return 0;
}

/* A rule is known by its conditions and item: an equal one is updated
 * (priority, active) or left alone, another one is added. */
static int write_rule(struct import *im, const json_t *rule, char *err, size_t errlen) {
  char bufs[3][24];
  size_t i;
  json_t *old, *match = NULL;
  json_array_foreach(im->db_rules, i, old) {
    if (!match && same(old, rule, "department_code") && same(old, rule, "doc_type") && same(old, rule, "keywords") &&
        same(old, rule, "catalog_code"))
      match = old;
  }
  if (match && same(match, rule, "priority") && same(match, rule, "active")) return im->rules_unchanged++, 0;
  if (match) {
    const char *params[] = {param(match, "id", bufs[0], sizeof bufs[0]),
                            param(rule, "priority", bufs[1], sizeof bufs[1]), param(rule, "active", NULL, 0)};
    return im->rules_changed++, run(im, update_rule_sql, 3, params, err, errlen);
  }
  char *keywords = json_dumps(json_object_get(rule, "keywords"), JSON_COMPACT);
  const char *params[] = {param(rule, "department_code", NULL, 0), param(rule, "doc_type", NULL, 0), keywords,
                          param(rule, "catalog_code", NULL, 0), param(rule, "priority", bufs[2], sizeof bufs[2]),
                          param(rule, "active", NULL, 0)};
  int rc = keywords ? run(im, insert_rule_sql, 6, params, err, errlen) : -1;
  free(keywords);
  im->rules_added++;
  return rc;
}

/* The audit record of the import, in its transaction. */
static int audit(struct import *im, char *err, size_t errlen) {
  json_t *detail = json_pack("{s:i, s:s, s:s, s:b, s:O, s:O, s:I, s:O, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:I}",
                             "version", im->version, "source", im->source_name, "note", im->note, "replace",
                             im->replace, "added", im->added, "changed", im->changed, "unchanged",
                             (json_int_t)im->unchanged, "deactivated", im->deactivated, "domains", "added",
                             (json_int_t)im->domains_added, "changed", (json_int_t)im->domains_changed, "rules",
                             "added", (json_int_t)im->rules_added, "changed", (json_int_t)im->rules_changed,
                             "unchanged", (json_int_t)im->rules_unchanged, "columns_created",
                             (json_int_t)im->columns_created);
  if (!detail) return snprintf(err, errlen, "out of memory"), -1;
  int rc = zw_audit_append(im->ctl->pg, im->ctl->actor, "catalog.import", NULL, 0, detail, err, errlen);
  json_decref(detail);
  return rc;
}

/* Everything, in the caller's transaction: version, domains, items, --replace, rules, audit. */
static int write_all(struct import *im, char *err, size_t errlen) {
  size_t i;
  json_t *v;
  if (write_version(im, err, errlen) < 0) return -1;
  json_array_foreach(im->domains, i, v) {
    if (write_domain(im, v, err, errlen) < 0) return -1;
  }
  struct catalog_progress bar;
  catalog_progress_start(&bar, !im->ctl->json, "importing", json_array_size(im->items));
  json_array_foreach(im->items, i, v) {
    if (write_item(im, v, err, errlen) < 0) return catalog_progress_end(&bar), -1;
    catalog_progress_step(&bar);
  }
  catalog_progress_end(&bar);
  if (im->replace && deactivate_missing(im, err, errlen) < 0) return -1;
  json_array_foreach(im->rules, i, v) {
    if (write_rule(im, v, err, errlen) < 0) return -1;
  }
  return audit(im, err, errlen);
}

/* --- output ---------------------------------------------------------------------- */

static json_t *diff_json(const struct import *im, const struct catalog_reevaluation *re) {
  return json_pack("{s:i, s:s, s:b, s:b, s:{s:I, s:I, s:I, s:I}, s:{s:O, s:O, s:O}, s:{s:I, s:I}, "
                   "s:{s:I, s:I, s:I}, s:I, s:o}",
                   "catalog_version", im->version, "source", im->source_name, "dry_run", im->dry_run, "replace",
                   im->replace, "counts", "added", (json_int_t)json_array_size(im->added), "changed",
                   (json_int_t)json_array_size(im->changed), "unchanged", (json_int_t)im->unchanged, "deactivated",
                   (json_int_t)json_array_size(im->deactivated), "items", "added", im->added, "changed", im->changed,
                   "deactivated", im->deactivated, "domains", "added", (json_int_t)im->domains_added, "changed",
                   (json_int_t)im->domains_changed, "rules", "added", (json_int_t)im->rules_added, "changed",
                   (json_int_t)im->rules_changed, "unchanged", (json_int_t)im->rules_unchanged, "columns_created",
                   (json_int_t)im->columns_created, "reevaluation",
                   re && re->results ? catalog_reevaluation_json(re) : json_null());
}

static void add_rows(struct ctl_table *t, const json_t *entries, const char *change, int *rc) {
  size_t i, j;
  json_t *e, *f;
  json_array_foreach(entries, i, e) {
    char fields[512] = "";
    size_t n = 0;
    json_array_foreach(json_object_get(e, "fields"), j, f) {
      if (n < sizeof fields)
        n += (size_t)snprintf(fields + n, sizeof fields - n, "%s%s", n ? ", " : "", json_string_value(f));
    }
    const char *cells[] = {change, json_string_value(json_object_get(e, "code")),
                           json_string_value(json_object_get(e, "item_l2")), n ? fields : NULL};
    if (ctl_table_add(t, cells) < 0) *rc = ctl_fail("out of memory");
  }
}

static int print_diff(const struct import *im) {
  bool colour = ctl_colour(stdout);
  const char *on = colour ? "\033[1m" : "", *off = colour ? "\033[0m" : "";
  printf("%s%scatalog version %d%s from %s: %zu added, %zu changed, %zu unchanged, %zu deactivated\n",
         im->dry_run ? "dry run, nothing written: " : "", on, im->version, off, im->source_name,
         json_array_size(im->added), json_array_size(im->changed), im->unchanged, json_array_size(im->deactivated));
  static const char *const headers[] = {"CHANGE", "ITEM", "NAME", "FIELDS"};
  struct ctl_table *t = ctl_table_new(4, headers);
  int rc = t ? CTL_OK : ctl_fail("out of memory");
  if (t) {
    add_rows(t, im->added, "added", &rc);
    add_rows(t, im->changed, "changed", &rc);
    add_rows(t, im->deactivated, "deactivated", &rc);
  }
  if (rc == CTL_OK && json_array_size(im->added) + json_array_size(im->changed) + json_array_size(im->deactivated))
    ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  printf("domains: %zu added, %zu changed; rules: %zu added, %zu changed, %zu unchanged; portal columns created: %zu\n",
         im->domains_added, im->domains_changed, im->rules_added, im->rules_changed, im->rules_unchanged,
         im->columns_created);
  return rc;
}

/* The problems, on stderr, and with --json also as {"errors": [...]} on stdout. */
static int report_problems(struct import *im) {
  catalog_sort_problems(&im->pr);
  catalog_print_problems(&im->pr);
  if (im->ctl->json) {
    json_t *out = json_pack("{s:O}", "errors", im->pr.list);
    ctl_print_json(out);
    json_decref(out);
  }
  size_t n = json_array_size(im->pr.list);
  return ctl_fail("catalog import: %zu problem%s in %s; nothing was written", n, n == 1 ? "" : "s", im->pr.file);
}

/* --- the command ------------------------------------------------------------------- */

static void import_clear(struct import *im) {
  catalog_source_clear(&im->src);
  json_t **all[] = {&im->pr.list,    &im->db_domains, &im->db_channels,   &im->db_departments, &im->db_items,
                    &im->db_columns, &im->db_rules,   &im->domains,       &im->items,          &im->rules,
                    &im->file_domains, &im->file_codes, &im->file_items, &im->file_columns, &im->added,
                    &im->changed,    &im->deactivated};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) json_decref(*all[i]), *all[i] = NULL;
}

static int import_init(struct import *im, struct ctl *ctl, const char *path) {
  const char *slash = strrchr(path, '/');
  im->ctl = ctl;
  im->path = path;
  im->source_name = strcmp(path, "-") == 0 ? "stdin" : slash ? slash + 1 : path;
  im->pr.file = strcmp(path, "-") == 0 ? "<stdin>" : path;
  json_t **objects[] = {&im->file_domains, &im->file_codes, &im->file_items, &im->file_columns};
  json_t **arrays[] = {&im->pr.list, &im->domains, &im->items, &im->rules, &im->added, &im->changed, &im->deactivated};
  bool ok = true;
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) ok = (*objects[i] = json_object()) && ok;
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) ok = (*arrays[i] = json_array()) && ok;
  return ok ? 0 : -1;
}

/* Validates and writes in one transaction (rolled back on --dry-run); CTL_OK or the exit code. */
static int import_file(struct import *im, const char *format) {
  char err[1024] = "", note[512];
  if (catalog_source_read(&im->src, im->path, format, &im->pr, err, sizeof err) < 0)
    return json_array_size(im->pr.list) ? report_problems(im) : ctl_fail("catalog import: %s", err);
  if (!im->note) {
    snprintf(note, sizeof note, "%s", im->src.note ? im->src.note : "imported by zwgkctl catalog import");
    im->note = note;
  }
  if (!ctl_pg(im->ctl, err, sizeof err) || ctl_begin(im->ctl, err, sizeof err) < 0)
    return ctl_fail("catalog import: %s", err);
  if (load_database(im, err, sizeof err) < 0) {
    ctl_rollback(im->ctl);
    return ctl_fail("catalog import: %s", err);
  }
  if (validate(im) < 0) {
    ctl_rollback(im->ctl);
    return report_problems(im);
  }
  if (write_all(im, err, sizeof err) < 0 || (!im->dry_run && ctl_commit(im->ctl, err, sizeof err) < 0)) {
    ctl_rollback(im->ctl);
    return ctl_fail("catalog import: %s; nothing was written", err);
  }
  if (im->dry_run) ctl_rollback(im->ctl);
  im->note = NULL; /* note[] ends here */
  return CTL_OK;
}

int cmd_catalog_import(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--note", "--format", NULL};
  struct ctl_args args;
  struct import im = {0};
  struct catalog_reevaluation re = {0};
  char err[1024];
  im.replace = ctl_take_flag(&argc, argv, "--replace");
  im.dry_run = ctl_take_flag(&argc, argv, "--dry-run");
  bool reevaluate = !ctl_take_flag(&argc, argv, "--no-reevaluate") && !im.dry_run;
  if (ctl_parse_args(argc, argv, options, 1, 1, &args) < 0) return CTL_USAGE;
  if (args.option[1] && !catalog_in_set(args.option[1], (const char *const[]){"csv", "json", NULL})) {
    ctl_fail("--format is csv or json, not '%s'", args.option[1]);
    return CTL_USAGE;
  }
  im.note = args.option[0];
  bool reevaluated = false;
  int rc = import_init(&im, ctl, args.positional[0]) < 0 ? ctl_fail("out of memory") : CTL_OK;
  if (rc == CTL_OK) rc = import_file(&im, args.option[1]);
  if (rc == CTL_OK && reevaluate) {
    reevaluated = catalog_reevaluate(ctl, "catalog-import", !ctl->json, &re, err, sizeof err) == 0;
    if (!reevaluated) {
      catalog_reevaluation_clear(&re);
      fprintf(stderr, "zwgkctl: catalog version %d is imported, but re-evaluating the held releases failed: %s\n",
              im.version, err);
    }
  }
  if (rc == CTL_OK && ctl->json) {
    json_t *out = diff_json(&im, &re);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else if (rc == CTL_OK) {
    rc = print_diff(&im);
    if (re.results) catalog_reevaluation_print(&re);
  }
  if (rc == CTL_OK && reevaluate && !reevaluated) rc = CTL_FAILED;
  if (rc == CTL_OK && re.failed)
    rc = ctl_fail("%zu held release%s could not be sent on", re.failed, re.failed == 1 ? "" : "s");
  catalog_reevaluation_clear(&re);
  import_clear(&im);
  return rc;
}
