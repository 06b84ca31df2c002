/* zwgk-classifier — shared state and the writes every decision ends in. */
#ifndef ZWGK_CLASSIFIER_H
#define ZWGK_CLASSIFIER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_catalog.h"
#include "zw_daemon.h"
#include "zw_pg.h"
#include "zw_privacy.h"
#include "zw_stage.h"

struct classifier {
  struct zw_daemon *d;
  struct zw_pg *pg;
  struct zw_catalog *catalog;
  bool due_open; /* a PostgreSQL transaction of the scheduled pass is open */
};

/* Records the revision with its status (received, tagged, review, recorded,
 * ignored) and tags (may be NULL) in release_revisions, idempotently. */
enum zw_outcome classifier_record(struct classifier *c, const json_t *env, const char *content_sha,
                                  const char *source, const json_t *tags, const char *status, char *err,
                                  size_t errlen);

/* Holds the release for a person: a review_queue row and a zwgk.review
 * envelope with one reason and its detail. */
enum zw_outcome classifier_review(struct classifier *c, struct zw_stage *st, const json_t *env, const char *reason,
                                  const char *detail, char *err, size_t errlen);

/* Emits env with tags as zwgk.tagged, with its public text: always the masked
 * text of zw_privacy_public, never the release as sent. */
enum zw_outcome classifier_tagged(struct zw_stage *st, const json_t *env, json_t *tags, char *err, size_t errlen);

/* Sets *tags to the tags of the release's last tagged revision (new reference),
 * or NULL when none was tagged. */
enum zw_outcome classifier_previous_tags(struct classifier *c, const json_t *env, json_t **tags, char *err,
                                         size_t errlen);

/* The 三同步 rule for a tagged release: a policy waits for its interpretation
 * (held with reason interpretation_pending) and an interpretation for its
 * policy; when the second of a pair arrives both are tagged in this one
 * transaction. Sets *handled when it recorded and emitted (or held) the
 * release itself; otherwise the caller tags it as usual. */
enum zw_outcome pairing_run(struct classifier *c, struct zw_stage *st, const json_t *env, const char *content_sha,
                            const char *source, json_t *tags, bool *handled, char *err, size_t errlen);

/* The scheduled pass (a zw_stage_due_fn): policies held for their
 * interpretation longer than classifier.interpretation_grace_days working days
 * are escalated to a person once — a new zwgk.review message, the review row
 * marked escalated, an audit entry — in a PostgreSQL transaction that
 * pairing_settle commits after the Kafka transaction. */
enum zw_outcome pairing_escalate(void *arg, struct zw_stage *st, char *err, size_t errlen);

/* Commits (committed) or rolls back the scheduled pass's PostgreSQL work. */
void pairing_settle(void *arg, bool committed);

#endif
