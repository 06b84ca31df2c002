/* cmd_catalog — what the files of the `catalog` command group share: small
 * helpers (cmd_catalog.c), reading a catalog file (cmd_catalog_file.c), and
 * the re-evaluation of held releases that `catalog import` runs after an
 * import (cmd_catalog.c). The handlers themselves are declared in ctl.h. */
#ifndef ZWGKCTL_CMD_CATALOG_H
#define ZWGKCTL_CMD_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"

/* --- helpers (cmd_catalog.c) --- */

/* True when value (may be NULL: false) is one of the NULL-terminated set. */
bool catalog_in_set(const char *value, const char *const *set);

/* Writes "a, b, c" of the NULL-terminated set into buf; returns buf. */
const char *catalog_set_text(const char *const *set, char *buf, size_t len);

/* A new array of the strings of list, sorted bytewise (as COLLATE "C"), or NULL when out of memory. */
json_t *catalog_sorted_strings(const json_t *list) __attribute__((warn_unused_result));

/* Runs sql on ctl's connection; its one row and column is JSON text, returned
 * parsed (caller owns), or NULL with err. */
json_t *catalog_query_json(struct ctl *ctl, const char *sql, int nparams, const char *const *params, char *err,
                           size_t errlen) __attribute__((warn_unused_result));

/* A one-line progress bar on stderr, drawn only when wanted and both stdout
 * and stderr are terminals; end erases it. */
struct catalog_progress {
  bool on;
  const char *label;
  size_t total, done;
  int shown;
};
void catalog_progress_start(struct catalog_progress *p, bool wanted, const char *label, size_t total);
void catalog_progress_step(struct catalog_progress *p);
void catalog_progress_end(struct catalog_progress *p);

/* The SQL of `catalog list`: $1 a domain code or NULL, $2 'true' to include
 * inactive items. Its one value is a JSON array of items (code, domain_code,
 * domain_name, item_l1, item_l2, content, basis, time_limit_text,
 * time_limit_kind, time_limit_days, period, audience, mode, level,
 * column_path, column_name, active, catalog_version, channels (automated),
 * manual_channels, bodies), lists sorted bytewise. */
extern const char catalog_list_sql[];

/* --- problems in a catalog file (cmd_catalog_file.c) --- */

/* Every problem found is kept, so that all are reported at once. */
struct catalog_problems {
  const char *file; /* as named to the operator */
  json_t *list;     /* [{file, line (or null), where, field, message}]; owned */
};

/* Adds a problem; line 0 for none, where and field may be NULL. */
void catalog_problem(struct catalog_problems *pr, int line, const char *where, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));

/* Orders the problems by line, those without one first, else as found. */
void catalog_sort_problems(struct catalog_problems *pr);

/* Writes the problems to stderr, "FILE:LINE: error: WHERE: FIELD: message". */
void catalog_print_problems(const struct catalog_problems *pr);

/* --- reading a catalog file (cmd_catalog_file.c) --- */

/* What a catalog file holds, as read (types not yet checked): arrays of
 * objects, and for each element the line of the file it starts on. */
struct catalog_source {
  bool json;                       /* a JSON file (else CSV) */
  json_t *doc;                     /* the JSON document; owned */
  json_t *items, *domains, *rules; /* borrowed from doc (JSON) or owned (CSV items); may be NULL */
  json_t *item_lines, *domain_lines, *rule_lines; /* integers, parallel to the arrays; owned */
  const char *note;                /* the JSON file's "note", borrowed from doc */
};

/* Reads path ("-": standard input) as format "csv" or "json" (NULL: by the
 * file name's extension, else by its first character) into src. Returns 0;
 * -1 after adding problems to pr when the file cannot be read as a catalog
 * at all (src then holds what could be read); -1 with err and no problem
 * when the file cannot be opened or memory ran out. Clear src either way. */
int catalog_source_read(struct catalog_source *src, const char *path, const char *format, struct catalog_problems *pr,
                        char *err, size_t errlen) __attribute__((warn_unused_result));
void catalog_source_clear(struct catalog_source *src);

/* --- re-evaluation of releases held as unclassified (cmd_catalog.c) --- */

/* What a re-evaluation did. */
struct catalog_reevaluation {
  int version;                        /* the catalog version tried */
  size_t tried, released, held, failed;
  json_t *results;                    /* [{release_id, revision, outcome, catalog_code?, detail?}]; owned */
};

/* Tries every release held for review as `unclassified` (pending) again
 * against the catalog as it is now; each one the rules now classify, and the
 * classifier would simply send on, is sent to zwgk.tagged by
 * ctl_release_reviewed with decided_by and audit action catalog.reevaluated.
 * Releases the classifier would still hold (on-request items, policy and
 * interpretation pairs, privacy holds, superseded revisions) stay held.
 * Returns 0 (re->failed counts releases that could not be sent), or -1 with
 * err when the catalog or the queue cannot be read. Call
 * catalog_reevaluation_clear afterwards either way. */
int catalog_reevaluate(struct ctl *ctl, const char *decided_by, bool progress, struct catalog_reevaluation *re,
                       char *err, size_t errlen) __attribute__((warn_unused_result));
void catalog_reevaluation_clear(struct catalog_reevaluation *re);

/* The re-evaluation as JSON (new reference), and as lines for people on stdout. */
json_t *catalog_reevaluation_json(const struct catalog_reevaluation *re);
void catalog_reevaluation_print(const struct catalog_reevaluation *re);

#endif
