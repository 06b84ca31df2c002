/* zw_kafka — librdkafka configuration, headers and the idempotent producer. */
#include "zw_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zw_log.h"

int zw_kafka_conf_set(rd_kafka_conf_t *conf, const char *prop, const char *value, char *err,
                      size_t errlen) {
  char rkerr[256];
  if (rd_kafka_conf_set(conf, prop, value, rkerr, sizeof rkerr) != RD_KAFKA_CONF_OK) {
    snprintf(err, errlen, "kafka.%s: %s", prop, rkerr);
    return -1;
  }
  return 0;
}

/* librdkafka's own log lines, in zwgk's format (called from its threads too;
 * zw_log writes each line with one call). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  enum zw_log_level lv = level <= 3 ? ZW_LOG_ERROR : level == 4 ? ZW_LOG_WARN : level <= 6 ? ZW_LOG_INFO : ZW_LOG_DEBUG;
  if (zw_log_enabled(lv)) zw_log(lv, NULL, "librdkafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *zw_kafka_conf(const struct zw_config *cfg, const char *client_id, const char *const *defaults,
                               char *err, size_t errlen) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  if (zw_kafka_conf_set(conf, "bootstrap.servers", zw_config_str(cfg, "kafka.brokers"), err,
                        errlen) < 0 ||
      zw_kafka_conf_set(conf, "client.id", client_id, err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "socket.nagle.disable", "true", err, errlen) < 0)
    goto failed;
  for (size_t i = 0; defaults && defaults[i]; i += 2)
    if (zw_kafka_conf_set(conf, defaults[i], defaults[i + 1], err, errlen) < 0) goto failed;
  for (size_t i = 0; i < zw_config_kafka_count(cfg); i++) {
    const char *prop, *value;
    zw_config_kafka_get(cfg, i, &prop, &value);
    if (zw_kafka_conf_set(conf, prop, value, err, errlen) < 0) goto failed;
  }
  return conf;
failed:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

const char *zw_kafka_topic(const struct zw_config *cfg, const char *suffix, char *out, size_t len) {
  snprintf(out, len, "%s%s", zw_config_str(cfg, "kafka.topic_prefix"), suffix);
  return out;
}

rd_kafka_headers_t *zw_kafka_headers(const char *traceparent, const char *schema) {
  rd_kafka_headers_t *h = rd_kafka_headers_new(2);
  if (traceparent) rd_kafka_header_add(h, "traceparent", -1, traceparent, -1);
  if (schema) rd_kafka_header_add(h, "zwgk-schema", -1, schema, -1);
  return h;
}

int zw_kafka_header(const rd_kafka_message_t *msg, const char *name, char *out, size_t len) {
  rd_kafka_headers_t *h = NULL;
  const void *value;
  size_t size;
  if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(h, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR || !value ||
      size >= len)
    return -1;
  memcpy(out, value, size);
  out[size] = '\0';
  return 0;
}

bool zw_kafka_probe(rd_kafka_t *rk, int timeout_ms) {
  const struct rd_kafka_metadata *md = NULL;
  if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  bool up = md->broker_cnt > 0;
  rd_kafka_metadata_destroy(md);
  return up;
}

struct zw_producer {
  rd_kafka_t *rk;
  struct event *wake;   /* readable when librdkafka queued callbacks for us */
  struct event *ticker; /* periodic poll and reachability probe */
  int pipefd[2];
  zw_delivery_fn on_delivery;
  struct zw_metrics *metrics;
  bool reachable;
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *arg) {
  struct zw_producer *p = arg;
  char label[256];
  zw_metrics_label(label, sizeof label, "topic", rd_kafka_topic_name(msg->rkt));
  if (msg->err) {
    zw_metrics_add(p->metrics, "zwgk_kafka_delivery_errors_total", label, 1);
  } else {
    p->reachable = true;
    zw_metrics_add(p->metrics, "zwgk_messages_out_total", label, 1);
  }
  if (p->on_delivery) p->on_delivery(msg->_private, msg->err);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *arg) {
  struct zw_producer *p = arg;
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) p->reachable = false;
  zw_warn(NULL, "kafka: %s: %s", rd_kafka_err2name(err), reason);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
  struct zw_producer *p = arg;
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  rd_kafka_poll(p->rk, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  struct zw_producer *p = arg;
  rd_kafka_poll(p->rk, 0);
  if (!p->reachable) p->reachable = zw_kafka_probe(p->rk, 200);
}

struct zw_producer *zw_producer_new(const struct zw_config *cfg, struct event_base *base,
                                    const char *client_id, long delivery_timeout_ms,
                                    zw_delivery_fn on_delivery, struct zw_metrics *metrics,
                                    char *err, size_t errlen) {
  struct zw_producer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->pipefd[0] = p->pipefd[1] = -1;
  p->on_delivery = on_delivery;
  p->metrics = metrics;
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%ld", delivery_timeout_ms);
  static const char *const defaults[] = {"linger.ms", "2", NULL};
  rd_kafka_conf_t *conf = zw_kafka_conf(cfg, client_id, defaults, err, errlen);
  if (!conf) goto failed;
  if (zw_kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "acks", "all", err, errlen) < 0 ||
      zw_kafka_conf_set(conf, "message.timeout.ms", timeout, err, errlen) < 0) {
    rd_kafka_conf_destroy(conf);
    goto failed;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  rd_kafka_conf_set_opaque(conf, p);
  char rkerr[512];
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof rkerr);
  if (!p->rk) {
    rd_kafka_conf_destroy(conf); /* ownership passes only on success */
    snprintf(err, errlen, "rd_kafka_new: %.400s", rkerr);
    goto failed;
  }
  if (pipe(p->pipefd) < 0 || evutil_make_socket_nonblocking(p->pipefd[0]) < 0 ||
      evutil_make_socket_nonblocking(p->pipefd[1]) < 0) {
    snprintf(err, errlen, "pipe failed");
    goto failed;
  }
  rd_kafka_queue_t *mainq = rd_kafka_queue_get_main(p->rk);
  rd_kafka_queue_io_event_enable(mainq, p->pipefd[1], "1", 1);
  rd_kafka_queue_destroy(mainq);
  p->wake = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_wake, p);
  p->ticker = event_new(base, -1, EV_PERSIST, on_tick, p);
  struct timeval tick = {0, 250000};
  if (!p->wake || !p->ticker || event_add(p->wake, NULL) < 0 || event_add(p->ticker, &tick) < 0) {
    snprintf(err, errlen, "cannot add producer events");
    goto failed;
  }
  p->reachable = zw_kafka_probe(p->rk, 2000);
  return p;
failed:
  zw_producer_destroy(p);
  return NULL;
}

void zw_producer_destroy(struct zw_producer *p) {
  if (!p) return;
  if (p->wake) event_free(p->wake);
  if (p->ticker) event_free(p->ticker);
  if (p->rk) {
    rd_kafka_flush(p->rk, 5000);
    if (rd_kafka_outq_len(p->rk) > 0)
      zw_warn(NULL, "kafka: %d message(s) not delivered at exit", rd_kafka_outq_len(p->rk));
    rd_kafka_destroy(p->rk);
  }
  if (p->pipefd[0] >= 0) close(p->pipefd[0]);
  if (p->pipefd[1] >= 0) close(p->pipefd[1]);
  free(p);
}

rd_kafka_resp_err_t zw_producer_send(struct zw_producer *p, const char *topic, const char *key,
                                     const void *value, size_t len, rd_kafka_headers_t *headers,
                                     void *opaque) {
  rd_kafka_resp_err_t err = rd_kafka_producev(
      p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
      RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err) rd_kafka_headers_destroy(headers);
  return err;
}

bool zw_producer_reachable(struct zw_producer *p) { return p->reachable; }
int zw_producer_outq_len(struct zw_producer *p) { return rd_kafka_outq_len(p->rk); }

int zw_producer_flush(struct zw_producer *p, int timeout_ms) {
  rd_kafka_flush(p->rk, timeout_ms);
  return rd_kafka_outq_len(p->rk);
}
