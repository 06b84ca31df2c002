/* zw_http — evhttp helpers for the admin, ingest and portal listeners. */
#include "zw_http.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zw_http_split_address(const char *address, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(address, ':');
  if (!colon || colon == address || (size_t)(colon - address) >= hostlen) return -1;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p <= 0 || p > 65535) return -1;
  memcpy(host, address, (size_t)(colon - address));
  host[colon - address] = '\0';
  *port = (int)p;
  return 0;
}

struct evhttp *zw_http_listen(struct event_base *base, const char *address,
                              struct evhttp_bound_socket **handle, char *err, size_t errlen) {
  char host[256];
  int port;
  if (zw_http_split_address(address, host, sizeof host, &port) < 0) {
    snprintf(err, errlen, "'%s' is not host:port", address);
    return NULL;
  }
  struct evhttp *http = evhttp_new(base);
  if (!http) {
    snprintf(err, errlen, "evhttp_new failed");
    return NULL;
  }
  struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
  if (handle) *handle = bound;
  if (!bound) {
    snprintf(err, errlen, "cannot listen on %s", address);
    evhttp_free(http);
    return NULL;
  }
  return http;
}

void zw_http_send_text(struct evhttp_request *req, int code, const char *content_type,
                       const char *text, size_t len) {
  struct evbuffer *buf = evbuffer_new();
  if (!buf) {
    evhttp_send_error(req, 500, NULL);
    return;
  }
  evbuffer_add(buf, text, len);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
  evhttp_send_reply(req, code, NULL, buf);
  evbuffer_free(buf);
}

void zw_http_send_json(struct evhttp_request *req, int code, const json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (!text) {
    evhttp_send_error(req, 500, NULL);
    return;
  }
  zw_http_send_text(req, code, "application/json", text, strlen(text));
  free(text);
}

void zw_http_send_error(struct evhttp_request *req, int code, const char *error) {
  json_t *body = json_pack("{s:s}", "error", error);
  zw_http_send_json(req, code, body);
  json_decref(body);
}

const char *zw_http_path(struct evhttp_request *req, char *buf, size_t len) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!raw) return NULL;
  size_t outlen = 0;
  char *decoded = evhttp_uridecode(raw, 0, &outlen);
  if (!decoded) return NULL;
  if (outlen >= len || memchr(decoded, '\0', outlen)) {
    free(decoded);
    return NULL;
  }
  memcpy(buf, decoded, outlen + 1);
  free(decoded);
  return buf;
}
