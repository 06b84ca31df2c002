/* zw_tagging — the judgement on one release: which catalog item it
 * belongs to (explicit catalog_code, else the classification rules), where it
 * must appear, and by when (due_by from the working-day calendar). */
#ifndef ZW_TAGGING_H
#define ZW_TAGGING_H

#include <jansson.h>
#include <stddef.h>

#include "zw_catalog.h"
#include "zw_pg.h"
#include "zw_stage.h"

/* What tagging decided. */
struct zw_tagging {
  json_t *tags;        /* the envelope's tags (new reference) when classified */
  const char *reason;  /* review reason when not classified, else NULL */
  char detail[256];    /* human explanation for the review queue */
  int on_request;      /* item is 依申请: record, never fan out */
};

/* Tags release (the accepted body) from department dept against the catalog
 * copy cat. Returns ZW_OK with t filled (tags, or a review reason), ZW_RETRY
 * when PostgreSQL (the calendar) is unreachable,
 * or ZW_FAIL with err when the release can never be tagged as it stands (e.g.
 * the calendar year of its deadline is not loaded). */
enum zw_outcome zw_tagging_run(struct zw_pg *pg, const struct zw_catalog *cat, const json_t *release, const char *dept,
                            struct zw_tagging *t, char *err, size_t errlen);

/* Tags release against the item `code` as decided by classified_by (e.g.
 * "operator:wang"), without the rules and without the responsible-body check —
 * for a person's decision. ZW_OK with t->reason "unclassified" when the item
 * does not exist or is inactive; otherwise as zw_tagging_run. */
enum zw_outcome zw_tagging_item(struct zw_pg *pg, const struct zw_catalog *cat, const json_t *release,
                                const char *code, const char *classified_by, struct zw_tagging *t, char *err,
                                size_t errlen);

#endif
