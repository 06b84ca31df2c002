/* zw_envelope — release identity, trace context and the Kafka envelope that
 * every topic carries (CONTRACT §1, §3). Stages add members; they never rewrite
 * what an earlier stage wrote. */
#ifndef ZW_ENVELOPE_H
#define ZW_ENVELOPE_H

#include <jansson.h>
#include <stddef.h>

#define ZW_RELEASE_ID_LEN 32
#define ZW_TRACE_ID_LEN 32
#define ZW_SPAN_ID_LEN 16
#define ZW_TRACEPARENT_LEN 55

/* Writes release_id = hex of the first 16 bytes of SHA-256(department "\n"
 * source_id) as 32 lowercase hex digits and a NUL into out. */
void zw_release_id(const char *department, const char *source_id, char out[ZW_RELEASE_ID_LEN + 1]);

/* Writes the SHA-256 of data as 64 lowercase hex digits and a NUL. */
void zw_sha256_hex(const void *data, size_t len, char out[65]);

/* True when s is exactly 32 lowercase hex digits. */
int zw_is_release_id(const char *s);

/* Fills a fresh random trace id (32 hex) and span id (16 hex). Returns 0 or -1. */
int zw_trace_new(char trace_id[ZW_TRACE_ID_LEN + 1], char span_id[ZW_SPAN_ID_LEN + 1])
    __attribute__((warn_unused_result));

/* Formats a W3C traceparent "00-<trace>-<span>-01" into out (56 bytes). */
void zw_traceparent_format(char out[ZW_TRACEPARENT_LEN + 1], const char *trace_id,
                           const char *span_id);

/* Extracts the trace id of a traceparent header value (not NUL-terminated, len
 * bytes). Returns 0, or -1 when it is not a valid version-00 traceparent. */
int zw_traceparent_parse(const char *value, size_t len, char trace_id[ZW_TRACE_ID_LEN + 1]);

/* Writes the current UTC time as RFC 3339 with milliseconds ("…T…:….123Z"). */
void zw_timestamp_now(char out[32]);

/* Serialises the producer's envelope (schema zwgk.release.v1) for an accepted
 * release as compact JSON text. raw (raw_len bytes) is the request body that was
 * parsed into release and validated; it is embedded byte for byte as the
 * "release" member, so the accepted body is kept exactly as sent and is not
 * serialised a second time on the ingest path. revision and action are taken
 * from release. Returns a NUL-terminated string the caller frees, or NULL when
 * out of memory. */
char *zw_envelope_serialize(const json_t *release, const char *raw, size_t raw_len, const char *release_id,
                            const char *received_at, const char *department, const char *producer,
                            const char *trace_id) __attribute__((warn_unused_result));

/* Parses one message value into an envelope, checking the members every stage
 * relies on: schema (string), release_id (32 hex), revision (integer ≥ 1),
 * action, ingest (object), release (object). Returns a new reference or NULL
 * with err naming what is wrong. */
json_t *zw_envelope_parse(const void *data, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Returns a deep copy of env with its schema member set to `schema`: the start
 * of the next stage's envelope. NULL when out of memory. */
json_t *zw_envelope_derive(const json_t *env, const char *schema) __attribute__((warn_unused_result));

/* Accessors for members zw_envelope_parse checked; never NULL on a parsed one. */
const char *zw_envelope_release_id(const json_t *env);
int zw_envelope_revision(const json_t *env);
const char *zw_envelope_action(const json_t *env);
/* The "release" object, borrowed; NULL if absent. */
json_t *zw_envelope_release(const json_t *env);

#endif
