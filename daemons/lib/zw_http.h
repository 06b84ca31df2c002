/* zw_http — the small pieces every zwgk HTTP listener shares (libevent evhttp). */
#ifndef ZW_HTTP_H
#define ZW_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>

/* Binds an evhttp server on "host:port". Returns the server (caller frees it with
 * evhttp_free) or NULL with err filled. When handle is not NULL it receives the
 * bound socket (owned by the server), to stop accepting with
 * evhttp_del_accept_socket. */
struct evhttp *zw_http_listen(struct event_base *base, const char *address,
                              struct evhttp_bound_socket **handle, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Splits "host:port"; returns 0 or -1 when it is not of that form. */
int zw_http_split_address(const char *address, char *host, size_t hostlen, int *port)
    __attribute__((warn_unused_result));

/* Sends body as application/json with the status code; body is not stolen. */
void zw_http_send_json(struct evhttp_request *req, int code, const json_t *body);

/* Sends {"error": error} with the status code. */
void zw_http_send_error(struct evhttp_request *req, int code, const char *error);

/* Sends text with the given content type and status code. */
void zw_http_send_text(struct evhttp_request *req, int code, const char *content_type,
                       const char *text, size_t len);

/* Returns the request path without query string, decoded, into buf; NULL if the
 * URI cannot be parsed or the path does not fit. */
const char *zw_http_path(struct evhttp_request *req, char *buf, size_t len);

#endif
