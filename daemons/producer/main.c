/* zwgk-producer — entry point: wires the ingest API, Kafka, PostgreSQL and the
 * admin listener into the daemon loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer.h"
#include "zw_http.h"
#include "zw_log.h"

static bool producer_ready(void *arg, char *why, size_t whylen) {
  struct producer *p = arg;
  char err[256];
  if (!zw_producer_reachable(p->kafka)) {
    snprintf(why, whylen, "kafka: no broker reachable");
    return false;
  }
  if (!zw_pg_conn(p->pg, err, sizeof err)) {
    snprintf(why, whylen, "postgresql: %s", err);
    return false;
  }
  return true;
}

static void on_token_timer(evutil_socket_t fd, short what, void *arg) {
  struct producer *p = arg;
  (void)tokens_refresh(p->tokens);
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg) {
  struct producer *p = arg;
  if (p->inflight == 0 && zw_producer_flush(p->kafka, 0) == 0) zw_daemon_drained(p->d);
}

/* First SIGTERM: stop accepting connections, answer what is in flight, exit. */
static void producer_stop(void *arg) {
  struct producer *p = arg;
  if (p->listener) {
    evhttp_del_accept_socket(p->http, p->listener);
    p->listener = NULL;
  }
  struct timeval tv = {0, 20000};
  p->drain_timer = event_new(zw_daemon_base(p->d), -1, EV_PERSIST, on_drain_timer, p);
  if (!p->drain_timer || event_add(p->drain_timer, &tv) < 0) zw_daemon_drained(p->d);
}

static int producer_start(struct producer *p, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(p->d);
  if (gethostname(p->host, sizeof p->host - 1) < 0) snprintf(p->host, sizeof p->host, "localhost");
  zw_kafka_topic(cfg, "releases", p->topic, sizeof p->topic);
  p->pg = zw_pg_new(zw_config_str(cfg, "pg.dsn"), zw_config_int(cfg, "pg.connect_timeout_s"));
  p->tokens = p->pg ? tokens_new(p->pg) : NULL;
  p->ratelimit = ratelimit_new();
  if (!p->tokens || !p->ratelimit) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  (void)tokens_refresh(p->tokens); /* PostgreSQL may come later; lookups retry */
  char client_id[200];
  snprintf(client_id, sizeof client_id, "zwgk-producer-%s", zw_daemon_instance(p->d));
  p->kafka = zw_producer_new(cfg, zw_daemon_base(p->d), client_id,
                             zw_config_int(cfg, "producer.delivery_timeout_ms"), ingest_on_delivery,
                             zw_daemon_metrics(p->d), err, errlen);
  if (!p->kafka) return -1;
  p->http = zw_http_listen(zw_daemon_base(p->d), zw_config_str(cfg, "producer.listen"), &p->listener,
                           err, errlen);
  if (!p->http) return -1;
  ingest_install(p);
  long refresh = zw_config_int(cfg, "producer.token_refresh_ms");
  struct timeval tv = {refresh / 1000, (refresh % 1000) * 1000};
  p->token_timer = event_new(zw_daemon_base(p->d), -1, EV_PERSIST, on_token_timer, p);
  if (!p->token_timer || event_add(p->token_timer, &tv) < 0) {
    snprintf(err, errlen, "cannot add token timer");
    return -1;
  }
  return zw_daemon_start_admin(p->d, err, errlen);
}

int main(int argc, char **argv) {
  int code;
  struct zw_daemon *d = zw_daemon_new("producer", argc, argv, &code);
  if (!d) return code;
  struct producer p = {.d = d};
  char err[512];
  if (producer_start(&p, err, sizeof err) < 0) {
    zw_error(NULL, "cannot start: %s", err);
    code = 1;
  } else {
    zw_daemon_set_ready(d, producer_ready, &p);
    zw_daemon_on_stop(d, producer_stop, &p);
    zw_info(NULL, "ingest API on %s", zw_config_str(zw_daemon_config(d), "producer.listen"));
    code = zw_daemon_run(d);
  }
  if (p.token_timer) event_free(p.token_timer);
  if (p.drain_timer) event_free(p.drain_timer);
  if (p.http) evhttp_free(p.http);
  zw_producer_destroy(p.kafka);
  tokens_destroy(p.tokens);
  ratelimit_destroy(p.ratelimit);
  zw_pg_destroy(p.pg);
  zw_daemon_destroy(d);
  return code;
}
