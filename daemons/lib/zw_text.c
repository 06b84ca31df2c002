/* zw_text — UTF-8 characters for the channel limits and for plain-text fields. */
#include "zw_text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t zw_text_decode(const char *s, size_t available, uint32_t *code_point) {
  const unsigned char *u = (const unsigned char *)s;
  if (available == 0) return 0;
  size_t length;
  uint32_t cp, minimum;
  if (u[0] < 0x80) {
    *code_point = u[0];
    return 1;
  } else if ((u[0] & 0xE0) == 0xC0) {
    length = 2, cp = u[0] & 0x1F, minimum = 0x80;
  } else if ((u[0] & 0xF0) == 0xE0) {
    length = 3, cp = u[0] & 0x0F, minimum = 0x800;
  } else if ((u[0] & 0xF8) == 0xF0) {
    length = 4, cp = u[0] & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (available < length) return 0;
  for (size_t i = 1; i < length; i++) {
    if ((u[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (u[i] & 0x3F);
  }
  if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

bool zw_text_is_utf8(const char *s, size_t *bad_offset) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t length = zw_text_decode(s + i, n - i, &cp);
    if (length == 0) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    i += length;
  }
  return true;
}

bool zw_text_is_xml_char(uint32_t cp) {
  return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Length in bytes of the character at s, 1 for an ill-formed byte. */
static size_t step(const char *s, size_t available) {
  uint32_t cp;
  size_t length = zw_text_decode(s, available, &cp);
  return length ? length : 1;
}

size_t zw_text_length(const char *s) {
  size_t n = strlen(s), count = 0;
  for (size_t i = 0; i < n; i += step(s + i, n - i)) count++;
  return count;
}

size_t zw_text_offset(const char *s, size_t characters) {
  size_t n = strlen(s), i = 0;
  for (; i < n && characters > 0; characters--) i += step(s + i, n - i);
  return i;
}

/* Characters that attach to the one before them. */
static bool attaches(uint32_t cp) {
  return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE20 && cp <= 0xFE2F) || cp == 0x200D ||
         (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

bool zw_text_joins_at(const char *s, size_t at) {
  size_t n = strlen(s);
  if (at == 0 || at >= n) return false;
  uint32_t cp;
  if (zw_text_decode(s + at, n - at, &cp) && attaches(cp)) return true;
  /* A zero width joiner (E2 80 8D) just before the cut. */
  return at >= 3 && memcmp(s + at - 3, "\xE2\x80\x8D", 3) == 0;
}

/* Returns the end of the markup starting at s[0] == '<', or NULL when what
 * follows is not markup (a lone '<' as in "a < b"). */
static const char *markup_end(const char *s) {
  if (strncmp(s, "<!--", 4) == 0) {
    const char *end = strstr(s + 4, "-->");
    return end ? end + 3 : s + strlen(s);
  }
  if (!(isalpha((unsigned char)s[1]) || s[1] == '/' || s[1] == '!' || s[1] == '?')) return NULL;
  const char *end = strchr(s, '>');
  if (!end) return s + 1; /* an unclosed tag start: drop the '<' so nothing can complete it */
  static const char *const raw[] = {"script", "style", NULL};
  for (const char *const *name = raw; *name; name++) {
    size_t length = strlen(*name);
    if (strncasecmp(s + 1, *name, length) == 0 && !isalnum((unsigned char)s[1 + length])) {
      /* The element's content is code, not text: skip to its closing tag. */
      for (const char *p = end + 1; (p = strchr(p, '<')) != NULL; p++)
        if (p[1] == '/' && strncasecmp(p + 2, *name, length) == 0) {
          const char *close = strchr(p, '>');
          return close ? close + 1 : p + strlen(p);
        }
      return end + strlen(end);
    }
  }
  return end + 1;
}

static bool is_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x3000 || cp == 0x2028 ||
         cp == 0x2029;
}

/* Noncharacters: U+FDD0–U+FDEF and the last two code points of every plane. */
static bool is_noncharacter(uint32_t cp) { return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE; }

/* Characters that XML 1.0 does not allow, or that HTML reports as parse
 * errors (control characters, noncharacters): never written into a page,
 * a feed or an alert. */
static bool unfit_for_markup(uint32_t cp) {
  return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F) ||
         is_noncharacter(cp);
}

/* Characters that are never part of a plain-text field. */
static bool removed(uint32_t cp) {
  return cp < 0x20 || unfit_for_markup(cp) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

char *zw_text_clean(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s), used = 0;
  char *out = malloc(n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t length = zw_text_decode(s + i, n - i, &cp);
    if (length == 0) {
      i++;
      continue;
    }
    if (!unfit_for_markup(cp)) {
      memcpy(out + used, s + i, length);
      used += length;
    }
    i += length;
  }
  out[used] = '\0';
  return out;
}

char *zw_text_plain(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s), used = 0;
  char *out = malloc(n + 1);
  if (!out) return NULL;
  bool pending_space = false;
  for (size_t i = 0; i < n;) {
    if (s[i] == '<') {
      const char *end = markup_end(s + i);
      if (end) {
        i = (size_t)(end - s);
        continue;
      }
    }
    uint32_t cp;
    size_t length = zw_text_decode(s + i, n - i, &cp);
    if (length == 0) {
      i++;
      continue;
    }
    if (is_space(cp)) {
      pending_space = used > 0;
    } else if (!removed(cp)) {
      if (pending_space) out[used++] = ' ';
      pending_space = false;
      memcpy(out + used, s + i, length);
      used += length;
    }
    i += length;
  }
  out[used] = '\0';
  return out;
}

/* Where a shortened text may end: just before one of these. */
static bool is_break(uint32_t cp) {
  return cp == 0xFF0C /* ， */ || cp == 0x3002 /* 。 */ || cp == 0xFF1B /* ； */ || cp == 0xFF1A /* ： */ ||
         cp == 0x3001 /* 、 */ || cp == ',' || cp == ';' || cp == ':' || cp == ' ' || cp == 0x3000;
}

char *zw_text_shorten(const char *s, size_t limit, size_t window) {
  if (!s || limit < 2) return NULL;
  if (zw_text_length(s) <= limit) return strdup(s);
  size_t n = strlen(s), cut = zw_text_offset(s, limit - 1);
  /* The last break among the last `window` characters before the cut. */
  size_t window_start = zw_text_offset(s, limit - 1 > window ? limit - 1 - window : 0);
  for (size_t i = window_start; i < cut; i += step(s + i, n - i)) {
    uint32_t cp;
    if (i > 0 && zw_text_decode(s + i, n - i, &cp) && is_break(cp)) cut = i;
  }
  if (cut == zw_text_offset(s, limit - 1)) {
    /* No break: a plain cut, moved back so that no mark is left without its base. */
    while (cut > 0 && zw_text_joins_at(s, cut)) {
      do cut--;
      while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80);
    }
  }
  while (cut > 0 && s[cut - 1] == ' ') cut--;
  char *out = malloc(cut + sizeof "…");
  if (!out) return NULL;
  memcpy(out, s, cut);
  memcpy(out + cut, "…", sizeof "…");
  return out;
}

static bool starts_with_nocase(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Characters a web address may contain (RFC 3986, plus % escapes). */
static bool in_url(char c) {
  return isalnum((unsigned char)c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static bool in_email_local(char c) { return isalnum((unsigned char)c) || (c && strchr("._%+-", c) != NULL); }

static bool in_domain(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-'; }

/* Byte length of the web address starting at s, or 0. */
static size_t url_at(const char *s) {
  static const char *const prefixes[] = {"http://", "https://", "ftp://", "www.", "mailto:", NULL};
  const char *const *prefix = prefixes;
  while (*prefix && !starts_with_nocase(s, *prefix)) prefix++;
  if (!*prefix) return 0;
  size_t n = strlen(*prefix);
  while (in_url(s[n])) n++;
  while (n > strlen(*prefix) && strchr(".,;:!?)]'", s[n - 1])) n--;
  return n;
}

/* For an '@' at s[at], the e-mail address around it as [*start, *end). */
static bool email_at(const char *s, size_t at, size_t *start, size_t *end) {
  size_t b = at, e = at + 1;
  while (b > 0 && in_email_local(s[b - 1])) b--;
  while (in_domain(s[e])) e++;
  while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) e--;
  const char *dot = NULL;
  for (size_t i = at + 1; i < e; i++)
    if (s[i] == '.') dot = s + i;
  if (b == at || !dot || s + e - dot < 3) return false;
  for (const char *p = dot + 1; p < s + e; p++)
    if (!isalpha((unsigned char)*p)) return false;
  *start = b, *end = e;
  return true;
}

char *zw_text_without_addresses(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s), used = 0;
  char *out = malloc(n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < n;) {
    bool word_start = i == 0 || !isalnum((unsigned char)s[i - 1]);
    size_t url = word_start ? url_at(s + i) : 0;
    size_t start, end;
    if (url) {
      i += url;
    } else if (s[i] == '@' && email_at(s, i, &start, &end) && used >= i - start) {
      used -= i - start; /* the local part was already copied */
      i = end;
    } else {
      out[used++] = s[i++];
    }
  }
  out[used] = '\0';
  return out;
}
