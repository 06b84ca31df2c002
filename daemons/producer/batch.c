/* batch — POST /v1/releases/batch: up to 500 releases, a result per item; the
 * answer is sent once every accepted item has Kafka's acknowledgement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer.h"
#include "zw_http.h"
#include "zw_log.h"

#define BATCH_MAX 500

struct batch {
  struct producer *p;
  struct evhttp_request *req; /* NULL once the client went away */
  json_t *results;            /* one object per item, in order */
  size_t waiting;             /* items still waiting for a delivery report */
  bool sealed;                /* every item has been looked at */
  struct event *deadline;     /* answers with what is known if reports are late */
};

static void on_connection_close(struct evhttp_connection *conn, void *arg) {
  struct batch *b = arg;
  b->req = NULL;
}

static void batch_reply(struct batch *b) {
  evhttp_connection_set_closecb(evhttp_request_get_connection(b->req), NULL, NULL);
  json_t *body = json_pack("{s:O}", "results", b->results);
  zw_http_send_json(b->req, 200, body);
  json_decref(body);
  ingest_count_status(b->p, 200);
  b->req = NULL;
}

/* Answers once sealed and nothing is waiting, then frees the batch. */
static void batch_finish(struct batch *b) {
  if (!b->sealed || b->waiting > 0) return;
  if (b->req) batch_reply(b);
  if (b->deadline) event_free(b->deadline);
  json_decref(b->results);
  free(b);
}

/* Reports are late: items still waiting are answered unavailable (nothing is
 * promised for them); the batch is freed when the last report comes. */
static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  struct batch *b = arg;
  if (!b->req) return;
  size_t i;
  json_t *result;
  json_array_foreach(b->results, i, result) {
    if (json_object_get(result, "status")) continue;
    json_object_set_new(result, "status", json_string("unavailable"));
    json_object_set_new(result, "errors", json_pack("[{s:s, s:s}]", "path", "", "message",
                                                    "no acknowledgement from Kafka in time; nothing was accepted"));
  }
  zw_warn(NULL, "batch: %zu delivery report(s) late; answered", b->waiting);
  batch_reply(b);
}

void batch_item_delivered(struct pending *pd, rd_kafka_resp_err_t err) {
  struct batch *b = pd->batch;
  json_t *result = json_array_get(b->results, pd->index);
  bool answered = json_object_get(result, "status") != NULL; /* by the deadline */
  if (!answered) json_object_set_new(result, "status", json_string(err ? "unavailable" : "accepted"));
  if (err && !answered)
    json_object_set_new(result, "errors", json_pack("[{s:s, s:s}]", "path", "", "message",
                                                    "Kafka did not acknowledge the release; nothing was accepted"));
  b->waiting--;
  free(pd);
  batch_finish(b);
}

/* Looks at item i: records a refusal, or produces it and counts it waiting. */
static void batch_item(struct batch *b, struct ingest_request *in, size_t i) {
  json_t *release = json_array_get(in->body, i), *details = json_array();
  json_t *result = json_pack("{s:I}", "index", (json_int_t)i);
  json_array_append_new(b->results, result);
  int status = ingest_check_release(b->p, release, in->department, details);
  struct pending *pd = status ? NULL : calloc(1, sizeof *pd);
  /* jansson keeps no positions, so an item's text is written out again. */
  char *raw = pd ? json_dumps(release, JSON_COMPACT) : NULL;
  if (status) {
    json_object_set_new(result, "status", json_string(status == 400 ? "invalid_release" : "forbidden"));
    json_object_set(result, "errors", details);
  } else if (!raw || ingest_produce(b->p, in->req, release, raw, strlen(raw), pd) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    free(pd);
    json_object_set_new(result, "status", json_string("unavailable"));
    json_object_set_new(result, "errors", json_pack("[{s:s, s:s}]", "path", "", "message",
                                                    "the local queue is full or Kafka is unreachable"));
  } else {
    pd->batch = b;
    pd->index = i;
    json_object_set_new(result, "release_id", json_string(pd->release_id));
    b->waiting++;
  }
  free(raw);
  json_decref(details);
}

void batch_post(struct evhttp_request *req, void *arg) {
  struct producer *p = arg;
  struct ingest_request in;
  if (ingest_gate(p, req, &in) < 0) return;
  size_t n = json_array_size(in.body);
  if (!json_is_array(in.body) || n == 0 || n > BATCH_MAX) {
    json_t *details = json_pack("[{s:s, s:s}]", "path", "", "message",
                                "the body must be a JSON array of 1 to 500 releases");
    ingest_reply_error(p, req, 400, "invalid_release", NULL, details, 0);
    json_decref(details);
  } else if (ingest_rate_limit(p, &in, (double)n) == 0) {
    struct batch *b = calloc(1, sizeof *b);
    if (!b || !(b->results = json_array())) {
      free(b);
      ingest_reply_error(p, req, 503, "unavailable", "out of memory", NULL, 0);
    } else {
      b->p = p;
      b->req = req;
      evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_connection_close, b);
      for (size_t i = 0; i < n; i++) batch_item(b, &in, i);
      b->sealed = true;
      if (b->waiting > 0) b->deadline = ingest_deadline(p, on_deadline, b);
      batch_finish(b);
    }
  }
  json_decref(in.body);
}
