/* cmd_status — `status`: each daemon's health and readiness from its admin
 * listener (CONTRACT §7), and consumer lag per group/topic/partition read from
 * Kafka without joining the groups. */
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "zw_http.h"
#include "zw_kafka.h"
#include "zw_log.h"

#define HTTP_TIMEOUT_MS 2000L
#define HTTP_BODY_LIMIT (8u << 20)
#define KAFKA_TIMEOUT_MS 3000

/* The daemons with an admin listener, and the consumer group and input topic
 * (after kafka.topic_prefix) of each stage. */
static const char *const daemon_names[] = {"producer", "classifier", "fanout",   "portal",
                                           "bulletin", "wechat",     "broadcast"};
static const struct {
  const char *group_key;
  const char *topic_suffix;
} consumers[] = {
    {"classifier.group_id", "releases"},       {"fanout.group_id", "tagged"},
    {"portal.group_id", "channel.portal"},     {"bulletin.group_id", "channel.bulletin"},
    {"wechat.group_id", "channel.wechat"},     {"broadcast.group_id", "channel.broadcast"},
};

/* The key figures summed over every sample of their family in /metrics. */
static const struct {
  const char *json_name;
  const char *family;
} figures[] = {
    {"messages_in", "zwgk_messages_in_total"},
    {"messages_out", "zwgk_messages_out_total"},
    {"errors", "zwgk_errors_total"},
    {"deliveries", "zwgk_deliveries_total"},
};
#define FIGURE_COUNT (sizeof figures / sizeof figures[0])

/* --- HTTP ---------------------------------------------------------------- */

struct response {
  long status; /* 0: no HTTP answer, see error */
  char *body;  /* NUL-terminated */
  size_t len;
  char error[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct response *r = arg;
  size_t add = size * n;
  if (r->len + add > HTTP_BODY_LIMIT) return 0; /* makes curl fail the transfer */
  char *grown = realloc(r->body, r->len + add + 1);
  if (!grown) return 0;
  r->body = grown;
  memcpy(r->body + r->len, data, add);
  r->len += add;
  r->body[r->len] = '\0';
  return add;
}

static void response_reset(struct response *r) {
  free(r->body);
  memset(r, 0, sizeof *r);
}

/* GETs url into r (reset first); r->status is 0 when no answer came. */
static void http_get(CURL *curl, const char *url, struct response *r) {
  response_reset(r);
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, HTTP_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* admin listeners are never behind a proxy */
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
    r->status = 0;
    return;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
}

/* The base URL of an admin address "host:port"; a wildcard host is asked on loopback. */
static void admin_url(const char *address, char *out, size_t len) {
  char host[256];
  int port;
  if (strncmp(address, "http://", 7) == 0 || strncmp(address, "https://", 8) == 0) {
    snprintf(out, len, "%s", address);
  } else if (zw_http_split_address(address, host, sizeof host, &port) < 0) {
    snprintf(out, len, "http://%s", address);
  } else if (strcmp(host, "0.0.0.0") == 0) {
    snprintf(out, len, "http://127.0.0.1:%d", port);
  } else if (strchr(host, ':') && host[0] != '[') { /* bare IPv6 address */
    snprintf(out, len, "http://[%s]:%d", strcmp(host, "::") == 0 ? "::1" : host, port);
  } else {
    snprintf(out, len, "http://%s:%d", host, port);
  }
  size_t n = strlen(out);
  if (n && out[n - 1] == '/') out[n - 1] = '\0';
}

/* --- /metrics -------------------------------------------------------------- */

/* Start of the value of a sample line "name{labels} value", or NULL. */
static const char *sample_value(const char *line, const char *family) {
  size_t n = strlen(family);
  if (strncmp(line, family, n) != 0) return NULL;
  const char *p = line + n;
  if (*p == '{') {
    bool quoted = false;
    for (p++; *p && *p != '\n' && (quoted || *p != '}'); p++) {
      if (*p == '\\' && quoted && p[1]) p++;
      else if (*p == '"') quoted = !quoted;
    }
    if (*p != '}') return NULL;
    p++;
  }
  if (*p != ' ' && *p != '\t') return NULL;
  return p;
}

/* Sums every sample of family in a Prometheus text exposition; false if none. */
static bool sum_family(const char *text, const char *family, double *sum) {
  bool found = false;
  *sum = 0;
  for (const char *line = text; *line;) {
    const char *value = line[0] == '#' ? NULL : sample_value(line, family);
    char *end;
    double v = value ? strtod(value, &end) : 0;
    if (value && end != value) {
      *sum += v;
      found = true;
    }
    const char *eol = strchr(line, '\n');
    if (!eol) break;
    line = eol + 1;
  }
  return found;
}

/* --- daemons --------------------------------------------------------------- */

/* First line of text, trimmed, into out. */
static void first_line(const char *text, char *out, size_t len) {
  while (*text == ' ' || *text == '\t') text++;
  size_t n = strcspn(text, "\r\n");
  while (n && (text[n - 1] == ' ' || text[n - 1] == '\t')) n--;
  snprintf(out, len, "%.*s", (int)n, text);
}

/* Sets the key figures found in the /metrics text on metrics. */
static void add_figures(json_t *metrics, const char *text) {
  for (size_t i = 0; i < FIGURE_COUNT; i++) {
    double sum;
    if (!sum_family(text, figures[i].family, &sum)) continue;
    bool whole = sum == (double)(json_int_t)sum; /* counters are whole numbers in practice */
    json_object_set_new(metrics, figures[i].json_name,
                        whole ? json_integer((json_int_t)sum) : json_real(sum));
  }
}

/* Asks /readyz and /metrics of a daemon that answered /healthz. */
static void probe_ready(CURL *curl, const char *base, bool *ready, char *detail, size_t len,
                        json_t *metrics) {
  char url[600];
  struct response r = {0};
  snprintf(url, sizeof url, "%s/readyz", base);
  http_get(curl, url, &r);
  *ready = r.status == 200;
  if (r.status == 0) snprintf(detail, len, "readyz: %s", r.error);
  else first_line(r.body ? r.body : "", detail, len);
  if (!detail[0]) snprintf(detail, len, "readyz: HTTP %ld", r.status);
  snprintf(url, sizeof url, "%s/metrics", base);
  http_get(curl, url, &r);
  if (r.status == 200 && r.body) add_figures(metrics, r.body);
  response_reset(&r);
}

/* Asks one daemon; returns its object {name, admin, healthy, ready, detail,
 * metrics} (NULL when out of memory). */
static json_t *probe_daemon(CURL *curl, const char *name, const char *address) {
  char base[512], url[600], detail[512];
  struct response r = {0};
  bool healthy = false, ready = false;
  json_t *metrics = json_object();
  if (!metrics) return NULL;
  admin_url(address, base, sizeof base);
  snprintf(url, sizeof url, "%s/healthz", base);
  http_get(curl, url, &r);
  healthy = r.status == 200;
  if (r.status == 0) snprintf(detail, sizeof detail, "unreachable: %s", r.error);
  else if (!healthy) snprintf(detail, sizeof detail, "healthz: HTTP %ld", r.status);
  else probe_ready(curl, base, &ready, detail, sizeof detail, metrics);
  response_reset(&r);
  return json_pack("{s:s, s:s, s:b, s:b, s:s, s:o}", "name", name, "admin", address, "healthy",
                   healthy, "ready", ready, "detail", detail, "metrics", metrics);
}

/* Probes every daemon whose admin address is configured; *all_ready tells the outcome. */
static json_t *probe_daemons(const struct zw_config *cfg, bool *all_ready) {
  json_t *daemons = json_array();
  CURL *curl = curl_easy_init();
  *all_ready = true;
  for (size_t i = 0; daemons && curl && i < sizeof daemon_names / sizeof daemon_names[0]; i++) {
    char key[64];
    snprintf(key, sizeof key, "%s.admin", daemon_names[i]);
    const char *address = zw_config_str(cfg, key);
    if (!*address) continue;
    json_t *daemon = probe_daemon(curl, daemon_names[i], address);
    if (!json_is_true(json_object_get(daemon, "ready"))) *all_ready = false;
    if (json_array_append_new(daemons, daemon) < 0) *all_ready = false;
  }
  if (!curl) {
    json_decref(daemons);
    daemons = NULL;
  }
  curl_easy_cleanup(curl);
  return daemons;
}

/* --- consumer lag ---------------------------------------------------------- */

/* A consumer that only reads: group.id set so that it may ask for the
 * group's committed offsets, but it never subscribes nor commits. */
static rd_kafka_t *lag_consumer(const struct zw_config *cfg, const char *group, char *err,
                                size_t errlen) {
  const char *const props[][2] = {{"group.id", group}, {"enable.auto.commit", "false"}};
  return ctl_kafka_new(cfg, RD_KAFKA_CONSUMER, props, 2, NULL, err, errlen);
}

/* The topic's partitions, sorted, or NULL with err (e.g. the topic does not exist). */
static rd_kafka_topic_partition_list_t *topic_partitions(rd_kafka_t *rk, const char *topic,
                                                         char *err, size_t errlen) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_partition_list_t *list = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_resp_err_t rc = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS)
                               : rd_kafka_last_error();
  if (rc == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 || md->topics[0].err))
    rc = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(err, errlen, "%s", rd_kafka_err2str(rc));
  } else {
    list = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
      rd_kafka_topic_partition_list_add(list, topic, md->topics[0].partitions[i].id);
    rd_kafka_topic_partition_list_sort(list, NULL, NULL);
  }
  if (md) rd_kafka_metadata_destroy(md);
  if (rkt) rd_kafka_topic_destroy(rkt);
  return list;
}

/* One row {group, topic, partition, committed, high, lag}; committed is null
 * when the group has none, and the lag then counts from the low watermark. */
static json_t *lag_row(rd_kafka_t *rk, const char *group, const rd_kafka_topic_partition_t *tp,
                       char *err, size_t errlen) {
  int64_t low = 0, high = 0;
  rd_kafka_resp_err_t rc =
      rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &low, &high, KAFKA_TIMEOUT_MS);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(err, errlen, "partition %d watermarks: %s", (int)tp->partition, rd_kafka_err2str(rc));
    return NULL;
  }
  bool committed = tp->offset >= 0;
  int64_t lag = high - (committed ? tp->offset : low);
  return json_pack("{s:s, s:s, s:i, s:o, s:I, s:I}", "group", group, "topic", tp->topic,
                   "partition", (int)tp->partition,
                   "committed", committed ? json_integer(tp->offset) : json_null(), "high",
                   (json_int_t)high, "lag", (json_int_t)(lag < 0 ? 0 : lag));
}

/* Appends the lag rows of group on topic; returns 0 or -1 with err. */
static int group_lag(rd_kafka_t *rk, const char *group, const char *topic, json_t *rows,
                     char *err, size_t errlen) {
  rd_kafka_topic_partition_list_t *list = topic_partitions(rk, topic, err, errlen);
  if (!list) return -1;
  int rc = -1;
  rd_kafka_resp_err_t kerr = rd_kafka_committed(rk, list, KAFKA_TIMEOUT_MS);
  if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(err, errlen, "committed offsets: %s", rd_kafka_err2str(kerr));
    goto out;
  }
  for (int i = 0; i < list->cnt; i++) {
    if (list->elems[i].err) {
      snprintf(err, errlen, "partition %d: %s", (int)list->elems[i].partition,
               rd_kafka_err2str(list->elems[i].err));
      goto out;
    }
    json_t *row = lag_row(rk, group, &list->elems[i], err, errlen);
    if (!row || json_array_append_new(rows, row) < 0) goto out;
  }
  rc = 0;
out:
  rd_kafka_topic_partition_list_destroy(list);
  return rc;
}

/* Adds "group G topic T: message" to errors. */
static void add_error(json_t *errors, const char *group, const char *topic, const char *message) {
  json_array_append_new(errors, json_sprintf("group %s topic %s: %s", group, topic, message));
}

/* Fills rows with the lag of every stage's group on its input topic, and
 * errors with what could not be read. Returns whether a broker answered. */
static bool consumer_lag(const struct zw_config *cfg, json_t *rows, json_t *errors) {
  bool reachable = true, probed = false;
  for (size_t i = 0; reachable && i < sizeof consumers / sizeof consumers[0]; i++) {
    char topic[256], err[512];
    const char *group = zw_config_str(cfg, consumers[i].group_key);
    zw_kafka_topic(cfg, consumers[i].topic_suffix, topic, sizeof topic);
    rd_kafka_t *rk = lag_consumer(cfg, group, err, sizeof err);
    if (!rk) {
      add_error(errors, group, topic, err);
      continue;
    }
    bool probe = !probed;
    probed = true;
    if (probe && !zw_kafka_probe(rk, KAFKA_TIMEOUT_MS)) {
      json_array_append_new(errors, json_sprintf("kafka unreachable: no broker of %s answered "
                                                 "within %d s",
                                                 zw_config_str(cfg, "kafka.brokers"),
                                                 KAFKA_TIMEOUT_MS / 1000));
      reachable = false;
    } else if (group_lag(rk, group, topic, rows, err, sizeof err) < 0) {
      add_error(errors, group, topic, err);
    }
    ctl_kafka_consumer_destroy(rk);
  }
  return reachable;
}

/* --- output ---------------------------------------------------------------- */

/* A key figure as text, or "-" when the daemon did not report it. */
static void figure_text(const json_t *daemon, const char *name, char *out, size_t len) {
  const json_t *v = json_object_get(json_object_get(daemon, "metrics"), name);
  if (v) snprintf(out, len, "%.0f", json_number_value(v));
  else snprintf(out, len, "-");
}

static int print_daemons(const json_t *daemons) {
  static const char *const headers[] = {"DAEMON", "ADMIN", "HEALTH", "READY", "IN",
                                        "OUT",    "ERRORS", "DETAIL"};
  struct ctl_table *t = ctl_table_new(8, headers);
  if (!t) return -1;
  for (size_t c = 4; c <= 6; c++) ctl_table_align_right(t, c);
  size_t i;
  const json_t *d;
  json_array_foreach(daemons, i, d) {
    char in[32], out[32], errors[32];
    figure_text(d, "messages_in", in, sizeof in);
    figure_text(d, "messages_out", out, sizeof out);
    figure_text(d, "errors", errors, sizeof errors);
    const char *cells[] = {json_string_value(json_object_get(d, "name")),
                           json_string_value(json_object_get(d, "admin")),
                           json_is_true(json_object_get(d, "healthy")) ? "ok" : "down",
                           json_is_true(json_object_get(d, "ready")) ? "yes" : "no",
                           in, out, errors,
                           json_string_value(json_object_get(d, "detail"))};
    if (ctl_table_add(t, cells) < 0) {
      ctl_table_destroy(t);
      return -1;
    }
  }
  ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return 0;
}

/* member of row as decimal text, or "-" when it is not an integer (null). */
static const char *integer_text(const json_t *row, const char *member, char *out, size_t len) {
  const json_t *v = json_object_get(row, member);
  if (json_is_integer(v)) snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else snprintf(out, len, "-");
  return out;
}

static int print_lag(const json_t *rows) {
  static const char *const headers[] = {"GROUP", "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG"};
  struct ctl_table *t = ctl_table_new(6, headers);
  if (!t) return -1;
  for (size_t c = 2; c <= 5; c++) ctl_table_align_right(t, c);
  size_t i;
  const json_t *row;
  json_array_foreach(rows, i, row) {
    char partition[24], committed[24], high[24], lag[24];
    const char *cells[] = {json_string_value(json_object_get(row, "group")),
                           json_string_value(json_object_get(row, "topic")),
                           integer_text(row, "partition", partition, sizeof partition),
                           integer_text(row, "committed", committed, sizeof committed),
                           integer_text(row, "high", high, sizeof high),
                           integer_text(row, "lag", lag, sizeof lag)};
    if (ctl_table_add(t, cells) < 0) {
      ctl_table_destroy(t);
      return -1;
    }
  }
  ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return 0;
}

static int print_status(const json_t *status) {
  const json_t *kafka = json_object_get(status, "kafka");
  const json_t *rows = json_object_get(status, "lag");
  size_t i;
  const json_t *e;
  if (print_daemons(json_object_get(status, "daemons")) < 0) return -1;
  printf("\nconsumer lag (kafka %s):\n", json_string_value(json_object_get(kafka, "brokers")));
  if (json_array_size(rows) && print_lag(rows) < 0) return -1;
  json_array_foreach(json_object_get(kafka, "errors"), i, e) printf("%s\n", json_string_value(e));
  return 0;
}

int cmd_status(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  bool all_ready = false;
  if (ctl_parse_args(argc, argv, NULL, 0, 0, &args) < 0) return CTL_USAGE;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ctl_fail("cannot start libcurl");
  json_t *daemons = probe_daemons(ctl->cfg, &all_ready);
  json_t *rows = json_array(), *errors = json_array();
  bool reachable = rows && errors && consumer_lag(ctl->cfg, rows, errors);
  json_t *status = json_pack("{s:o?, s:o?, s:{s:s, s:b, s:o?}}", "daemons", daemons, "lag", rows,
                             "kafka", "brokers", zw_config_str(ctl->cfg, "kafka.brokers"),
                             "reachable", reachable, "errors", errors);
  int rc = CTL_FAILED;
  if (!status || !daemons || !rows || !errors) ctl_fail("out of memory");
  else if (ctl->json) rc = ctl_print_json(status);
  else if (print_status(status) < 0) ctl_fail("out of memory");
  else rc = CTL_OK;
  if (rc == CTL_OK && !all_ready) rc = CTL_FAILED;
  json_decref(status);
  curl_global_cleanup();
  return rc;
}
