/* Unit tests of zw_audit_hash: the audit chain's row hash, against vectors
 * computed independently (Python hashlib) from the definition in docs/audit.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "zw_audit.h"

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

static void first_row_matches_the_documented_example(void **state) {
  char out[65];
  assert_int_equal(zw_audit_hash(zeros, "2025-03-01T08:15:30.123456Z", "operator:alice", "department.token",
                                 NULL, NULL, "{\"token_id\": 7, \"department\": \"sn-czj\"}", out),
                   0);
  assert_string_equal(out, "8e0d0812d9b3972d113f628c7fba416fe5c99cd287e70341c6b901d25cbb3e28");
}

static void chained_row_with_release_and_revision(void **state) {
  char out[65];
  assert_int_equal(zw_audit_hash("8e0d0812d9b3972d113f628c7fba416fe5c99cd287e70341c6b901d25cbb3e28",
                                 "2025-03-01T08:16:00.000001Z", "classifier", "release.tagged",
                                 "0123456789abcdef0123456789abcdef", "2", "{\"catalog_code\": \"czyjs-001\"}", out),
                   0);
  assert_string_equal(out, "f278db6488bf7baf1733e8e6110bbd61e01888dba43f4e83eab8f598af244762");
}

static void any_field_change_changes_the_hash(void **state) {
  char a[65], b[65];
  assert_int_equal(zw_audit_hash(zeros, "2025-03-01T08:15:30.123456Z", "operator:alice", "x", NULL, NULL, "{}", a), 0);
  assert_int_equal(zw_audit_hash(zeros, "2025-03-01T08:15:30.123456Z", "operator:alicf", "x", NULL, NULL, "{}", b), 0);
  assert_string_not_equal(a, b);
  assert_int_equal(zw_audit_hash(zeros, "2025-03-01T08:15:30.123457Z", "operator:alice", "x", NULL, NULL, "{}", b), 0);
  assert_string_not_equal(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(first_row_matches_the_documented_example),
      cmocka_unit_test(chained_row_with_release_and_revision),
      cmocka_unit_test(any_field_change_changes_the_hash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
