/* cmd_catalog_file — reading a catalog file for `zwgkctl catalog import`:
 * CSV (a header row, one item per row, lists as ';'-separated cells) or JSON
 * (an object with items, domains and rules, or a list of items), each element
 * with the line it starts on so that every problem names FILE:LINE. Only the
 * shape of the file is checked here; cmd_catalog_import.c validates the
 * values against the database. The formats: docs/catalog.md. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_catalog.h"
#include "zw_file.h"

/* --- problems ----------------------------------------------------------------- */

void catalog_problem(struct catalog_problems *pr, int line, const char *where, const char *field, const char *fmt,
                     ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_array_append_new(pr->list, json_pack("{s:s, s:o, s:s?, s:s?, s:s}", "file", pr->file, "line",
                                            line > 0 ? json_integer(line) : json_null(), "where",
                                            where && *where ? where : NULL, "field", field, "message", msg));
}

/* By line (none first), then in the order found. */
static int by_line(const void *a, const void *b) {
  const json_t *const *x = a, *const *y = b;
  json_int_t lx = json_integer_value(json_object_get(*x, "line")), ly = json_integer_value(json_object_get(*y, "line"));
  json_int_t ox = json_integer_value(json_object_get(*x, "#")), oy = json_integer_value(json_object_get(*y, "#"));
  return lx != ly ? (lx < ly ? -1 : 1) : (ox > oy) - (ox < oy);
}

void catalog_sort_problems(struct catalog_problems *pr) {
  size_t n = json_array_size(pr->list), i;
  json_t **v = calloc(n ? n : 1, sizeof *v), *sorted = json_array(), *p;
  if (!v || !sorted) goto out;
  json_array_foreach(pr->list, i, p) {
    v[i] = p;
    json_object_set_new(p, "#", json_integer((json_int_t)i));
  }
  qsort(v, n, sizeof *v, by_line);
  for (i = 0; i < n; i++) {
    json_object_del(v[i], "#");
    json_array_append(sorted, v[i]);
  }
  json_decref(pr->list);
  pr->list = sorted;
  sorted = NULL;
out:
  json_decref(sorted);
  free(v);
}

void catalog_print_problems(const struct catalog_problems *pr) {
  bool colour = ctl_colour(stderr);
  size_t i;
  json_t *p;
  json_array_foreach(pr->list, i, p) {
    json_t *line = json_object_get(p, "line");
    const char *where = json_string_value(json_object_get(p, "where"));
    const char *field = json_string_value(json_object_get(p, "field"));
    fprintf(stderr, "%s", pr->file);
    if (json_is_integer(line)) fprintf(stderr, ":%lld", (long long)json_integer_value(line));
    fprintf(stderr, ": %serror%s: ", colour ? "\033[31m" : "", colour ? "\033[0m" : "");
    if (where) fprintf(stderr, "%s: ", where);
    if (field) fprintf(stderr, "%s: ", field);
    fprintf(stderr, "%s\n", json_string_value(json_object_get(p, "message")));
  }
}

/* --- reading ------------------------------------------------------------------ */

void catalog_source_clear(struct catalog_source *src) {
  if (!src->json) json_decref(src->items);
  json_decref(src->doc);
  json_decref(src->item_lines);
  json_decref(src->domain_lines);
  json_decref(src->rule_lines);
  memset(src, 0, sizeof *src);
}

/* A CSV reader (RFC 4180: "..." quotes, "" inside them, newlines in quoted cells). */
struct csv {
  const char *p, *end;
  int line;
  char *cell; /* scratch as large as the file */
};

/* Appends the cell, without surrounding blanks; -1 when it is not UTF-8. */
static int csv_cell(json_t *cells, const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  json_t *v = json_stringn(s, n);
  return v ? json_array_append_new(cells, v) : -1;
}

/* Reads the record at c->p into *cells (new array); returns 1, 0 at the end,
 * or -1 with a problem at the record's first line. */
static int csv_record(struct csv *c, struct catalog_problems *pr, json_t **cells, int *line) {
  size_t n = 0;
  bool quoted = false, was_quoted = false;
  if (c->p >= c->end) return 0;
  *line = c->line;
  *cells = json_array();
  for (;;) {
    if (c->p >= c->end || (!quoted && (*c->p == ',' || *c->p == '\n' || *c->p == '\r'))) {
      if (csv_cell(*cells, c->cell, n) < 0) return catalog_problem(pr, *line, NULL, NULL, "not valid UTF-8"), -1;
      n = 0;
      was_quoted = false;
      if (c->p >= c->end) break;
      char ch = *c->p++;
      if (ch == ',') continue;
      if (ch == '\r' && c->p < c->end && *c->p == '\n') c->p++;
      c->line++;
      break;
    }
    char ch = *c->p++;
    if (quoted) {
      if (ch == '"' && c->p < c->end && *c->p == '"') c->cell[n++] = *c->p++;
      else if (ch == '"') quoted = false;
      else if (!(ch == '\r' && c->p < c->end && *c->p == '\n')) c->cell[n++] = ch;
      if (ch == '\n') c->line++;
    } else if (ch == '"' && !was_quoted && strspn(c->cell, " \t") >= n) {
      quoted = was_quoted = true;
      n = 0;
    } else if (ch == '"') {
      return catalog_problem(pr, c->line, NULL, NULL, "a quote inside an unquoted cell (quote the whole cell)"), -1;
    } else {
      c->cell[n++] = ch;
    }
    c->cell[n] = '\0';
  }
  if (quoted) return catalog_problem(pr, *line, NULL, NULL, "a quoted cell that never ends"), -1;
  return 1;
}

/* The columns of a CSV file; the first four after code_columns are optional. */
static const char *const csv_columns[] = {
    "code",        "domain_code", "item_l1",   "item_l2",   "content",         "basis",
    "time_limit_text", "time_limit_kind", "audience", "mode", "level",          "column_path",
    "channels",    "bodies",      "time_limit_days", "period", "column_name", "active", NULL};
#define CSV_REQUIRED 14

/* The value of a CSV cell in an item: lists split on ';', numbers and
 * booleans converted when they read as such (else left as text for the
 * validator to name), empty optional cells left out. */
static void csv_set(json_t *item, const char *column, const char *text) {
  if (strcmp(column, "channels") == 0 || strcmp(column, "bodies") == 0) {
    json_t *list = json_array();
    for (const char *p = text; *p;) {
      size_t len = strcspn(p, ";");
      json_t *part = json_array();
      csv_cell(part, p, len);
      const char *s = json_string_value(json_array_get(part, 0));
      if (s && *s) json_array_append(list, json_array_get(part, 0));
      json_decref(part);
      p += len + (p[len] == ';');
    }
    json_object_set_new(item, column, list);
  } else if (!*text && catalog_in_set(column, csv_columns + CSV_REQUIRED)) {
    return;
  } else if (strcmp(column, "time_limit_days") == 0 && strspn(text, "0123456789") == strlen(text) &&
             strlen(text) < 10) {
    json_object_set_new(item, column, json_integer(atol(text)));
  } else if (strcmp(column, "active") == 0 && catalog_in_set(text, (const char *const[]){"true", "yes", "1", NULL})) {
    json_object_set_new(item, column, json_true());
  } else if (strcmp(column, "active") == 0 && catalog_in_set(text, (const char *const[]){"false", "no", "0", NULL})) {
    json_object_set_new(item, column, json_false());
  } else {
    json_object_set_new(item, column, json_string(text));
  }
}

/* Checks the header row; fills columns (borrowed names) or returns -1 after problems. */
static int csv_header(const json_t *cells, int line, struct catalog_problems *pr, const char **columns) {
  size_t i, before = json_array_size(pr->list);
  json_t *cell;
  char known[512];
  json_array_foreach(cells, i, cell) {
    const char *name = json_string_value(cell);
    columns[i] = NULL;
    for (const char *const *c = csv_columns; *c; c++)
      if (strcmp(*c, name) == 0) columns[i] = *c;
    if (!columns[i])
      catalog_problem(pr, line, "header", name, "unknown column (the columns are %s)",
                      catalog_set_text(csv_columns, known, sizeof known));
    for (size_t j = 0; columns[i] && j < i; j++)
      if (columns[j] == columns[i]) catalog_problem(pr, line, "header", name, "the column appears twice");
  }
  for (size_t c = 0; c < CSV_REQUIRED; c++) {
    bool found = false;
    for (i = 0; i < json_array_size(cells); i++) found = found || columns[i] == csv_columns[c];
    if (!found) catalog_problem(pr, line, "header", csv_columns[c], "required column missing");
  }
  return json_array_size(pr->list) == before ? 0 : -1;
}

/* Reads a CSV catalog: a header row, then one item per row. */
static int load_csv(struct catalog_source *src, char *text, size_t len, struct catalog_problems *pr) {
  struct csv c = {text, text + len, 1, malloc(len + 1)};
  const char **columns = NULL;
  json_t *cells = NULL;
  int line = 0, rc = -1, got;
  src->items = json_array();
  src->item_lines = json_array();
  if (!c.cell || !src->items || !src->item_lines) goto out;
  c.cell[0] = '\0';
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) c.p += 3; /* a spreadsheet's BOM */
  if ((got = csv_record(&c, pr, &cells, &line)) <= 0) {
    if (got == 0) catalog_problem(pr, 1, NULL, NULL, "the file is empty (a CSV catalog starts with a header row)");
    goto out;
  }
  size_t ncols = json_array_size(cells);
  if (!(columns = calloc(ncols, sizeof *columns)) || csv_header(cells, line, pr, columns) < 0) goto out;
  for (json_decref(cells), cells = NULL; (got = csv_record(&c, pr, &cells, &line)) > 0;
       json_decref(cells), cells = NULL) {
    if (json_array_size(cells) == 1 && !*json_string_value(json_array_get(cells, 0))) continue; /* blank */
    if (json_array_size(cells) != ncols) {
      catalog_problem(pr, line, NULL, NULL, "%zu cells, but the header has %zu", json_array_size(cells), ncols);
      continue;
    }
    json_t *item = json_object();
    for (size_t i = 0; i < ncols; i++) csv_set(item, columns[i], json_string_value(json_array_get(cells, i)));
    json_array_append_new(src->items, item);
    json_array_append_new(src->item_lines, json_integer(line));
  }
  rc = got < 0 ? -1 : 0;
out:
  json_decref(cells);
  free(columns);
  free(c.cell);
  return rc;
}

/* Records the line each element of the top-level arrays starts on: the
 * document when it is an array (items), else the members items, domains and
 * rules of the top-level object. jansson keeps no positions, so this is a
 * scan of the text that follows strings and nesting only. */
static void scan_lines(const char *text, size_t len, struct catalog_source *src) {
  int line = 1, depth = 0, array_depth = 0;
  bool in_string = false, escaped = false, expect = false;
  size_t key_start = 0;
  char key[16] = "";
  json_t *target = NULL;
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (ch == '\n') line++;
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"' && (in_string = false, depth == 1))
        snprintf(key, sizeof key, "%.*s", (int)(i - key_start), text + key_start);
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
    if (expect && ch != ']') json_array_append_new(target, json_integer(line));
    expect = false;
    if (ch == '"') {
      in_string = true;
      key_start = i + 1;
    } else if (ch == '[' || ch == '{') {
      depth++;
      if (ch == '[' && depth == 1) target = src->item_lines, array_depth = 1;
      if (ch == '[' && depth == 2 && array_depth == 0)
        target = !strcmp(key, "items")     ? src->item_lines
                 : !strcmp(key, "domains") ? src->domain_lines
                 : !strcmp(key, "rules")   ? src->rule_lines
                                           : NULL;
      expect = target && depth == (array_depth ? 1 : 2);
    } else if (ch == ']' || ch == '}') {
      if (depth-- == (array_depth ? 1 : 2)) target = NULL;
    } else if (ch == ',' && target && depth == (array_depth ? 1 : 2)) {
      expect = true;
    }
  }
}

/* Reads a JSON catalog: {"items": [...], "domains": [...], "rules": [...],
 * "note": "..."} or a bare list of items. */
static int load_json(struct catalog_source *src, const char *text, size_t len, struct catalog_problems *pr) {
  json_error_t jerr;
  src->json = true;
  src->item_lines = json_array(), src->domain_lines = json_array(), src->rule_lines = json_array();
  if (!(src->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
    return catalog_problem(pr, jerr.line, NULL, NULL, "not valid JSON: %s", jerr.text), -1;
  scan_lines(text, len, src);
  if (json_is_array(src->doc)) return src->items = src->doc, 0;
  if (!json_is_object(src->doc))
    return catalog_problem(pr, 1, NULL, NULL, "a JSON catalog is an object with \"items\", or an array of items"), -1;
  const char *key;
  json_t *value;
  json_object_foreach(src->doc, key, value) {
    if (!catalog_in_set(key, (const char *const[]){"items", "domains", "rules", "note", "catalog_version", NULL}))
      catalog_problem(pr, 0, NULL, key, "unknown member (the members are items, domains, rules and note)");
  }
  src->items = json_object_get(src->doc, "items");
  src->domains = json_object_get(src->doc, "domains");
  src->rules = json_object_get(src->doc, "rules");
  src->note = json_string_value(json_object_get(src->doc, "note"));
  if (!json_is_array(src->items)) catalog_problem(pr, 0, NULL, "items", "required, a list of items");
  if (src->domains && !json_is_array(src->domains)) catalog_problem(pr, 0, NULL, "domains", "must be a list");
  if (src->rules && !json_is_array(src->rules)) catalog_problem(pr, 0, NULL, "rules", "must be a list");
  json_t *note = json_object_get(src->doc, "note");
  if (note && !json_is_string(note)) catalog_problem(pr, 0, NULL, "note", "must be a string");
  return json_array_size(pr->list) ? -1 : 0;
}


/* JSON when the name ends in .json, CSV in .csv, else JSON when the text starts with '{' or '['. */
static bool looks_like_json(const char *path, const char *text) {
  size_t n = strlen(path);
  if (n > 5 && strcasecmp(path + n - 5, ".json") == 0) return true;
  if (n > 4 && strcasecmp(path + n - 4, ".csv") == 0) return false;
  if (strncmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3;
  text += strspn(text, " \t\r\n");
  return *text == '{' || *text == '[';
}

int catalog_source_read(struct catalog_source *src, const char *path, const char *format, struct catalog_problems *pr,
                        char *err, size_t errlen) {
  size_t len = 0;
  memset(src, 0, sizeof *src);
  if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
    snprintf(err, errlen, "--format is csv or json, not '%s'", format);
    return -1;
  }
  char *text = zw_file_read(path, &len, err, errlen);
  if (!text) return -1;
  int rc;
  if (format ? strcmp(format, "json") == 0 : looks_like_json(path, text)) rc = load_json(src, text, len, pr);
  else rc = load_csv(src, text, len, pr);
  free(text);
  if (rc < 0 && json_array_size(pr->list) == 0) snprintf(err, errlen, "out of memory reading %s", path);
  return rc;
}
