/* zw_daemon — loop, signals, flags and the admin listener shared by the daemons. */
#include "zw_daemon.h"

#include <event2/http.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "zw_http.h"
#include "zw_log.h"

extern char **environ;

struct zw_daemon {
  char name[32];
  char instance[128];
  char *config_path;
  char **flag_sets; /* "section.key=value" from --set, kept for reloads */
  size_t nflag_sets;
  struct zw_config *cfg;
  struct zw_metrics *metrics;
  struct event_base *base;
  struct event *sigterm, *sigint, *sighup, *grace, *watchdog;
  struct evhttp *admin;
  zw_daemon_ready_fn ready;
  void *ready_arg;
  zw_daemon_stop_fn stop;
  void *stop_arg;
  zw_daemon_reload_fn reload;
  void *reload_arg;
  bool stopping;
  int exit_code;
  char status[300]; /* the readiness last told to systemd, so that only changes are sent */
};

double zw_now(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Tells the service manager about a state change (sd_notify). Without
 * NOTIFY_SOCKET, outside systemd, sd_notify does nothing and returns 0. */
__attribute__((format(printf, 1, 2))) static void notify(const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  int rc = sd_notify(0, text);
  if (rc < 0) zw_warn(NULL, "sd_notify: %s", strerror(-rc));
}

/* Turns control characters into spaces and drops trailing ones: sd_notify's
 * assignments are one a line, and a libpq message spans several. */
static void one_line(char *text) {
  size_t end = 0;
  for (size_t i = 0; text[i]; i++) {
    if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) text[i] = ' ';
    if (text[i] != ' ') end = i + 1;
  }
  text[end] = '\0';
}

/* The readiness the admin listener just computed, as systemd's STATUS line
 * (systemctl status), sent only when it changed: /readyz may be polled often. */
static void notify_readiness(struct zw_daemon *d, bool ready, const char *why) {
  char status[sizeof d->status];
  if (ready) snprintf(status, sizeof status, "ready");
  else snprintf(status, sizeof status, "not ready: %s", why);
  one_line(status);
  if (strcmp(status, d->status) == 0) return;
  snprintf(d->status, sizeof d->status, "%s", status);
  notify("STATUS=%s", status);
}

static void usage(FILE *out, const char *name) {
  fprintf(out,
          "usage: zwgk-%s [--config FILE] [--set SECTION.KEY=VALUE]... [-X PROPERTY=VALUE]...\n"
          "       zwgk-%s --help | --help-config | --dump-config\n"
          "Configuration: defaults < file (default /etc/zwgk/zwgk.conf) < ZWGK_<SECTION>_<KEY>\n"
          "environment < flags. -X passes a property to librdkafka.\n",
          name, name);
}

/* Builds a configuration from the file, the environment and the kept flags. */
static struct zw_config *load_config(struct zw_daemon *d, char *err, size_t errlen) {
  return zw_config_load(d->config_path, environ, (const char *const *)d->flag_sets, d->nflag_sets, err,
                        errlen);
}

/* Keeps a --set or -X flag as "section.key=value"; -X ones become kafka.<property>. */
static int keep_flag(struct zw_daemon *d, const char *value, bool kafka) {
  if (!strchr(value, '=')) return -1;
  char **grown = realloc(d->flag_sets, (d->nflag_sets + 1) * sizeof *grown);
  if (!grown) return -1;
  d->flag_sets = grown;
  size_t len = strlen(value) + 7;
  char *copy = malloc(len);
  if (!copy) return -1;
  snprintf(copy, len, "%s%s", kafka ? "kafka." : "", value);
  d->flag_sets[d->nflag_sets++] = copy;
  return 0;
}

enum parse_result { PARSE_RUN, PARSE_HELP, PARSE_HELP_CONFIG, PARSE_DUMP, PARSE_USAGE };

static enum parse_result parse_args(struct zw_daemon *d, int argc, char **argv) {
  enum parse_result result = PARSE_RUN;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) result = PARSE_HELP;
    else if (strcmp(a, "--help-config") == 0) result = PARSE_HELP_CONFIG;
    else if (strcmp(a, "--dump-config") == 0) result = PARSE_DUMP;
    else if (strcmp(a, "--config") == 0 && has_value) {
      free(d->config_path);
      d->config_path = strdup(argv[++i]);
    } else if (strcmp(a, "--set") == 0 && has_value) {
      if (keep_flag(d, argv[++i], false) < 0) return PARSE_USAGE;
    } else if (strcmp(a, "-X") == 0 && has_value) {
      if (keep_flag(d, argv[++i], true) < 0) return PARSE_USAGE;
    } else {
      fprintf(stderr, "zwgk-%s: unknown or incomplete argument '%s'\n", d->name, a);
      return PARSE_USAGE;
    }
  }
  return result;
}

struct zw_daemon *zw_daemon_new(const char *name, int argc, char **argv, int *exit_code) {
  char err[512];
  struct zw_daemon *d = calloc(1, sizeof *d);
  if (!d) {
    *exit_code = 1;
    return NULL;
  }
  snprintf(d->name, sizeof d->name, "%s", name);
  enum parse_result pr = parse_args(d, argc, argv);
  *exit_code = pr == PARSE_USAGE ? 2 : 0;
  if (pr == PARSE_USAGE || pr == PARSE_HELP) {
    usage(pr == PARSE_USAGE ? stderr : stdout, name);
    goto failed;
  }
  if (pr == PARSE_HELP_CONFIG) {
    zw_config_help(stdout);
    goto failed;
  }
  *exit_code = 1;
  if (!(d->cfg = load_config(d, err, sizeof err))) {
    fprintf(stderr, "zwgk-%s: configuration: %s\n", name, err);
    goto failed;
  }
  if (pr == PARSE_DUMP) {
    zw_config_dump(d->cfg, stdout);
    *exit_code = 0;
    goto failed;
  }
  if (zw_log_setup(name, zw_config_str(d->cfg, "log.level"), zw_config_str(d->cfg, "log.format")) <
      0) {
    fprintf(stderr, "zwgk-%s: configuration: bad log.level or log.format\n", name);
    goto failed;
  }
  const char *instance = zw_config_str(d->cfg, "daemon.instance");
  if (*instance) snprintf(d->instance, sizeof d->instance, "%s", instance);
  else if (gethostname(d->instance, sizeof d->instance - 1) < 0) snprintf(d->instance, sizeof d->instance, "localhost");
  if (!(d->metrics = zw_metrics_new()) || !(d->base = event_base_new())) goto failed;
  /* Three priorities: signals, the admin listener and HTTP take the default
   * (1); a stage's batches run at ZW_PRIORITY_WORK (2), after whatever else is
   * ready, so /readyz and /metrics answer between two batches. */
  if (event_base_priority_init(d->base, 3) < 0) goto failed;
  signal(SIGPIPE, SIG_IGN);
  *exit_code = 0;
  return d;
failed:
  zw_daemon_destroy(d);
  return NULL;
}

void zw_daemon_destroy(struct zw_daemon *d) {
  if (!d) return;
  if (d->admin) evhttp_free(d->admin);
  struct event *events[] = {d->sigterm, d->sigint, d->sighup, d->grace, d->watchdog};
  for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
    if (events[i]) event_free(events[i]);
  if (d->base) event_base_free(d->base);
  zw_metrics_destroy(d->metrics);
  zw_config_destroy(d->cfg);
  for (size_t i = 0; i < d->nflag_sets; i++) free(d->flag_sets[i]);
  free(d->flag_sets);
  free(d->config_path);
  free(d);
}

struct event_base *zw_daemon_base(struct zw_daemon *d) { return d->base; }
const struct zw_config *zw_daemon_config(struct zw_daemon *d) { return d->cfg; }
struct zw_metrics *zw_daemon_metrics(struct zw_daemon *d) { return d->metrics; }
const char *zw_daemon_name(struct zw_daemon *d) { return d->name; }
const char *zw_daemon_instance(struct zw_daemon *d) { return d->instance; }
bool zw_daemon_stopping(const struct zw_daemon *d) { return d->stopping; }

void zw_daemon_set_ready(struct zw_daemon *d, zw_daemon_ready_fn fn, void *arg) {
  d->ready = fn;
  d->ready_arg = arg;
}
void zw_daemon_on_stop(struct zw_daemon *d, zw_daemon_stop_fn fn, void *arg) {
  d->stop = fn;
  d->stop_arg = arg;
}
void zw_daemon_on_reload(struct zw_daemon *d, zw_daemon_reload_fn fn, void *arg) {
  d->reload = fn;
  d->reload_arg = arg;
}

static void admin_request(struct evhttp_request *req, void *arg) {
  struct zw_daemon *d = arg;
  char path[256];
  if (!zw_http_path(req, path, sizeof path)) {
    zw_http_send_error(req, 400, "bad_request");
  } else if (strcmp(path, "/healthz") == 0) {
    zw_http_send_text(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/readyz") == 0) {
    char why[256] = "ready";
    bool ready = !d->stopping && (!d->ready || d->ready(d->ready_arg, why, sizeof why));
    if (d->stopping) snprintf(why, sizeof why, "stopping");
    else notify_readiness(d, ready, why);
    char text[300];
    int n = snprintf(text, sizeof text, "%s\n", why);
    zw_http_send_text(req, ready ? 200 : 503, "text/plain", text, (size_t)n);
  } else if (strcmp(path, "/metrics") == 0) {
    char *text = zw_metrics_render(d->metrics);
    if (!text) {
      evhttp_send_error(req, 500, NULL);
      return;
    }
    zw_http_send_text(req, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
  } else {
    zw_http_send_error(req, 404, "not_found");
  }
}

int zw_daemon_start_admin(struct zw_daemon *d, char *err, size_t errlen) {
  char key[64];
  snprintf(key, sizeof key, "%s.admin", d->name);
  d->admin = zw_http_listen(d->base, zw_config_str(d->cfg, key), NULL, err, errlen);
  if (!d->admin) return -1;
  evhttp_set_gencb(d->admin, admin_request, d);
  evhttp_set_allowed_methods(d->admin, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  return 0;
}

static void on_grace(evutil_socket_t fd, short what, void *arg) {
  struct zw_daemon *d = arg;
  zw_warn(NULL, "drain did not finish within daemon.shutdown_grace_ms; stopping now");
  event_base_loopbreak(d->base);
}

static void on_terminate(evutil_socket_t sig, short what, void *arg) {
  struct zw_daemon *d = arg;
  if (d->stopping) {
    zw_warn(NULL, "second signal %d: stopping now", (int)sig);
    event_base_loopbreak(d->base);
    return;
  }
  d->stopping = true;
  zw_info(NULL, "signal %d: draining", (int)sig);
  notify("STOPPING=1\nSTATUS=draining (signal %d)", (int)sig);
  long grace = zw_config_int(d->cfg, "daemon.shutdown_grace_ms");
  struct timeval tv = {grace / 1000, (grace % 1000) * 1000};
  d->grace = evtimer_new(d->base, on_grace, d);
  if (d->grace) evtimer_add(d->grace, &tv);
  if (d->stop) d->stop(d->stop_arg);
  else zw_daemon_drained(d);
}

/* Loads and applies the configuration again; returns 0 or -1 with err, the
 * running configuration left in place. */
static int reload(struct zw_daemon *d, char *err, size_t errlen) {
  struct zw_config *fresh = load_config(d, err, errlen);
  if (!fresh) return -1;
  if (zw_config_reload_conflict(d->cfg, fresh, err, errlen)) goto refused;
  if (zw_log_setup(d->name, zw_config_str(fresh, "log.level"), zw_config_str(fresh, "log.format")) < 0) {
    snprintf(err, errlen, "bad log.level or log.format");
    goto refused;
  }
  zw_config_destroy(d->cfg);
  d->cfg = fresh;
  if (d->reload) d->reload(d->reload_arg, d->cfg);
  return 0;
refused:
  zw_config_destroy(fresh);
  return -1;
}

static void on_hangup(evutil_socket_t sig, short what, void *arg) {
  struct zw_daemon *d = arg;
  char err[512];
  /* READY=1 follows RELOADING=1 on failure too: the daemon runs on with the
   * old configuration, and systemd would show it reloading until then. */
  notify("RELOADING=1\nSTATUS=reloading");
  if (reload(d, err, sizeof err) < 0) {
    zw_error(NULL, "reload failed, keeping the running configuration: %s", err);
    one_line(err);
    notify("READY=1\nSTATUS=reload failed, running configuration kept: %s", err);
    d->status[0] = '\0'; /* the next /readyz replaces this line */
    return;
  }
  zw_info(NULL, "configuration reloaded");
  notify("READY=1\nSTATUS=%s", d->status);
}

void zw_daemon_drained(struct zw_daemon *d) {
  zw_info(NULL, "drained; exiting");
  event_base_loopexit(d->base, NULL);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg) { notify("WATCHDOG=1"); }

/* With WatchdogSec= in the unit, pings systemd at half the interval: a loop
 * stuck for longer than WatchdogSec gets the daemon restarted. Returns 0 or
 * -1 when the timer cannot be added. */
static int start_watchdog(struct zw_daemon *d) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return 0;
  uint64_t half = usec / 2;
  struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
  d->watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
  /* Ahead of everything else that is ready in the same loop iteration. */
  if (!d->watchdog || event_priority_set(d->watchdog, 0) < 0 || event_add(d->watchdog, &tv) < 0) return -1;
  zw_info(NULL, "systemd watchdog: ping every %.1f s", (double)half / 1e6);
  return 0;
}

int zw_daemon_run(struct zw_daemon *d) {
  d->sigterm = evsignal_new(d->base, SIGTERM, on_terminate, d);
  d->sigint = evsignal_new(d->base, SIGINT, on_terminate, d);
  d->sighup = evsignal_new(d->base, SIGHUP, on_hangup, d);
  if (!d->sigterm || !d->sigint || !d->sighup || evsignal_add(d->sigterm, NULL) < 0 ||
      evsignal_add(d->sigint, NULL) < 0 || evsignal_add(d->sighup, NULL) < 0) {
    zw_error(NULL, "cannot install signal handlers");
    return 1;
  }
  if (start_watchdog(d) < 0) {
    zw_error(NULL, "cannot add the systemd watchdog timer");
    return 1;
  }
  zw_info(NULL, "running (instance %s)", d->instance);
  /* Ready means started: the admin listener is bound and the loop runs.
   * Kafka and PostgreSQL may come later (the stages retry), and /readyz says
   * whether they did; holding READY=1 back for them would have systemd kill a
   * daemon that waits for a broker, at TimeoutStartSec. */
  snprintf(d->status, sizeof d->status, "started; readiness not yet probed (GET /readyz)");
  notify("READY=1\nSTATUS=%s", d->status);
  if (event_base_dispatch(d->base) < 0) return 1;
  return d->exit_code;
}
