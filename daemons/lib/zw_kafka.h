/* zw_kafka — librdkafka clients the zwgk way: configuration from zw_config with
 * -X pass-through, an idempotent producer whose callers learn each message's
 * delivery outcome, topic names with the configured prefix, and the headers
 * every topic carries (traceparent, zwgk-schema). The transactional stage loop
 * is in zw_stage.h. */
#ifndef ZW_KAFKA_H
#define ZW_KAFKA_H

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_config.h"
#include "zw_metrics.h"

/* Returns a librdkafka configuration with bootstrap.servers, the given client
 * id, socket.nagle.disable, then zwgk's defaults for this client (pairs of
 * property and value, ending with NULL; may be NULL), then every [kafka]
 * pass-through property (an unknown property is an error) — so an operator's
 * setting wins over a default. Returns NULL with err on failure. Caller owns
 * it until it is handed to rd_kafka_new successfully. What must hold for
 * zwgk's guarantees (acks, idempotence, isolation) the caller sets after. */
rd_kafka_conf_t *zw_kafka_conf(const struct zw_config *cfg, const char *client_id, const char *const *defaults,
                               char *err, size_t errlen) __attribute__((warn_unused_result));

/* Sets one property on conf; returns 0 or -1 with err. */
int zw_kafka_conf_set(rd_kafka_conf_t *conf, const char *prop, const char *value, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* Writes prefix+suffix (e.g. "zwgk." + "tagged") into out. */
const char *zw_kafka_topic(const struct zw_config *cfg, const char *suffix, char *out, size_t len);

/* Returns headers with traceparent and zwgk-schema (either may be NULL);
 * ownership passes to librdkafka when a produce call succeeds. */
rd_kafka_headers_t *zw_kafka_headers(const char *traceparent, const char *schema);

/* Copies header `name` of msg into out as a string; returns 0 or -1 if absent. */
int zw_kafka_header(const rd_kafka_message_t *msg, const char *name, char *out, size_t len);

/* Called from the event loop with the outcome of one message. */
typedef void (*zw_delivery_fn)(void *opaque, rd_kafka_resp_err_t err);

struct zw_producer;

/* Makes an idempotent producer (acks=all, enable.idempotence=true) polled from
 * base, with message.timeout.ms = delivery_timeout_ms so every message gets an
 * outcome in bounded time. Returns NULL with err on failure. */
struct zw_producer *zw_producer_new(const struct zw_config *cfg, struct event_base *base,
                                    const char *client_id, long delivery_timeout_ms,
                                    zw_delivery_fn on_delivery, struct zw_metrics *metrics,
                                    char *err, size_t errlen) __attribute__((warn_unused_result));
void zw_producer_destroy(struct zw_producer *p);

/* Enqueues value (copied) with key on topic (full name); headers are taken over
 * on success and destroyed on failure. opaque comes back in on_delivery. Returns
 * RD_KAFKA_RESP_ERR_NO_ERROR or the enqueue error (e.g. QUEUE_FULL): then no
 * delivery callback will come. */
rd_kafka_resp_err_t zw_producer_send(struct zw_producer *p, const char *topic, const char *key,
                                     const void *value, size_t len, rd_kafka_headers_t *headers,
                                     void *opaque);

/* True while at least one broker is reachable (probed with metadata requests). */
bool zw_producer_reachable(struct zw_producer *p);
/* Messages still waiting for an outcome. */
int zw_producer_outq_len(struct zw_producer *p);
/* Waits up to timeout_ms for outstanding messages; returns what remains. */
int zw_producer_flush(struct zw_producer *p, int timeout_ms);

/* Probes the cluster with a metadata request of at most timeout_ms; returns
 * true when a broker answered. */
bool zw_kafka_probe(rd_kafka_t *rk, int timeout_ms);

#endif
