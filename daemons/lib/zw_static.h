/* zw_static — files of the static sites the adapters publish (the portal, the
 * bulletin boards), written so that a reader never sees half a page. */
#ifndef ZW_STATIC_H
#define ZW_STATIC_H

#include <stddef.h>

/* Writes content (len bytes) to docroot/relpath atomically: the directories
 * are created, the bytes go to a temporary file beside it, which is fsynced
 * and renamed over the old one. Returns 0, or -1 with err (the old file, if
 * any, is left as it was). relpath must already be a safe relative path. */
int zw_static_write(const char *docroot, const char *relpath, const char *content, size_t len, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

#endif
