/* zw_text — characters in UTF-8 text: checking, counting, cutting and cleaning.
 * A character here is a Unicode code point, so a CJK ideograph counts 1 and an
 * emoji made of several code points counts each of them; the channel limits in
 * docs/channels.md are counted this way. */
#ifndef ZW_TEXT_H
#define ZW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the character at the start of s, reading at most `available` bytes.
 * Returns its length in bytes (1–4) and stores it in *code_point, or returns 0
 * when s does not start with a well-formed UTF-8 sequence (truncated, overlong,
 * a surrogate, or above U+10FFFF). */
size_t zw_text_decode(const char *s, size_t available, uint32_t *code_point);

/* Returns true when s is well-formed UTF-8; otherwise false, with the offset
 * of the first bad byte in *bad_offset when bad_offset is not NULL. */
bool zw_text_is_utf8(const char *s, size_t *bad_offset);

/* Returns true when code_point may appear in an XML 1.0 document: tab, LF,
 * CR, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. */
bool zw_text_is_xml_char(uint32_t code_point);

/* Returns the number of characters in s; each ill-formed byte counts as one. */
size_t zw_text_length(const char *s);

/* Returns the byte offset in s where character number `characters` (counting
 * from 0) starts, or strlen(s) when s has fewer characters. */
size_t zw_text_offset(const char *s, size_t characters);

/* Returns true when a cut just before byte offset `at` of s would split what a
 * reader sees as one character: `at` is followed by a combining mark, a
 * variation selector, a zero width joiner, an emoji modifier or tag, or
 * preceded by a zero width joiner. */
bool zw_text_joins_at(const char *s, size_t at);

/* Returns a newly allocated copy of s as one line of plain text: ill-formed
 * bytes, control characters (C0, DEL, C1), noncharacters (U+FDD0–U+FDEF and
 * the last two code points of every plane, U+FFFE/U+FFFF among them) and
 * bidirectional override and isolate controls removed; markup removed (every
 * `<…>` that starts like a tag, comment or declaration, and script and style
 * elements with their content, so `<b>x</b>` becomes `x`); runs of white space
 * (including tab, line breaks, U+00A0 and U+3000) collapsed to one space and
 * trimmed at both ends. Caller frees; NULL when out of memory or s is NULL. */
char *zw_text_plain(const char *s) __attribute__((warn_unused_result));

/* Returns a newly allocated copy of s without what neither XML 1.0 nor HTML
 * may carry as text: ill-formed bytes, control characters other than tab, line
 * feed and carriage return (C0, DEL, C1) and noncharacters (U+FDD0–U+FDEF and
 * the last two code points of every plane). Everything else, markup and white
 * space included, stays as it is: for text that is escaped on output rather
 * than reduced to plain text. Caller frees; NULL when out of memory or s is
 * NULL. */
char *zw_text_clean(const char *s) __attribute__((warn_unused_result));

/* Returns a newly allocated copy of s that has at most `limit` characters
 * (limit ≥ 2). When s is longer: its first limit - 1 characters followed by
 * "…", where the cut moves back to just before the last of ，。；：、 , ; :
 * or a space among the last `window` of those characters if there is one, and
 * never splits a character from a mark or joiner attached to it. Caller frees;
 * NULL when out of memory. */
char *zw_text_shorten(const char *s, size_t limit, size_t window) __attribute__((warn_unused_result));

/* Returns a newly allocated copy of s without web addresses (starting with
 * http://, https://, ftp://, www. or mailto:, up to the first character that
 * cannot be part of one; trailing . , ; : ! ? ) ] are left as punctuation) and
 * e-mail addresses (local@domain.tld). Caller frees; NULL when out of memory. */
char *zw_text_without_addresses(const char *s) __attribute__((warn_unused_result));

#endif
