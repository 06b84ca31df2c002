/* serve — static serving of the bulletin boards, refusing anything but the
 * .html pages under /bulletin/ (sidecars, temporary files and markers stay
 * private). */
#include "serve.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zw_http.h"

struct serve {
  struct evhttp *http;
  char docroot[512];
};

/* True for a request path the boards may answer: an .html file under
 * /bulletin/, without dot segments, backslashes, temporary files or markers. */
static bool path_allowed(const char *path) {
  size_t n = strlen(path);
  if (strncmp(path, "/bulletin/", 10) != 0 || strstr(path, "/.") || strchr(path, '\\') ||
      strstr(path, ".tmp.") || strstr(path, ".gone"))
    return false;
  return n > 5 && strcmp(path + n - 5, ".html") == 0;
}

/* Sends file with status; returns -1 when it is not a readable regular file. */
static int send_file(struct evhttp_request *req, const char *file, int status) {
  int fd = open(file, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct evbuffer *buf = evbuffer_new();
  if (!buf) {
    close(fd);
    return -1;
  }
  struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", "text/html; charset=utf-8");
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  evbuffer_add_file(buf, fd, 0, st.st_size); /* takes the descriptor */
  evhttp_send_reply(req, status, status == 410 ? "Gone" : "OK", buf);
  evbuffer_free(buf);
  return 0;
}

static void handle(struct evhttp_request *req, void *arg) {
  struct serve *s = arg;
  char path[1024], file[1600], gone[1700];
  enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
  if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
    zw_http_send_error(req, 405, "method_not_allowed");
    return;
  }
  if (!zw_http_path(req, path, sizeof path - 16)) {
    zw_http_send_error(req, 400, "bad_request");
    return;
  }
  if (strcmp(path, "/") == 0 || strcmp(path, "/bulletin") == 0) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/bulletin/index.html");
    evhttp_send_reply(req, 302, "Found", NULL);
    return;
  }
  if (path[strlen(path) - 1] == '/') strcat(path, "index.html");
  if (!path_allowed(path)) {
    zw_http_send_text(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
    return;
  }
  snprintf(file, sizeof file, "%s%s", s->docroot, path);
  snprintf(gone, sizeof gone, "%s.gone", file);
  int status = access(gone, F_OK) == 0 ? 410 : 200;
  if (send_file(req, file, status) < 0) zw_http_send_text(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

struct serve *serve_new(struct event_base *base, const char *address, const char *docroot, char *err,
                        size_t errlen) {
  struct serve *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(s->docroot, sizeof s->docroot, "%s", docroot);
  size_t n = strlen(s->docroot);
  if (n > 1 && s->docroot[n - 1] == '/') s->docroot[n - 1] = '\0';
  s->http = zw_http_listen(base, address, NULL, err, errlen);
  if (!s->http) {
    free(s);
    return NULL;
  }
  evhttp_set_gencb(s->http, handle, s);
  evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
  return s;
}

void serve_destroy(struct serve *s) {
  if (!s) return;
  if (s->http) evhttp_free(s->http);
  free(s);
}
