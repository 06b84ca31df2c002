/* zw_config — the one configuration of every zwgk daemon and zwgkctl.
 *
 * Each key is declared once, in the table in zw_config.c (section, name, type,
 * default, reloadable, secret, help). The same table drives parsing, the
 * environment (ZWGK_<SECTION>_<KEY>), --set flags, --help-config and
 * --dump-config. Precedence: defaults < file < environment < flags. Keys of
 * section [kafka] that are not zwgk's own are librdkafka properties and are
 * passed through (checked by librdkafka when a client is made). */
#ifndef ZW_CONFIG_H
#define ZW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct zw_config;

/* Returns a configuration holding every key's default; caller owns it. */
struct zw_config *zw_config_new(void) __attribute__((warn_unused_result));
void zw_config_destroy(struct zw_config *cfg);

#define ZW_CONFIG_DEFAULT_PATH "/etc/zwgk/zwgk.conf"

/* Builds a configuration with the full precedence: defaults < the file at path
 * (NULL: ZW_CONFIG_DEFAULT_PATH, skipped when it does not exist; a given path
 * must exist) < ZWGK_ variables of envp < sets ("section.key=value", where
 * kafka.<property> passes a property to librdkafka). Returns a new
 * configuration or NULL with err. */
struct zw_config *zw_config_load(const char *path, char *const *envp, const char *const *sets, size_t nsets,
                                 char *err, size_t errlen) __attribute__((warn_unused_result));

/* Reads an INI file: "[section]" headers, "key = value" lines, '#' or ';'
 * comments. An unknown section or key, a value of the wrong type or a line
 * that is none of these is an error naming the file and line. */
int zw_config_load_file(struct zw_config *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies ZWGK_<SECTION>_<KEY> variables of envp (NULL-terminated) for declared
 * keys. Other ZWGK_ variables are not configuration and are ignored. */
int zw_config_load_env(struct zw_config *cfg, char *const *envp, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Sets "section.key" to value (a flag); unknown keys and bad values fail. */
int zw_config_set(struct zw_config *cfg, const char *dotted, const char *value, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/* Adds a librdkafka property (from [kafka] or -X). Later settings win. */
int zw_config_set_kafka(struct zw_config *cfg, const char *prop, const char *value)
    __attribute__((warn_unused_result));

/* Getters for declared keys, by "section.key". Asking for an undeclared key is
 * a programming error and aborts. Strings are owned by cfg. */
const char *zw_config_str(const struct zw_config *cfg, const char *dotted);
long zw_config_int(const struct zw_config *cfg, const char *dotted);
bool zw_config_bool(const struct zw_config *cfg, const char *dotted);

/* True when a reload changed a key that cannot be reloaded; names it in err. */
bool zw_config_reload_conflict(const struct zw_config *old_cfg, const struct zw_config *new_cfg,
                               char *err, size_t errlen);

/* Number of librdkafka pass-through properties, and the i-th one. */
size_t zw_config_kafka_count(const struct zw_config *cfg);
void zw_config_kafka_get(const struct zw_config *cfg, size_t i, const char **prop,
                         const char **value);

/* Writes every key with its current value (secrets masked) in INI form. */
void zw_config_dump(const struct zw_config *cfg, FILE *out);
/* Writes the key table: key, type, default, reloadable, help. */
void zw_config_help(FILE *out);

#endif
