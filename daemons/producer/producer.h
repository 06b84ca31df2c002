/* zwgk-producer — the ingest API: department systems POST releases, which are
 * answered 202 only once Kafka has acknowledged them (acks=all). */
#ifndef ZWGK_PRODUCER_H
#define ZWGK_PRODUCER_H

#include <event2/http.h>
#include <stdbool.h>

#include "tokens.h"
#include "zw_daemon.h"
#include "zw_kafka.h"
#include "zw_pg.h"

struct producer {
  struct zw_daemon *d;
  struct zw_producer *kafka;
  struct zw_pg *pg;
  struct tokens *tokens;
  struct evhttp *http;
  struct evhttp_bound_socket *listener;
  struct event *token_timer, *drain_timer;
  char topic[256];
  char host[128];
  long inflight;
};

/* Installs the ingest routes on p->http. */
void ingest_install(struct producer *p);

/* Delivery-report callback for messages produced by ingest. */
void ingest_on_delivery(void *opaque, rd_kafka_resp_err_t err);

#endif
