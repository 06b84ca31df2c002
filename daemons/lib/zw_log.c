/* zw_log — stderr logging shared by every zwgk daemon and zwgkctl. */
#include "zw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *level_names[] = {"debug", "info", "warn", "error"};

static struct {
  char component[32];
  enum zw_log_level level;
  bool json;
} log_state = {"zwgk", ZW_LOG_INFO, false};

int zw_log_setup(const char *component, const char *level, const char *format) {
  enum zw_log_level lv = ZW_LOG_INFO;
  bool found = false;
  for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
    if (strcmp(level, level_names[i]) == 0) {
      lv = (enum zw_log_level)i;
      found = true;
    }
  }
  if (!found) return -1;
  if (strcmp(format, "kv") != 0 && strcmp(format, "json") != 0) return -1;
  snprintf(log_state.component, sizeof log_state.component, "%s", component);
  log_state.level = lv;
  log_state.json = strcmp(format, "json") == 0;
  return 0;
}

bool zw_log_enabled(enum zw_log_level level) { return level >= log_state.level; }

/* Appends s to out, escaped for a double-quoted value (valid for kv and JSON). */
static size_t append_quoted(char *out, size_t pos, size_t cap, const char *s) {
  if (pos < cap) out[pos++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p && pos + 7 < cap; p++) {
    if (*p == '"' || *p == '\\') {
      out[pos++] = '\\';
      out[pos++] = (char)*p;
    } else if (*p == '\n') {
      out[pos++] = '\\';
      out[pos++] = 'n';
    } else if (*p < 0x20) {
      pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", *p);
    } else {
      out[pos++] = (char)*p;
    }
  }
  if (pos < cap) out[pos++] = '"';
  return pos;
}

void zw_log(enum zw_log_level level, const char *release_id, const char *fmt, ...) {
  if (!zw_log_enabled(level)) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);

  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[40];
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

  char line[4096];
  size_t cap = sizeof line - 2, pos = 0;
  if (log_state.json) {
    pos += (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\"", ts,
                            level_names[level], log_state.component);
    if (release_id) pos += (size_t)snprintf(line + pos, cap - pos, ",\"release_id\":");
    if (release_id) pos = append_quoted(line, pos, cap, release_id);
    pos += (size_t)snprintf(line + pos, cap - pos, ",\"msg\":");
    pos = append_quoted(line, pos, cap, msg);
    if (pos < cap) line[pos++] = '}';
  } else {
    pos += (size_t)snprintf(line, cap, "ts=%s level=%s component=%s", ts, level_names[level],
                            log_state.component);
    if (release_id) pos += (size_t)snprintf(line + pos, cap - pos, " release_id=%.64s", release_id);
    pos += (size_t)snprintf(line + pos, cap - pos, " msg=");
    pos = append_quoted(line, pos, cap, msg);
  }
  if (pos > cap) pos = cap;
  line[pos++] = '\n';
  fwrite(line, 1, pos, stderr);
}
