/* board — the bulletin's files under the document root: one directory per
 * board (bulletin/<region_code> or bulletin/all), and per notice its page
 * (<release_id>.html), a JSON sidecar with what the indexes show
 * (<release_id>.json) and, once withdrawn, a marker (<release_id>.html.gone).
 * The sidecars are the boards' only state: an index is rebuilt by reading
 * them, so the directory can be copied, rsynced or rebuilt at will. A board's
 * index lists its BOARD_INDEX_MAX newest notices (as the portal's lists do);
 * their sidecars are read from disk once per process and then kept in
 * memory, updated by board_meta_save and board_remove, so one bulletin
 * process owns a document root and its memory stays bounded per board. */
#ifndef ZWGK_BULLETIN_BOARD_H
#define ZWGK_BULLETIN_BOARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define BOARD_REGION_MAX 16 /* "all" or up to 12 digits, and the NUL */
#define BOARD_INDEX_MAX 500 /* notices a board's index lists, newest first */

struct board {
  char docroot[512]; /* bulletin.docroot, without a trailing slash */
  /* region -> {release_id -> sidecar} of the boards read so far, at most
   * the BOARD_INDEX_MAX newest of each; NULL keeps nothing and reads the
   * disk every time. */
  json_t *cache;
  /* region -> true for the cached boards that hold older notices too. */
  json_t *trimmed;
};

/* True when code matches ^[0-9]{6,12}$, the only region codes that may name a
 * directory. */
bool board_region_valid(const char *code);

/* The board directory for a payload's region_code: the code itself when
 * valid, else "all". Returns code or a static string. */
const char *board_region_of(const char *code);

/* Writes content to docroot/relpath atomically (temporary file in the same
 * directory, fsync, rename), creating directories. Returns 0 or -1 with err. */
int board_write(const struct board *b, const char *relpath, const char *content, size_t len, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/* Removes docroot/relpath; a file that is not there is not an error. Returns 0
 * or -1 with err. */
int board_remove(const struct board *b, const char *relpath, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Returns the sidecar of notice release_id on board region (a new reference),
 * or NULL when there is none or it cannot be read. */
json_t *board_meta_load(const struct board *b, const char *region, const char *release_id)
    __attribute__((warn_unused_result));

/* Writes the sidecar atomically. Returns 0 or -1 with err. */
int board_meta_save(const struct board *b, const char *region, const char *release_id, const json_t *meta,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Returns the names of the board directories, sorted (a new array of
 * strings), or NULL when out of memory. Only "all" and valid region codes
 * count; anything else found there is ignored. */
json_t *board_regions(const struct board *b) __attribute__((warn_unused_result));

/* Returns the sidecars of the BOARD_INDEX_MAX newest notices on board region
 * (by published_at, then release_id), newest first: a new array, empty when
 * the board has none, NULL when out of memory. *more is set when the board
 * holds older ones too. Unreadable sidecars are skipped with a warning. */
json_t *board_notices(const struct board *b, const char *region, bool *more) __attribute__((warn_unused_result));

/* Frees the sidecars kept in memory. */
void board_forget(struct board *b);

/* Writes the current time in China with milliseconds,
 * "YYYY-MM-DDTHH:MM:SS.mmm+08:00", and a NUL: sidecars sort by it. */
void board_now(char out[48]);

#endif
