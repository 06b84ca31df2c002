/* Unit tests of zw_config: the key table, INI parsing, the precedence
 * defaults < file < environment < flags, librdkafka pass-through, reload
 * conflicts, and the masking of secrets in --dump-config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zw_config.h"

/* What a test works on; the teardown frees it, also after a failed assertion. */
struct fixture {
  struct zw_config *cfg;   /* the configuration under test */
  struct zw_config *other; /* a second one, for reloads and round trips */
  char *dump, *help;       /* captured output */
};

static int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  *state = fx;
  fx->cfg = zw_config_new();
  fx->other = zw_config_new();
  return fx->cfg && fx->other ? 0 : -1;
}

static int teardown(void **state) {
  struct fixture *fx = *state;
  zw_config_destroy(fx->cfg);
  zw_config_destroy(fx->other);
  free(fx->dump);
  free(fx->help);
  free(fx);
  return 0;
}

/* A configuration file written for one test; removed by temp_remove. */
struct temp_file {
  char path[4096];
};

static void temp_write(struct temp_file *t, const char *text) {
  const char *dir = getenv("TMPDIR");
  snprintf(t->path, sizeof t->path, "%s/zwgk-config-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(t->path);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

static void temp_remove(struct temp_file *t) { unlink(t->path); }

/* Loads text as a configuration file into cfg; returns what zw_config_load_file did. */
static int load_text(struct zw_config *cfg, const char *text, struct temp_file *t, char *err,
                     size_t errlen) {
  temp_write(t, text);
  int rc = zw_config_load_file(cfg, t->path, err, errlen);
  temp_remove(t);
  return rc;
}

/* Asserts that loading text fails with an error naming "<file>:<line>" and needle. */
static void assert_load_fails(const char *text, int line, const char *needle) {
  struct zw_config *cfg = zw_config_new();
  assert_non_null(cfg);
  struct temp_file t;
  char err[512] = "", where[4200];
  int rc = load_text(cfg, text, &t, err, sizeof err);
  zw_config_destroy(cfg);
  snprintf(where, sizeof where, "%s:%d:", t.path, line);
  if (rc != -1) fail_msg("loaded without error:\n%s", text);
  if (!strstr(err, where)) fail_msg("error '%s' does not name '%s'", err, where);
  if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
}

/* Renders zw_config_dump of cfg, or zw_config_help when cfg is NULL, into
 * *slot (a member of the fixture, which frees it) and returns it. */
static const char *capture(char **slot, const struct zw_config *cfg) {
  size_t len = 0;
  free(*slot);
  *slot = NULL;
  FILE *out = open_memstream(slot, &len);
  assert_non_null(out);
  if (cfg) zw_config_dump(cfg, out);
  else zw_config_help(out);
  assert_int_equal(fclose(out), 0);
  return *slot;
}

/* True when text has a line that is exactly `line`. */
static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
    if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return 1;
  return 0;
}

static void test_defaults(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  assert_string_equal(zw_config_str(cfg, "log.level"), "info");
  assert_string_equal(zw_config_str(cfg, "log.format"), "kv");
  assert_string_equal(zw_config_str(cfg, "kafka.brokers"), "127.0.0.1:9092");
  assert_string_equal(zw_config_str(cfg, "kafka.topic_prefix"), "zwgk.");
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 6);
  assert_int_equal(zw_config_int(cfg, "producer.body_limit"), 1048576);
  assert_string_equal(zw_config_str(cfg, "pg.dsn"), "postgresql:///zwgk");
  assert_string_equal(zw_config_str(cfg, "daemon.instance"), "");
  assert_string_equal(zw_config_str(cfg, "portal.site_name"), "政府信息公开");
  assert_int_equal(zw_config_kafka_count(cfg), 0);
}

static void test_precedence_chain(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  struct temp_file t;
  char err[512] = "";
  assert_string_equal(zw_config_str(cfg, "log.level"), "info");

  assert_int_equal(load_text(cfg,
                             "[log]\nlevel = warn\n"
                             "[kafka]\npartitions = 3\ntopic_prefix = file.\n",
                             &t, err, sizeof err),
                   0);
  assert_string_equal(zw_config_str(cfg, "log.level"), "warn");
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 3);

  char *envp[] = {"PATH=/usr/bin", "ZWGK_LOG_LEVEL=error", "ZWGK_KAFKA_PARTITIONS=12", NULL};
  assert_int_equal(zw_config_load_env(cfg, envp, err, sizeof err), 0);
  assert_string_equal(zw_config_str(cfg, "log.level"), "error");
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 12);
  assert_string_equal(zw_config_str(cfg, "kafka.topic_prefix"), "file.");

  assert_int_equal(zw_config_set(cfg, "log.level", "debug", err, sizeof err), 0);
  assert_string_equal(zw_config_str(cfg, "log.level"), "debug");
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 12);
  assert_string_equal(zw_config_str(cfg, "log.format"), "kv");
}

static void test_env_ignores_other_variables(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[256] = "";
  /* ZWGK_PRODUCER_ADMIN_URL is a client variable of the local stack, not producer.admin. */
  char *envp[] = {"ZWGK_PRODUCER_ADMIN_URL=http://127.0.0.1:29101", "ZWGK_STACK_DIR=/srv/zwgk",
                  "zwgk_log_level=debug", "ZWGK_LOG_LEVELS=debug", "ZWGK_NO_SUCH_KEY=1", NULL};
  assert_int_equal(zw_config_load_env(cfg, envp, err, sizeof err), 0);
  assert_string_equal(zw_config_str(cfg, "producer.admin"), "127.0.0.1:9101");
  assert_string_equal(zw_config_str(cfg, "log.level"), "info");
  assert_int_equal(zw_config_load_env(cfg, NULL, err, sizeof err), 0);
}

static void test_env_multiword_key(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[256] = "";
  char *envp[] = {"ZWGK_KAFKA_TOPIC_PREFIX=test.", "ZWGK_PG_DSN=host=db dbname=zwgk", NULL};
  assert_int_equal(zw_config_load_env(cfg, envp, err, sizeof err), 0);
  assert_string_equal(zw_config_str(cfg, "kafka.topic_prefix"), "test.");
  assert_string_equal(zw_config_str(cfg, "pg.dsn"), "host=db dbname=zwgk");
}

static void test_env_bad_integer(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[256] = "";
  char *envp[] = {"ZWGK_KAFKA_PARTITIONS=many", NULL};
  assert_int_equal(zw_config_load_env(cfg, envp, err, sizeof err), -1);
  assert_non_null(strstr(err, "kafka.partitions"));
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 6);
}

static void test_file_unknown_key(void **state) {
  (void)state;
  assert_load_fails("[log]\nlevel = info\nverbosity = 3\n", 3, "log.verbosity");
}

static void test_file_unknown_section(void **state) {
  (void)state;
  assert_load_fails("[log]\nlevel = info\n\n[nosuch]\nkey = 1\n", 4, "nosuch");
}

static void test_file_section_with_trailing_text(void **state) {
  (void)state;
  assert_load_fails("[log] extra\nlevel = info\n", 1, "[log] extra");
}

static void test_file_key_outside_section(void **state) {
  (void)state;
  assert_load_fails("# no section yet\nlevel = info\n", 2, "outside");
}

static void test_file_line_without_equals(void **state) {
  (void)state;
  assert_load_fails("[log]\nlevel info\n", 2, "key = value");
}

static void test_file_bad_integer(void **state) {
  (void)state;
  assert_load_fails("[kafka]\npartitions = six\n", 2, "kafka.partitions");
  assert_load_fails("[kafka]\n\npartitions = 12abc\n", 3, "kafka.partitions");
  assert_load_fails("[kafka]\npartitions = -1\n", 2, "kafka.partitions");
  assert_load_fails("[kafka]\npartitions =\n", 2, "kafka.partitions");
  assert_load_fails("[kafka]\npartitions = 99999999999999999999999\n", 2, "kafka.partitions");
}

static void test_file_missing(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[512] = "";
  assert_int_equal(zw_config_load_file(cfg, "/nonexistent/zwgk.conf", err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/zwgk.conf"));
}

static void test_set_rejects_unknown_and_bad(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[256] = "";
  assert_int_equal(zw_config_set(cfg, "log.verbosity", "3", err, sizeof err), -1);
  assert_non_null(strstr(err, "log.verbosity"));
  assert_int_equal(zw_config_set(cfg, "level", "debug", err, sizeof err), -1);
  assert_int_equal(zw_config_set(cfg, "kafka.", "x", err, sizeof err), -1);
  assert_int_equal(zw_config_set(cfg, "kafka.partitions", "3x", err, sizeof err), -1);
  assert_non_null(strstr(err, "kafka.partitions"));
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 6);
  assert_int_equal(zw_config_kafka_count(cfg), 0);
}

static void test_kafka_pass_through(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  struct temp_file t;
  char err[512] = "";
  const char *prop, *value;
  assert_int_equal(load_text(cfg,
                             "[kafka]\n"
                             "brokers = kafka-1:9093\n"
                             "security.protocol = SASL_SSL\n"
                             "sasl.username = zwgk\n"
                             "security.protocol = SSL\n",
                             &t, err, sizeof err),
                   0);
  assert_string_equal(zw_config_str(cfg, "kafka.brokers"), "kafka-1:9093");
  assert_int_equal(zw_config_kafka_count(cfg), 2);
  zw_config_kafka_get(cfg, 0, &prop, &value);
  assert_string_equal(prop, "security.protocol");
  assert_string_equal(value, "SSL");
  zw_config_kafka_get(cfg, 1, &prop, &value);
  assert_string_equal(prop, "sasl.username");
  assert_string_equal(value, "zwgk");
}

static void test_kafka_pass_through_from_flags(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  char err[256] = "";
  const char *prop, *value;
  assert_int_equal(zw_config_set(cfg, "kafka.linger.ms", "5", err, sizeof err), 0);
  assert_int_equal(zw_config_set_kafka(cfg, "linger.ms", "20"), 0);
  assert_int_equal(zw_config_set(cfg, "kafka.brokers", "k:9092", err, sizeof err), 0);
  assert_int_equal(zw_config_kafka_count(cfg), 1);
  zw_config_kafka_get(cfg, 0, &prop, &value);
  assert_string_equal(prop, "linger.ms");
  assert_string_equal(value, "20");
  assert_string_equal(zw_config_str(cfg, "kafka.brokers"), "k:9092");
}

static void test_pass_through_only_in_kafka_section(void **state) {
  (void)state;
  assert_load_fails("[pg]\nsecurity.protocol = SSL\n", 2, "pg.security.protocol");
}

static void test_comments_and_blank_lines(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  struct temp_file t;
  char err[512] = "";
  assert_int_equal(load_text(cfg,
                             "# zwgk.conf\n"
                             "; another comment style\n"
                             "\n"
                             "   \n"
                             "[log]\n"
                             "  # indented comment\n"
                             "level = debug   \n"
                             "\t; tab-indented comment\n"
                             "\n"
                             "  [kafka]  \n"
                             "  partitions=8\n",
                             &t, err, sizeof err),
                   0);
  assert_string_equal(zw_config_str(cfg, "log.level"), "debug");
  assert_int_equal(zw_config_int(cfg, "kafka.partitions"), 8);
  assert_int_equal(zw_config_kafka_count(cfg), 0);
}

static void test_value_may_contain_equals(void **state) {
  struct zw_config *cfg = ((struct fixture *)*state)->cfg;
  struct temp_file t;
  char err[512] = "";
  assert_int_equal(load_text(cfg, "[pg]\ndsn = host=db port=5432 dbname=zwgk\n", &t, err, sizeof err),
                   0);
  assert_string_equal(zw_config_str(cfg, "pg.dsn"), "host=db port=5432 dbname=zwgk");
}

static void test_reload_conflict_non_reloadable(void **state) {
  struct fixture *fx = *state;
  struct zw_config *old_cfg = fx->cfg, *new_cfg = fx->other;
  char err[256] = "";
  assert_int_equal(zw_config_set(new_cfg, "kafka.brokers", "other:9092", err, sizeof err), 0);
  assert_true(zw_config_reload_conflict(old_cfg, new_cfg, err, sizeof err));
  assert_non_null(strstr(err, "kafka.brokers"));
}

static void test_reload_allows_reloadable(void **state) {
  struct fixture *fx = *state;
  struct zw_config *old_cfg = fx->cfg, *new_cfg = fx->other;
  char err[256] = "";
  assert_false(zw_config_reload_conflict(old_cfg, new_cfg, err, sizeof err));
  assert_int_equal(zw_config_set(new_cfg, "log.level", "debug", err, sizeof err), 0);
  assert_int_equal(zw_config_set(new_cfg, "daemon.shutdown_grace_ms", "3000", err, sizeof err), 0);
  assert_false(zw_config_reload_conflict(old_cfg, new_cfg, err, sizeof err));
}

static void test_dump_masks_secrets(void **state) {
  struct fixture *fx = *state;
  struct zw_config *cfg = fx->cfg;
  char err[256] = "";
  assert_int_equal(
      zw_config_set(cfg, "pg.dsn", "postgresql://zwgk:hunter2@db/zwgk", err, sizeof err), 0);
  assert_int_equal(zw_config_set_kafka(cfg, "sasl.password", "s3cret-pw"), 0);
  assert_int_equal(zw_config_set_kafka(cfg, "ssl.key.password", "k3y-pw"), 0);
  assert_int_equal(zw_config_set_kafka(cfg, "sasl.username", "alice"), 0);
  const char *text = capture(&fx->dump, cfg);
  assert_null(strstr(text, "hunter2"));
  assert_null(strstr(text, "s3cret-pw"));
  assert_null(strstr(text, "k3y-pw"));
  assert_true(has_line(text, "dsn = ********"));
  assert_true(has_line(text, "sasl.password = ********"));
  assert_true(has_line(text, "ssl.key.password = ********"));
  assert_true(has_line(text, "sasl.username = alice"));
  assert_true(has_line(text, "[pg]"));
  assert_true(has_line(text, "level = info"));
}

static void test_dump_loads_back(void **state) {
  struct fixture *fx = *state;
  struct zw_config *cfg = fx->cfg, *again = fx->other;
  char err[512] = "";
  const char *prop, *value;
  assert_int_equal(zw_config_set(cfg, "kafka.partitions", "9", err, sizeof err), 0);
  assert_int_equal(zw_config_set(cfg, "kafka.client.id", "zwgk-test", err, sizeof err), 0);
  const char *text = capture(&fx->dump, cfg);
  struct temp_file t;
  assert_int_equal(load_text(again, text, &t, err, sizeof err), 0);
  assert_int_equal(zw_config_int(again, "kafka.partitions"), 9);
  assert_string_equal(zw_config_str(again, "portal.site_name"), "政府信息公开");
  assert_string_equal(zw_config_str(again, "daemon.instance"), "");
  assert_int_equal(zw_config_kafka_count(again), 1);
  zw_config_kafka_get(again, 0, &prop, &value);
  assert_string_equal(prop, "client.id");
  assert_string_equal(value, "zwgk-test");
}

/* True when help has a line starting with `dotted` followed by a space. */
static int help_has_key(const char *help, const char *dotted) {
  size_t n = strlen(dotted);
  for (const char *p = help; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, dotted, n) == 0 && p[n] == ' ') return 1;
  return 0;
}

static void test_help_lists_every_key(void **state) {
  struct fixture *fx = *state;
  const char *dump = capture(&fx->dump, fx->cfg), *help = capture(&fx->help, NULL);
  /* The dump of a fresh configuration holds exactly the declared keys. */
  char section[64] = "", line[512];
  size_t keys = 0;
  for (const char *p = dump; *p;) {
    size_t n = strcspn(p, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    p += n + (p[n] == '\n');
    if (line[0] == '[') {
      snprintf(section, sizeof section, "%.*s", (int)(strlen(line) - 2), line + 1);
    } else if (line[0]) {
      char dotted[160];
      snprintf(dotted, sizeof dotted, "%s.%.*s", section, (int)strcspn(line, " "), line);
      if (!help_has_key(help, dotted)) fail_msg("--help-config does not list %s", dotted);
      keys++;
    }
  }
  /* Besides the keys, help has its heading line and the kafka.<property> line. */
  size_t help_lines = 0;
  for (const char *p = help; (p = strchr(p, '\n')) != NULL; p++) help_lines++;
  assert_true(keys > 0);
  assert_int_equal(help_lines, keys + 2);
  assert_true(help_has_key(help, "log.level"));
  assert_true(help_has_key(help, "pg.dsn"));
  assert_true(help_has_key(help, "portal.site_name"));
  assert_true(help_has_key(help, "kafka.<property>"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_precedence_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_ignores_other_variables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_multiword_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_bad_integer, setup, teardown),
      cmocka_unit_test(test_file_unknown_key),
      cmocka_unit_test(test_file_unknown_section),
      cmocka_unit_test(test_file_section_with_trailing_text),
      cmocka_unit_test(test_file_key_outside_section),
      cmocka_unit_test(test_file_line_without_equals),
      cmocka_unit_test(test_file_bad_integer),
      cmocka_unit_test_setup_teardown(test_file_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_rejects_unknown_and_bad, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kafka_pass_through, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kafka_pass_through_from_flags, setup, teardown),
      cmocka_unit_test(test_pass_through_only_in_kafka_section),
      cmocka_unit_test_setup_teardown(test_comments_and_blank_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_may_contain_equals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_conflict_non_reloadable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_allows_reloadable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_masks_secrets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_loads_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help_lists_every_key, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
