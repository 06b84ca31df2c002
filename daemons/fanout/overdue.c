/* overdue — counts, for /metrics, the releases each automated channel still
 * owes the public past their deadline. The timeliness report
 * (zwgkctl report timeliness) judges a period afterwards; this gauge is what
 * an alert can watch while there is still time to act. */
#include "overdue.h"

#include <stdio.h>
#include <stdlib.h>

#include "zw_log.h"
#include "zw_pg.h"

/* Shortest interval honoured: a typo of a few milliseconds must not turn the
 * collector into a loop of queries. */
#define INTERVAL_MIN_MS 100

/* The query runs on the fan-out's event loop; a slow plan or a lock must cost
 * the stage at most this long, once per interval. */
#define STATEMENT_TIMEOUT "5000"

struct overdue {
  struct zw_daemon *d;
  struct zw_pg *pg;
  struct event *timer;
  unsigned long generation; /* of the connection the statement timeout was set on */
  bool failing;             /* to log a failure and the recovery once each */
};

/* Per automated channel and state (pending: not yet delivered; failed: given
 * up and dead-lettered), the releases with a work item in that state whose
 * revision's due_by (a date, China Standard Time, as the classifier computes
 * and the timeliness report judges it) is before today. Left out, as in the
 * report: withdrawn releases, and a revision a later one of the same release
 * has already replaced on that channel. Every channel and state gets a row,
 * zero included, so that an alert sees the series go back to 0. */
static const char count_sql[] =
    "SELECT c.code, s.status, count(DISTINCT x.release_id) "
    "FROM channels c CROSS JOIN (VALUES ('pending'), ('failed')) AS s(status) "
    "LEFT JOIN (SELECT d.release_id, d.channel, d.status FROM deliveries d "
    "    JOIN release_revisions v ON v.release_id = d.release_id AND v.revision = d.revision "
    "  WHERE d.status IN ('pending', 'failed') "
    "    AND v.tags->>'due_by' < to_char((now() AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD') "
    "    AND NOT EXISTS (SELECT 1 FROM release_revisions w "
    "      WHERE w.release_id = d.release_id AND w.action = 'withdraw') "
    "    AND NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.release_id = d.release_id "
    "      AND l.channel = d.channel AND l.revision > d.revision AND l.status = 'delivered')) x "
    "  ON x.channel = c.code AND x.status = s.status "
    "WHERE c.automated GROUP BY c.code, s.status ORDER BY 1, 2";

static int set_statement_timeout(struct overdue *o, char *err, size_t errlen) {
  unsigned long generation = zw_pg_generation(o->pg);
  if (generation != 0 && generation == o->generation) return 0;
  static const char *const params[] = {STATEMENT_TIMEOUT};
  bool transient;
  if (zw_pg_run(o->pg, "SELECT set_config('statement_timeout', $1, false)", 1, params, &transient, err,
                errlen) < 0)
    return -1;
  o->generation = zw_pg_generation(o->pg);
  return 0;
}

/* Replaces the gauge's series with a fresh count; on any failure the previous
 * values stay, since a count that cannot be refreshed is still the best known. */
static int refresh(struct overdue *o, char *err, size_t errlen) {
  bool transient;
  if (set_statement_timeout(o, err, errlen) < 0) return -1;
  PGresult *res = zw_pg_exec(o->pg, count_sql, 0, NULL, &transient, err, errlen);
  if (!res) return -1;
  struct zw_metrics *m = zw_daemon_metrics(o->d);
  zw_metrics_clear(m, "zwgk_deliveries_overdue"); /* a channel taken out of service is gone */
  for (int i = 0; i < PQntuples(res); i++) {
    char channel[96], status[64], labels[192];
    zw_metrics_label(channel, sizeof channel, "channel", PQgetvalue(res, i, 0));
    zw_metrics_label(status, sizeof status, "status", PQgetvalue(res, i, 1));
    snprintf(labels, sizeof labels, "%s,%s", channel, status);
    zw_metrics_set(m, "zwgk_deliveries_overdue", labels, strtod(PQgetvalue(res, i, 2), NULL));
  }
  PQclear(res);
  zw_metrics_set(m, "zwgk_deliveries_overdue_timestamp_seconds", NULL, zw_now());
  return 0;
}

static void arm(struct overdue *o, long ms) {
  if (ms < INTERVAL_MIN_MS) ms = INTERVAL_MIN_MS;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  if (evtimer_add(o->timer, &tv) < 0) zw_error(NULL, "overdue count: cannot arm its timer");
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  struct overdue *o = arg;
  char err[512];
  (void)fd, (void)what;
  if (zw_daemon_stopping(o->d)) return; /* draining: the stage's work comes first */
  if (refresh(o, err, sizeof err) < 0) {
    zw_metrics_add(zw_daemon_metrics(o->d), "zwgk_errors_total", "kind=\"overdue_count\"", 1);
    if (!o->failing) zw_warn(NULL, "overdue count failed, keeping the last one: %s", err);
    o->failing = true;
  } else if (o->failing) {
    zw_info(NULL, "overdue count works again");
    o->failing = false;
  }
  /* Re-read every time, so that a SIGHUP's new interval applies from the next tick. */
  arm(o, zw_config_int(zw_daemon_config(o->d), "fanout.overdue_interval_ms"));
}

struct overdue *overdue_new(struct zw_daemon *d, const char *dsn, long connect_timeout_s, char *err,
                            size_t errlen) {
  struct overdue *o = calloc(1, sizeof *o);
  if (!o || !(o->pg = zw_pg_new(dsn, connect_timeout_s)) ||
      !(o->timer = evtimer_new(zw_daemon_base(d), on_tick, o))) {
    snprintf(err, errlen, "out of memory");
    overdue_destroy(o);
    return NULL;
  }
  o->d = d;
  struct zw_metrics *m = zw_daemon_metrics(d);
  zw_metrics_declare(m, "zwgk_deliveries_overdue", ZW_GAUGE,
                     "Releases past their due_by not delivered on a channel, by channel and status (pending, "
                     "failed)");
  zw_metrics_declare(m, "zwgk_deliveries_overdue_timestamp_seconds", ZW_GAUGE,
                     "When zwgk_deliveries_overdue was last counted, seconds since the epoch");
  arm(o, 0);
  return o;
}

void overdue_destroy(struct overdue *o) {
  if (!o) return;
  if (o->timer) event_free(o->timer);
  zw_pg_destroy(o->pg);
  free(o);
}
