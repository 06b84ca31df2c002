/* cmd_topics — `topics create` and `topics list`: the Kafka topics zwgk uses
 * (kafka.topic_prefix + the names of CONTRACT §3), made once by an operator
 * through librdkafka's Admin API with the replication and retention a
 * production cluster needs, and described with their configuration. A topic
 * that exists is checked, never altered: changing partitions or replication
 * of a live topic moves keys between partitions or data between brokers, which
 * is the cluster operator's decision, not a side effect of a set-up command.
 * See docs/operations.md. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "zw_kafka.h"
#include "zw_log.h"

#define CONNECT_TIMEOUT_MS 10000 /* until some broker answers a metadata request */
#define ADMIN_TIMEOUT_MS 30000   /* one Admin API request; the wait for leaders after creation */
#define DAY_MS 86400000LL

/* Production defaults: three replicas, and acks=all (which every zwgk
 * producer uses) acknowledged once two have a write, so one broker can be
 * down without stopping writes or losing an acknowledged one. */
#define DEFAULT_REPLICATION 3
#define DEFAULT_MIN_ISR 2
/* Two weeks: a stage stopped over the longest public holiday (eight days
 * with the adjacent weekend) still finds its backlog on its input topic. */
#define DEFAULT_RETENTION_DAYS 14
/* A dead letter waits for a person to fix its cause and replay it, named by
 * its offset (dlq replay); it must outlive a slow investigation. */
#define DLQ_MIN_RETENTION_DAYS 90

/* Topic names after the prefix, in pipeline order (CONTRACT §3). */
static const char *const suffixes[] = {
    "releases",       "tagged",          "review",   "channel.portal", "channel.wechat",
    "channel.broadcast", "channel.bulletin", "receipts", "dlq",
};
#define TOPIC_COUNT (sizeof suffixes / sizeof suffixes[0])

/* The topic configuration zwgk sets and checks. cleanup.policy is delete on
 * every topic: each is keyed by release_id and holds several messages per key
 * (revisions, one receipt per channel, several dead letters) that compaction
 * would drop. */
enum { CFG_RETENTION, CFG_MIN_ISR, CFG_CLEANUP, CFG_COUNT };
static const char *const config_names[CFG_COUNT] = {"retention.ms", "min.insync.replicas", "cleanup.policy"};

/* What `topics create` asks for. */
struct plan {
  int partitions, replication, min_isr;
  long long retention_ms, dlq_retention_ms;
  bool dry_run;
};

enum result { R_OK, R_CREATED, R_WOULD_CREATE, R_MISMATCH, R_FAILED, R_MISSING };
static const char *const result_names[] = {"exists", "created", "would_create", "mismatch", "failed", "missing"};

/* One of zwgk's topics as the cluster has it (exists false: not at all). */
struct topic {
  char name[256];
  bool exists;
  int partitions;
  int replicas_min, replicas_max; /* replicas per partition */
  int leaderless;                 /* partitions without a leader */
  int under_replicated;           /* partitions with fewer replicas in sync than assigned */
  char config[CFG_COUNT][64];     /* "" when not known */
  bool config_known;
  enum result result;
  char problems[1024]; /* "; "-separated */
};

/* A client of the configured cluster for Admin requests, and what
 * librdkafka last reported going wrong (a refused connection, a TLS
 * handshake, SASL authentication), to say why a request got no answer. */
struct admin {
  rd_kafka_t *rk;
  const char *brokers;
  char last_error[512];
  int last_err; /* its code */
  int broker_count;
};

/* --- small helpers ------------------------------------------------------------ */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A decimal integer from min to max, or -1. */
static int parse_count(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* The topic of an Admin API result, by name; NULL for one not asked about. */
static struct topic *find_topic(struct topic *topics, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(topics[i].name, name) == 0) return &topics[i];
  return NULL;
}

static void add_problem(struct topic *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_problem(struct topic *t, const char *fmt, ...) {
  size_t n = strlen(t->problems);
  if (n && n + 2 < sizeof t->problems) {
    memcpy(t->problems + n, "; ", 3);
    n += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->problems + n, sizeof t->problems - n, fmt, ap);
  va_end(ap);
}

/* retention.ms for people: 14d, 36h, forever, or milliseconds. */
static void format_retention(const char *ms, char out[32]) {
  char *end = NULL;
  long long v = *ms ? strtoll(ms, &end, 10) : 0;
  if (!end || *end) snprintf(out, 32, "%s", *ms ? ms : "-");
  else if (v < 0) snprintf(out, 32, "forever");
  else if (v > 0 && v % DAY_MS == 0) snprintf(out, 32, "%lldd", v / DAY_MS);
  else if (v > 0 && v % 3600000 == 0) snprintf(out, 32, "%lldh", v / 3600000);
  else snprintf(out, 32, "%lldms", v);
}

static void format_replicas(const struct topic *t, char out[32]) {
  if (!t->exists) snprintf(out, 32, "-");
  else if (t->replicas_min == t->replicas_max) snprintf(out, 32, "%d", t->replicas_min);
  else snprintf(out, 32, "%d-%d", t->replicas_min, t->replicas_max);
}

/* --- the Kafka client --------------------------------------------------------- */

/* librdkafka's own lines (every failed connection attempt) only in debug logs:
 * the command says what went wrong once, at the end. */
static void admin_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
  zw_debug(NULL, "librdkafka %s: %s", facility, line);
}

/* How much an error says about the cause: a TLS or SASL failure more than
 * the disconnection that follows it, anything more than "1/1 brokers are down". */
static int error_weight(int err) {
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) return 0;
  if (err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
      err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)
    return 2;
  return 1;
}

static void admin_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  struct admin *a = opaque;
  if (!a->last_error[0] || error_weight(err) >= error_weight(a->last_err)) {
    snprintf(a->last_error, sizeof a->last_error, "%s", reason);
    a->last_err = err;
  }
}

static int admin_open(struct admin *a, const struct zw_config *cfg, char *err, size_t errlen) {
  char rkerr[256];
  memset(a, 0, sizeof *a);
  a->brokers = zw_config_str(cfg, "kafka.brokers");
  /* A metadata request must never create a topic on a broker that allows
   * automatic creation: the topics are made here, with their configuration. */
  static const char *const defaults[] = {"allow.auto.create.topics", "false", NULL};
  rd_kafka_conf_t *conf = zw_kafka_conf(cfg, "zwgkctl", defaults, err, errlen);
  if (!conf) return -1;
  rd_kafka_conf_set_log_cb(conf, admin_log);
  rd_kafka_conf_set_error_cb(conf, admin_error);
  rd_kafka_conf_set_opaque(conf, a);
  if (!(a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof rkerr))) {
    rd_kafka_conf_destroy(conf); /* ownership passes only on success */
    snprintf(err, errlen, "cannot make a Kafka client: %s", rkerr);
    return -1;
  }
  return 0;
}

static void admin_close(struct admin *a) {
  if (a->rk) rd_kafka_destroy(a->rk);
  a->rk = NULL;
}

/* The whole cluster's metadata once a broker answers, or NULL with err saying
 * why none did within timeout_ms. In slices, so that the error callback runs
 * between them and the cause (refused, TLS, SASL) can be named; a failed TLS
 * handshake or SASL authentication ends the wait at once, since trying again
 * with the same certificate or password cannot succeed. */
static const struct rd_kafka_metadata *cluster_metadata(struct admin *a, int timeout_ms, char *err, size_t errlen) {
  int64_t deadline = now_ms() + timeout_ms;
  rd_kafka_resp_err_t e;
  for (;;) {
    const struct rd_kafka_metadata *md = NULL;
    int64_t left = deadline - now_ms();
    e = rd_kafka_metadata(a->rk, 1, NULL, &md, (int)(left > 1000 ? 1000 : left > 0 ? left : 1));
    rd_kafka_poll(a->rk, 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->broker_cnt > 0) {
      a->broker_count = md->broker_cnt;
      return md;
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (error_weight(a->last_err) == 2) {
      snprintf(err, errlen,
               "Kafka at %s refused zwgk: %s (check the kafka.security.protocol, kafka.ssl.* and kafka.sasl.* "
               "settings)",
               a->brokers, a->last_error);
      return NULL;
    }
    if (now_ms() >= deadline) break;
    if (e != RD_KAFKA_RESP_ERR__TIMED_OUT) rd_kafka_poll(a->rk, 200); /* an immediate failure: do not spin */
  }
  snprintf(err, errlen,
           "no Kafka broker at %s answered within %d s: %s (check kafka.brokers and, for TLS or SASL, the "
           "kafka.security.protocol, kafka.ssl.* and kafka.sasl.* settings)",
           a->brokers, timeout_ms / 1000, a->last_error[0] ? a->last_error : rd_kafka_err2str(e));
  return NULL;
}

/* Fills each topic's partitions, replicas and leaders from the metadata. */
static void take_metadata(struct topic *topics, size_t n, const struct rd_kafka_metadata *md) {
  for (size_t i = 0; i < n; i++) {
    struct topic *t = &topics[i];
    t->exists = false;
    t->partitions = t->replicas_min = t->replicas_max = t->leaderless = t->under_replicated = 0;
    for (int k = 0; k < md->topic_cnt; k++) {
      const rd_kafka_metadata_topic_t *mt = &md->topics[k];
      if (strcmp(mt->topic, t->name) != 0 || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
      t->exists = true;
      t->partitions = mt->partition_cnt;
      for (int p = 0; p < mt->partition_cnt; p++) {
        const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
        if (p == 0 || mp->replica_cnt < t->replicas_min) t->replicas_min = mp->replica_cnt;
        if (mp->replica_cnt > t->replicas_max) t->replicas_max = mp->replica_cnt;
        if (mp->leader < 0) t->leaderless++;
        if (mp->isr_cnt < mp->replica_cnt) t->under_replicated++;
      }
    }
  }
}

/* Admin options with the request timeout (and the operation timeout, for
 * requests that wait for the controller), or NULL with err. */
static rd_kafka_AdminOptions_t *admin_options(struct admin *a, rd_kafka_admin_op_t op, bool validate_only,
                                              char *err, size_t errlen) {
  char rkerr[256];
  rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(a->rk, op);
  if (!o || rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, rkerr, sizeof rkerr) ||
      (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
       (rd_kafka_AdminOptions_set_operation_timeout(o, ADMIN_TIMEOUT_MS, rkerr, sizeof rkerr) ||
        rd_kafka_AdminOptions_set_validate_only(o, validate_only, rkerr, sizeof rkerr)))) {
    snprintf(err, errlen, "admin options: %s", o ? rkerr : "out of memory");
    if (o) rd_kafka_AdminOptions_destroy(o);
    return NULL;
  }
  return o;
}

/* Waits for the result of an Admin request on q; NULL with err when none came
 * in time or the whole request failed. The caller destroys the event. */
static rd_kafka_event_t *admin_result(struct admin *a, rd_kafka_queue_t *q, rd_kafka_event_type_t type,
                                      const char *what, char *err, size_t errlen) {
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
  rd_kafka_poll(a->rk, 0);
  if (!ev) {
    snprintf(err, errlen, "%s: no answer from %s within %d s%s%s", what, a->brokers, ADMIN_TIMEOUT_MS / 1000 + 5,
             a->last_error[0] ? ": " : "", a->last_error);
    return NULL;
  }
  if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
    snprintf(err, errlen, "%s: %s", what,
             rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : "unexpected answer");
    rd_kafka_event_destroy(ev);
    return NULL;
  }
  return ev;
}

/* Reads retention.ms, min.insync.replicas and cleanup.policy of the topics
 * that exist (DescribeConfigs). Returns 0 or -1 with err; a topic the broker
 * could not describe gets that as a problem. */
static int describe_configs(struct admin *a, struct topic *topics, size_t n, char *err, size_t errlen) {
  rd_kafka_ConfigResource_t *resources[TOPIC_COUNT];
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (topics[i].exists) resources[count++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topics[i].name);
  if (count == 0) return 0;
  int rc = -1;
  rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
  rd_kafka_AdminOptions_t *o = admin_options(a, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, false, err, errlen);
  rd_kafka_event_t *ev = NULL;
  if (o) {
    rd_kafka_DescribeConfigs(a->rk, resources, count, o, q);
    ev = admin_result(a, q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, "describing the topics' configuration", err,
                      errlen);
  }
  if (ev) {
    size_t got = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &got);
    for (size_t r = 0; r < got; r++) {
      struct topic *t = find_topic(topics, n, rd_kafka_ConfigResource_name(res[r]));
      if (!t) continue;
      if (rd_kafka_ConfigResource_error(res[r])) {
        add_problem(t, "cannot read its configuration: %s", rd_kafka_ConfigResource_error_string(res[r]));
        continue;
      }
      size_t nentries = 0;
      const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res[r], &nentries);
      for (size_t e = 0; e < nentries; e++)
        for (int c = 0; c < CFG_COUNT; c++)
          if (strcmp(rd_kafka_ConfigEntry_name(entries[e]), config_names[c]) == 0) {
            const char *value = rd_kafka_ConfigEntry_value(entries[e]);
            snprintf(t->config[c], sizeof t->config[c], "%s", value ? value : "");
          }
      t->config_known = true;
    }
    rd_kafka_event_destroy(ev);
    rc = 0;
  }
  if (o) rd_kafka_AdminOptions_destroy(o);
  rd_kafka_queue_destroy(q);
  rd_kafka_ConfigResource_destroy_array(resources, count);
  return rc;
}

/* The topics' names, then their state in the cluster (metadata and
 * configuration). Returns 0, or -1 with err when Kafka did not answer. */
static int read_topics(struct ctl *ctl, struct admin *a, struct topic *topics, char *err, size_t errlen) {
  for (size_t i = 0; i < TOPIC_COUNT; i++) {
    memset(&topics[i], 0, sizeof topics[i]);
    zw_kafka_topic(ctl->cfg, suffixes[i], topics[i].name, sizeof topics[i].name);
  }
  const struct rd_kafka_metadata *md = cluster_metadata(a, CONNECT_TIMEOUT_MS, err, errlen);
  if (!md) return -1;
  take_metadata(topics, TOPIC_COUNT, md);
  rd_kafka_metadata_destroy(md);
  return describe_configs(a, topics, TOPIC_COUNT, err, errlen);
}

/* --- topics create ------------------------------------------------------------ */

static long long wanted_retention(const struct plan *p, const char *name, const struct topic *topics) {
  return strcmp(name, topics[TOPIC_COUNT - 1].name) == 0 ? p->dlq_retention_ms : p->retention_ms;
}

/* The value zwgk wants for config c of topic t. */
static void wanted_config(const struct plan *p, const struct topic *topics, const struct topic *t, int c,
                          char out[64]) {
  if (c == CFG_RETENTION) snprintf(out, 64, "%lld", wanted_retention(p, t->name, topics));
  else if (c == CFG_MIN_ISR) snprintf(out, 64, "%d", p->min_isr);
  else snprintf(out, 64, "delete");
}

/* An existing topic against the plan: every difference is a problem. */
static void check_existing(const struct plan *p, const struct topic *topics, struct topic *t) {
  if (t->partitions != p->partitions)
    add_problem(t, "it has %d partition(s), not %d", t->partitions, p->partitions);
  if (t->replicas_min != p->replication || t->replicas_max != p->replication) {
    char replicas[32];
    format_replicas(t, replicas);
    add_problem(t, "it has %s replica(s) per partition, not %d", replicas, p->replication);
  }
  for (int c = 0; c < CFG_COUNT && t->config_known; c++) {
    char want[64];
    wanted_config(p, topics, t, c, want);
    if (strcmp(t->config[c], want) != 0) add_problem(t, "%s is %s, not %s", config_names[c], t->config[c], want);
  }
  if (t->leaderless) add_problem(t, "%d partition(s) have no leader", t->leaderless);
  t->result = t->problems[0] ? R_MISMATCH : R_OK;
}

/* Sends one CreateTopics request for the missing topics (validate_only on a
 * dry run) and records each one's outcome. Returns 0, or -1 with err when the
 * request as a whole got no answer. */
static int create_missing(struct admin *a, const struct plan *p, struct topic *topics, char *err, size_t errlen) {
  rd_kafka_NewTopic_t *news[TOPIC_COUNT];
  size_t count = 0;
  char rkerr[256];
  for (size_t i = 0; i < TOPIC_COUNT; i++) {
    struct topic *t = &topics[i];
    if (t->exists) continue;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t->name, p->partitions, p->replication, rkerr, sizeof rkerr);
    if (!nt) {
      t->result = R_FAILED;
      add_problem(t, "%s", rkerr);
      continue;
    }
    for (int c = 0; c < CFG_COUNT; c++) {
      char want[64];
      wanted_config(p, topics, t, c, want);
      snprintf(t->config[c], sizeof t->config[c], "%s", want);
      if (rd_kafka_NewTopic_set_config(nt, config_names[c], want)) {
        snprintf(err, errlen, "%.200s: cannot set %s", t->name, config_names[c]);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_NewTopic_destroy_array(news, count);
        return -1;
      }
    }
    t->partitions = p->partitions;
    t->replicas_min = t->replicas_max = p->replication;
    t->result = R_MISSING; /* until the answer names it */
    news[count++] = nt;
  }
  if (count == 0) return 0;
  int rc = -1;
  rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
  rd_kafka_AdminOptions_t *o = admin_options(a, RD_KAFKA_ADMIN_OP_CREATETOPICS, p->dry_run, err, errlen);
  rd_kafka_event_t *ev = NULL;
  if (o) {
    rd_kafka_CreateTopics(a->rk, news, count, o, q);
    ev = admin_result(a, q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, "creating the topics", err, errlen);
  }
  if (ev) {
    size_t got = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &got);
    for (size_t r = 0; r < got; r++) {
      struct topic *t = find_topic(topics, TOPIC_COUNT, rd_kafka_topic_result_name(res[r]));
      if (!t) continue;
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[r]);
      const char *why = rd_kafka_topic_result_error_string(res[r]);
      if (!e) {
        t->result = p->dry_run ? R_WOULD_CREATE : R_CREATED;
      } else {
        t->result = R_FAILED;
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
          add_problem(t, "created by someone else meanwhile; run the command again to check it");
        else add_problem(t, "Kafka refused to create it: %s", why ? why : rd_kafka_err2str(e));
      }
    }
    rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < TOPIC_COUNT; i++)
      if (topics[i].result == R_MISSING) {
        topics[i].result = R_FAILED;
        add_problem(&topics[i], "the answer to the creation did not name it");
      }
    rc = 0;
  }
  if (o) rd_kafka_AdminOptions_destroy(o);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy_array(news, count);
  return rc;
}

/* Waits until every partition of the topics just created has a leader, so
 * that daemons started next find them writable. */
static void wait_for_leaders(struct admin *a, struct topic *topics) {
  int64_t deadline = now_ms() + ADMIN_TIMEOUT_MS;
  char err[512];
  for (;;) {
    const struct rd_kafka_metadata *md = cluster_metadata(a, CONNECT_TIMEOUT_MS, err, sizeof err);
    int pending = 0;
    for (size_t i = 0; md && i < TOPIC_COUNT; i++) {
      if (topics[i].result != R_CREATED) continue;
      struct topic probe = topics[i];
      take_metadata(&probe, 1, md);
      if (!probe.exists || probe.leaderless || probe.partitions < topics[i].partitions) pending++;
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (md && pending == 0) return;
    if (now_ms() >= deadline) {
      for (size_t i = 0; i < TOPIC_COUNT; i++)
        if (topics[i].result == R_CREATED) {
          topics[i].result = R_FAILED;
          add_problem(&topics[i], "created, but not every partition had a leader after %d s%s%s",
                      ADMIN_TIMEOUT_MS / 1000, md ? "" : ": ", md ? "" : err);
        }
      return;
    }
    rd_kafka_poll(a->rk, 200);
  }
}

static json_t *topic_json(const struct topic *t) {
  json_t *configs = json_object(), *problems = json_array();
  for (int c = 0; configs && c < CFG_COUNT; c++)
    if (t->config[c][0]) json_object_set_new(configs, config_names[c], json_string(t->config[c]));
  for (const char *s = t->problems; problems && *s;) {
    const char *end = strstr(s, "; ");
    size_t len = end ? (size_t)(end - s) : strlen(s);
    json_array_append_new(problems, json_stringn(s, len));
    s += len + (end ? 2 : 0);
  }
  return json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:o*, s:o*}", "topic", t->name, "result",
                   result_names[t->result], "exists", t->exists, "partitions", t->partitions, "replication_factor",
                   t->replicas_max, "partitions_without_leader", t->leaderless, "under_replicated_partitions",
                   t->under_replicated, "configs", configs, "problems", problems);
}

/* The outcome for scripts: {"brokers", "broker_count", "topics": [...]} plus extra's members. */
static int print_json(const struct admin *a, const struct topic *topics, json_t *extra) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < TOPIC_COUNT; i++)
    if (json_array_append_new(list, topic_json(&topics[i])) < 0) {
      json_decref(list);
      list = NULL;
    }
  json_t *out = list ? json_pack("{s:s, s:i, s:o}", "brokers", a->brokers, "broker_count", a->broker_count,
                                 "topics", list)
                     : NULL;
  if (out && extra) json_object_update(out, extra);
  json_decref(extra);
  int rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
  json_decref(out);
  return rc;
}

/* The table of the topics: sizes, configuration and a last column. */
static int print_table(const struct topic *topics, const char *last_header, const char *const *last) {
  const char *headers[] = {"TOPIC", "PARTITIONS", "REPLICAS", "MIN ISR", "RETENTION", "CLEANUP", last_header};
  struct ctl_table *t = ctl_table_new(7, headers);
  if (!t) return ctl_fail("out of memory");
  ctl_table_align_right(t, 1);
  ctl_table_align_right(t, 2);
  ctl_table_align_right(t, 3);
  ctl_table_align_right(t, 4);
  int rc = CTL_OK;
  for (size_t i = 0; i < TOPIC_COUNT && rc == CTL_OK; i++) {
    const struct topic *tp = &topics[i];
    bool shown = tp->exists || tp->result == R_CREATED || tp->result == R_WOULD_CREATE;
    char partitions[16], replicas[32], retention[32];
    snprintf(partitions, sizeof partitions, "%d", tp->partitions);
    format_replicas(tp, replicas);
    if (!tp->exists && shown) snprintf(replicas, sizeof replicas, "%d", tp->replicas_max);
    format_retention(tp->config[CFG_RETENTION], retention);
    const char *cells[] = {tp->name,
                           shown ? partitions : NULL,
                           shown ? replicas : NULL,
                           tp->config[CFG_MIN_ISR][0] ? tp->config[CFG_MIN_ISR] : NULL,
                           tp->config[CFG_RETENTION][0] ? retention : NULL,
                           tp->config[CFG_CLEANUP][0] ? tp->config[CFG_CLEANUP] : NULL,
                           last[i]};
    if (ctl_table_add(t, cells) < 0) rc = ctl_fail("out of memory");
  }
  if (rc == CTL_OK) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return rc;
}

/* Reads the options of `topics create` into p; returns 0 or -1 after saying
 * what is wrong (a usage error). */
static int parse_plan(struct ctl *ctl, int *argc, char **argv, struct plan *p) {
  static const char *const options[] = {"--partitions", "--replication-factor", "--min-insync-replicas",
                                        "--retention-days", NULL};
  static const char *const what[] = {"a number of partitions (1 to 10000)", "a replication factor (1 to 32)",
                                     "a number of replicas (1 to 32)", "a number of days (1 to 36500)"};
  static const long limits[][2] = {{1, 10000}, {1, 32}, {1, 32}, {1, 36500}};
  struct ctl_args args;
  long v[4] = {zw_config_int(ctl->cfg, "kafka.partitions"), DEFAULT_REPLICATION, -1, DEFAULT_RETENTION_DAYS};
  p->dry_run = ctl_take_flag(argc, argv, "--dry-run");
  if (ctl_parse_args(*argc, argv, options, 0, 0, &args) < 0) return -1;
  for (int i = 0; i < 4; i++)
    if (args.option[i] && parse_count(args.option[i], limits[i][0], limits[i][1], &v[i]) < 0) {
      fprintf(stderr, "zwgkctl: %s wants %s, not '%s'\n", options[i], what[i], args.option[i]);
      return -1;
    }
  if (v[0] < 1) {
    fprintf(stderr, "zwgkctl: kafka.partitions is 0; pass --partitions N\n");
    return -1;
  }
  /* The default follows the replication: a single replica cannot have two in sync. */
  if (v[2] < 0) v[2] = v[1] < DEFAULT_MIN_ISR ? v[1] : DEFAULT_MIN_ISR;
  if (v[2] > v[1]) {
    fprintf(stderr,
            "zwgkctl: --min-insync-replicas %ld is more than the %ld replica(s) of --replication-factor: no "
            "write with acks=all could ever succeed\n",
            v[2], v[1]);
    return -1;
  }
  p->partitions = (int)v[0];
  p->replication = (int)v[1];
  p->min_isr = (int)v[2];
  p->retention_ms = v[3] * DAY_MS;
  p->dlq_retention_ms = (v[3] > DLQ_MIN_RETENTION_DAYS ? v[3] : DLQ_MIN_RETENTION_DAYS) * DAY_MS;
  return 0;
}

int cmd_topics_create(struct ctl *ctl, int argc, char **argv) {
  struct plan p;
  struct admin a;
  struct topic topics[TOPIC_COUNT];
  char err[1024];
  if (parse_plan(ctl, &argc, argv, &p) < 0) return CTL_USAGE;
  if (admin_open(&a, ctl->cfg, err, sizeof err) < 0) return ctl_fail("%s", err);
  int rc = CTL_FAILED;
  if (read_topics(ctl, &a, topics, err, sizeof err) < 0) {
    ctl_fail("%s", err);
    goto out;
  }
  /* Said here in so many words; the broker's own refusal names neither the
   * option nor the way out. */
  if (p.replication > a.broker_count) {
    ctl_fail("--replication-factor %d needs at least %d brokers, but the cluster at %s has %d; on a single "
             "broker (a test set-up) pass --replication-factor 1",
             p.replication, p.replication, a.brokers, a.broker_count);
    goto out;
  }
  for (size_t i = 0; i < TOPIC_COUNT; i++)
    if (topics[i].exists) check_existing(&p, topics, &topics[i]);
  if (create_missing(&a, &p, topics, err, sizeof err) < 0) {
    ctl_fail("%s", err);
    goto out;
  }
  if (!p.dry_run) wait_for_leaders(&a, topics);

  int created = 0, ok = 0, bad = 0;
  const char *last[TOPIC_COUNT];
  for (size_t i = 0; i < TOPIC_COUNT; i++) {
    enum result r = topics[i].result;
    created += r == R_CREATED || r == R_WOULD_CREATE;
    ok += r == R_OK;
    bad += r == R_MISMATCH || r == R_FAILED;
    last[i] = r == R_OK ? "exists, as asked" : r == R_WOULD_CREATE ? "would be created" : result_names[r];
  }
  rc = bad ? CTL_FAILED : CTL_OK;
  if (ctl->json) {
    json_t *extra = json_pack("{s:b, s:{s:i, s:i, s:i, s:I, s:I}}", "dry_run", p.dry_run, "requested", "partitions",
                              p.partitions, "replication_factor", p.replication, "min_insync_replicas", p.min_isr,
                              "retention_ms", (json_int_t)p.retention_ms, "dlq_retention_ms",
                              (json_int_t)p.dlq_retention_ms);
    if (print_json(&a, topics, extra) != CTL_OK) rc = CTL_FAILED;
  } else {
    if (print_table(topics, "RESULT", last) != CTL_OK) rc = CTL_FAILED;
    printf("%d topic(s) %s, %d already as asked, %d with a problem%s\n", created,
           p.dry_run ? "to create" : "created", ok, bad, p.dry_run ? " (dry run: nothing was changed)" : "");
  }
  for (size_t i = 0; i < TOPIC_COUNT; i++)
    if (topics[i].result == R_MISMATCH) ctl_fail("%s exists but differs: %s", topics[i].name, topics[i].problems);
    else if (topics[i].result == R_FAILED) ctl_fail("%s: %s", topics[i].name, topics[i].problems);
  if (bad)
    ctl_fail("%d topic(s) not as asked; an existing topic is never changed (alter it with Kafka's tools, or pass "
             "the options it was made with)",
             bad);
out:
  admin_close(&a);
  return rc;
}

/* --- topics list -------------------------------------------------------------- */

int cmd_topics_list(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  struct admin a;
  struct topic topics[TOPIC_COUNT];
  char err[1024], states[TOPIC_COUNT][64];
  const char *last[TOPIC_COUNT];
  if (ctl_parse_args(argc, argv, NULL, 0, 0, &args) < 0) return CTL_USAGE;
  if (admin_open(&a, ctl->cfg, err, sizeof err) < 0) return ctl_fail("%s", err);
  int rc = CTL_FAILED, missing = 0, leaderless = 0;
  if (read_topics(ctl, &a, topics, err, sizeof err) < 0) {
    ctl_fail("%s", err);
    goto out;
  }
  for (size_t i = 0; i < TOPIC_COUNT; i++) {
    struct topic *t = &topics[i];
    t->result = t->exists ? R_OK : R_MISSING;
    if (!t->exists) snprintf(states[i], sizeof states[i], "MISSING");
    else if (t->leaderless) snprintf(states[i], sizeof states[i], "%d without leader", t->leaderless);
    else if (t->under_replicated) snprintf(states[i], sizeof states[i], "%d under-replicated", t->under_replicated);
    else snprintf(states[i], sizeof states[i], "ok");
    if (t->exists && t->leaderless) add_problem(t, "%d partition(s) have no leader", t->leaderless);
    if (t->exists && t->under_replicated)
      add_problem(t, "%d partition(s) have fewer replicas in sync than assigned", t->under_replicated);
    missing += !t->exists;
    leaderless += t->leaderless > 0;
    last[i] = states[i];
  }
  rc = missing || leaderless ? CTL_FAILED : CTL_OK;
  if (ctl->json) {
    if (print_json(&a, topics, NULL) != CTL_OK) rc = CTL_FAILED;
  } else {
    printf("Kafka at %s: %d broker(s)\n", a.brokers, a.broker_count);
    if (print_table(topics, "STATE", last) != CTL_OK) rc = CTL_FAILED;
  }
  if (missing) ctl_fail("%d of zwgk's %zu topics missing; create them with zwgkctl topics create", missing, TOPIC_COUNT);
  if (leaderless) ctl_fail("%d topic(s) with partitions that have no leader", leaderless);
out:
  admin_close(&a);
  return rc;
}
