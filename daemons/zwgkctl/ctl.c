/* ctl — argument parsing, failure messages, JSON output and the PostgreSQL
 * session shared by zwgkctl's commands. */
#include <unistd.h>

#include "ctl.h"

#include <stdarg.h>
#include <string.h>

#include "zw_kafka.h"
#include "zw_log.h"

/* Index of the option arg names ("--name" or "--name=value"), or -1. */
static int option_index(const char *const *options, const char *arg, const char **inline_value) {
  *inline_value = NULL;
  for (int i = 0; options && options[i] && i < CTL_MAX_OPTIONS; i++) {
    size_t n = strlen(options[i]);
    if (strncmp(arg, options[i], n) != 0) continue;
    if (arg[n] == '\0') return i;
    if (arg[n] == '=') {
      *inline_value = arg + n + 1;
      return i;
    }
  }
  return -1;
}

/* Takes the option at argv[*i]; returns 0 or -1 after saying what is wrong. */
static int take_option(int argc, char **argv, int *i, const char *const *options,
                       struct ctl_args *args) {
  const char *value;
  int idx = option_index(options, argv[*i], &value);
  if (idx < 0) {
    fprintf(stderr, "zwgkctl: unknown option '%s'\n", argv[*i]);
    return -1;
  }
  if (!value) {
    if (*i + 1 >= argc) {
      fprintf(stderr, "zwgkctl: option %s needs a value\n", options[idx]);
      return -1;
    }
    value = argv[++*i];
  }
  args->option[idx] = value;
  return 0;
}

int ctl_parse_args(int argc, char **argv, const char *const *options, int min, int max,
                   struct ctl_args *args) {
  memset(args, 0, sizeof *args);
  bool options_done = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!options_done && strcmp(a, "--") == 0) {
      options_done = true;
    } else if (!options_done && a[0] == '-' && a[1] != '\0') {
      if (take_option(argc, argv, &i, options, args) < 0) return -1;
    } else if (args->npositional >= max || args->npositional >= CTL_MAX_POSITIONAL) {
      fprintf(stderr, "zwgkctl: unexpected argument '%s'\n", a);
      return -1;
    } else {
      args->positional[args->npositional++] = a;
    }
  }
  if (args->npositional < min) {
    fprintf(stderr, "zwgkctl: missing argument\n");
    return -1;
  }
  return 0;
}

int ctl_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("zwgkctl: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return CTL_FAILED;
}

int ctl_print_json(const json_t *value) {
  if (json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
      fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
    return ctl_fail("cannot write the JSON output");
  return CTL_OK;
}

/* Server messages: warnings reach the operator, the rest only debug logs
 * (e.g. "relation already exists, skipping" on every migrate). */
static void on_notice(void *arg, const PGresult *res) {
  const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (!message) message = "";
  if (severity && strcmp(severity, "WARNING") == 0)
    fprintf(stderr, "zwgkctl: PostgreSQL warning: %s\n", message);
  else
    zw_debug(NULL, "PostgreSQL %s: %s", severity ? severity : "notice", message);
}

struct zw_pg *ctl_pg(struct ctl *ctl, char *err, size_t errlen) {
  if (!ctl->pg) {
    ctl->pg = zw_pg_new(zw_config_str(ctl->cfg, "pg.dsn"),
                        zw_config_int(ctl->cfg, "pg.connect_timeout_s"));
    if (!ctl->pg) {
      snprintf(err, errlen, "out of memory");
      return NULL;
    }
  }
  PGconn *conn = zw_pg_conn(ctl->pg, err, errlen);
  if (!conn) {
    size_t n = strlen(err); /* libpq's messages end in a newline */
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
    return NULL;
  }
  PQsetNoticeReceiver(conn, on_notice, NULL);
  return ctl->pg;
}

static int run_plain(struct ctl *ctl, const char *sql, char *err, size_t errlen) {
  bool transient;
  if (!ctl_pg(ctl, err, errlen)) return -1;
  return zw_pg_run(ctl->pg, sql, 0, NULL, &transient, err, errlen);
}

int ctl_begin(struct ctl *ctl, char *err, size_t errlen) {
  return run_plain(ctl, "BEGIN", err, errlen);
}

/* A COMMIT of a failed transaction "succeeds" with the tag ROLLBACK; that is a failure here. */
int ctl_commit(struct ctl *ctl, char *err, size_t errlen) {
  bool transient;
  if (!ctl_pg(ctl, err, errlen)) return -1;
  PGresult *res = zw_pg_exec(ctl->pg, "COMMIT", 0, NULL, &transient, err, errlen);
  if (!res) return -1;
  int rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -1;
  if (rc < 0) snprintf(err, errlen, "the transaction was rolled back");
  PQclear(res);
  return rc;
}

void ctl_rollback(struct ctl *ctl) {
  char ignored[256];
  if (ctl->pg) (void)run_plain(ctl, "ROLLBACK", ignored, sizeof ignored);
}

bool ctl_take_flag(int *argc, char **argv, const char *flag) {
  bool found = false;
  int kept = 0, i = 0;
  for (; i < *argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], flag) == 0) found = true;
    else argv[kept++] = argv[i];
  }
  for (; i < *argc; i++) argv[kept++] = argv[i];
  *argc = kept;
  return found;
}

bool ctl_colour(FILE *f) {
  const char *term = getenv("TERM");
  return isatty(fileno(f)) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
}

void ctl_progress(const char *what, long long done, long long total, bool finished) {
  if (!isatty(STDERR_FILENO)) return;
  if (finished) {
    fputs("\r\033[K", stderr);
    return;
  }
  int width = 30, filled = total > 0 ? (int)(done * width / total) : width;
  if (filled > width) filled = width;
  fprintf(stderr, "\r%s [%.*s%*s] %3d%% %lld/%lld", what, filled, "##############################", width - filled, "",
          total > 0 ? (int)(done * 100 / total) : 100, done, total);
  fflush(stderr);
}

/* librdkafka's own lines (e.g. "Connect to … failed") only in debug logs. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
  zw_debug(NULL, "librdkafka %s: %s", facility, line);
}

rd_kafka_t *ctl_kafka_new(const struct zw_config *cfg, rd_kafka_type_t type, const char *const (*props)[2],
                          size_t nprops,
                          void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque), char *err,
                          size_t errlen) {
  char rkerr[256];
  rd_kafka_conf_t *conf = zw_kafka_conf(cfg, "zwgkctl", NULL, err, errlen);
  if (!conf) return NULL;
  for (size_t i = 0; i < nprops; i++)
    if (zw_kafka_conf_set(conf, props[i][0], props[i][1], err, errlen) < 0) {
      rd_kafka_conf_destroy(conf);
      return NULL;
    }
  rd_kafka_conf_set_log_cb(conf, kafka_log);
  if (dr) rd_kafka_conf_set_dr_msg_cb(conf, dr);
  rd_kafka_t *rk = rd_kafka_new(type, conf, rkerr, sizeof rkerr);
  if (!rk) {
    rd_kafka_conf_destroy(conf); /* ownership passes only on success */
    snprintf(err, errlen, "cannot make a Kafka %s: %s", type == RD_KAFKA_CONSUMER ? "consumer" : "producer", rkerr);
    return NULL;
  }
  if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
  return rk;
}

void ctl_kafka_consumer_destroy(rd_kafka_t *rk) {
  if (!rk) return;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}
