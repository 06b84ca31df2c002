/* ingest — POST /v1/releases: authenticate, validate, produce, answer after the
 * delivery report. Nothing is answered 202 that Kafka has not acknowledged. */
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer.h"
#include "zw_envelope.h"
#include "zw_http.h"
#include "zw_log.h"
#include "zw_release.h"

/* One request waiting for its delivery report. */
struct pending {
  struct producer *p;
  struct evhttp_request *req; /* NULL once the client went away */
  char release_id[ZW_RELEASE_ID_LEN + 1];
  json_int_t revision;
  double started;
};

static void count_status(struct producer *p, int status) {
  char label[32];
  snprintf(label, sizeof label, "status=\"%d\"", status);
  zw_metrics_add(zw_daemon_metrics(p->d), "zwgk_ingest_requests_total", label, 1);
}

static void reply_error(struct producer *p, struct evhttp_request *req, int status,
                        const char *error, const char *message, json_t *details) {
  json_t *body = json_pack("{s:s}", "error", error);
  if (message) json_object_set_new(body, "message", json_string(message));
  if (details) json_object_set(body, "details", details);
  if (status == 503 || status == 429) {
    char retry[16];
    snprintf(retry, sizeof retry, "%ld", zw_config_int(zw_daemon_config(p->d), "producer.retry_after_s"));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
  }
  zw_http_send_json(req, status, body);
  json_decref(body);
  count_status(p, status);
}

static void on_connection_close(struct evhttp_connection *conn, void *arg) {
  struct pending *pd = arg;
  pd->req = NULL;
}

void ingest_on_delivery(void *opaque, rd_kafka_resp_err_t err) {
  struct pending *pd = opaque;
  struct producer *p = pd->p;
  p->inflight--;
  zw_metrics_set(zw_daemon_metrics(p->d), "zwgk_ingest_inflight", NULL, (double)p->inflight);
  zw_metrics_observe(zw_daemon_metrics(p->d), "zwgk_ingest_delivery_seconds", NULL, zw_now() - pd->started);
  if (err) zw_warn(pd->release_id, "not acknowledged by Kafka: %s", rd_kafka_err2str(err));
  else zw_info(pd->release_id, "accepted revision %lld", (long long)pd->revision);
  if (pd->req) {
    evhttp_connection_set_closecb(evhttp_request_get_connection(pd->req), NULL, NULL);
    if (err) {
      reply_error(p, pd->req, 503, "unavailable", "Kafka did not acknowledge the release; nothing was accepted", NULL);
    } else {
      json_t *body = json_pack("{s:s, s:I, s:s}", "release_id", pd->release_id, "revision",
                               pd->revision, "status", "accepted");
      zw_http_send_json(pd->req, 202, body);
      json_decref(body);
      count_status(p, 202);
    }
  }
  free(pd);
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

/* Reads the request body as a NUL-terminated string; caller frees it. */
static char *read_body(struct evhttp_request *req, size_t *len) {
  struct evbuffer *buf = evhttp_request_get_input_buffer(req);
  *len = evbuffer_get_length(buf);
  char *body = malloc(*len + 1);
  if (!body) return NULL;
  evbuffer_copyout(buf, body, *len);
  body[*len] = '\0';
  return body;
}

/* Parses and validates; on failure answers 400 and returns NULL. */
static json_t *parse_release(struct producer *p, struct evhttp_request *req) {
  size_t len;
  char *text = read_body(req, &len);
  if (!text) {
    reply_error(p, req, 500, "internal", NULL, NULL);
    return NULL;
  }
  json_error_t jerr;
  json_t *release = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  json_t *details = json_array();
  if (!release) {
    char message[300];
    snprintf(message, sizeof message, "not valid UTF-8 JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    json_array_append_new(details, json_pack("{s:s, s:s}", "path", "", "message", message));
  } else if (zw_release_validate(release, details) > 0) {
    json_decref(release);
    release = NULL;
    zw_metrics_add(zw_daemon_metrics(p->d), "zwgk_ingest_invalid_total", NULL, 1);
  }
  if (!release) reply_error(p, req, 400, "invalid_release", NULL, details);
  json_decref(details);
  return release;
}

/* Produces the envelope; the reply is sent from the delivery report. */
static void produce(struct producer *p, struct evhttp_request *req, json_t *release) {
  const char *dept = json_string_value(json_object_get(release, "department"));
  struct pending *pd = calloc(1, sizeof *pd);
  char trace_id[ZW_TRACE_ID_LEN + 1], span[ZW_SPAN_ID_LEN + 1], tp[ZW_TRACEPARENT_LEN + 1], ts[32];
  if (!pd || zw_trace_new(trace_id, span) < 0) {
    free(pd);
    reply_error(p, req, 500, "internal", NULL, NULL);
    return;
  }
  const char *incoming = evhttp_find_header(evhttp_request_get_input_headers(req), "traceparent");
  if (incoming) zw_traceparent_parse(incoming, strlen(incoming), trace_id);
  zw_traceparent_format(tp, trace_id, span);
  zw_release_id(dept, json_string_value(json_object_get(release, "source_id")), pd->release_id);
  pd->p = p;
  pd->req = req;
  pd->revision = json_integer_value(json_object_get(release, "revision"));
  pd->started = zw_now();
  zw_timestamp_now(ts);
  json_t *env = zw_envelope_new(release, pd->release_id, ts, dept, p->host, trace_id);
  char *value = env ? json_dumps(env, JSON_COMPACT) : NULL;
  json_decref(env);
  rd_kafka_resp_err_t err = value ? zw_producer_send(p->kafka, p->topic, pd->release_id, value, strlen(value),
                                                     zw_kafka_headers(tp, "zwgk.release.v1"), pd)
                                  : RD_KAFKA_RESP_ERR__FAIL;
  free(value);
  if (err) {
    zw_warn(pd->release_id, "cannot enqueue: %s", rd_kafka_err2str(err));
    reply_error(p, req, 503, "unavailable", "the local queue is full or Kafka is unreachable", NULL);
    free(pd);
    return;
  }
  p->inflight++;
  zw_metrics_set(zw_daemon_metrics(p->d), "zwgk_ingest_inflight", NULL, (double)p->inflight);
  evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_connection_close, pd);
}

static void post_release(struct evhttp_request *req, void *arg) {
  struct producer *p = arg;
  char department[65];
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) { reply_error(p, req, 405, "method_not_allowed", NULL, NULL); return; }
  if (zw_daemon_stopping(p->d)) { reply_error(p, req, 503, "unavailable", "shutting down", NULL); return; }
  const char *token = bearer(req);
  if (!token) { reply_error(p, req, 401, "unauthorized", NULL, NULL); return; }
  enum token_result tr = tokens_lookup(p->tokens, token, department, sizeof department);
  if (tr == TOKEN_UNAVAILABLE) { reply_error(p, req, 503, "unavailable", "credentials cannot be checked now", NULL); return; }
  if (tr == TOKEN_UNKNOWN) { reply_error(p, req, 401, "unauthorized", NULL, NULL); return; }
  if (!json_content_type(req)) { reply_error(p, req, 415, "unsupported_media_type", "use application/json", NULL); return; }
  json_t *release = parse_release(p, req);
  if (!release) return;
  const char *dept = json_string_value(json_object_get(release, "department"));
  if (strcmp(dept, department) != 0) {
    char message[200];
    snprintf(message, sizeof message, "the token belongs to department '%s'", department);
    reply_error(p, req, 403, "forbidden", message, NULL);
  } else {
    produce(p, req, release);
  }
  json_decref(release);
}

static void not_found(struct evhttp_request *req, void *arg) {
  reply_error(arg, req, 404, "not_found", NULL, NULL);
}

void ingest_install(struct producer *p) {
  struct zw_metrics *m = zw_daemon_metrics(p->d);
  zw_metrics_declare(m, "zwgk_ingest_requests_total", ZW_COUNTER, "Ingest requests, by HTTP status");
  zw_metrics_declare(m, "zwgk_ingest_invalid_total", ZW_COUNTER, "Releases refused by validation");
  zw_metrics_declare(m, "zwgk_ingest_inflight", ZW_GAUGE, "Requests waiting for Kafka's acknowledgement");
  zw_metrics_declare(m, "zwgk_ingest_delivery_seconds", ZW_HISTOGRAM, "Time from produce to delivery report");
  zw_metrics_declare(m, "zwgk_messages_out_total", ZW_COUNTER, "Messages produced, by topic");
  zw_metrics_declare(m, "zwgk_kafka_delivery_errors_total", ZW_COUNTER, "Messages Kafka did not acknowledge");
  evhttp_set_cb(p->http, "/v1/releases", post_release, p);
  evhttp_set_gencb(p->http, not_found, p);
  evhttp_set_max_body_size(p->http, (ev_ssize_t)zw_config_int(zw_daemon_config(p->d), "producer.body_limit"));
}
