/* cmd_db — `db migrate` and `db seed`: the SQL files shipped in sql/ applied to
 * the database, each in one transaction. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "zw_envelope.h"

/* Session advisory lock serialising migrate and seed runs: class "zwgk"
 * (ASCII 2054645611) as for the audit chain's lock in zw_audit.h, object 2. */
#define MIGRATION_LOCK_SQL_ARGS "2054645611, 2"

static const char create_migrations_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version text PRIMARY KEY, sha256 text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())";

/* One SQL file: its name, version (the name without .sql), content and hash. */
struct sql_file {
  char name[256];
  char version[256];
  char *body;
  char sha256[65];
};

struct sql_files {
  struct sql_file *files;
  size_t count;
};

static void sql_files_free(struct sql_files *list) {
  for (size_t i = 0; i < list->count; i++) free(list->files[i].body);
  free(list->files);
  list->files = NULL;
  list->count = 0;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <directory of the executable>/../../sql: repo/sql from build/bin/zwgkctl. */
static bool sql_dir_beside_executable(char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  int written = snprintf(out, len, "%s/../../sql", dirname(exe));
  return written > 0 && (size_t)written < len && is_dir(out);
}

/* Resolves the sql directory: --sql-dir, $ZWGK_SQL_DIR, beside the executable
 * (a build tree), ZWGK_SQL_DIR_DEFAULT (an installed zwgkctl). Returns 0, or -1
 * with err when it is not a directory. */
static int resolve_sql_dir(const char *option, char *out, size_t len, char *err, size_t errlen) {
  const char *env = getenv("ZWGK_SQL_DIR");
  if (option) snprintf(out, len, "%s", option);
  else if (env && *env) snprintf(out, len, "%s", env);
  else if (!sql_dir_beside_executable(out, len)) snprintf(out, len, "%s", ZWGK_SQL_DIR_DEFAULT);
  if (!is_dir(out)) {
    snprintf(err, errlen, "SQL directory %s not found (use --sql-dir or ZWGK_SQL_DIR)", out);
    return -1;
  }
  return 0;
}

static bool ends_with_sql(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".sql") == 0;
}

/* Migrations are named NNNN_<what>.sql. */
static int migration_filter(const struct dirent *d) {
  const char *s = d->d_name;
  for (int i = 0; i < 4; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return s[4] == '_' && ends_with_sql(s);
}

static int seed_filter(const struct dirent *d) {
  return d->d_name[0] != '.' && ends_with_sql(d->d_name);
}

/* Byte order, whatever the locale. */
static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* Reads path whole into a NUL-terminated string the caller frees; a NUL byte
 * inside is an error (the text is sent as a C string). */
static char *read_text(const char *path, char *err, size_t errlen) {
  errno = 0;
  FILE *f = fopen(path, "rb");
  char *body = NULL;
  size_t len = 0, cap = 0;
  if (!f) goto failed;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *grown = realloc(body, cap = 2 * cap + 8192);
      if (!grown) goto failed;
      body = grown;
    }
    size_t n = fread(body + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) goto failed;
  fclose(f);
  body[len] = '\0';
  if (strlen(body) != len) {
    snprintf(err, errlen, "%s: contains a NUL byte", path);
    free(body);
    return NULL;
  }
  return body;
failed:
  snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
  if (f) fclose(f);
  free(body);
  return NULL;
}

static int load_file(const char *dir, const char *name, struct sql_file *file, char *err,
                     size_t errlen) {
  char path[PATH_MAX];
  snprintf(file->name, sizeof file->name, "%s", name);
  snprintf(file->version, sizeof file->version, "%.*s", (int)(strlen(name) - 4), name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (!(file->body = read_text(path, err, errlen))) return -1;
  zw_sha256_hex(file->body, strlen(file->body), file->sha256);
  return 0;
}

/* Lists dir's files passing filter, in byte order, and reads each. */
static int list_files(const char *dir, int (*filter)(const struct dirent *), struct sql_files *list,
                      char *err, size_t errlen) {
  struct dirent **names = NULL;
  int rc = -1, n = scandir(dir, &names, filter, by_name);
  if (n < 0) {
    snprintf(err, errlen, "%s: %s", dir, strerror(errno));
    return -1;
  }
  list->files = calloc((size_t)n + 1, sizeof *list->files);
  if (!list->files) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  for (int i = 0; i < n; i++, list->count++)
    if (load_file(dir, names[i]->d_name, &list->files[i], err, errlen) < 0) goto out;
  rc = 0;
out:
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

/* Line of the file where PostgreSQL's error position (1-based, in characters) falls. */
static int error_line(const char *body, const PGresult *res) {
  const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
  long chars = pos ? strtol(pos, NULL, 10) : 0;
  int line = 1;
  for (const unsigned char *p = (const unsigned char *)body; *p && chars > 1; p++) {
    if ((*p & 0xc0) != 0x80) chars--;
    if (*p == '\n') line++;
  }
  return pos ? line : 0;
}

/* Runs a whole SQL file. The file is trusted SQL shipped with zwgk and holds
 * many statements, so it goes to the server as one simple-query string: the
 * one place zwgk sends SQL that is not a parameterised statement. */
static int run_script(struct ctl *ctl, const struct sql_file *file, char *err, size_t errlen) {
  PGconn *conn = zw_pg_conn(ctl->pg, err, errlen);
  if (!conn) return -1;
  PGresult *res = PQexec(conn, file->body);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY ? 0 : -1;
  if (rc < 0) {
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int line = res ? error_line(file->body, res) : 0;
    if (!msg) msg = PQerrorMessage(conn);
    if (line) snprintf(err, errlen, "%s line %d: %s", file->name, line, msg);
    else snprintf(err, errlen, "%s: %s", file->name, msg);
  }
  PQclear(res);
  return rc;
}

/* Runs file in one transaction, recording it in schema_migrations when record is set. */
static int apply_file(struct ctl *ctl, const struct sql_file *file, bool record, char *err,
                      size_t errlen) {
  bool transient;
  const char *const params[] = {file->version, file->sha256};
  if (ctl_begin(ctl, err, errlen) < 0) return -1;
  if (run_script(ctl, file, err, errlen) < 0) goto failed;
  if (record && zw_pg_run(ctl->pg,
                          "INSERT INTO schema_migrations (version, sha256) VALUES ($1, $2)", 2,
                          params, &transient, err, errlen) < 0)
    goto failed;
  if (ctl_commit(ctl, err, errlen) < 0) goto failed;
  return 0;
failed:
  ctl_rollback(ctl);
  return -1;
}

static int migration_lock(struct ctl *ctl, bool take, char *err, size_t errlen) {
  bool transient;
  const char *sql = take ? "SELECT pg_advisory_lock(" MIGRATION_LOCK_SQL_ARGS ")"
                         : "SELECT pg_advisory_unlock(" MIGRATION_LOCK_SQL_ARGS ")";
  if (!ctl_pg(ctl, err, errlen)) return -1;
  return zw_pg_run(ctl->pg, sql, 0, NULL, &transient, err, errlen);
}

/* Fails if a file applied earlier has changed since; sets pending[i] for the
 * files not yet applied. Versions applied but missing here are only warned about. */
static int check_applied(struct ctl *ctl, const struct sql_files *list, bool *pending, char *err,
                         size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(ctl->pg, "SELECT version, sha256 FROM schema_migrations", 0, NULL,
                             &transient, err, errlen);
  if (!res) return -1;
  int rc = 0;
  for (size_t i = 0; i < list->count; i++) pending[i] = true;
  for (int r = 0; r < PQntuples(res); r++) {
    const char *version = PQgetvalue(res, r, 0), *sha = PQgetvalue(res, r, 1);
    size_t i = 0;
    while (i < list->count && strcmp(list->files[i].version, version) != 0) i++;
    if (i == list->count) {
      fprintf(stderr, "zwgkctl: warning: migration %s is applied but has no file here\n", version);
    } else if (strcmp(list->files[i].sha256, sha) != 0) {
      snprintf(err, errlen,
               "%s was changed after it was applied (applied sha256 %s, file now %s); "
               "write a new migration instead of editing an applied one",
               list->files[i].name, sha, list->files[i].sha256);
      rc = -1;
      break;
    } else {
      pending[i] = false;
    }
  }
  PQclear(res);
  return rc;
}

static int apply_pending(struct ctl *ctl, const struct sql_files *list, const bool *pending,
                         json_t *applied, char *err, size_t errlen) {
  for (size_t i = 0; i < list->count; i++) {
    if (!pending[i]) continue;
    if (apply_file(ctl, &list->files[i], true, err, errlen) < 0) return -1;
    json_array_append_new(applied, json_string(list->files[i].version));
    if (!ctl->json) printf("applied %s\n", list->files[i].name);
  }
  return 0;
}

static int migrate(struct ctl *ctl, const char *dir, json_t *applied, char *err, size_t errlen) {
  struct sql_files list = {0};
  bool *pending = NULL, transient, locked = false;
  int rc = -1;
  if (list_files(dir, migration_filter, &list, err, errlen) < 0) goto out;
  if (!(pending = calloc(list.count + 1, sizeof *pending))) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  if (migration_lock(ctl, true, err, errlen) < 0) goto out;
  locked = true;
  if (zw_pg_run(ctl->pg, create_migrations_sql, 0, NULL, &transient, err, errlen) < 0 ||
      check_applied(ctl, &list, pending, err, errlen) < 0 ||
      apply_pending(ctl, &list, pending, applied, err, errlen) < 0)
    goto out;
  rc = 0;
out:
  if (locked) {
    char ignored[256];
    (void)migration_lock(ctl, false, ignored, sizeof ignored);
  }
  free(pending);
  sql_files_free(&list);
  return rc;
}

/* Applies every seed file of dir/seed in order, each in its own transaction. */
static int seed(struct ctl *ctl, const char *dir, json_t *seeded, char *err, size_t errlen) {
  struct sql_files list = {0};
  char seed_dir[PATH_MAX];
  bool locked = false;
  int rc = -1;
  snprintf(seed_dir, sizeof seed_dir, "%s/seed", dir);
  if (list_files(seed_dir, seed_filter, &list, err, errlen) < 0) goto out;
  if (migration_lock(ctl, true, err, errlen) < 0) goto out;
  locked = true;
  for (size_t i = 0; i < list.count; i++) {
    if (apply_file(ctl, &list.files[i], false, err, errlen) < 0) goto out;
    json_array_append_new(seeded, json_string(list.files[i].name));
    if (!ctl->json) printf("seeded seed/%s\n", list.files[i].name);
  }
  rc = 0;
out:
  if (locked) {
    char ignored[256];
    (void)migration_lock(ctl, false, ignored, sizeof ignored);
  }
  sql_files_free(&list);
  return rc;
}

typedef int (*db_work)(struct ctl *ctl, const char *dir, json_t *done, char *err,
                       size_t errlen);

/* What migrate and seed share: the --sql-dir option, the run, and the output
 * (the done file names under key with --json, else nothing_done when none). */
static int db_command(struct ctl *ctl, int argc, char **argv, db_work work, const char *key,
                      const char *nothing_done) {
  static const char *const options[] = {"--sql-dir", NULL};
  struct ctl_args args;
  char dir[PATH_MAX], err[PATH_MAX + 1024];
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  if (resolve_sql_dir(args.option[0], dir, sizeof dir, err, sizeof err) < 0)
    return ctl_fail("%s", err);
  json_t *done = json_array();
  int rc = CTL_FAILED;
  if (!done) return ctl_fail("out of memory");
  if (work(ctl, dir, done, err, sizeof err) < 0) {
    ctl_fail("%s", err);
    goto out;
  }
  rc = CTL_OK;
  if (ctl->json) {
    json_t *out = json_pack("{s:s, s:O}", "sql_dir", dir, key, done);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else if (json_array_size(done) == 0) {
    puts(nothing_done);
  }
out:
  json_decref(done);
  return rc;
}

int cmd_db_migrate(struct ctl *ctl, int argc, char **argv) {
  return db_command(ctl, argc, argv, migrate, "applied", "up to date");
}

int cmd_db_seed(struct ctl *ctl, int argc, char **argv) {
  return db_command(ctl, argc, argv, seed, "seeded", "no seed files");
}
