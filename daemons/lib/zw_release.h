/* zw_release — validation of a release against release.v1 (schemas/release.v1.json),
 * done in C on the ingest path. Every violation is reported, each with the JSON
 * Pointer of the offending member. */
#ifndef ZW_RELEASE_H
#define ZW_RELEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Validates release; returns the number of violations and, when details is not
 * NULL, appends one {"path", "message"} object per violation to it. */
size_t zw_release_validate(const json_t *release, json_t *details);

/* True when name is a top-level member of release.v1 (source_id, title, ...). */
bool zw_release_is_member(const char *name);

/* Length of a UTF-8 string in code points (characters). */
size_t zw_utf8_length(const char *s, size_t bytes);

/* True when s is an RFC 3339 date-time with a mandatory offset of at most
 * 14:59 hours (upper-case T and Z, optional fraction, valid calendar date, year
 * 0001 or later, no leap second). */
bool zw_rfc3339_valid(const char *s);

#endif
