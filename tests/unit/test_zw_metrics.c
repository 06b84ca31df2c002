/* Unit tests of zw_metrics: counters, gauges and histograms rendered in the
 * Prometheus text format, label escaping and the render-time collector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_metrics.h"

/* What a test works on; the teardown frees it, also after a failed assertion. */
struct fixture {
  struct zw_metrics *m;
  char *text; /* the last rendering */
};

static int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  *state = fx;
  fx->m = zw_metrics_new();
  return fx->m ? 0 : -1;
}

static int teardown(void **state) {
  struct fixture *fx = *state;
  zw_metrics_destroy(fx->m);
  free(fx->text);
  free(fx);
  return 0;
}

static struct zw_metrics *metrics(void **state) { return ((struct fixture *)*state)->m; }

/* Renders the fixture's registry; the text stays the fixture's. */
static const char *render(void **state) {
  struct fixture *fx = *state;
  free(fx->text);
  fx->text = zw_metrics_render(fx->m);
  assert_non_null(fx->text);
  return fx->text;
}

/* Asserts that text has a line that is exactly `line`. */
static void assert_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return;
  fail_msg("no line '%s' in:\n%s", line, text);
}

/* Position of the first line starting with prefix, or -1. */
static long line_index(const char *text, const char *prefix) {
  for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
    if (p == text || p[-1] == '\n') return p - text;
  return -1;
}

static void test_empty_registry(void **state) {
  const char *text = render(state);
  assert_string_equal(text, "");
}

static void test_counter_add(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_messages_in_total", ZW_COUNTER, "Messages consumed");
  zw_metrics_add(m, "zwgk_messages_in_total", NULL, 1);
  zw_metrics_add(m, "zwgk_messages_in_total", NULL, 2);
  const char *text = render(state);
  assert_line(text, "# HELP zwgk_messages_in_total Messages consumed");
  assert_line(text, "# TYPE zwgk_messages_in_total counter");
  assert_line(text, "zwgk_messages_in_total 3");
}

static void test_counter_fraction(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_add(m, "zwgk_bytes_total", NULL, 0.5);
  zw_metrics_add(m, "zwgk_bytes_total", NULL, 0.25);
  const char *text = render(state);
  assert_line(text, "zwgk_bytes_total 0.75");
}

static void test_undeclared_counter(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_add(m, "zwgk_errors_total", "kind=\"pg\"", 1);
  const char *text = render(state);
  assert_line(text, "# TYPE zwgk_errors_total counter");
  assert_line(text, "zwgk_errors_total{kind=\"pg\"} 1");
}

static void test_labelled_series_separate(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_messages_out_total", ZW_COUNTER, "Messages produced");
  zw_metrics_add(m, "zwgk_messages_out_total", "topic=\"zwgk.tagged\"", 2);
  zw_metrics_add(m, "zwgk_messages_out_total", "topic=\"zwgk.review\"", 5);
  zw_metrics_add(m, "zwgk_messages_out_total", "topic=\"zwgk.tagged\"", 1);
  zw_metrics_add(m, "zwgk_messages_out_total", NULL, 7);
  const char *text = render(state);
  assert_line(text, "zwgk_messages_out_total{topic=\"zwgk.tagged\"} 3");
  assert_line(text, "zwgk_messages_out_total{topic=\"zwgk.review\"} 5");
  assert_line(text, "zwgk_messages_out_total 7");
  /* One HELP and TYPE for the family, however many series. */
  const char *type = strstr(text, "# TYPE zwgk_messages_out_total");
  assert_non_null(type);
  assert_null(strstr(type + 1, "# TYPE zwgk_messages_out_total"));
}

static void test_gauge_set_replaces(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_consumer_lag", ZW_GAUGE, "Messages behind the log end");
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"0\"", 40);
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"0\"", 2);
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"1\"", 0);
  const char *text = render(state);
  assert_line(text, "# TYPE zwgk_consumer_lag gauge");
  assert_line(text, "zwgk_consumer_lag{partition=\"0\"} 2");
  assert_line(text, "zwgk_consumer_lag{partition=\"1\"} 0");
  assert_null(strstr(text, "} 40\n"));
  assert_null(strstr(text, "} 42\n"));
}

static void test_clear_drops_series_keeps_family(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_consumer_lag", ZW_GAUGE, "Messages behind the log end");
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"0\"", 5);
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"1\"", 7);
  zw_metrics_clear(m, "zwgk_consumer_lag");
  zw_metrics_set(m, "zwgk_consumer_lag", "partition=\"1\"", 3);
  zw_metrics_clear(m, "zwgk_no_such_family");
  const char *text = render(state);
  assert_line(text, "# TYPE zwgk_consumer_lag gauge");
  assert_line(text, "zwgk_consumer_lag{partition=\"1\"} 3");
  assert_int_equal(line_index(text, "zwgk_consumer_lag{partition=\"0\"}"), -1);
}

static void test_declaration_order(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_b", ZW_GAUGE, "second letter");
  zw_metrics_declare(m, "zwgk_a", ZW_COUNTER, "first letter");
  zw_metrics_declare(m, "zwgk_b", ZW_COUNTER, "declared again");
  zw_metrics_add(m, "zwgk_a", NULL, 1);
  zw_metrics_set(m, "zwgk_b", NULL, 1);
  const char *text = render(state);
  long b = line_index(text, "# HELP zwgk_b "), a = line_index(text, "# HELP zwgk_a ");
  assert_true(b >= 0 && a > b);
  assert_line(text, "# TYPE zwgk_b gauge");
  assert_line(text, "# HELP zwgk_b second letter");
}

/* Counts of le buckets of zwgk_stage_seconds{stage="classify"} in text, in order. */
static size_t bucket_counts(const char *text, unsigned long long *counts, size_t max, int *inf_last) {
  static const char prefix[] = "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"";
  size_t n = 0;
  *inf_last = 0;
  for (const char *p = text; (p = strstr(p, prefix)) != NULL && n < max; p++) {
    const char *le = p + strlen(prefix);
    const char *close = strstr(le, "\"} ");
    assert_non_null(close);
    counts[n++] = strtoull(close + 3, NULL, 10);
    *inf_last = strncmp(le, "+Inf\"", 5) == 0;
  }
  return n;
}

static void test_histogram_observe(void **state) {
  struct zw_metrics *m = metrics(state);
  const char *labels = "stage=\"classify\"";
  zw_metrics_declare(m, "zwgk_stage_seconds", ZW_HISTOGRAM, "Stage latency");
  zw_metrics_observe(m, "zwgk_stage_seconds", labels, 0.003);
  zw_metrics_observe(m, "zwgk_stage_seconds", labels, 0.005); /* on a bound: le is <= */
  zw_metrics_observe(m, "zwgk_stage_seconds", labels, 0.02);
  zw_metrics_observe(m, "zwgk_stage_seconds", labels, 7);
  zw_metrics_observe(m, "zwgk_stage_seconds", labels, 42); /* above every finite bucket */
  const char *text = render(state);
  assert_line(text, "# TYPE zwgk_stage_seconds histogram");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"0.0025\"} 0");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"0.005\"} 2");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"0.025\"} 3");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"5\"} 3");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"10\"} 4");
  assert_line(text, "zwgk_stage_seconds_bucket{stage=\"classify\",le=\"+Inf\"} 5");
  assert_line(text, "zwgk_stage_seconds_sum{stage=\"classify\"} 49.028000");
  assert_line(text, "zwgk_stage_seconds_count{stage=\"classify\"} 5");
}

static void test_histogram_buckets_cumulative(void **state) {
  struct zw_metrics *m = metrics(state);
  static const double values[] = {0.0001, 0.0007, 0.002, 0.004, 0.009, 0.03, 0.3, 0.3, 1.5, 3, 11};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
    zw_metrics_observe(m, "zwgk_stage_seconds", "stage=\"classify\"", values[i]);
  const char *text = render(state);
  unsigned long long counts[64];
  int inf_last;
  size_t n = bucket_counts(text, counts, 64, &inf_last);
  assert_true(n >= 2);
  assert_true(inf_last);
  for (size_t i = 1; i < n; i++) assert_true(counts[i] >= counts[i - 1]);
  assert_int_equal(counts[n - 1], sizeof values / sizeof values[0]);
  assert_line(text, "zwgk_stage_seconds_count{stage=\"classify\"} 11");
}

static void test_histogram_without_labels(void **state) {
  struct zw_metrics *m = metrics(state);
  zw_metrics_declare(m, "zwgk_delivery_seconds", ZW_HISTOGRAM, "Delivery latency");
  zw_metrics_observe(m, "zwgk_delivery_seconds", NULL, 0.5);
  const char *text = render(state);
  assert_line(text, "zwgk_delivery_seconds_bucket{le=\"0.25\"} 0");
  assert_line(text, "zwgk_delivery_seconds_bucket{le=\"0.5\"} 1");
  assert_line(text, "zwgk_delivery_seconds_bucket{le=\"+Inf\"} 1");
  assert_line(text, "zwgk_delivery_seconds_sum 0.500000");
  assert_line(text, "zwgk_delivery_seconds_count 1");
}

static void test_label_escapes(void **state) {
  (void)state;
  char buf[128];
  assert_ptr_equal(zw_metrics_label(buf, sizeof buf, "topic", "zwgk.tagged"), buf);
  assert_string_equal(buf, "topic=\"zwgk.tagged\"");
  zw_metrics_label(buf, sizeof buf, "detail", "say \"hi\"");
  assert_string_equal(buf, "detail=\"say \\\"hi\\\"\"");
  zw_metrics_label(buf, sizeof buf, "path", "C:\\zwgk");
  assert_string_equal(buf, "path=\"C:\\\\zwgk\"");
  zw_metrics_label(buf, sizeof buf, "msg", "line1\nline2");
  assert_string_equal(buf, "msg=\"line1\\nline2\"");
  zw_metrics_label(buf, sizeof buf, "empty", "");
  assert_string_equal(buf, "empty=\"\"");
  zw_metrics_label(buf, sizeof buf, "dept", "财政局");
  assert_string_equal(buf, "dept=\"财政局\"");
}

static void test_label_truncates_within_buffer(void **state) {
  (void)state;
  char buf[16];
  memset(buf, 'x', sizeof buf);
  zw_metrics_label(buf, sizeof buf, "topic", "a-rather-long-topic-name\"\\\n");
  assert_true(memchr(buf, '\0', sizeof buf) != NULL);
  assert_true(strncmp(buf, "topic=\"a", 8) == 0);
}

struct collector_state {
  int calls;
};

static void collect(struct zw_metrics *m, void *arg) {
  struct collector_state *cs = arg;
  cs->calls++;
  zw_metrics_set(m, "zwgk_collections", NULL, cs->calls);
}

static void test_collector_called_on_render(void **state) {
  struct zw_metrics *m = metrics(state);
  struct collector_state cs = {0};
  zw_metrics_declare(m, "zwgk_collections", ZW_GAUGE, "Renders so far");
  zw_metrics_set_collector(m, collect, &cs);
  assert_int_equal(cs.calls, 0);
  const char *text = render(state);
  assert_int_equal(cs.calls, 1);
  assert_line(text, "zwgk_collections 1");
  text = render(state);
  assert_int_equal(cs.calls, 2);
  assert_line(text, "zwgk_collections 2");
}

static void test_destroy_null(void **state) {
  (void)state;
  zw_metrics_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_empty_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counter_add, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counter_fraction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_undeclared_counter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_labelled_series_separate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gauge_set_replaces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clear_drops_series_keeps_family, setup, teardown),
      cmocka_unit_test_setup_teardown(test_declaration_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_histogram_observe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_histogram_buckets_cumulative, setup, teardown),
      cmocka_unit_test_setup_teardown(test_histogram_without_labels, setup, teardown),
      cmocka_unit_test(test_label_escapes),
      cmocka_unit_test(test_label_truncates_within_buffer),
      cmocka_unit_test_setup_teardown(test_collector_called_on_render, setup, teardown),
      cmocka_unit_test(test_destroy_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
