/* page — the HTML of the bulletin boards: one print-ready A4 page per notice,
 * a printable index per board and a list of boards. Valid HTML5; every text
 * escaped; the notice body inserted only after zw_html_sanitize. */
#ifndef ZWGK_BULLETIN_PAGE_H
#define ZWGK_BULLETIN_PAGE_H

#include <jansson.h>
#include <stddef.h>

#include "board.h"

/* Writes bulletin/<meta.region>/<meta.release_id>.html from the sidecar meta.
 * A withdrawn notice (meta.status "withdrawn") says 已撤回 and when, without
 * its body; otherwise body_html (may be NULL) is sanitised and inserted.
 * Returns 0 or -1 with err. */
int page_notice(const struct board *b, const json_t *meta, const char *body_html, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Rebuilds bulletin/<region>/index.html from the board's sidecars, newest
 * first, withdrawn notices marked. Returns 0 or -1 with err. */
int page_board_index(const struct board *b, const char *region, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Rebuilds bulletin/index.html, the list of boards. Returns 0 or -1 with err. */
int page_boards(const struct board *b, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
