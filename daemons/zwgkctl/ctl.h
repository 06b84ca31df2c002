/* ctl — what zwgkctl's command groups share: the run's state, exit codes, the
 * command handlers' signature, argument parsing, output (aligned tables, JSON)
 * and the PostgreSQL session. */
#ifndef ZWGKCTL_CTL_H
#define ZWGKCTL_CTL_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "zw_config.h"
#include "zw_pg.h"

/* Exit codes (CONTRACT §6). */
enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2 };

/* One run of zwgkctl. */
struct ctl {
  struct zw_config *cfg; /* owned */
  bool json;             /* --json: machine-readable output on stdout */
  struct zw_pg *pg;      /* owned; NULL until ctl_pg is first called */
  char actor[128];       /* who is recorded in the audit log: "operator:<login>" */
};

/* A command handler: args are what follows the command's words (global flags
 * and --json removed). Returns CTL_OK, CTL_FAILED (after writing the reason to
 * stderr) or CTL_USAGE (main then prints the command's usage line). */
typedef int (*ctl_handler)(struct ctl *ctl, int argc, char **argv);

/* Handlers, one file per command group. */
int cmd_db_migrate(struct ctl *ctl, int argc, char **argv);
int cmd_db_seed(struct ctl *ctl, int argc, char **argv);
int cmd_department_list(struct ctl *ctl, int argc, char **argv);
int cmd_department_add(struct ctl *ctl, int argc, char **argv);
int cmd_department_token(struct ctl *ctl, int argc, char **argv);
int cmd_department_revoke(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_audit_verify(struct ctl *ctl, int argc, char **argv);
int cmd_dlq_list(struct ctl *ctl, int argc, char **argv);
int cmd_dlq_replay(struct ctl *ctl, int argc, char **argv);
int cmd_report_timeliness(struct ctl *ctl, int argc, char **argv);
int cmd_trace(struct ctl *ctl, int argc, char **argv);
int cmd_review_list(struct ctl *ctl, int argc, char **argv);
int cmd_review_show(struct ctl *ctl, int argc, char **argv);
int cmd_review_approve(struct ctl *ctl, int argc, char **argv);
int cmd_review_reject(struct ctl *ctl, int argc, char **argv);
int cmd_catalog_import(struct ctl *ctl, int argc, char **argv);
int cmd_catalog_list(struct ctl *ctl, int argc, char **argv);
int cmd_catalog_coverage(struct ctl *ctl, int argc, char **argv);
int cmd_catalog_reevaluate(struct ctl *ctl, int argc, char **argv);
int cmd_topics_create(struct ctl *ctl, int argc, char **argv);
int cmd_topics_list(struct ctl *ctl, int argc, char **argv);

/* --- releasing a held release (cmd_review.c) --- */

/* Sends the release held in review row (release_id, revision) on to
 * zwgk.tagged as the classifier would have: the held envelope with tags (not
 * stolen; classified_by as the caller set it) and the public text with
 * personal data masked. Kafka first (idempotent producer, acks=all, waits for
 * the delivery report), then in one PostgreSQL transaction: the review row
 * approved by decided_by with note, the revision recorded as tagged, and an
 * audit entry audit_action by decided_by. A crash between the two sends the
 * release again on a retry; the fan-out takes each revision once. Returns 0,
 * or -1 with err (nothing was changed in PostgreSQL). */
int ctl_release_reviewed(struct ctl *ctl, const char *release_id, int revision, json_t *tags, const char *decided_by,
                         const char *note, const char *audit_action, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* --- arguments (ctl.c) --- */

/* Where `cmake --install` puts sql/: <datadir>/zwgk/sql, /usr/share/zwgk/sql in
 * the Debian packages. The build defines it from CMAKE_INSTALL_FULL_DATADIR. */
#ifndef ZWGK_SQL_DIR_DEFAULT
#define ZWGK_SQL_DIR_DEFAULT "/usr/share/zwgk/sql"
#endif

#define CTL_MAX_POSITIONAL 8
#define CTL_MAX_OPTIONS 4

/* A command's arguments: positionals in order, and the value of each option
 * named in the handler's list (NULL when not given). Strings point into argv. */
struct ctl_args {
  const char *positional[CTL_MAX_POSITIONAL];
  int npositional;
  const char *option[CTL_MAX_OPTIONS];
};

/* Splits argv into positionals and "--name VALUE" / "--name=VALUE" options, the
 * names given in options (NULL-terminated, at most CTL_MAX_OPTIONS). "--" ends
 * the options. Returns 0, or -1 after writing to stderr what is wrong (an
 * unknown option, a missing value, fewer than min or more than max positionals). */
int ctl_parse_args(int argc, char **argv, const char *const *options, int min, int max,
                   struct ctl_args *args) __attribute__((warn_unused_result));

/* Removes the flag (e.g. "--force") from argv before "--", adjusting *argc;
 * true if it was there. For flags without a value, before ctl_parse_args. */
bool ctl_take_flag(int *argc, char **argv, const char *flag);

/* --- failures and output (ctl.c) --- */

/* True when output to f may be coloured: a terminal, NO_COLOR unset, TERM not dumb. */
bool ctl_colour(FILE *f);

/* Redraws a one-line progress bar "what [####   ] 42% done/total" on stderr
 * when stderr is a terminal (nothing otherwise); finished clears the line. */
void ctl_progress(const char *what, long long done, long long total, bool finished);

/* Writes "zwgkctl: <message>" and a newline to stderr; returns CTL_FAILED. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes value to stdout as indented JSON (keys in insertion order) and a
 * newline. value is not stolen. Returns CTL_OK, or CTL_FAILED when it could not
 * be written. */
int ctl_print_json(const json_t *value);

/* --- PostgreSQL (ctl.c) --- */

/* Returns the connection holder for pg.dsn, connected, or NULL with err. The
 * holder is owned by ctl. Server notices go to stderr only from WARNING up. */
struct zw_pg *ctl_pg(struct ctl *ctl, char *err, size_t errlen);

/* BEGIN, COMMIT and ROLLBACK on ctl's connection. begin and commit return 0 or
 * -1 with err; rollback ignores errors (it is only used on the way out). */
int ctl_begin(struct ctl *ctl, char *err, size_t errlen) __attribute__((warn_unused_result));
int ctl_commit(struct ctl *ctl, char *err, size_t errlen) __attribute__((warn_unused_result));
void ctl_rollback(struct ctl *ctl);

/* --- Kafka (ctl.c) --- */

/* A librdkafka client of type for the configuration's brokers, with the
 * nprops property pairs set on top and librdkafka's own log lines sent to the
 * debug log; dr, when not NULL, is the producer's delivery-report callback.
 * A consumer gets its main queue redirected to the consumer queue. Returns
 * NULL with err. */
rd_kafka_t *ctl_kafka_new(const struct zw_config *cfg, rd_kafka_type_t type, const char *const (*props)[2],
                          size_t nprops,
                          void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque), char *err,
                          size_t errlen) __attribute__((warn_unused_result));

/* Leaves a consumer's group (if it joined one) and frees it; accepts NULL. */
void ctl_kafka_consumer_destroy(rd_kafka_t *rk);

/* --- aligned tables (table.c) --- */

/* Columns a terminal needs to show the UTF-8 string s: wide (CJK) code points
 * count 2, others 1; an invalid byte counts 1. */
size_t ctl_display_width(const char *s);

/* Writes s for a person's terminal: control characters (C0, DEL, C1) and the
 * bidirectional overrides and isolates, which a department's text could use
 * to move the cursor, rewrite the screen or reorder what is shown, are
 * written as \t, \n, \r, \xNN or \uNNNN; so are ill-formed bytes. */
void ctl_put_text(FILE *out, const char *s);

/* Returns what ctl_put_text writes, newly allocated; caller frees. NULL when
 * out of memory. */
char *ctl_printable(const char *s) __attribute__((warn_unused_result));

struct ctl_table;

/* A table with ncols columns titled headers (copied). Returns NULL when out of
 * memory; caller owns it. */
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
    __attribute__((warn_unused_result));
void ctl_table_destroy(struct ctl_table *t);

/* Aligns column col to the right (for numbers). */
void ctl_table_align_right(struct ctl_table *t, size_t col);

/* Appends a row of ncols cells (copied as ctl_printable writes them; NULL
 * shows as "-"). Returns 0 or -1 when out of memory. */
int ctl_table_add(struct ctl_table *t, const char *const *cells)
    __attribute__((warn_unused_result));

/* Writes the header and the rows, columns padded by display width, separated
 * by two spaces, without trailing blanks. */
void ctl_table_print(const struct ctl_table *t, FILE *out);

#endif
