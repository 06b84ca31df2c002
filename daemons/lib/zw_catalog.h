/* zw_catalog — an in-memory copy of the standard catalog and the
 * classification rules, refreshed when PostgreSQL says they changed.
 *
 * The classifier LISTENs on the channel zwgk_catalog; triggers on every catalog
 * table NOTIFY it on any change (sql/0008). The copy is reloaded in one
 * read-only snapshot when a notification arrives and whenever the connection
 * is new (notifications sent while disconnected are lost, so a new connection
 * always reloads). */
#ifndef ZW_CATALOG_H
#define ZW_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_pg.h"
#include "zw_stage.h"

struct zw_catalog;

/* Returns an empty catalog (loaded on first refresh), or NULL when out of memory. */
struct zw_catalog *zw_catalog_new(void) __attribute__((warn_unused_result));
void zw_catalog_destroy(struct zw_catalog *cat);

/* Makes the copy current. ZW_RETRY with err when PostgreSQL cannot be read
 * (the old copy, if any, is kept but not used until a reload succeeds). */
enum zw_outcome zw_catalog_refresh(struct zw_catalog *cat, struct zw_pg *pg, char *err, size_t errlen);

/* The catalog version of the copy: the newest catalog_versions row. */
int zw_catalog_version(const struct zw_catalog *cat);

/* The active item with this code, or NULL: an object with code, domain,
 * item_l1, item_l2, column, audience, mode, level, time_limit_kind,
 * time_limit_days, channels, manual_channels and bodies (department codes).
 * Borrowed; valid until the next refresh. */
const json_t *zw_catalog_item(const struct zw_catalog *cat, const char *code);

/* True when dept is a responsible body (公开主体) of item. */
bool zw_catalog_item_has_body(const json_t *item, const char *dept);

/* The first active rule, by priority then id, whose department, doc_type and
 * title keywords match and whose item dept may publish; NULL when none. An
 * object with id and catalog_code; borrowed until the next refresh. */
const json_t *zw_catalog_match(const struct zw_catalog *cat, const char *dept, const char *doc_type, const char *title);

#endif
