/* zw_static — atomic page writes and the static HTTP server. */
#include "zw_static.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zw_http.h"

/* Creates every directory leading to the file path (which it modifies in
 * place and restores). Returns 0 or -1 with errno. */
static int make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc < 0 && errno != EEXIST) return -1;
  }
  return 0;
}

int zw_static_write(const char *docroot, const char *relpath, const char *content, size_t len, char *err,
                    size_t errlen) {
  char path[1024], tmp[1100];
  snprintf(path, sizeof path, "%s/%s", docroot, relpath);
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  if (make_dirs(path) < 0) {
    snprintf(err, errlen, "mkdir for %s: %s", path, strerror(errno));
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    return -1;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, content + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += (size_t)n;
  }
  int rc = done == len && fsync(fd) == 0 ? 0 : -1;
  if (close(fd) != 0) rc = -1;
  if (rc == 0 && rename(tmp, path) == 0) return 0;
  snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
  unlink(tmp);
  return -1;
}

struct zw_static_server {
  struct evhttp *http;
  char docroot[512];
  char prefix[64];
  char index[128];
  bool html_only;
};

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *content_type(const char *path) {
  if (ends_with(path, ".html")) return "text/html; charset=utf-8";
  if (ends_with(path, ".xml")) return "application/rss+xml; charset=utf-8";
  if (ends_with(path, ".css")) return "text/css; charset=utf-8";
  return NULL;
}

/* True for a request path the site may answer. */
static bool path_allowed(const struct zw_static_server *s, const char *path) {
  if (strncmp(path, s->prefix, strlen(s->prefix)) != 0 || strstr(path, "/.") || strchr(path, '\\') ||
      strstr(path, ".tmp.") || strstr(path, ".gone"))
    return false;
  return s->html_only ? ends_with(path, ".html") : content_type(path) != NULL;
}

/* Sends file with status; returns -1 when it is not a readable regular file. */
static int send_file(struct evhttp_request *req, const char *file, int status) {
  int fd = open(file, O_RDONLY);
  struct stat st;
  struct evbuffer *buf = NULL;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(buf = evbuffer_new())) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", content_type(file));
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  evbuffer_add_file(buf, fd, 0, st.st_size); /* takes the descriptor */
  evhttp_send_reply(req, status, status == 410 ? "Gone" : "OK", buf);
  evbuffer_free(buf);
  return 0;
}

static void not_found(struct evhttp_request *req) {
  zw_http_send_text(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

static void handle(struct evhttp_request *req, void *arg) {
  struct zw_static_server *s = arg;
  char path[1024], file[1600], gone[1700], bare[64];
  enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
  if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
    zw_http_send_error(req, 405, "method_not_allowed");
    return;
  }
  if (!zw_http_path(req, path, sizeof path - 16)) {
    zw_http_send_error(req, 400, "bad_request");
    return;
  }
  snprintf(bare, sizeof bare, "%.*s", (int)strlen(s->prefix) - 1, s->prefix); /* "/zwgk" */
  if (strcmp(path, "/") == 0 || strcmp(path, bare) == 0 || strcmp(path, s->prefix) == 0) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", s->index);
    evhttp_send_reply(req, 302, "Found", NULL);
    return;
  }
  if (path[strlen(path) - 1] == '/') strcat(path, "index.html");
  if (!path_allowed(s, path)) {
    not_found(req);
    return;
  }
  snprintf(file, sizeof file, "%s%s", s->docroot, path);
  snprintf(gone, sizeof gone, "%s.gone", file);
  if (send_file(req, file, access(gone, F_OK) == 0 ? 410 : 200) < 0) not_found(req);
}

struct zw_static_server *zw_static_server_new(struct event_base *base, const char *address, const char *docroot,
                                              const struct zw_static_site *site, char *err, size_t errlen) {
  struct zw_static_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(s->docroot, sizeof s->docroot, "%s", docroot);
  size_t n = strlen(s->docroot);
  if (n > 1 && s->docroot[n - 1] == '/') s->docroot[n - 1] = '\0';
  snprintf(s->prefix, sizeof s->prefix, "%s", site->prefix);
  snprintf(s->index, sizeof s->index, "%s", site->index);
  s->html_only = site->html_only;
  if (mkdir(s->docroot, 0755) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "document root %s: %s", s->docroot, strerror(errno));
    free(s);
    return NULL;
  }
  if (!(s->http = zw_http_listen(base, address, NULL, err, errlen))) {
    free(s);
    return NULL;
  }
  evhttp_set_gencb(s->http, handle, s);
  evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
  return s;
}

void zw_static_server_destroy(struct zw_static_server *s) {
  if (!s) return;
  if (s->http) evhttp_free(s->http);
  free(s);
}
