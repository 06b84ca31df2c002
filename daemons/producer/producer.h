/* zwgk-producer — the ingest API: department systems POST releases, which are
 * answered 202 only once Kafka has acknowledged them (acks=all). */
#ifndef ZWGK_PRODUCER_H
#define ZWGK_PRODUCER_H

#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>

#include "ratelimit.h"
#include "tokens.h"
#include "zw_daemon.h"
#include "zw_envelope.h"
#include "zw_kafka.h"
#include "zw_pg.h"

struct producer {
  struct zw_daemon *d;
  struct zw_producer *kafka;
  struct zw_pg *pg;
  struct tokens *tokens;
  struct ratelimit *ratelimit;
  struct evhttp *http;
  struct evhttp_bound_socket *listener;
  struct event *token_timer, *drain_timer;
  char topic[256];
  char host[128];
  long inflight;
};

struct batch;

/* One release waiting for its delivery report: of a single request (batch
 * NULL) or item `index` of a batch. */
struct pending {
  struct producer *p;
  struct evhttp_request *req; /* single requests; NULL once the client went away */
  struct batch *batch;
  size_t index;
  char release_id[ZW_RELEASE_ID_LEN + 1];
  json_int_t revision;
  double started;
  struct event *deadline; /* single requests: answers 503 if the report is late */
};

/* A request past the checks every ingest call shares: method, shutdown, token,
 * content type, size and JSON syntax. body is a new reference. */
struct ingest_request {
  struct evhttp_request *req;
  char department[65];
  json_t *body;
  const char *raw; /* the body's bytes, owned by the request's buffer */
  size_t raw_len;
};

/* Installs the ingest routes on p->http. */
void ingest_install(struct producer *p);

/* Delivery-report callback for messages produced by ingest. */
void ingest_on_delivery(void *opaque, rd_kafka_resp_err_t err);

/* Runs the shared checks; returns 0 with in filled, or -1 after answering the
 * request with the error (401, 405, 413, 415, 400 for bad JSON, 503). */
int ingest_gate(struct producer *p, struct evhttp_request *req, struct ingest_request *in);

/* Takes n tokens from the department's bucket; returns 0, or -1 after
 * answering 429 with Retry-After. */
int ingest_rate_limit(struct producer *p, struct ingest_request *in, double n);

/* Answers {"error": error, "message"?: message, "details"?: details} with
 * status; 429 and 503 carry Retry-After (retry_after_s, or the configured one
 * when 0). details is not stolen. */
void ingest_reply_error(struct producer *p, struct evhttp_request *req, int status, const char *error,
                        const char *message, json_t *details, long retry_after_s);

/* Starts a timer that calls fn(arg) if no answer was sent within
 * producer.delivery_timeout_ms plus a margin: the bound on every request, even
 * when librdkafka holds an in-flight message longer than its message timeout.
 * Returns the timer (free it with event_free) or NULL. */
struct event *ingest_deadline(struct producer *p, event_callback_fn fn, void *arg);

/* Counts an answered request by status in the metrics. */
void ingest_count_status(struct producer *p, int status);

/* Validates release (appending violations to details) and checks that it is
 * the token's department's. Returns 0 when it may be produced, 400 or 403. */
int ingest_check_release(struct producer *p, const json_t *release, const char *department, json_t *details);

/* Produces release, whose JSON text is raw (embedded as sent), with pd as the
 * delivery opaque (pd->release_id and revision are filled here). Returns the
 * enqueue error; on success the delivery report comes later and pd must stay
 * alive until then. */
rd_kafka_resp_err_t ingest_produce(struct producer *p, struct evhttp_request *req, const json_t *release,
                                   const char *raw, size_t raw_len, struct pending *pd);

/* POST /v1/releases/batch. */
void batch_post(struct evhttp_request *req, void *arg);
/* Delivery of one batch item (from ingest_on_delivery); frees pd. */
void batch_item_delivered(struct pending *pd, rd_kafka_resp_err_t err);

#endif
