/* cmd_department — departments and their ingest credentials (CONTRACT §2, §6).
 * Every change is written together with its audit record, in one transaction. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "zw_audit.h"
#include "zw_envelope.h"

#define TOKEN_PREFIX "zwgk_"
#define TOKEN_BYTES 32
#define TOKEN_LEN (sizeof TOKEN_PREFIX - 1 + 2 * TOKEN_BYTES)

static const char list_sql[] =
    "SELECT d.code, d.name, d.region_code, r.name, "
    "count(t.id) FILTER (WHERE t.revoked_at IS NULL) "
    "FROM departments d "
    "LEFT JOIN regions r ON r.code = d.region_code "
    "LEFT JOIN department_tokens t ON t.department_code = d.code "
    "GROUP BY d.code, d.name, d.region_code, r.name ORDER BY d.code";

/* A new department, or a new name (and, when given, region) for an existing one. */
static const char add_sql[] =
    "INSERT INTO departments (code, name, region_code) VALUES ($1, $2, $3) "
    "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
    "region_code = coalesce(EXCLUDED.region_code, departments.region_code) "
    "RETURNING xmax = 0, region_code";

static const char exists_sql[] = "SELECT 1 FROM departments WHERE code = $1 FOR SHARE";

static const char token_sql[] =
    "INSERT INTO department_tokens (department_code, token_sha256) VALUES ($1, $2) RETURNING id";

static const char revoke_sql[] =
    "UPDATE department_tokens SET revoked_at = now() "
    "WHERE department_code = $1 AND revoked_at IS NULL RETURNING id";

/* A column value, or NULL for SQL NULL. */
static const char *value_or_null(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static json_t *list_to_json(const PGresult *res) {
  json_t *departments = json_array();
  for (int r = 0; departments && r < PQntuples(res); r++) {
    json_t *row = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "code", PQgetvalue(res, r, 0), "name",
                            PQgetvalue(res, r, 1), "region_code", value_or_null(res, r, 2),
                            "region_name", value_or_null(res, r, 3), "live_tokens",
                            (json_int_t)strtoll(PQgetvalue(res, r, 4), NULL, 10));
    if (json_array_append_new(departments, row) < 0) {
      json_decref(departments);
      return NULL;
    }
  }
  return departments ? json_pack("{s:o}", "departments", departments) : NULL;
}

static int print_list(const PGresult *res) {
  static const char *const headers[] = {"CODE", "NAME", "REGION", "TOKENS"};
  struct ctl_table *t = ctl_table_new(4, headers);
  if (!t) return ctl_fail("out of memory");
  ctl_table_align_right(t, 3);
  int rc = CTL_OK;
  for (int r = 0; r < PQntuples(res) && rc == CTL_OK; r++) {
    char region[512];
    const char *code = value_or_null(res, r, 2), *name = value_or_null(res, r, 3);
    snprintf(region, sizeof region, "%s%s%s", code ? code : "-", name ? " " : "", name ? name : "");
    const char *cells[] = {PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), region,
                           PQgetvalue(res, r, 4)};
    if (ctl_table_add(t, cells) < 0) rc = ctl_fail("out of memory");
  }
  if (rc == CTL_OK) ctl_table_print(t, stdout);
  ctl_table_destroy(t);
  return rc;
}

int cmd_department_list(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char err[1024];
  bool transient;
  if (ctl_parse_args(argc, argv, NULL, 0, 0, &args) < 0) return CTL_USAGE;
  if (!ctl_pg(ctl, err, sizeof err)) return ctl_fail("%s", err);
  PGresult *res = zw_pg_exec(ctl->pg, list_sql, 0, NULL, &transient, err, sizeof err);
  if (!res) return ctl_fail("department list: %s", err);
  int rc;
  if (ctl->json) {
    json_t *out = list_to_json(res);
    rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
    json_decref(out);
  } else {
    rc = print_list(res);
  }
  PQclear(res);
  return rc;
}

/* Audits one change inside the open transaction; detail is stolen. */
static int audit(struct ctl *ctl, const char *action, json_t *detail, char *err, size_t errlen) {
  if (!detail) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = zw_audit_append(ctl->pg, ctl->actor, action, NULL, 0, detail, err, errlen);
  json_decref(detail);
  return rc;
}

/* Upserts the department and audits it; *created tells which it was. */
static int add_department(struct ctl *ctl, const char *const params[3], bool *created,
                          char *err, size_t errlen) {
  bool transient;
  PGresult *res = zw_pg_exec(ctl->pg, add_sql, 3, params, &transient, err, errlen);
  if (!res) return -1;
  *created = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  json_t *detail = json_pack("{s:s, s:s, s:s?, s:b}", "department", params[0], "name", params[1],
                             "region_code", value_or_null(res, 0, 1), "created", *created);
  PQclear(res);
  return audit(ctl, "department.add", detail, err, errlen);
}

int cmd_department_add(struct ctl *ctl, int argc, char **argv) {
  static const char *const options[] = {"--region", NULL};
  struct ctl_args args;
  char err[1024];
  bool created = false;
  if (ctl_parse_args(argc, argv, options, 2, 2, &args) < 0) return CTL_USAGE;
  const char *const params[3] = {args.positional[0], args.positional[1], args.option[0]};
  if (!ctl_pg(ctl, err, sizeof err) || ctl_begin(ctl, err, sizeof err) < 0)
    return ctl_fail("%s", err);
  if (add_department(ctl, params, &created, err, sizeof err) < 0 ||
      ctl_commit(ctl, err, sizeof err) < 0) {
    ctl_rollback(ctl);
    return ctl_fail("department add %s: %s", params[0], err);
  }
  if (!ctl->json) {
    printf("%s department %s (%s)\n", created ? "added" : "updated", params[0], params[1]);
    return CTL_OK;
  }
  json_t *out = json_pack("{s:s, s:s, s:b}", "department", params[0], "name", params[1], "created",
                          created);
  int rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
  json_decref(out);
  return rc;
}

/* Locks the department's row against removal; 0 when it exists, -1 with err. */
static int require_department(struct ctl *ctl, const char *code, char *err, size_t errlen) {
  bool transient;
  const char *const params[] = {code};
  PGresult *res = zw_pg_exec(ctl->pg, exists_sql, 1, params, &transient, err, errlen);
  if (!res) return -1;
  int found = PQntuples(res);
  PQclear(res);
  if (!found) snprintf(err, errlen, "unknown department '%s' (see zwgkctl department list)", code);
  return found ? 0 : -1;
}

/* Fills token with "zwgk_" and 64 lowercase hex digits of fresh random bytes. */
static int new_token(char token[TOKEN_LEN + 1], char *err, size_t errlen) {
  unsigned char bytes[TOKEN_BYTES];
  static const char digits[] = "0123456789abcdef";
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    snprintf(err, errlen, "no random bytes available for the token");
    return -1;
  }
  memcpy(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
  char *hex = token + sizeof TOKEN_PREFIX - 1;
  for (size_t i = 0; i < sizeof bytes; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  hex[2 * TOKEN_BYTES] = '\0';
  OPENSSL_cleanse(bytes, sizeof bytes);
  return 0;
}

/* Stores the token's hash and audits its id (never the token). */
static int store_token(struct ctl *ctl, const char *code, const char *token, char *err,
                       size_t errlen) {
  bool transient;
  char sha[65];
  zw_sha256_hex(token, strlen(token), sha);
  const char *const params[] = {code, sha};
  PGresult *res = zw_pg_exec(ctl->pg, token_sql, 2, params, &transient, err, errlen);
  if (!res) return -1;
  json_int_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  json_t *detail = json_pack("{s:s, s:I}", "department", code, "token_id", id);
  return audit(ctl, "department.token", detail, err, errlen);
}

static int print_token(struct ctl *ctl, const char *code, const char *token) {
  if (!ctl->json) {
    printf("%s\nThis token for department %s is shown only once; zwgk keeps only its hash.\n",
           token, code);
    return CTL_OK;
  }
  json_t *out = json_pack("{s:s, s:s}", "department", code, "token", token);
  int rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
  json_decref(out);
  return rc;
}

int cmd_department_token(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char err[1024], token[TOKEN_LEN + 1];
  int rc = CTL_FAILED;
  if (ctl_parse_args(argc, argv, NULL, 1, 1, &args) < 0) return CTL_USAGE;
  const char *code = args.positional[0];
  if (!ctl_pg(ctl, err, sizeof err) || ctl_begin(ctl, err, sizeof err) < 0) {
    ctl_fail("%s", err);
    goto out;
  }
  if (require_department(ctl, code, err, sizeof err) < 0 ||
      new_token(token, err, sizeof err) < 0 || store_token(ctl, code, token, err, sizeof err) < 0 ||
      ctl_commit(ctl, err, sizeof err) < 0) {
    ctl_rollback(ctl);
    ctl_fail("department token %s: %s", code, err);
    goto out;
  }
  rc = print_token(ctl, code, token);
out:
  OPENSSL_cleanse(token, sizeof token);
  return rc;
}

/* Revokes the live tokens and audits their ids; *count is how many. */
static int revoke_tokens(struct ctl *ctl, const char *code, size_t *count, char *err,
                         size_t errlen) {
  bool transient;
  const char *const params[] = {code};
  PGresult *res = zw_pg_exec(ctl->pg, revoke_sql, 1, params, &transient, err, errlen);
  if (!res) return -1;
  json_t *ids = json_array();
  *count = (size_t)PQntuples(res);
  for (int r = 0; ids && r < PQntuples(res); r++)
    json_array_append_new(ids, json_integer(strtoll(PQgetvalue(res, r, 0), NULL, 10)));
  PQclear(res);
  json_t *detail = ids ? json_pack("{s:s, s:o}", "department", code, "token_ids", ids) : NULL;
  return audit(ctl, "department.revoke", detail, err, errlen);
}

int cmd_department_revoke(struct ctl *ctl, int argc, char **argv) {
  struct ctl_args args;
  char err[1024];
  size_t count = 0;
  if (ctl_parse_args(argc, argv, NULL, 1, 1, &args) < 0) return CTL_USAGE;
  const char *code = args.positional[0];
  if (!ctl_pg(ctl, err, sizeof err) || ctl_begin(ctl, err, sizeof err) < 0)
    return ctl_fail("%s", err);
  if (require_department(ctl, code, err, sizeof err) < 0 ||
      revoke_tokens(ctl, code, &count, err, sizeof err) < 0 ||
      ctl_commit(ctl, err, sizeof err) < 0) {
    ctl_rollback(ctl);
    return ctl_fail("department revoke %s: %s", code, err);
  }
  if (!ctl->json) {
    printf("revoked %zu token%s of department %s\n", count, count == 1 ? "" : "s", code);
    return CTL_OK;
  }
  json_t *out = json_pack("{s:s, s:I}", "department", code, "revoked", (json_int_t)count);
  int rc = out ? ctl_print_json(out) : ctl_fail("out of memory");
  json_decref(out);
  return rc;
}
