/* outputs — what the classifier writes: the revision's record in PostgreSQL,
 * and the tagged or review envelope on Kafka. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "zw_envelope.h"
#include "zw_log.h"
#include "zw_privacy.h"

/* Records the revision and its outcome; idempotent for a redelivered record. */
enum zw_outcome classifier_record(struct classifier *c, const json_t *env, const char *content_sha,
                              const char *source, const json_t *tags, const char *status, char *err,
                              size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  char rev[16], pgerr[512];
  bool transient;
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  char *tags_text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
  json_t *version = tags ? json_object_get(tags, "catalog_version") : NULL;
  char version_text[24] = "";
  if (version) snprintf(version_text, sizeof version_text, "%lld", (long long)json_integer_value(version));
  const char *params[] = {zw_envelope_release_id(env), rev, zw_envelope_action(env),
                          json_string_value(json_object_get(release, "doc_type")),
                          json_string_value(json_object_get(release, "title")), content_sha,
                          tags ? json_string_value(json_object_get(tags, "catalog_code")) : NULL,
                          version ? version_text : NULL, tags_text, status, source,
                          json_string_value(json_object_get(json_object_get(env, "ingest"), "received_at")),
                          json_string_value(json_object_get(release, "interprets"))};
  int rc = zw_pg_run(c->pg,
                     "INSERT INTO release_revisions (release_id, revision, action, doc_type, title, "
                     "  content_sha256, catalog_code, catalog_version, tags, status, classified_from, "
                     "  received_at, interprets, classified_at) "
                     "VALUES ($1, $2::int, $3, $4, $5, $6, $7, $8::int, $9::jsonb, $10, $11, $12::timestamptz, $13, "
                     "  now()) "
                     "ON CONFLICT (release_id, revision) DO UPDATE SET catalog_code = EXCLUDED.catalog_code, "
                     "  catalog_version = EXCLUDED.catalog_version, tags = EXCLUDED.tags, "
                     "  status = EXCLUDED.status, classified_from = EXCLUDED.classified_from, "
                     "  classified_at = EXCLUDED.classified_at",
                     13, params, &transient, pgerr, sizeof pgerr);
  free(tags_text);
  if (rc == 0) {
    const char *p2[] = {zw_envelope_release_id(env), rev};
    rc = zw_pg_run(c->pg, "UPDATE releases SET latest_revision = greatest(latest_revision, $2::int) "
                          "WHERE release_id = $1", 2, p2, &transient, pgerr, sizeof pgerr);
  }
  return rc < 0 ? zw_stage_pg_failed(transient, pgerr, err, errlen) : ZW_OK;
}

/* Holds the release for a person: review queue row and a zwgk.review message. */
enum zw_outcome classifier_review(struct classifier *c, struct zw_stage *st, const json_t *env,
                                      const char *reason, const char *detail, char *err, size_t errlen) {
  json_t *out = zw_envelope_derive(env, "zwgk.review.v1");
  json_object_set_new(out, "review", json_pack("{s:[s], s:s}", "reasons", reason, "detail", detail));
  char *text = json_dumps(out, JSON_COMPACT), rev[16], reasons[64], pgerr[512];
  snprintf(rev, sizeof rev, "%d", zw_envelope_revision(env));
  snprintf(reasons, sizeof reasons, "{%s}", reason);
  const char *params[] = {zw_envelope_release_id(env), rev, reasons, detail, text};
  bool transient;
  int rc = zw_pg_run(c->pg,
                     "INSERT INTO review_queue (release_id, revision, reasons, detail, envelope) "
                     "VALUES ($1, $2::int, $3::text[], $4, $5::jsonb) ON CONFLICT (release_id, revision) DO NOTHING",
                     5, params, &transient, pgerr, sizeof pgerr);
  free(text);
  enum zw_outcome o = rc < 0 ? zw_stage_pg_failed(transient, pgerr, err, errlen) : ZW_OK;
  if (o == ZW_OK && zw_stage_emit(st, "review", out, err, errlen) < 0) o = ZW_RETRY;
  if (o == ZW_OK) zw_info(zw_envelope_release_id(env), "held for review: %s (%s)", reason, detail);
  json_decref(out);
  return o;
}

/* Emits the tagged envelope with the text cleared for publication. */
enum zw_outcome classifier_tagged(struct zw_stage *st, const json_t *env, json_t *tags, char *err,
                                   size_t errlen) {
  const json_t *release = zw_envelope_release(env);
  json_t *out = zw_envelope_derive(env, "zwgk.tagged.v1");
  json_object_set(out, "tags", tags);
  json_t *pub = zw_privacy_public(release, NULL);
  if (!pub) {
    json_decref(out);
    snprintf(err, errlen, "out of memory screening the text");
    return ZW_RETRY;
  }
  json_object_set_new(out, "public", pub);
  enum zw_outcome o = zw_stage_emit(st, "tagged", out, err, errlen) < 0 ? ZW_RETRY : ZW_OK;
  json_decref(out);
  return o;
}

/* A withdrawal carries the tags of the last tagged revision, so it can follow it. */
enum zw_outcome classifier_previous_tags(struct classifier *c, const json_t *env, json_t **tags, char *err,
                                     size_t errlen) {
  const char *params[] = {zw_envelope_release_id(env)};
  char pgerr[512];
  bool transient;
  PGresult *res = zw_pg_exec(c->pg,
                             "SELECT tags::text FROM release_revisions WHERE release_id = $1 "
                             "AND tags IS NOT NULL ORDER BY revision DESC LIMIT 1",
                             1, params, &transient, pgerr, sizeof pgerr);
  if (!res) return zw_stage_pg_failed(transient, pgerr, err, errlen);
  *tags = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
  PQclear(res);
  return ZW_OK;
}
