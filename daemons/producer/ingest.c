/* ingest — POST /v1/releases: authenticate, validate, produce, answer after the
 * delivery report. Nothing is answered 202 that Kafka has not acknowledged. */
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "producer.h"
#include "zw_http.h"
#include "zw_log.h"
#include "zw_release.h"

/* Requests up to this many times the body limit are read and answered 413 in
 * JSON; larger ones are cut off by libevent while reading (413, its own page). */
#define BODY_HARD_FACTOR 4

void ingest_count_status(struct producer *p, int status) {
  char label[32];
  snprintf(label, sizeof label, "status=\"%d\"", status);
  zw_metrics_add(zw_daemon_metrics(p->d), "zwgk_ingest_requests_total", label, 1);
}

void ingest_reply_error(struct producer *p, struct evhttp_request *req, int status, const char *error,
                        const char *message, json_t *details, long retry_after_s) {
  json_t *body = json_pack("{s:s}", "error", error);
  if (message) json_object_set_new(body, "message", json_string(message));
  if (details) json_object_set(body, "details", details);
  if (status == 503 || status == 429) {
    char retry[24];
    snprintf(retry, sizeof retry, "%ld",
             retry_after_s ? retry_after_s : zw_config_int(zw_daemon_config(p->d), "producer.retry_after_s"));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
  }
  zw_http_send_json(req, status, body);
  json_decref(body);
  ingest_count_status(p, status);
}

static void on_connection_close(struct evhttp_connection *conn, void *arg) {
  struct pending *pd = arg;
  pd->req = NULL;
}

struct event *ingest_deadline(struct producer *p, event_callback_fn fn, void *arg) {
  long ms = zw_config_int(zw_daemon_config(p->d), "producer.delivery_timeout_ms") + 500;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  struct event *ev = evtimer_new(zw_daemon_base(p->d), fn, arg);
  if (ev && evtimer_add(ev, &tv) < 0) {
    event_free(ev);
    ev = NULL;
  }
  return ev;
}

static void reply_delivered(struct pending *pd, rd_kafka_resp_err_t err) {
  struct producer *p = pd->p;
  struct evhttp_request *req = pd->req;
  pd->req = NULL; /* answered: a later report or deadline must not answer again */
  evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
  if (err) {
    ingest_reply_error(p, req, 503, "unavailable", "Kafka did not acknowledge the release; nothing was accepted",
                       NULL, 0);
    return;
  }
  json_t *body = json_pack("{s:s, s:I, s:s}", "release_id", pd->release_id, "revision", pd->revision, "status",
                           "accepted");
  zw_http_send_json(req, 202, body);
  json_decref(body);
  ingest_count_status(p, 202);
}

void ingest_on_delivery(void *opaque, rd_kafka_resp_err_t err) {
  struct pending *pd = opaque;
  struct producer *p = pd->p;
  p->inflight--;
  zw_metrics_set(zw_daemon_metrics(p->d), "zwgk_ingest_inflight", NULL, (double)p->inflight);
  zw_metrics_observe(zw_daemon_metrics(p->d), "zwgk_ingest_delivery_seconds", NULL, zw_now() - pd->started);
  if (err) zw_warn(pd->release_id, "not acknowledged by Kafka: %s", rd_kafka_err2str(err));
  else zw_debug(pd->release_id, "accepted revision %lld", (long long)pd->revision);
  if (pd->batch) {
    batch_item_delivered(pd, err);
    return;
  }
  if (pd->req) reply_delivered(pd, err);
  if (pd->deadline) event_free(pd->deadline);
  free(pd);
}

/* The delivery report is late: answer 503 now (nothing is promised); the
 * report, when it comes, only frees pd. */
static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  struct pending *pd = arg;
  if (!pd->req) return;
  zw_warn(pd->release_id, "no delivery report within the bound; answering 503");
  reply_delivered(pd, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
}

/* Returns the bearer token of the request, or NULL. */
static const char *bearer(struct evhttp_request *req) {
  const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return NULL;
  auth += 7;
  while (*auth == ' ') auth++;
  return *auth ? auth : NULL;
}

static bool json_content_type(struct evhttp_request *req) {
  const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
  if (!ct || strncasecmp(ct, "application/json", 16) != 0) return false;
  const char *rest = ct + 16;
  while (*rest == ' ') rest++;
  return !*rest || *rest == ';';
}

/* True when the request gives its length more than once. libevent reads the
 * body by the first Content-Length; a proxy in front may go by another, and
 * the bytes after the body libevent took would be read as a request of their
 * own (request smuggling). Such a request is answered with its connection
 * closed (close_after), so that nothing after it is read. */
static bool ambiguous_length(struct evhttp_request *req) {
  const struct evkeyval *header;
  int lengths = 0;
  TAILQ_FOREACH(header, evhttp_request_get_input_headers(req), next) {
    if (strcasecmp(header->key, "Content-Length") == 0) lengths++;
  }
  return lengths > 1;
}

static void close_after(struct evhttp_request *req) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
}

/* Counts each violation under the top-level member it concerns. Members
 * release.v1 does not know all count as "unknown": their names come from the
 * sender, and one series per name would let a body of twenty thousand made-up
 * members grow the metrics without bound (and take a linear search each). */
static void count_invalid(struct producer *p, const json_t *details) {
  size_t i;
  json_t *d;
  json_array_foreach(details, i, d) {
    const char *path = json_string_value(json_object_get(d, "path"));
    char rule[80], label[128];
    const char *slash = path && path[0] == '/' ? strchr(path + 1, '/') : NULL;
    if (!path || !*path) snprintf(rule, sizeof rule, "json");
    else snprintf(rule, sizeof rule, "%.*s", (int)(slash ? slash - path - 1 : (long)strlen(path + 1)), path + 1);
    if (strcmp(rule, "json") != 0 && !zw_release_is_member(rule)) snprintf(rule, sizeof rule, "unknown");
    zw_metrics_add(zw_daemon_metrics(p->d), "zwgk_ingest_invalid_total",
                   zw_metrics_label(label, sizeof label, "rule", rule), 1);
  }
}

/* Parses the body as JSON (UTF-8, no duplicate keys), keeping its raw bytes
 * in in; on failure answers 400. */
static json_t *parse_body(struct producer *p, struct ingest_request *in) {
  struct evbuffer *buf = evhttp_request_get_input_buffer(in->req);
  in->raw_len = evbuffer_get_length(buf);
  in->raw = (const char *)evbuffer_pullup(buf, -1);
  json_error_t jerr;
  json_t *body = json_loadb(in->raw, in->raw_len, JSON_REJECT_DUPLICATES, &jerr);
  if (body) return body;
  struct evhttp_request *req = in->req;
  char message[300];
  if (in->raw_len == 0) snprintf(message, sizeof message, "the body is empty");
  else snprintf(message, sizeof message, "not valid UTF-8 JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                jerr.column);
  json_t *details = json_pack("[{s:s, s:s}]", "path", "", "message", message);
  count_invalid(p, details);
  ingest_reply_error(p, req, 400, "invalid_release", NULL, details, 0);
  json_decref(details);
  return NULL;
}

int ingest_gate(struct producer *p, struct evhttp_request *req, struct ingest_request *in) {
  memset(in, 0, sizeof *in);
  in->req = req;
  const char *token = bearer(req);
  enum token_result tr = TOKEN_UNKNOWN;
  if (ambiguous_length(req)) {
    close_after(req);
    json_t *details = json_pack("[{s:s, s:s}]", "path", "", "message", "more than one Content-Length header");
    ingest_reply_error(p, req, 400, "invalid_release", NULL, details, 0);
    json_decref(details);
  } else if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
    ingest_reply_error(p, req, 405, "method_not_allowed", NULL, NULL, 0);
  else if (zw_daemon_stopping(p->d))
    ingest_reply_error(p, req, 503, "unavailable", "shutting down", NULL, 0);
  else if (!token || (tr = tokens_lookup(p->tokens, token, in->department, sizeof in->department)) == TOKEN_UNKNOWN)
    ingest_reply_error(p, req, 401, "unauthorized", NULL, NULL, 0);
  else if (tr == TOKEN_UNAVAILABLE)
    ingest_reply_error(p, req, 503, "unavailable", "credentials cannot be checked now", NULL, 0);
  else if (!json_content_type(req))
    ingest_reply_error(p, req, 415, "unsupported_media_type", "use application/json", NULL, 0);
  else if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
           (size_t)zw_config_int(zw_daemon_config(p->d), "producer.body_limit"))
    ingest_reply_error(p, req, 413, "too_large", "the body is larger than producer.body_limit", NULL, 0);
  else if ((in->body = parse_body(p, in)))
    return 0;
  return -1;
}

int ingest_rate_limit(struct producer *p, struct ingest_request *in, double n) {
  const struct zw_config *cfg = zw_daemon_config(p->d);
  long retry_after = 0;
  if (ratelimit_take(p->ratelimit, in->department, n, (double)zw_config_int(cfg, "producer.rate_limit_per_s"),
                     (double)zw_config_int(cfg, "producer.rate_burst"), zw_now(), &retry_after))
    return 0;
  ingest_reply_error(p, in->req, 429, "rate_limited", "too many releases from this department", NULL, retry_after);
  return -1;
}

int ingest_check_release(struct producer *p, const json_t *release, const char *department, json_t *details) {
  if (zw_release_validate(release, details) > 0) {
    count_invalid(p, details);
    return 400;
  }
  if (strcmp(json_string_value(json_object_get(release, "department")), department) != 0) {
    char message[200];
    snprintf(message, sizeof message, "the token belongs to department '%s'", department);
    json_array_append_new(details, json_pack("{s:s, s:s}", "path", "/department", "message", message));
    return 403;
  }
  return 0;
}

rd_kafka_resp_err_t ingest_produce(struct producer *p, struct evhttp_request *req, const json_t *release,
                                   const char *raw, size_t raw_len, struct pending *pd) {
  const char *dept = json_string_value(json_object_get(release, "department"));
  char trace_id[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1], tp[ZW_TRACEPARENT_LEN + 1], ts[32];
  if (zw_trace_new(trace_id, span) < 0) return RD_KAFKA_RESP_ERR__FAIL;
  const char *incoming = evhttp_find_header(evhttp_request_get_input_headers(req), "traceparent");
  if (incoming) zw_traceparent_parse(incoming, strlen(incoming), trace_id);
  zw_traceparent_format(tp, trace_id, span);
  zw_release_id(dept, json_string_value(json_object_get(release, "source_id")), pd->release_id);
  pd->p = p;
  pd->revision = json_integer_value(json_object_get(release, "revision"));
  pd->started = zw_now();
  zw_timestamp_now(ts);
  char *value = zw_envelope_serialize(release, raw, raw_len, pd->release_id, ts, dept, p->host, trace_id);
  rd_kafka_resp_err_t err = value ? zw_producer_send(p->kafka, p->topic, pd->release_id, value, strlen(value),
                                                     zw_kafka_headers(tp, "zwgk.release.v1"), pd)
                                  : RD_KAFKA_RESP_ERR__FAIL;
  free(value);
  if (err) {
    zw_warn(pd->release_id, "cannot enqueue: %s", rd_kafka_err2str(err));
    return err;
  }
  p->inflight++;
  zw_metrics_set(zw_daemon_metrics(p->d), "zwgk_ingest_inflight", NULL, (double)p->inflight);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void post_release(struct evhttp_request *req, void *arg) {
  struct producer *p = arg;
  struct ingest_request in;
  if (ingest_gate(p, req, &in) < 0 || ingest_rate_limit(p, &in, 1) < 0) {
    json_decref(in.body);
    return;
  }
  json_t *details = json_array();
  int status = ingest_check_release(p, in.body, in.department, details);
  struct pending *pd = status ? NULL : calloc(1, sizeof *pd);
  if (status == 400) {
    ingest_reply_error(p, req, 400, "invalid_release", NULL, details, 0);
  } else if (status == 403) {
    ingest_reply_error(p, req, 403, "forbidden", json_string_value(json_object_get(json_array_get(details, 0), "message")),
                       NULL, 0);
  } else if (!pd || ingest_produce(p, req, in.body, in.raw, in.raw_len, pd) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    free(pd);
    ingest_reply_error(p, req, 503, "unavailable", "the local queue is full or Kafka is unreachable", NULL, 0);
  } else {
    pd->req = req;
    pd->deadline = ingest_deadline(p, on_deadline, pd);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_connection_close, pd);
  }
  json_decref(details);
  json_decref(in.body);
}

static void not_found(struct evhttp_request *req, void *arg) {
  if (ambiguous_length(req)) close_after(req);
  ingest_reply_error(arg, req, 404, "not_found", NULL, NULL, 0);
}

void ingest_install(struct producer *p) {
  struct zw_metrics *m = zw_daemon_metrics(p->d);
  zw_metrics_declare(m, "zwgk_ingest_requests_total", ZW_COUNTER, "Ingest requests, by HTTP status");
  zw_metrics_declare(m, "zwgk_ingest_invalid_total", ZW_COUNTER, "Validation violations, by top-level member");
  zw_metrics_declare(m, "zwgk_ingest_inflight", ZW_GAUGE, "Releases waiting for Kafka's acknowledgement");
  zw_metrics_declare(m, "zwgk_ingest_delivery_seconds", ZW_HISTOGRAM, "Time from produce to delivery report");
  zw_metrics_declare(m, "zwgk_messages_out_total", ZW_COUNTER, "Messages produced, by topic");
  zw_metrics_declare(m, "zwgk_kafka_delivery_errors_total", ZW_COUNTER, "Messages Kafka did not acknowledge");
  evhttp_set_cb(p->http, "/v1/releases", post_release, p);
  evhttp_set_cb(p->http, "/v1/releases/batch", batch_post, p);
  evhttp_set_gencb(p->http, not_found, p);
  evhttp_set_max_body_size(p->http,
                           (ev_ssize_t)zw_config_int(zw_daemon_config(p->d), "producer.body_limit") * BODY_HARD_FACTOR);
}
