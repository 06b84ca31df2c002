/* zw_config — the key table, INI parsing and the precedence of settings. */
#include "zw_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum zw_config_type { CFG_STR, CFG_INT, CFG_BOOL };

struct zw_config_key {
  const char *section;
  const char *name;
  enum zw_config_type type;
  const char *default_value;
  bool reloadable;
  bool secret;
  const char *help;
};

/* Every key of zwgk, once. */
static const struct zw_config_key keys[] = {
    {"log", "level", CFG_STR, "info", true, false, "debug, info, warn or error"},
    {"log", "format", CFG_STR, "kv", true, false, "kv (key=value) or json"},
    {"kafka", "brokers", CFG_STR, "127.0.0.1:9092", false, false, "bootstrap.servers"},
    {"kafka", "topic_prefix", CFG_STR, "zwgk.", false, false, "prefix of every topic name"},
    {"kafka", "partitions", CFG_INT, "6", false, false, "partitions of topics zwgk creates"},
    {"kafka", "commit_interval_ms", CFG_INT, "100", false, false,
     "longest wait before a stage commits its transaction"},
    {"kafka", "batch_max", CFG_INT, "500", false, false, "most messages in one stage transaction"},
    {"kafka", "transaction_interval_ms", CFG_INT, "0", false, false,
     "shortest time between the starts of a stage's transactions while fewer than batch_max messages wait (0: none)"},
    {"kafka", "transaction_timeout_ms", CFG_INT, "60000", false, false, "transaction.timeout.ms"},
    {"pg", "dsn", CFG_STR, "postgresql:///zwgk", false, true, "libpq connection string"},
    {"pg", "connect_timeout_s", CFG_INT, "5", false, false, "libpq connect_timeout"},
    {"pg", "batch_transactions", CFG_BOOL, "true", false, false,
     "a stage's PostgreSQL work for a whole Kafka batch in one transaction (false: one per message)"},
    {"daemon", "instance", CFG_STR, "", false, false,
     "instance name, unique per host and daemon (default: host name); makes the transactional.id"},
    {"daemon", "shutdown_grace_ms", CFG_INT, "15000", true, false,
     "after the first SIGTERM, longest drain before exiting anyway"},
    {"producer", "listen", CFG_STR, "127.0.0.1:8080", false, false, "ingest API address"},
    {"producer", "admin", CFG_STR, "127.0.0.1:9101", false, false, "admin listener address"},
    {"producer", "body_limit", CFG_INT, "1048576", false, false, "largest request body, bytes"},
    {"producer", "delivery_timeout_ms", CFG_INT, "5000", false, false,
     "longest wait for Kafka's acknowledgement before answering 503"},
    {"producer", "retry_after_s", CFG_INT, "5", true, false, "Retry-After on 503"},
    {"producer", "token_refresh_ms", CFG_INT, "2000", true, false,
     "how often revoked tokens are re-read from PostgreSQL"},
    {"producer", "rate_limit_per_s", CFG_INT, "100", true, false,
     "releases per second each department may send (token bucket); 0 = no limit"},
    {"producer", "rate_burst", CFG_INT, "500", true, false,
     "releases a department may send at once (bucket size; a full batch is 500)"},
    {"classifier", "admin", CFG_STR, "127.0.0.1:9102", false, false, "admin listener address"},
    {"classifier", "group_id", CFG_STR, "zwgk-classifier", false, false, "consumer group"},
    {"classifier", "privacy_hold", CFG_STR, "", true, false,
     "doc_types (comma-separated) held for review when personal data is found; others are masked"},
    {"classifier", "interpretation_grace_days", CFG_INT, "3", true, false,
     "working days a policy waits for its interpretation before it goes to review"},
    {"fanout", "admin", CFG_STR, "127.0.0.1:9103", false, false, "admin listener address"},
    {"fanout", "group_id", CFG_STR, "zwgk-fanout", false, false, "consumer group"},
    {"fanout", "overdue_interval_ms", CFG_INT, "30000", true, false, "how often zwgk_deliveries_overdue is counted"},
    {"portal", "admin", CFG_STR, "127.0.0.1:9111", false, false, "admin listener address"},
    {"portal", "group_id", CFG_STR, "zwgk-portal", false, false, "consumer group"},
    {"portal", "listen", CFG_STR, "127.0.0.1:8081", false, false, "HTTP address serving the site"},
    {"portal", "docroot", CFG_STR, "/var/lib/zwgk/portal", false, false, "static site directory"},
    {"portal", "base_url", CFG_STR, "http://127.0.0.1:8081", false, false,
     "public URL of the site, used in receipts and the feed"},
    {"portal", "site_name", CFG_STR, "政府信息公开", true, false, "title of the portal section"},
    {"zwgkctl", "allow_as", CFG_BOOL, "false", false, false,
     "whether review approve|reject --as NAME may record another operator than the OS user"},
    {"delivery", "retry_limit", CFG_INT, "8", true, false,
     "attempts of one delivery before it fails and goes to the DLQ"},
    {"delivery", "retry_base_ms", CFG_INT, "1000", true, false,
     "first retry delay; doubled per attempt, with jitter"},
    {"delivery", "retry_cap_ms", CFG_INT, "300000", true, false, "longest delay between two attempts"},
    {"delivery", "schedule_interval_ms", CFG_INT, "1000", true, false,
     "how often held work (embargoes, retries, grace periods) is looked at"},
    {"wechat", "admin", CFG_STR, "127.0.0.1:9112", false, false, "admin listener address"},
    {"wechat", "group_id", CFG_STR, "zwgk-wechat", false, false, "consumer group"},
    {"wechat", "base_url", CFG_STR, "https://api.weixin.qq.com", false, false,
     "Official Account API base URL"},
    {"wechat", "appid", CFG_STR, "", false, false, "the Official Account's AppID"},
    {"wechat", "secret", CFG_STR, "", false, true, "the Official Account's AppSecret"},
    {"wechat", "thumb_media_id", CFG_STR, "", true, false,
     "permanent image material used as every article's cover (draft/add requires one)"},
    {"wechat", "author", CFG_STR, "", true, false, "article author (at most 16 characters)"},
    {"wechat", "timeout_ms", CFG_INT, "10000", true, false, "longest wait for one API call"},
    {"wechat", "poll_interval_ms", CFG_INT, "1000", true, false, "freepublish/get polling interval"},
    {"wechat", "poll_limit", CFG_INT, "10", true, false,
     "freepublish/get polls before the attempt is retried later"},
    {"broadcast", "admin", CFG_STR, "127.0.0.1:9113", false, false, "admin listener address"},
    {"broadcast", "group_id", CFG_STR, "zwgk-broadcast", false, false, "consumer group"},
    {"broadcast", "endpoint", CFG_STR, "http://127.0.0.1:8090/cap", false, false,
     "URL the CAP 1.2 documents are POSTed to"},
    {"broadcast", "sender", CFG_STR, "zwgk@localhost", true, false, "CAP alert/sender"},
    {"broadcast", "timeout_ms", CFG_INT, "10000", true, false, "longest wait for the endpoint"},
    {"bulletin", "admin", CFG_STR, "127.0.0.1:9114", false, false, "admin listener address"},
    {"bulletin", "group_id", CFG_STR, "zwgk-bulletin", false, false, "consumer group"},
    {"bulletin", "listen", CFG_STR, "127.0.0.1:8082", false, false, "HTTP address serving the notices"},
    {"bulletin", "docroot", CFG_STR, "/var/lib/zwgk/bulletin", false, false, "notice directory"},
    {"bulletin", "base_url", CFG_STR, "http://127.0.0.1:8082", false, false,
     "public URL of the notices, used in receipts"},
};

#define KEY_COUNT (sizeof keys / sizeof keys[0])

struct kafka_prop {
  char *prop;
  char *value;
};

struct zw_config {
  char *values[KEY_COUNT];
  struct kafka_prop *kafka;
  size_t kafka_count;
};

static int key_index(const char *section, size_t section_len, const char *name) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (strlen(keys[i].section) == section_len &&
        strncmp(keys[i].section, section, section_len) == 0 && strcmp(keys[i].name, name) == 0)
      return (int)i;
  }
  return -1;
}

static int dotted_index(const char *dotted) {
  const char *dot = strchr(dotted, '.');
  if (!dot) return -1;
  return key_index(dotted, (size_t)(dot - dotted), dot + 1);
}

struct zw_config *zw_config_new(void) {
  struct zw_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return NULL;
  for (size_t i = 0; i < KEY_COUNT; i++) {
    cfg->values[i] = strdup(keys[i].default_value);
    if (!cfg->values[i]) {
      zw_config_destroy(cfg);
      return NULL;
    }
  }
  return cfg;
}

void zw_config_destroy(struct zw_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < KEY_COUNT; i++) free(cfg->values[i]);
  for (size_t i = 0; i < cfg->kafka_count; i++) {
    free(cfg->kafka[i].prop);
    free(cfg->kafka[i].value);
  }
  free(cfg->kafka);
  free(cfg);
}

static int check_type(int idx, const char *value, char *err, size_t errlen) {
  if (keys[idx].type == CFG_INT) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 0) {
      snprintf(err, errlen, "%s.%s: '%s' is not a non-negative integer", keys[idx].section,
               keys[idx].name, value);
      return -1;
    }
  } else if (keys[idx].type == CFG_BOOL) {
    if (strcmp(value, "true") && strcmp(value, "false")) {
      snprintf(err, errlen, "%s.%s: '%s' is not true or false", keys[idx].section,
               keys[idx].name, value);
      return -1;
    }
  }
  return 0;
}

static int set_index(struct zw_config *cfg, int idx, const char *value, char *err, size_t errlen) {
  if (check_type(idx, value, err, errlen) < 0) return -1;
  char *copy = strdup(value);
  if (!copy) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  free(cfg->values[idx]);
  cfg->values[idx] = copy;
  return 0;
}

int zw_config_set(struct zw_config *cfg, const char *dotted, const char *value, char *err,
                  size_t errlen) {
  int idx = dotted_index(dotted);
  if (idx < 0) {
    if (strncmp(dotted, "kafka.", 6) == 0 && dotted[6])
      return zw_config_set_kafka(cfg, dotted + 6, value);
    snprintf(err, errlen, "unknown configuration key '%s'", dotted);
    return -1;
  }
  return set_index(cfg, idx, value, err, errlen);
}

int zw_config_set_kafka(struct zw_config *cfg, const char *prop, const char *value) {
  for (size_t i = 0; i < cfg->kafka_count; i++) {
    if (strcmp(cfg->kafka[i].prop, prop) == 0) {
      char *copy = strdup(value);
      if (!copy) return -1;
      free(cfg->kafka[i].value);
      cfg->kafka[i].value = copy;
      return 0;
    }
  }
  struct kafka_prop *grown = realloc(cfg->kafka, (cfg->kafka_count + 1) * sizeof *grown);
  if (!grown) return -1;
  cfg->kafka = grown;
  char *p = strdup(prop), *v = strdup(value);
  if (!p || !v) {
    free(p);
    free(v);
    return -1;
  }
  cfg->kafka[cfg->kafka_count].prop = p;
  cfg->kafka[cfg->kafka_count].value = v;
  cfg->kafka_count++;
  return 0;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

/* Parses one "key = value" line of section; returns 0 or -1 with err set. */
static int load_line(struct zw_config *cfg, const char *section, char *line, char *err,
                     size_t errlen) {
  char *eq = strchr(line, '=');
  if (!eq) {
    snprintf(err, errlen, "expected 'key = value'");
    return -1;
  }
  *eq = '\0';
  char *name = trim(line), *value = trim(eq + 1);
  if (!*section) {
    snprintf(err, errlen, "key '%s' outside any [section]", name);
    return -1;
  }
  int idx = key_index(section, strlen(section), name);
  if (idx >= 0) return set_index(cfg, idx, value, err, errlen);
  if (strcmp(section, "kafka") == 0) {
    if (zw_config_set_kafka(cfg, name, value) == 0) return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(err, errlen, "unknown configuration key '%s.%s'", section, name);
  return -1;
}

int zw_config_load_file(struct zw_config *cfg, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char buf[4096], section[64] = "", lerr[256];
  int lineno = 0, rc = 0;
  while (fgets(buf, sizeof buf, f)) {
    lineno++;
    char *line = trim(buf);
    if (!*line || *line == '#' || *line == ';') continue;
    if (*line == '[') {
      char *close = strchr(line, ']');
      size_t len = close ? (size_t)(close - line - 1) : 0;
      bool known = false;
      for (size_t i = 0; close && i < KEY_COUNT; i++)
        if (strlen(keys[i].section) == len && strncmp(keys[i].section, line + 1, len) == 0)
          known = true;
      if (!known || close[1] != '\0') {
        snprintf(err, errlen, "%s:%d: unknown section '%s'", path, lineno, line);
        rc = -1;
        break;
      }
      snprintf(section, sizeof section, "%.*s", (int)len, line + 1);
      continue;
    }
    if (load_line(cfg, section, line, lerr, sizeof lerr) < 0) {
      snprintf(err, errlen, "%s:%d: %s", path, lineno, lerr);
      rc = -1;
      break;
    }
  }
  fclose(f);
  return rc;
}

int zw_config_load_env(struct zw_config *cfg, char *const *envp, char *err, size_t errlen) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    char name[128];
    int n = snprintf(name, sizeof name, "ZWGK_%s_%s=", keys[i].section, keys[i].name);
    for (int j = 0; j < n; j++) name[j] = (char)toupper((unsigned char)name[j]);
    for (char *const *e = envp; e && *e; e++) {
      if (strncmp(*e, name, (size_t)n) == 0 && set_index(cfg, (int)i, *e + n, err, errlen) < 0)
        return -1;
    }
  }
  return 0;
}

static int must_index(const char *dotted) {
  int idx = dotted_index(dotted);
  if (idx < 0) {
    fprintf(stderr, "zw_config: undeclared key '%s'\n", dotted);
    abort();
  }
  return idx;
}

const char *zw_config_str(const struct zw_config *cfg, const char *dotted) {
  return cfg->values[must_index(dotted)];
}

long zw_config_int(const struct zw_config *cfg, const char *dotted) {
  return strtol(cfg->values[must_index(dotted)], NULL, 10);
}

bool zw_config_bool(const struct zw_config *cfg, const char *dotted) {
  return strcmp(cfg->values[must_index(dotted)], "true") == 0;
}

bool zw_config_reload_conflict(const struct zw_config *old_cfg, const struct zw_config *new_cfg,
                               char *err, size_t errlen) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (!keys[i].reloadable && strcmp(old_cfg->values[i], new_cfg->values[i]) != 0) {
      snprintf(err, errlen, "%s.%s cannot be changed by a reload; restart instead",
               keys[i].section, keys[i].name);
      return true;
    }
  }
  return false;
}

size_t zw_config_kafka_count(const struct zw_config *cfg) { return cfg->kafka_count; }

void zw_config_kafka_get(const struct zw_config *cfg, size_t i, const char **prop,
                         const char **value) {
  *prop = cfg->kafka[i].prop;
  *value = cfg->kafka[i].value;
}

static bool secret_prop(const char *prop) {
  return strstr(prop, "password") || strstr(prop, "secret") || strstr(prop, "key");
}

void zw_config_dump(const struct zw_config *cfg, FILE *out) {
  const char *section = "";
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (strcmp(section, keys[i].section) != 0) {
      section = keys[i].section;
      fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
    }
    fprintf(out, "%s = %s\n", keys[i].name, keys[i].secret ? "********" : cfg->values[i]);
    if (strcmp(section, "kafka") == 0 && (i + 1 == KEY_COUNT || strcmp(keys[i + 1].section, "kafka")))
      for (size_t k = 0; k < cfg->kafka_count; k++)
        fprintf(out, "%s = %s\n", cfg->kafka[k].prop,
                secret_prop(cfg->kafka[k].prop) ? "********" : cfg->kafka[k].value);
  }
}

void zw_config_help(FILE *out) {
  static const char *type_names[] = {"string", "integer", "boolean"};
  fprintf(out, "%-30s %-8s %-22s %-10s %s\n", "key", "type", "default", "reloadable", "meaning");
  for (size_t i = 0; i < KEY_COUNT; i++) {
    char dotted[96];
    snprintf(dotted, sizeof dotted, "%s.%s", keys[i].section, keys[i].name);
    fprintf(out, "%-30s %-8s %-22s %-10s %s\n", dotted, type_names[keys[i].type],
            *keys[i].default_value ? keys[i].default_value : "\"\"",
            keys[i].reloadable ? "yes" : "no", keys[i].help);
  }
  fprintf(out, "%-30s %-8s %-22s %-10s %s\n", "kafka.<property>", "string", "", "no",
           "any librdkafka property, passed through (TLS, SASL, ...)");
}

struct zw_config *zw_config_load(const char *path, char *const *envp, const char *const *sets, size_t nsets,
                                 char *err, size_t errlen) {
  struct zw_config *cfg = zw_config_new();
  if (!cfg) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  const char *file = path ? path : ZW_CONFIG_DEFAULT_PATH;
  if ((path || access(file, F_OK) == 0) && zw_config_load_file(cfg, file, err, errlen) < 0) goto failed;
  if (zw_config_load_env(cfg, envp, err, errlen) < 0) goto failed;
  for (size_t i = 0; i < nsets; i++) {
    const char *eq = strchr(sets[i], '=');
    char key[256];
    if (!eq || (size_t)(eq - sets[i]) >= sizeof key) {
      snprintf(err, errlen, "'%s' is not section.key=value", sets[i]);
      goto failed;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
    if (zw_config_set(cfg, key, eq + 1, err, errlen) < 0) goto failed;
  }
  return cfg;
failed:
  zw_config_destroy(cfg);
  return NULL;
}
