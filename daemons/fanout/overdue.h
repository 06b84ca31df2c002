/* overdue — the zwgk_deliveries_overdue gauge: work items on an automated
 * channel that the public has not got although their disclosure deadline
 * (tags.due_by) has passed, counted in PostgreSQL every
 * fanout.overdue_interval_ms. */
#ifndef ZWGK_FANOUT_OVERDUE_H
#define ZWGK_FANOUT_OVERDUE_H

#include "zw_daemon.h"

struct overdue;

/* Declares the gauges on d's registry and arms the timer; the first count runs
 * as soon as the loop does. The collector keeps a PostgreSQL connection of its
 * own (dsn), so it never runs inside the stage's batch transaction. Returns
 * the collector (caller owns it, d must outlive it), or NULL with err. */
struct overdue *overdue_new(struct zw_daemon *d, const char *dsn, long connect_timeout_s, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

/* Stops the timer and closes the connection; accepts NULL. */
void overdue_destroy(struct overdue *o);

#endif
