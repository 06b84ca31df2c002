/* zw_log — one line per event on stderr, key=value or JSON, level checked first. */
#ifndef ZW_LOG_H
#define ZW_LOG_H

#include <stdbool.h>

enum zw_log_level { ZW_LOG_DEBUG, ZW_LOG_INFO, ZW_LOG_WARN, ZW_LOG_ERROR };

/* Sets the component name written on every line (e.g. "classifier"), the minimum
 * level and the format ("kv" or "json"). Returns 0, or -1 for an unknown level or
 * format (the previous settings stay). */
int zw_log_setup(const char *component, const char *level, const char *format)
    __attribute__((warn_unused_result));

/* True when a message of this level would be written; callers that build costly
 * arguments check it first. */
bool zw_log_enabled(enum zw_log_level level);

/* Writes one event. release_id may be NULL; msg is formatted printf-style and
 * written as the msg field, quoted and escaped as the format needs. */
void zw_log(enum zw_log_level level, const char *release_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define zw_debug(rid, ...) \
  do { if (zw_log_enabled(ZW_LOG_DEBUG)) zw_log(ZW_LOG_DEBUG, rid, __VA_ARGS__); } while (0)
#define zw_info(rid, ...) zw_log(ZW_LOG_INFO, rid, __VA_ARGS__)
#define zw_warn(rid, ...) zw_log(ZW_LOG_WARN, rid, __VA_ARGS__)
#define zw_error(rid, ...) zw_log(ZW_LOG_ERROR, rid, __VA_ARGS__)

#endif
