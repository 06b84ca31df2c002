/* zw_metrics — counters, gauges and latency histograms for /metrics. */
#include "zw_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets in seconds, from sub-millisecond stage work to slow deliveries. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define BUCKET_COUNT (sizeof buckets / sizeof buckets[0])

struct series {
  char *labels; /* "" when none */
  double value; /* counter/gauge value, or histogram sum */
  unsigned long long count;
  unsigned long long bucket_counts[BUCKET_COUNT];
};

struct family {
  char *name;
  char *help;
  enum zw_metric_type type;
  struct series *series;
  size_t nseries;
};

struct zw_metrics {
  struct family *families;
  size_t nfamilies;
  zw_metrics_collect_fn collect;
  void *collect_arg;
};

struct zw_metrics *zw_metrics_new(void) { return calloc(1, sizeof(struct zw_metrics)); }

void zw_metrics_destroy(struct zw_metrics *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nfamilies; i++) {
    for (size_t j = 0; j < m->families[i].nseries; j++) free(m->families[i].series[j].labels);
    free(m->families[i].series);
    free(m->families[i].name);
    free(m->families[i].help);
  }
  free(m->families);
  free(m);
}

static struct family *find_family(struct zw_metrics *m, const char *name) {
  for (size_t i = 0; i < m->nfamilies; i++)
    if (strcmp(m->families[i].name, name) == 0) return &m->families[i];
  return NULL;
}

static struct family *add_family(struct zw_metrics *m, const char *name, enum zw_metric_type type,
                                 const char *help) {
  struct family *grown = realloc(m->families, (m->nfamilies + 1) * sizeof *grown);
  if (!grown) return NULL;
  m->families = grown;
  struct family *f = &m->families[m->nfamilies];
  memset(f, 0, sizeof *f);
  f->name = strdup(name);
  f->help = strdup(help ? help : name);
  f->type = type;
  if (!f->name || !f->help) {
    free(f->name);
    free(f->help);
    return NULL;
  }
  m->nfamilies++;
  return f;
}

void zw_metrics_declare(struct zw_metrics *m, const char *name, enum zw_metric_type type,
                        const char *help) {
  if (!find_family(m, name)) (void)add_family(m, name, type, help);
}

static struct series *find_series(struct zw_metrics *m, const char *name, const char *labels,
                                  enum zw_metric_type type) {
  struct family *f = find_family(m, name);
  if (!f && !(f = add_family(m, name, type, NULL))) return NULL;
  if (!labels) labels = "";
  for (size_t i = 0; i < f->nseries; i++)
    if (strcmp(f->series[i].labels, labels) == 0) return &f->series[i];
  struct series *grown = realloc(f->series, (f->nseries + 1) * sizeof *grown);
  if (!grown) return NULL;
  f->series = grown;
  struct series *s = &f->series[f->nseries];
  memset(s, 0, sizeof *s);
  if (!(s->labels = strdup(labels))) return NULL;
  f->nseries++;
  return s;
}

void zw_metrics_add(struct zw_metrics *m, const char *name, const char *labels, double v) {
  struct series *s = find_series(m, name, labels, ZW_COUNTER);
  if (s) s->value += v;
}

void zw_metrics_set(struct zw_metrics *m, const char *name, const char *labels, double v) {
  struct series *s = find_series(m, name, labels, ZW_GAUGE);
  if (s) s->value = v;
}

void zw_metrics_clear(struct zw_metrics *m, const char *name) {
  struct family *f = find_family(m, name);
  if (!f) return;
  for (size_t i = 0; i < f->nseries; i++) free(f->series[i].labels);
  free(f->series);
  f->series = NULL;
  f->nseries = 0;
}

void zw_metrics_observe(struct zw_metrics *m, const char *name, const char *labels, double v) {
  struct series *s = find_series(m, name, labels, ZW_HISTOGRAM);
  if (!s) return;
  s->value += v;
  s->count++;
  for (size_t i = 0; i < BUCKET_COUNT; i++)
    if (v <= buckets[i]) s->bucket_counts[i]++;
}

void zw_metrics_set_collector(struct zw_metrics *m, zw_metrics_collect_fn fn, void *arg) {
  m->collect = fn;
  m->collect_arg = arg;
}

const char *zw_metrics_label(char *buf, size_t len, const char *key, const char *value) {
  size_t pos = (size_t)snprintf(buf, len, "%s=\"", key);
  for (const char *p = value; *p && pos + 3 < len; p++) {
    if (*p == '\\' || *p == '"') buf[pos++] = '\\', buf[pos++] = *p;
    else if (*p == '\n') buf[pos++] = '\\', buf[pos++] = 'n';
    else buf[pos++] = *p;
  }
  if (pos + 2 <= len) buf[pos++] = '"';
  buf[pos < len ? pos : len - 1] = '\0';
  return buf;
}

static void render_histogram(FILE *out, const struct family *f, const struct series *s) {
  const char *sep = *s->labels ? "," : "";
  for (size_t i = 0; i < BUCKET_COUNT; i++)
    fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, s->labels, sep, buckets[i],
            s->bucket_counts[i]);
  fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep, s->count);
  fprintf(out, "%s_sum%s%s%s %.6f\n", f->name, *s->labels ? "{" : "", s->labels,
          *s->labels ? "}" : "", s->value);
  fprintf(out, "%s_count%s%s%s %llu\n", f->name, *s->labels ? "{" : "", s->labels,
          *s->labels ? "}" : "", s->count);
}

char *zw_metrics_render(struct zw_metrics *m) {
  if (m->collect) m->collect(m, m->collect_arg);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return NULL;
  static const char *type_names[] = {"counter", "gauge", "histogram"};
  for (size_t i = 0; i < m->nfamilies; i++) {
    const struct family *f = &m->families[i];
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_names[f->type]);
    for (size_t j = 0; j < f->nseries; j++) {
      const struct series *s = &f->series[j];
      if (f->type == ZW_HISTOGRAM) render_histogram(out, f, s);
      else if (*s->labels) fprintf(out, "%s{%s} %.17g\n", f->name, s->labels, s->value);
      else fprintf(out, "%s %.17g\n", f->name, s->value);
    }
  }
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
