/* zw_file — reading a whole file, for the tools (zwgkctl's catalog import,
 * the fuzz replayer, the conformance judge). */
#ifndef ZW_FILE_H
#define ZW_FILE_H

#include <stddef.h>

/* Reads the whole file at path ("-" is standard input) into a new buffer with
 * a NUL after the last byte (caller frees); its length, without the NUL, in
 * *len. Returns NULL with err when it cannot be opened or read. */
char *zw_file_read(const char *path, size_t *len, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
