/* cmd_dlq — `dlq list` and `dlq replay`: the dead letters on zwgk.dlq
 * (zwgk.dlq.v1, written by zw_stage: the error, the source
 * "topic:partition:offset" or "schedule", the original as a string), each
 * named "partition:offset" by its place on the topic, and putting an original
 * back on the topic it came from — a channel envelope after its failed
 * deliveries row is reset — recorded in dlq_replays and the audit log
 * (dlq.replay). See docs/dlq.md. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "zw_audit.h"
#include "zw_envelope.h"
#include "zw_kafka.h"
#include "zw_log.h"

#define KAFKA_TIMEOUT_MS 5000
#define READ_IDLE_MS 15000         /* reading fails when nothing at all arrives this long */
#define DELIVERY_TIMEOUT_MS 30000  /* message.timeout.ms of the replay producer */
#define MESSAGE_COLUMNS 60         /* the error message's width in the table */

/* Session advisory lock serialising replays, so that two operators cannot
 * both replay the same entry: class "zwgk" (as in zw_audit.h), object 3. */
#define REPLAY_LOCK_SQL_ARGS "2054645611, 3"

static const char replays_sql[] =
    "SELECT dlq_partition, dlq_offset, count(*), "
    "to_char(max(replayed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "(array_agg(replayed_by ORDER BY id DESC))[1], (array_agg(target_topic ORDER BY id DESC))[1] "
    "FROM dlq_replays WHERE dlq_topic = $1 GROUP BY dlq_partition, dlq_offset";

static const char replayed_sql[] =
    "SELECT count(*), (array_agg(replayed_by ORDER BY id DESC))[1], "
    "to_char(max(replayed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM dlq_replays WHERE dlq_topic = $1 AND dlq_partition = $2::int AND dlq_offset = $3::bigint";

static const char record_sql[] =
    "INSERT INTO dlq_replays (dlq_topic, dlq_partition, dlq_offset, replayed_by, target_topic, "
    "target_partition, target_offset, release_id, revision, forced) "
    "VALUES ($1, $2::int, $3::bigint, $4, $5, $6::int, $7::bigint, $8, $9::int, $10::boolean)";

/* The failed delivery a replayed channel envelope must find reset, or the
 * adapter would only repeat its failed receipt (adapters/runner.c). */
static const char failed_delivery_sql[] =
    "SELECT attempts, error FROM deliveries WHERE release_id = $1 AND revision = $2::int "
    "AND channel = $3 AND status = 'failed' FOR UPDATE";
static const char reset_delivery_sql[] =
    "UPDATE deliveries SET status = 'pending', attempts = 0, error = NULL, updated_at = now() "
    "WHERE release_id = $1 AND revision = $2::int AND channel = $3";
static const char restore_delivery_sql[] =
    "UPDATE deliveries SET status = 'failed', attempts = $4::int, error = $5, updated_at = now() "
    "WHERE release_id = $1 AND revision = $2::int AND channel = $3 AND status = 'pending' "
    "AND attempts = 0";

/* --- small helpers ------------------------------------------------------------ */

static const char *member_str(const json_t *object, const char *name) {
  return json_string_value(json_object_get(object, name));
}

static json_int_t member_int(const json_t *object, const char *name) {
  return json_integer_value(json_object_get(object, name));
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch as RFC 3339 UTC with milliseconds, or for
 * people as the local "YYYY-MM-DD HH:MM:SS". */
static void format_ms(int64_t ms, bool local, char out[32]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  size_t n = strftime(out, 32, local ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%dT%H:%M:%S",
                      local ? localtime_r(&secs, &tm) : gmtime_r(&secs, &tm));
  if (!local) snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* --since: "7d", "12h", "30m" ago; a date (midnight, China Standard Time, the
 * zone of the disclosure deadlines); or an RFC 3339 date-time. */
static int parse_since(const char *s, int64_t *ms) {
  char unit = 0, tail[16] = "";
  long n;
  int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
  if (sscanf(s, "%ld%c%n", &n, &unit, &used) == 2 && !s[used] && n >= 0 && strchr("dhm", unit)) {
    *ms = now_ms() - (int64_t)n * (unit == 'd' ? 86400000 : unit == 'h' ? 3600000 : 60000);
    return 0;
  }
  int fields = sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used);
  if (fields != 3 || used != 10 || mo < 1 || mo > 12 || d < 1 || d > 31) return -1;
  long offset = 8 * 3600; /* a date alone: China Standard Time */
  if (s[10]) {
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        sscanf(s + 11, "%2d:%2d:%2d%15s", &h, &mi, &sec, tail) < 3)
      return -1;
    const char *zone = tail + (*tail == '.' ? 1 + strspn(tail + 1, "0123456789") : 0); /* fraction */
    int zh = 0, zm = 0;
    if (strcmp(zone, "Z") != 0 && strcmp(zone, "z") != 0 &&
        (!*zone || !strchr("+-", *zone) || strlen(zone) != 6 || sscanf(zone + 1, "%2d:%2d", &zh, &zm) != 2))
      return -1;
    offset = (*zone == '-' ? -1 : 1) * (zh * 3600L + zm * 60L);
  }
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  *ms = ((int64_t)timegm(&tm) - offset) * 1000;
  return 0;
}

/* "partition:offset" into its numbers; -1 when it is not one. */
static int parse_entry_id(const char *s, int32_t *partition, int64_t *offset) {
  char *end;
  if (*s < '0' || *s > '9') return -1;
  long p = strtol(s, &end, 10);
  if (*end != ':' || end[1] < '0' || end[1] > '9' || p > INT32_MAX) return -1;
  long long o = strtoll(end + 1, &end, 10);
  if (*end) return -1;
  *partition = (int32_t)p;
  *offset = o;
  return 0;
}

/* --- reading the DLQ ---------------------------------------------------------- */

/* A read_committed consumer that assigns partitions itself: it never joins
 * the group named, never commits, and reports the end of each partition. */
static rd_kafka_t *dlq_consumer(const struct zw_config *cfg, char *err, size_t errlen) {
  static const char *const props[][2] = {
      {"group.id", "zwgkctl-dlq"},          {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
      {"isolation.level", "read_committed"}, {"auto.offset.reset", "earliest"},
  };
  return ctl_kafka_new(cfg, RD_KAFKA_CONSUMER, props, sizeof props / sizeof props[0], NULL, err, errlen);
}

/* The topic's partitions, each at offset (e.g. RD_KAFKA_OFFSET_BEGINNING), or
 * NULL with err (no broker answered, or the topic does not exist). */
static rd_kafka_topic_partition_list_t *partitions(rd_kafka_t *rk, const char *topic, int64_t offset,
                                                   char *err, size_t errlen) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_partition_list_t *list = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_resp_err_t rc =
      rkt ? rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS) : rd_kafka_last_error();
  if (rc == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 || md->topics[0].err))
    rc = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(rc));
  } else {
    list = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
      rd_kafka_topic_partition_list_add(list, topic, md->topics[0].partitions[i].id)->offset = offset;
    rd_kafka_topic_partition_list_sort(list, NULL, NULL);
  }
  if (md) rd_kafka_metadata_destroy(md);
  if (rkt) rd_kafka_topic_destroy(rkt);
  return list;
}

/* One DLQ message as an entry {id, partition, offset, timestamp, time, key,
 * replayed, record}; record is the parsed dead letter, or the raw value as a
 * string when it is not JSON. NULL when out of memory. */
static json_t *entry_from(const rd_kafka_message_t *m) {
  char id[48], when[32];
  rd_kafka_timestamp_type_t type;
  int64_t ts = rd_kafka_message_timestamp(m, &type);
  snprintf(id, sizeof id, "%d:%lld", (int)m->partition, (long long)m->offset);
  if (ts >= 0) format_ms(ts, false, when);
  json_t *record = m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
  if (!record && m->payload) record = json_stringn(m->payload, m->len);
  json_t *key = m->key ? json_stringn(m->key, m->key_len) : NULL;
  return json_pack("{s:s, s:i, s:I, s:o, s:o, s:o, s:n, s:o}", "id", id, "partition", (int)m->partition,
                   "offset", (json_int_t)m->offset, "timestamp", ts >= 0 ? json_integer(ts) : json_null(),
                   "time", ts >= 0 ? json_string(when) : json_null(), "key", key ? key : json_null(),
                   "replayed", "record", record ? record : json_null());
}

/* Takes one polled message: appends it as an entry when it is at or after
 * since_ms (or is the one at want_offset, when >= 0). Returns 1 when its
 * partition is done (its end, or past want_offset), 0 to go on, -1 with err. */
static int take_message(const rd_kafka_message_t *m, const char *topic, int64_t since_ms, int64_t want_offset,
                        json_t *entries, char *err, size_t errlen) {
  rd_kafka_timestamp_type_t type;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return 1;
  if (m->err) {
    snprintf(err, errlen, "reading %s: %s", topic, rd_kafka_message_errstr(m));
    return -1;
  }
  bool wanted = want_offset >= 0 ? m->offset == want_offset
                                 : since_ms <= 0 || rd_kafka_message_timestamp(m, &type) >= since_ms;
  json_t *entry = wanted ? entry_from(m) : NULL;
  if (wanted && (!entry || json_array_append_new(entries, entry) < 0)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return want_offset >= 0 && m->offset >= want_offset;
}

/* Consumes the assigned partitions to their end (the last stable offset, for
 * read_committed) as take_message says. Returns 0 or -1 with err. */
static int read_assigned(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list, int64_t since_ms,
                         int64_t want_offset, json_t *entries, char *err, size_t errlen) {
  int open = list->cnt, rc = 0;
  bool *ended = calloc((size_t)list->cnt + 1, sizeof *ended);
  int64_t idle_until = now_ms() + READ_IDLE_MS;
  rd_kafka_resp_err_t e = ended ? rd_kafka_assign(rk, list) : RD_KAFKA_RESP_ERR__FAIL;
  if (e) {
    snprintf(err, errlen, "assign: %s", ended ? rd_kafka_err2str(e) : "out of memory");
    rc = -1;
  }
  while (rc == 0 && open > 0) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
    if (!m) {
      if (now_ms() > idle_until) rc = -1;
      if (rc < 0) snprintf(err, errlen, "nothing arrived from Kafka within %d s", READ_IDLE_MS / 1000);
      continue;
    }
    idle_until = now_ms() + READ_IDLE_MS;
    int i = 0, taken = take_message(m, list->elems[0].topic, since_ms, want_offset, entries, err, errlen);
    while (i < list->cnt && list->elems[i].partition != m->partition) i++;
    if (taken < 0) rc = -1;
    else if (taken && i < list->cnt && !ended[i]) ended[i] = true, open--;
    rd_kafka_message_destroy(m);
  }
  if (ended) rd_kafka_assign(rk, NULL);
  free(ended);
  return rc;
}

/* Oldest first: time, then partition and offset. */
static int compare_entries(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  static const char *const keys[] = {"timestamp", "partition", "offset"};
  for (int k = 0; k < 3; k++) {
    json_int_t u = member_int(x, keys[k]), v = member_int(y, keys[k]);
    if (u != v) return u < v ? -1 : 1;
  }
  return 0;
}

static void sort_entries(json_t *entries) {
  size_t n = json_array_size(entries);
  json_t **all = n ? malloc(n * sizeof *all) : NULL;
  if (!all) return;
  for (size_t i = 0; i < n; i++) all[i] = json_incref(json_array_get(entries, i));
  qsort(all, n, sizeof *all, compare_entries);
  json_array_clear(entries);
  for (size_t i = 0; i < n; i++) json_array_append_new(entries, all[i]);
  free(all);
}

/* Reads the DLQ topic from the beginning (or since_ms) into entries, sorted
 * oldest first. Returns 0 or -1 with err. */
static int read_dlq(const struct zw_config *cfg, const char *topic, int64_t since_ms, json_t *entries,
                    char *err, size_t errlen) {
  rd_kafka_topic_partition_list_t *list = NULL;
  rd_kafka_t *rk = dlq_consumer(cfg, err, errlen);
  int rc = -1;
  if (!rk) return -1;
  if (!zw_kafka_probe(rk, KAFKA_TIMEOUT_MS)) {
    snprintf(err, errlen, "kafka unreachable: no broker of %s answered", zw_config_str(cfg, "kafka.brokers"));
    goto out;
  }
  if (!(list = partitions(rk, topic, RD_KAFKA_OFFSET_BEGINNING, err, errlen))) goto out;
  if (list->cnt && read_assigned(rk, list, since_ms, -1, entries, err, errlen) < 0) goto out;
  sort_entries(entries);
  rc = 0;
out:
  if (list) rd_kafka_topic_partition_list_destroy(list);
  ctl_kafka_consumer_destroy(rk);
  return rc;
}

/* Reads the one entry at partition:offset into *entry (a new reference), or
 * sets it to NULL when there is none. Returns 0 or -1 with err. */
static int read_one(const struct zw_config *cfg, const char *topic, int32_t partition, int64_t offset,
                    json_t **entry, char *err, size_t errlen) {
  rd_kafka_topic_partition_list_t *list = NULL, *one = NULL;
  json_t *found = json_array();
  rd_kafka_t *rk = found ? dlq_consumer(cfg, err, errlen) : NULL;
  int rc = -1;
  *entry = NULL;
  if (!rk) goto out;
  if (!(list = partitions(rk, topic, offset, err, errlen))) goto out;
  if (!rd_kafka_topic_partition_list_find(list, topic, partition)) {
    rc = 0; /* no such partition: no such entry */
    goto out;
  }
  one = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(one, topic, partition)->offset = offset;
  if (read_assigned(rk, one, 0, offset, found, err, errlen) < 0) goto out;
  *entry = json_incref(json_array_get(found, 0));
  rc = 0;
out:
  if (one) rd_kafka_topic_partition_list_destroy(one);
  if (list) rd_kafka_topic_partition_list_destroy(list);
  ctl_kafka_consumer_destroy(rk);
  json_decref(found);
  return rc;
}

/* Sets each entry's "replayed" from dlq_replays: {count, last_at, by,
 * target_topic}, or null when it never was. Returns 0 or -1 with err. */
static int mark_replayed(struct ctl *ctl, const char *topic, json_t *entries, char *err, size_t errlen) {
  bool transient;
  const char *const params[] = {topic};
  if (!ctl_pg(ctl, err, errlen)) return -1;
  PGresult *res = zw_pg_exec(ctl->pg, replays_sql, 1, params, &transient, err, errlen);
  if (!res) return -1;
  json_t *by_id = json_object();
  size_t i;
  json_t *entry;
  json_array_foreach(entries, i, entry) json_object_set(by_id, member_str(entry, "id"), entry);
  for (int r = 0; by_id && r < PQntuples(res); r++) {
    char id[48];
    snprintf(id, sizeof id, "%s:%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
    json_t *e = json_object_get(by_id, id);
    if (e)
      json_object_set_new(e, "replayed",
                          json_pack("{s:I, s:s, s:s, s:s}", "count",
                                    (json_int_t)strtoll(PQgetvalue(res, r, 2), NULL, 10), "last_at",
                                    PQgetvalue(res, r, 3), "by", PQgetvalue(res, r, 4), "target_topic",
                                    PQgetvalue(res, r, 5)));
  }
  PQclear(res);
  json_decref(by_id);
  return 0;
}

/* --- dlq list ------------------------------------------------------------------ */

/* The error's message on one line, cut to MESSAGE_COLUMNS display columns. */
static void shorten(const char *s, char *out, size_t len) {
  size_t n = 0, width = 0;
  for (const char *p = s; *p && n + 8 < len;) {
    char one[8] = "";
    size_t k = 1;
    while (k < 4 && (p[k] & 0xc0) == 0x80) k++; /* one UTF-8 sequence */
    memcpy(one, p, k);
    if ((width += ctl_display_width(one)) >= MESSAGE_COLUMNS) {
      memcpy(out + n, "…", 3);
      n += 3;
      break;
    }
    for (size_t j = 0; j < k; j++) out[n++] = p[j] == '\n' || p[j] == '\r' || p[j] == '\t' ? ' ' : p[j];
    p += k;
  }
  out[n] = '\0';
}

static int print_entries(const json_t *entries, bool replays_known) {
  static const char *const headers[] = {"ID", "TIME", "STAGE", "KIND", "RELEASE", "REPLAYED", "MESSAGE"};
  struct ctl_table *t = ctl_table_new(7, headers);
  if (!t) return ctl_fail("out of memory");
  size_t i, waiting = 0;
  const json_t *entry;
  int rc = CTL_OK;
  json_array_foreach(entries, i, entry) {
    const json_t *record = json_object_get(entry, "record"), *error = json_object_get(record, "error");
    const json_t *replayed = json_object_get(entry, "replayed");
    const json_t *ts = json_object_get(entry, "timestamp");
    char when[32] = "-", message[512], times[32];
    if (json_is_integer(ts)) format_ms(json_integer_value(ts), true, when);
    shorten(member_str(error, "message") ? member_str(error, "message") : "(not a zwgk.dlq.v1 record)", message,
            sizeof message);
    json_int_t count = member_int(replayed, "count");
    if (count > 1) snprintf(times, sizeof times, "yes (%" JSON_INTEGER_FORMAT ")", count);
    else snprintf(times, sizeof times, "%s", count ? "yes" : replays_known ? "no" : "?");
    if (!count) waiting++;
    const char *cells[] = {member_str(entry, "id"), when, member_str(error, "stage"), member_str(error, "kind"),
                           member_str(record, "release_id"), times, message};
    if (ctl_table_add(t, cells) < 0) rc = ctl_fail("out of memory");
  }
  if (rc == CTL_OK && json_array_size(entries)) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  bool colour = ctl_colour(stdout) && waiting > 0;
  printf("%zu dead letter%s, %s%zu not replayed%s\n", json_array_size(entries),
         json_array_size(entries) == 1 ? "" : "s", colour ? "\033[1;33m" : "", waiting, colour ? "\033[0m" : "");
  return rc;
}

/* Keeps the entries of release (when given), not yet replayed (when
 * pending), and the newest limit of them (when limit > 0). */
static void filter_entries(json_t *entries, const char *release, bool pending, long limit) {
  for (size_t i = json_array_size(entries); i-- > 0;) {
    const json_t *entry = json_array_get(entries, i);
    const char *rid = member_str(json_object_get(entry, "record"), "release_id");
    bool replayed = json_object_get(json_object_get(entry, "replayed"), "count") != NULL;
    if ((release && (!rid || strcmp(rid, release) != 0)) || (pending && replayed)) json_array_remove(entries, i);
  }
  while (limit > 0 && json_array_size(entries) > (size_t)limit) json_array_remove(entries, 0);
}

int cmd_dlq_list(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--since", "--limit", "--release", NULL};
  struct ctl_args args;
  char err[1024], topic[256], *end = NULL;
  int64_t since = 0;
  long limit = 0;
  bool pending = ctl_take_flag(&argc, argv, "--pending");
  if (ctl_parse_args(argc, argv, options, 0, 0, &args) < 0) return CTL_USAGE;
  if (args.option[0] && parse_since(args.option[0], &since) < 0) {
    fprintf(stderr, "zwgkctl: --since wants a date, an RFC 3339 date-time or an age like 7d, 12h, 30m\n");
    return CTL_USAGE;
  }
  if (args.option[1] && ((limit = strtol(args.option[1], &end, 10)) < 1 || *end)) {
    fprintf(stderr, "zwgkctl: --limit wants a positive number\n");
    return CTL_USAGE;
  }
  zw_kafka_topic(ctl->cfg, "dlq", topic, sizeof topic);
  json_t *entries = json_array();
  if (!entries) return ctl_fail("out of memory");
  int rc = CTL_FAILED;
  bool known = false;
  if (read_dlq(ctl->cfg, topic, since, entries, err, sizeof err) < 0) {
    ctl_fail("dlq list: %s", err);
    goto out;
  }
  if (!(known = mark_replayed(ctl, topic, entries, err, sizeof err) == 0))
    fprintf(stderr, "zwgkctl: warning: which entries were replayed is unknown: %s\n", err);
  filter_entries(entries, args.option[2], pending, limit);
  if (ctl->json) {
    json_t *out = json_pack("{s:s, s:b, s:O}", "topic", topic, "replays_known", known, "entries", entries);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    rc = print_entries(entries, known);
  }
out:
  json_decref(entries);
  return rc;
}

/* --- planning a replay ----------------------------------------------------------- */

/* What replaying one entry means. Strings point into the entry or plan. */
struct plan {
  char dlq_topic[256];
  const char *id, *stage, *kind;
  int32_t partition;
  int64_t offset;
  const char *original;
  size_t original_len;
  json_t *parsed; /* the original as JSON, owned; NULL when it is not JSON */
  char target[256];
  const char *release_id; /* the key, or NULL */
  int revision;           /* 0 when unknown */
  const char *schema;     /* zwgk-schema header, or NULL */
  char traceparent[ZW_TRACEPARENT_LEN + 1];
  char channel[64]; /* a channel envelope's channel, "" otherwise */
  /* filled by the replay */
  bool reset;
  char old_attempts[16];
  char old_error[1024];
  int32_t target_partition;
  int64_t target_offset;
};

enum plan_result { PLAN_OK, PLAN_REFUSED, PLAN_FAILED };

static bool topic_name(const char *s, size_t n) {
  if (n == 0 || n > 249) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]) || !s[i]) return false;
  return true;
}

static bool trace_id(const char *s) {
  return s && strlen(s) == ZW_TRACE_ID_LEN && strspn(s, "0123456789abcdef") == ZW_TRACE_ID_LEN &&
         strspn(s, "0") != ZW_TRACE_ID_LEN;
}

/* The topic the original goes back to: the one named in source, or for
 * "schedule" the channel topic of the channel envelope. */
static int plan_target(const struct ctl *ctl, struct plan *p, const char *source, char *err, size_t errlen) {
  char prefix[256];
  zw_kafka_topic(ctl->cfg, "channel.", prefix, sizeof prefix);
  if (source && strcmp(source, "schedule") == 0) {
    const char *channel = member_str(json_object_get(p->parsed, "channel"), "name");
    if (!channel || !topic_name(channel, strlen(channel))) {
      snprintf(err, errlen, "entry %s came from a schedule but its original is not a channel envelope", p->id);
      return -1;
    }
    if ((size_t)snprintf(p->target, sizeof p->target, "%s%s", prefix, channel) >= sizeof p->target) {
      snprintf(err, errlen, "entry %s: topic name %s%s too long", p->id, prefix, channel);
      return -1;
    }
  } else {
    const char *colon = source ? strchr(source, ':') : NULL;
    if (!colon || !topic_name(source, (size_t)(colon - source))) {
      snprintf(err, errlen, "entry %s names no source topic (source \"%s\")", p->id, source ? source : "");
      return -1;
    }
    snprintf(p->target, sizeof p->target, "%.*s", (int)(colon - source), source);
  }
  if (strcmp(p->target, p->dlq_topic) == 0) {
    snprintf(err, errlen, "entry %s came from the DLQ itself; it is not replayed there", p->id);
    return -1;
  }
  if (strncmp(p->target, prefix, strlen(prefix)) == 0)
    snprintf(p->channel, sizeof p->channel, "%s", p->target + strlen(prefix));
  return 0;
}

/* Key, revision, schema header and a new span in the original's trace. */
static int plan_headers(struct plan *p, const json_t *record, char *err, size_t errlen) {
  const char *rid = member_str(record, "release_id");
  if (!rid || !zw_is_release_id(rid)) rid = member_str(p->parsed, "release_id");
  p->release_id = rid && zw_is_release_id(rid) ? rid : NULL;
  const json_t *rev = json_object_get(record, "revision");
  if (!json_is_integer(rev)) rev = json_object_get(p->parsed, "revision");
  p->revision = json_is_integer(rev) && json_integer_value(rev) >= 1 && json_integer_value(rev) <= INT32_MAX
                    ? (int)json_integer_value(rev)
                    : 0;
  p->schema = member_str(p->parsed, "schema");
  char trace[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1];
  if (zw_trace_new(trace, span) < 0) {
    snprintf(err, errlen, "no randomness for a span id");
    return -1;
  }
  const char *old = member_str(json_object_get(record, "ingest"), "trace_id");
  if (!trace_id(old)) old = member_str(json_object_get(p->parsed, "ingest"), "trace_id");
  if (trace_id(old)) memcpy(trace, old, sizeof trace);
  zw_traceparent_format(p->traceparent, trace, span);
  return 0;
}

/* Works out what replaying entry means. Poison is refused unless poison_ok.
 * Returns PLAN_OK, PLAN_REFUSED or PLAN_FAILED, with the reason in err. */
static enum plan_result plan_replay(const struct ctl *ctl, const char *dlq_topic, const json_t *entry,
                                    bool poison_ok, struct plan *p, char *err, size_t errlen) {
  const json_t *record = json_object_get(entry, "record"), *error = json_object_get(record, "error");
  memset(p, 0, sizeof *p);
  snprintf(p->dlq_topic, sizeof p->dlq_topic, "%s", dlq_topic);
  p->id = member_str(entry, "id");
  p->partition = (int32_t)member_int(entry, "partition");
  p->offset = member_int(entry, "offset");
  const char *schema = member_str(record, "schema");
  if (!schema || strcmp(schema, "zwgk.dlq.v1") != 0 || !json_is_object(error)) {
    snprintf(err, errlen, "entry %s is not a zwgk.dlq.v1 dead letter", p->id);
    return PLAN_FAILED;
  }
  p->stage = member_str(error, "stage") ? member_str(error, "stage") : "?";
  p->kind = member_str(error, "kind") ? member_str(error, "kind") : "?";
  if (strcmp(p->kind, "poison") == 0 && !poison_ok) {
    snprintf(err, errlen, "entry %s is poison (%s): its original is not a valid envelope and would only be "
             "dead-lettered again; --force replays it anyway", p->id,
             member_str(error, "message") ? member_str(error, "message") : "no message");
    return PLAN_REFUSED;
  }
  const json_t *original = json_object_get(record, "original");
  p->original = json_string_value(original);
  p->original_len = json_string_length(original);
  if (!p->original || p->original_len == 0) {
    snprintf(err, errlen, "entry %s kept no original (it was not UTF-8): nothing to replay", p->id);
    return PLAN_FAILED;
  }
  if (json_is_true(json_object_get(record, "original_truncated"))) {
    snprintf(err, errlen, "entry %s kept only the first %zu of the original's %lld bytes (sha256 %s): it cannot "
             "be replayed as it was", p->id, p->original_len, (long long)member_int(record, "original_bytes"),
             member_str(record, "original_sha256") ? member_str(record, "original_sha256") : "?");
    return PLAN_FAILED;
  }
  p->parsed = json_loadb(p->original, p->original_len, 0, NULL);
  if (plan_target(ctl, p, member_str(record, "source"), err, errlen) < 0 ||
      plan_headers(p, record, err, errlen) < 0) {
    json_decref(p->parsed);
    p->parsed = NULL;
    return PLAN_FAILED;
  }
  return PLAN_OK;
}

static void plan_done(struct plan *p) {
  json_decref(p->parsed);
  p->parsed = NULL;
}

/* --- replaying ---------------------------------------------------------------------- */

/* The outcome of one produced message, set by the delivery report. */
struct sent {
  bool done;
  rd_kafka_resp_err_t err;
  int32_t partition;
  int64_t offset;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  struct sent *s = m->_private;
  if (!s) return;
  s->err = m->err;
  s->partition = m->partition;
  s->offset = m->offset;
  s->done = true;
}

/* An idempotent producer (acks=all) whose every message gets an outcome
 * within DELIVERY_TIMEOUT_MS. NULL with err. */
static rd_kafka_t *replay_producer(const struct zw_config *cfg, char *err, size_t errlen) {
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", DELIVERY_TIMEOUT_MS);
  const char *const props[][2] = {{"enable.idempotence", "true"}, {"acks", "all"}, {"message.timeout.ms", timeout}};
  rd_kafka_t *rk = ctl_kafka_new(cfg, RD_KAFKA_PRODUCER, props, 3, on_delivery, err, errlen);
  if (!rk) return NULL;
  if (!zw_kafka_probe(rk, KAFKA_TIMEOUT_MS)) {
    snprintf(err, errlen, "kafka unreachable: no broker of %s answered", zw_config_str(cfg, "kafka.brokers"));
    rd_kafka_destroy(rk);
    return NULL;
  }
  return rk;
}

static void replay_producer_destroy(rd_kafka_t *rk) {
  if (!rk) return;
  rd_kafka_flush(rk, 5000);
  if (rd_kafka_outq_len(rk) > 0)
    fprintf(stderr, "zwgkctl: warning: %d message(s) without a delivery report at exit\n", rd_kafka_outq_len(rk));
  rd_kafka_destroy(rk);
}

/* Sends the original and waits for the broker's acknowledgement. Returns 0
 * (p->target_partition/offset set) or -1 with err. */
static int produce(rd_kafka_t *rk, struct plan *p, char *err, size_t errlen) {
  struct sent s = {0};
  rd_kafka_headers_t *h = zw_kafka_headers(p->traceparent, p->schema);
  rd_kafka_resp_err_t e;
  for (int tries = 0;; tries++) {
    e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(p->target),
                          RD_KAFKA_V_KEY(p->release_id, p->release_id ? strlen(p->release_id) : 0),
                          RD_KAFKA_V_VALUE((void *)p->original, p->original_len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&s),
                          RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 50) break;
    rd_kafka_poll(rk, 100); /* bounded wait for room in the queue */
  }
  if (e) {
    rd_kafka_headers_destroy(h); /* still ours when the produce call failed */
    snprintf(err, errlen, "produce to %s: %s", p->target, rd_kafka_err2str(e));
    return -1;
  }
  /* message.timeout.ms bounds the wait: every message gets a report by then. */
  while (!s.done) rd_kafka_poll(rk, 100);
  if (s.err) {
    snprintf(err, errlen, "produce to %s: %s", p->target, rd_kafka_err2str(s.err));
    return -1;
  }
  p->target_partition = s.partition;
  p->target_offset = s.offset;
  return 0;
}

/* Fails with err when the entry was replayed before (and again is false). */
static int check_not_replayed(struct ctl *ctl, const struct plan *p, bool again, char *err, size_t errlen) {
  char partition[16], offset[24];
  bool transient;
  snprintf(partition, sizeof partition, "%d", (int)p->partition);
  snprintf(offset, sizeof offset, "%lld", (long long)p->offset);
  const char *const params[] = {p->dlq_topic, partition, offset};
  PGresult *res = zw_pg_exec(ctl->pg, replayed_sql, 3, params, &transient, err, errlen);
  if (!res) return -1;
  long count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
  if (count && !again)
    snprintf(err, errlen, "entry %s was replayed %ld time%s already, last by %s at %s; --force replays it again",
             p->id, count, count == 1 ? "" : "s", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
  PQclear(res);
  return count && !again ? -1 : 0;
}

/* Resets the channel envelope's failed deliveries row to pending with no
 * attempts, so that the adapter delivers it again (committed before the
 * envelope is sent: the adapter may read it at once). */
static int reset_delivery(struct ctl *ctl, struct plan *p, char *err, size_t errlen) {
  char revision[16];
  bool transient;
  if (!p->channel[0] || !p->release_id || !p->revision) return 0;
  snprintf(revision, sizeof revision, "%d", p->revision);
  const char *const params[] = {p->release_id, revision, p->channel};
  if (ctl_begin(ctl, err, errlen) < 0) return -1;
  PGresult *res = zw_pg_exec(ctl->pg, failed_delivery_sql, 3, params, &transient, err, errlen);
  if (!res) goto failed;
  if (PQntuples(res) == 1) {
    p->reset = true;
    snprintf(p->old_attempts, sizeof p->old_attempts, "%s", PQgetvalue(res, 0, 0));
    snprintf(p->old_error, sizeof p->old_error, "%s", PQgetvalue(res, 0, 1));
  }
  PQclear(res);
  if (p->reset && zw_pg_run(ctl->pg, reset_delivery_sql, 3, params, &transient, err, errlen) < 0) goto failed;
  if (ctl_commit(ctl, err, errlen) < 0) goto failed;
  return 0;
failed:
  p->reset = false;
  ctl_rollback(ctl);
  return -1;
}

/* Puts the deliveries row back as it was when the envelope could not be sent. */
static void restore_delivery(struct ctl *ctl, const struct plan *p) {
  char revision[16], err[512];
  bool transient;
  if (!p->reset) return;
  snprintf(revision, sizeof revision, "%d", p->revision);
  const char *const params[] = {p->release_id, revision, p->channel, p->old_attempts, p->old_error};
  if (zw_pg_run(ctl->pg, restore_delivery_sql, 5, params, &transient, err, sizeof err) < 0)
    fprintf(stderr, "zwgkctl: warning: the delivery of %s on %s stays pending: %s\n", p->release_id, p->channel,
            err);
}

static json_t *audit_detail(const struct plan *p, bool forced) {
  char where[320], target[320];
  snprintf(where, sizeof where, "%s:%s", p->dlq_topic, p->id);
  snprintf(target, sizeof target, "%s:%d:%lld", p->target, (int)p->target_partition, (long long)p->target_offset);
  json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:b}", "dlq", where, "stage", p->stage, "kind", p->kind,
                             "target", target, "forced", forced);
  if (detail && p->reset)
    json_object_set_new(detail, "reset_delivery",
                        json_pack("{s:s, s:I, s:s}", "channel", p->channel, "attempts",
                                  (json_int_t)strtoll(p->old_attempts, NULL, 10), "error", p->old_error));
  return detail;
}

/* Records the replay in dlq_replays and the audit log, in one transaction. */
static int record_replay(struct ctl *ctl, const struct plan *p, bool forced, char *err, size_t errlen) {
  char partition[16], offset[24], tpartition[16], toffset[24], revision[16];
  bool transient;
  snprintf(partition, sizeof partition, "%d", (int)p->partition);
  snprintf(offset, sizeof offset, "%lld", (long long)p->offset);
  snprintf(tpartition, sizeof tpartition, "%d", (int)p->target_partition);
  snprintf(toffset, sizeof toffset, "%lld", (long long)p->target_offset);
  snprintf(revision, sizeof revision, "%d", p->revision);
  const char *const params[] = {p->dlq_topic, partition,     offset, ctl->actor,
                                p->target,    tpartition,    toffset, p->release_id,
                                p->revision ? revision : NULL, forced ? "true" : "false"};
  json_t *detail = audit_detail(p, forced);
  if (!detail) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = -1;
  if (ctl_begin(ctl, err, errlen) < 0) goto out;
  if (zw_pg_run(ctl->pg, record_sql, 10, params, &transient, err, errlen) < 0 ||
      zw_audit_append(ctl->pg, ctl->actor, "dlq.replay", p->release_id, p->revision, detail, err, errlen) < 0 ||
      ctl_commit(ctl, err, errlen) < 0) {
    ctl_rollback(ctl);
    goto out;
  }
  rc = 0;
out:
  json_decref(detail);
  return rc;
}

/* Replays a planned entry, under the replay lock: checks it was not replayed
 * (unless again), resets a failed delivery, sends, records. Returns 0 or -1
 * with err. */
static int replay_planned(struct ctl *ctl, rd_kafka_t *rk, struct plan *p, bool again, bool forced, char *err,
                          size_t errlen) {
  if (check_not_replayed(ctl, p, again, err, errlen) < 0 || reset_delivery(ctl, p, err, errlen) < 0) return -1;
  if (produce(rk, p, err, errlen) < 0) {
    restore_delivery(ctl, p);
    return -1;
  }
  char why[512];
  if (record_replay(ctl, p, forced, why, sizeof why) < 0) {
    snprintf(err, errlen, "entry %s was sent to %s [%d:%lld] but the replay could not be recorded: %s", p->id,
             p->target, (int)p->target_partition, (long long)p->target_offset, why);
    return -1;
  }
  return 0;
}

static int replay_lock(struct ctl *ctl, bool take, char *err, size_t errlen) {
  bool transient;
  const char *sql = take ? "SELECT pg_advisory_lock(" REPLAY_LOCK_SQL_ARGS ")"
                         : "SELECT pg_advisory_unlock(" REPLAY_LOCK_SQL_ARGS ")";
  return zw_pg_run(ctl->pg, sql, 0, NULL, &transient, err, errlen);
}

static json_t *replayed_json(const struct plan *p, bool forced) {
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s?, s:o, s:b, s:o}", "id", p->id, "stage", p->stage,
                   "kind", p->kind, "target_topic", p->target, "target_partition",
                   (int)p->target_partition, "target_offset", (json_int_t)p->target_offset, "release_id",
                   p->release_id, "revision", p->revision ? json_integer(p->revision) : json_null(), "forced",
                   forced, "reset_delivery", p->reset ? json_string(p->channel) : json_null());
}

/* --- dlq replay ------------------------------------------------------------------------ */

static int print_replayed(const struct ctl *ctl, const struct plan *p, bool forced) {
  if (!ctl->json) {
    printf("replayed %s (%s %s%s%s) to %s [partition %d, offset %lld]\n", p->id, p->stage, p->kind,
           p->release_id ? ", release " : "", p->release_id ? p->release_id : "", p->target,
           (int)p->target_partition, (long long)p->target_offset);
    if (p->reset) printf("its failed delivery on %s was reset to pending\n", p->channel);
    return CTL_OK;
  }
  json_t *out = replayed_json(p, forced);
  int rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
  json_decref(out);
  return rc;
}

/* Replays one entry by its id. */
static int replay_one(struct ctl *ctl, const char *topic, const char *id, bool force) {
  char err[1024];
  int32_t partition;
  int64_t offset;
  json_t *entry = NULL;
  rd_kafka_t *rk = NULL;
  struct plan p = {0};
  bool locked = false;
  int rc = CTL_FAILED;
  if (parse_entry_id(id, &partition, &offset) < 0) {
    fprintf(stderr, "zwgkctl: '%s' is not an entry id PARTITION:OFFSET (see zwgkctl dlq list)\n", id);
    return CTL_USAGE;
  }
  if (read_one(ctl->cfg, topic, partition, offset, &entry, err, sizeof err) < 0) {
    ctl_fail("dlq replay: %s", err);
    goto out;
  }
  if (!entry) {
    ctl_fail("dlq replay: no dead letter at %s on %s (see zwgkctl dlq list)", id, topic);
    goto out;
  }
  if (plan_replay(ctl, topic, entry, force, &p, err, sizeof err) != PLAN_OK ||
      !ctl_pg(ctl, err, sizeof err) || !(locked = replay_lock(ctl, true, err, sizeof err) == 0) ||
      !(rk = replay_producer(ctl->cfg, err, sizeof err)) ||
      replay_planned(ctl, rk, &p, force, force, err, sizeof err) < 0) {
    ctl_fail("dlq replay: %s", err);
    goto out;
  }
  rc = print_replayed(ctl, &p, force);
out:
  replay_producer_destroy(rk);
  if (locked) (void)replay_lock(ctl, false, err, sizeof err);
  plan_done(&p);
  json_decref(entry);
  return rc;
}

/* The outcome lists of --all. */
struct tally {
  json_t *replayed, *skipped, *failed;
};

/* Replays every entry not replayed yet; poison only with force. */
static void replay_entries(struct ctl *ctl, rd_kafka_t *rk, const char *topic, const json_t *entries, bool force,
                           struct tally *t) {
  size_t i, total = json_array_size(entries);
  const json_t *entry;
  json_array_foreach(entries, i, entry) {
    struct plan p;
    char err[1024];
    ctl_progress("dlq replay", (long)i, (long)total, false);
    if (json_object_get(json_object_get(entry, "replayed"), "count")) continue;
    enum plan_result planned = plan_replay(ctl, topic, entry, force, &p, err, sizeof err);
    bool forced = planned == PLAN_OK && force && strcmp(p.kind, "poison") == 0;
    if (planned == PLAN_REFUSED) {
      json_array_append_new(t->skipped, json_pack("{s:s, s:s}", "id", member_str(entry, "id"), "reason", err));
    } else if (planned == PLAN_FAILED || replay_planned(ctl, rk, &p, false, forced, err, sizeof err) < 0) {
      fprintf(stderr, "zwgkctl: %s\n", err);
      json_array_append_new(t->failed, json_pack("{s:s, s:s}", "id", member_str(entry, "id"), "error", err));
    } else {
      json_array_append_new(t->replayed, replayed_json(&p, forced));
    }
    plan_done(&p);
  }
  ctl_progress("dlq replay", 0, 0, true);
}

static int print_tally(const struct tally *t) {
  size_t i;
  const json_t *row;
  json_array_foreach(t->replayed, i, row)
    printf("replayed %s to %s [partition %d, offset %lld]\n", member_str(row, "id"),
           member_str(row, "target_topic"), (int)member_int(row, "target_partition"),
           (long long)member_int(row, "target_offset"));
  json_array_foreach(t->skipped, i, row) printf("skipped %s\n", member_str(row, "reason"));
  bool colour = ctl_colour(stdout) && json_array_size(t->failed) > 0;
  printf("%zu replayed, %zu skipped, %s%zu failed%s\n", json_array_size(t->replayed), json_array_size(t->skipped),
         colour ? "\033[1;31m" : "", json_array_size(t->failed), colour ? "\033[0m" : "");
  return CTL_OK;
}

/* Replays every entry not yet replayed. */
static int replay_all(struct ctl *ctl, const char *topic, bool force) {
  char err[1024];
  struct tally t = {json_array(), json_array(), json_array()};
  json_t *entries = json_array();
  rd_kafka_t *rk = NULL;
  bool locked = false;
  int rc = CTL_FAILED;
  if (!entries || !t.replayed || !t.skipped || !t.failed) {
    ctl_fail("out of memory");
    goto out;
  }
  if (!ctl_pg(ctl, err, sizeof err) || !(locked = replay_lock(ctl, true, err, sizeof err) == 0) ||
      read_dlq(ctl->cfg, topic, 0, entries, err, sizeof err) < 0 ||
      mark_replayed(ctl, topic, entries, err, sizeof err) < 0 || !(rk = replay_producer(ctl->cfg, err, sizeof err))) {
    ctl_fail("dlq replay --all: %s", err);
    goto out;
  }
  replay_entries(ctl, rk, topic, entries, force, &t);
  if (ctl->json) {
    json_t *out = json_pack("{s:O, s:O, s:O}", "replayed", t.replayed, "skipped", t.skipped, "failed", t.failed);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    rc = print_tally(&t);
  }
  if (rc == CTL_OK && json_array_size(t.failed)) rc = CTL_FAILED;
out:
  replay_producer_destroy(rk);
  if (locked) (void)replay_lock(ctl, false, err, sizeof err);
  json_decref(entries);
  json_decref(t.replayed);
  json_decref(t.skipped);
  json_decref(t.failed);
  return rc;
}

int cmd_dlq_replay(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char topic[256];
  bool force = ctl_take_flag(&argc, argv, "--force"), all = ctl_take_flag(&argc, argv, "--all");
  if (ctl_parse_args(argc, argv, NULL, all ? 0 : 1, all ? 0 : 1, &args) < 0) return CTL_USAGE;
  zw_kafka_topic(ctl->cfg, "dlq", topic, sizeof topic);
  return all ? replay_all(ctl, topic, force) : replay_one(ctl, topic, args.positional[0], force);
}
