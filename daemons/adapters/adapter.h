/* adapter.h — the one interface every channel adapter implements, and the
 * runner that drives it.
 *
 * The runner consumes zwgk.channel.<channel> read_committed, calls deliver or
 * withdraw, records the delivery row and attempt in PostgreSQL and writes a
 * receipt to zwgk.receipts, all before the consumed offset commits (in the
 * stage's Kafka transaction). Each callback returns ZW_OK, ZW_RETRY (transient:
 * the work is redone after a backoff) or ZW_FAIL (permanent: the delivery is
 * recorded as failed and the item dead-lettered). */
#ifndef ZWGK_ADAPTER_H
#define ZWGK_ADAPTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zw_daemon.h"
#include "zw_pg.h"
#include "zw_stage.h"

/* One work item, as the adapter sees it. */
struct zw_delivery {
  const char *release_id;
  int revision;
  const char *action;    /* publish, update or withdraw */
  const json_t *env;     /* the whole channel envelope, borrowed */
  const json_t *payload; /* env.channel.payload, borrowed */
  /* What earlier attempts at this (release_id, revision, channel) saved with
   * zw_delivery_save, e.g. a WeChat media_id: always an object, owned by the
   * runner; the adapter adds to it. */
  json_t *progress;
  /* The revision of this release last delivered on this channel before this
   * work item, or NULL: {revision, external_id, url, progress}, borrowed. An
   * update replaces that copy; a withdrawal removes it. */
  const json_t *previous;
  char external_id[256]; /* filled by deliver: the channel's id of the copy */
  char url[1024];        /* filled by deliver: where the public sees it */
  /* Set by an adapter returning ZW_RETRY when the channel said how long to
   * wait (a quota); 0 = the runner's own backoff. */
  double retry_after_s;
  void *runner; /* the runner's; not for adapters */
};

/* Saves dv->progress in PostgreSQL at once, before the adapter goes on, so
 * that an attempt after a crash finds what the channel already holds and does
 * not make a second copy. Returns 0, or -1 with err. */
int zw_delivery_save(struct zw_delivery *dv, char *err, size_t errlen) __attribute__((warn_unused_result));

struct zw_adapter_ops {
  const char *channel; /* "portal"; also the daemon's config section */
  /* Builds the adapter's state; pg is borrowed and lives as long as the state. */
  void *(*init)(struct zw_daemon *d, struct zw_pg *pg, char *err, size_t errlen);
  enum zw_outcome (*deliver)(void *state, struct zw_delivery *dv, char *err, size_t errlen);
  enum zw_outcome (*withdraw)(void *state, struct zw_delivery *dv, char *err, size_t errlen);
  /* Accepts NULL and a half-built state. */
  void (*destroy)(void *state);
  /* May be NULL: called after each batch of deliveries, before its receipts
   * are committed, to render once what many deliveries touched (a column
   * page, a board's index); what it could not do waits for the next call. */
  void (*flush)(void *state);
  /* True when doing a work item twice leaves the channel as doing it once
   * (a page or notice rewritten in place): the runner may then keep a whole
   * batch's PostgreSQL work in one transaction (pg.batch_transactions),
   * redoing the batch after a crash. False for a remote channel, where what
   * it holds must be saved before the next step. */
  bool redo_safe;
};

/* Runs an adapter daemon: flags and config, admin listener, the stage loop.
 * Returns the process exit code. */
int zw_adapter_main(const struct zw_adapter_ops *ops, int argc, char **argv);

#endif
