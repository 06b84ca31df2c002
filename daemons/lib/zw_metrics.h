/* zw_metrics — one registry per daemon, rendered in the Prometheus text format.
 * Single-threaded: every call comes from the daemon's event loop. */
#ifndef ZW_METRICS_H
#define ZW_METRICS_H

#include <stddef.h>

enum zw_metric_type { ZW_COUNTER, ZW_GAUGE, ZW_HISTOGRAM };

struct zw_metrics;

/* Returns an empty registry; caller owns it. */
struct zw_metrics *zw_metrics_new(void) __attribute__((warn_unused_result));
void zw_metrics_destroy(struct zw_metrics *m);

/* Declares a metric family. Families are rendered in declaration order; using an
 * undeclared name declares it untyped-as-counter without help. */
void zw_metrics_declare(struct zw_metrics *m, const char *name, enum zw_metric_type type,
                        const char *help);

/* labels is the inside of {…} already formatted, e.g. "topic=\"zwgk.tagged\"", or
 * NULL for none. Label values must be escaped by the caller (zw_metrics_label). */
void zw_metrics_add(struct zw_metrics *m, const char *name, const char *labels, double v);
void zw_metrics_set(struct zw_metrics *m, const char *name, const char *labels, double v);
/* Drops every series of a family (a gauge whose label sets come and go, like
 * the partitions a consumer holds), before a collector sets the current ones. */
void zw_metrics_clear(struct zw_metrics *m, const char *name);
/* Records one observation, in seconds, in the family's latency buckets. */
void zw_metrics_observe(struct zw_metrics *m, const char *name, const char *labels, double v);

/* A function called before each render, to refresh gauges (e.g. consumer lag). */
typedef void (*zw_metrics_collect_fn)(struct zw_metrics *m, void *arg);
void zw_metrics_set_collector(struct zw_metrics *m, zw_metrics_collect_fn fn, void *arg);

/* Formats key="value" with the value escaped for the text format into buf. */
const char *zw_metrics_label(char *buf, size_t len, const char *key, const char *value);

/* Returns the text exposition; caller frees it with free(). NULL when out of memory. */
char *zw_metrics_render(struct zw_metrics *m) __attribute__((warn_unused_result));

#endif
