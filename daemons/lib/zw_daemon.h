/* zw_daemon — the skeleton every zwgk daemon runs on: flags and configuration,
 * logging, the libevent loop, signals handled inside the loop (two-stage
 * SIGTERM, SIGHUP reload), the admin listener (/healthz, /readyz, /metrics)
 * and the systemd notifications (READY, RELOADING, STOPPING, STATUS, WATCHDOG;
 * nothing is sent outside systemd, where NOTIFY_SOCKET is unset). */
#ifndef ZW_DAEMON_H
#define ZW_DAEMON_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_config.h"
#include "zw_metrics.h"

struct zw_daemon;

/* Readiness probe: returns true when ready, else false with a reason in why. */
typedef bool (*zw_daemon_ready_fn)(void *arg, char *why, size_t whylen);
/* Called once at the first SIGTERM/SIGINT: stop taking work and start draining;
 * call zw_daemon_drained() when everything in flight is finished or handed back. */
typedef void (*zw_daemon_stop_fn)(void *arg);
/* Called on SIGHUP after the reloadable keys of the new configuration were applied. */
typedef void (*zw_daemon_reload_fn)(void *arg, const struct zw_config *cfg);

/* Parses argv (--config FILE, --set section.key=value, -X property=value,
 * --help, --help-config, --dump-config), loads the configuration with its
 * precedence and sets up logging for component `name` (also the config section
 * holding `admin`). Returns the daemon, or NULL with *exit_code set: 0 after
 * --help/--help-config/--dump-config, 2 for a usage error, 1 for a bad config. */
struct zw_daemon *zw_daemon_new(const char *name, int argc, char **argv, int *exit_code)
    __attribute__((warn_unused_result));
void zw_daemon_destroy(struct zw_daemon *d);

struct event_base *zw_daemon_base(struct zw_daemon *d);
const struct zw_config *zw_daemon_config(struct zw_daemon *d);
struct zw_metrics *zw_daemon_metrics(struct zw_daemon *d);
const char *zw_daemon_name(struct zw_daemon *d);
/* The instance name (daemon.instance, else the host name); owned by d. */
const char *zw_daemon_instance(struct zw_daemon *d);

void zw_daemon_set_ready(struct zw_daemon *d, zw_daemon_ready_fn fn, void *arg);
void zw_daemon_on_stop(struct zw_daemon *d, zw_daemon_stop_fn fn, void *arg);
void zw_daemon_on_reload(struct zw_daemon *d, zw_daemon_reload_fn fn, void *arg);

/* Starts the admin listener at <name>.admin. Returns 0 or -1 with err. Each
 * /readyz answer that differs from the last one becomes systemd's STATUS. */
int zw_daemon_start_admin(struct zw_daemon *d, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Runs the loop until the drain finishes, the grace timer fires or a second
 * SIGTERM arrives. Tells systemd READY=1 as the loop starts, whether or not
 * Kafka and PostgreSQL are reachable yet (that is /readyz's answer), and pings
 * its watchdog when the unit sets WatchdogSec=. Returns the process exit code
 * (0 after a drain). */
int zw_daemon_run(struct zw_daemon *d);

/* True once the first SIGTERM/SIGINT has arrived. */
bool zw_daemon_stopping(const struct zw_daemon *d);
/* Ends the loop after a clean drain. */
void zw_daemon_drained(struct zw_daemon *d);

/* Seconds since the epoch with sub-second precision, for latency metrics. */
double zw_now(void);

/* The event priority of bulk work (a stage's batches): below the default
 * priority of every other event of the daemon's loop. */
#define ZW_PRIORITY_WORK 2

#endif
