/* zw_privacy — a scanner over UTF-8 that finds resident ID, mobile and bank
 * card numbers by shape and check digit and masks them in place of a copy.
 * The rules and the decisions behind them are in zw_privacy.h. */
#include "zw_privacy.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { MAX_DIGITS = 24, MAX_GROUPS = 6, CHECK_X = 10, MASKED = -2 };

/* One character as the scanner sees it. An asterisk is a masked digit: it
 * belongs to the number it stands in but never to a finding, so a masked text
 * reads as the same numbers with some digits unknown, and masking it again
 * finds nothing new. */
enum unit_class { UNIT_OTHER, UNIT_DIGIT, UNIT_MASK, UNIT_LETTER };
struct unit {
  enum unit_class cls;
  int value;    /* 0–9 for a digit, CHECK_X for X or x, MASKED for * and ＊, -1 otherwise */
  size_t width; /* bytes: 1, or 3 for a full-width form */
};

/* A run of digit groups joined by one kind of separator, as read from the text:
 * "13812345678", "138 1234 5678", "6222-0212-3456-7894". */
struct number {
  size_t start, end; /* bytes of the whole sequence */
  size_t ngroups, ndigits;
  bool overflow;  /* more groups or digits than are recorded */
  bool ends_in_x; /* the last group ends in the check character X */
  unsigned char group_len[MAX_GROUPS];
  signed char digit[MAX_DIGITS]; /* 0–9, CHECK_X, MASKED */
  size_t at[MAX_DIGITS];         /* byte offset of each digit */
  unsigned char width[MAX_DIGITS];
};

/* What one finding is and which of its digits are masked: [from, to). */
struct finding {
  enum zw_privacy_kind kind;
  size_t from, to;
};

/* One screening pass: the text, where the masked copy goes (NULL to count
 * only), the counts and today's date as YYYYMMDD. */
struct scanner {
  const char *s;
  char *out;
  struct zw_privacy_counts counts;
  long today;
};

/* ---- characters ---- */

/* The character at s[i], not reading at or past end. */
static struct unit unit_at(const char *s, size_t end, size_t i) {
  unsigned char c = (unsigned char)s[i];
  if (c >= '0' && c <= '9') return (struct unit){UNIT_DIGIT, c - '0', 1};
  if (c == 'X' || c == 'x') return (struct unit){UNIT_LETTER, CHECK_X, 1};
  if (c == '*') return (struct unit){UNIT_MASK, MASKED, 1};
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return (struct unit){UNIT_LETTER, -1, 1};
  if (c == 0xEF && i + 2 < end) {
    unsigned char b = (unsigned char)s[i + 1], t = (unsigned char)s[i + 2];
    if (b == 0xBC && t >= 0x90 && t <= 0x99) return (struct unit){UNIT_DIGIT, t - 0x90, 3}; /* ０–９ */
    if (b == 0xBC && t == 0x8A) return (struct unit){UNIT_MASK, MASKED, 3};                 /* ＊ */
    if (b == 0xBC && t >= 0xA1 && t <= 0xBA) return (struct unit){UNIT_LETTER, t == 0xB8 ? CHECK_X : -1, 3};
    if (b == 0xBD && t >= 0x81 && t <= 0x9A) return (struct unit){UNIT_LETTER, t == 0x98 ? CHECK_X : -1, 3};
  }
  return (struct unit){UNIT_OTHER, -1, 1};
}

/* The class of the character that ends just before byte q (begin is the start
 * of the slice). Looking back is safe in UTF-8: an ASCII byte is always a whole
 * character, and 0xEF can only lead a three-byte one. */
static enum unit_class class_before(const char *s, size_t begin, size_t q) {
  if (q <= begin) return UNIT_OTHER;
  struct unit u = unit_at(s, q, q - 1);
  if (u.cls != UNIT_OTHER || q - begin < 3) return u.cls;
  u = unit_at(s, q, q - 3);
  return u.width == 3 ? u.cls : UNIT_OTHER;
}

/* The masking character for a full-width digit. */
static const char wide_star[] = "\xEF\xBC\x8A"; /* ＊ */

/* Joins the groups of a number: 138 1234 5678, 138-1234-5678. */
static bool is_separator(char c) { return c == ' ' || c == '-'; }

/* ---- validators over digit values ---- */

/* A number made of the digits d[0..n). */
static long digits_value(const signed char *d, size_t n) {
  long v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + d[i];
  return v;
}

static bool all_decimal(const signed char *d, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (d[i] < 0 || d[i] > 9) return false;
  return true;
}

/* Province codes of GB/T 2260, and 81–83 of the residence permits. */
static bool province_ok(const signed char *d) {
  static const struct {
    int lo, hi;
  } provinces[] = {{11, 15}, {21, 23}, {31, 37}, {41, 46}, {50, 54}, {61, 65}, {81, 83}};
  long code = digits_value(d, 2);
  for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
    if (code >= provinces[i].lo && code <= provinces[i].hi) return true;
  return false;
}

static bool date_ok(long year, long month, long day, long today) {
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > days[month - 1]) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return false;
  return year * 10000 + month * 100 + day <= today;
}

/* True when the 18 digits d have a province code and a birth date, whatever
 * their check character. */
static bool id_shaped(const signed char *d, long today) {
  return all_decimal(d, 14) && province_ok(d) &&
         date_ok(digits_value(d + 6, 4), digits_value(d + 10, 2), digits_value(d + 12, 2), today);
}

/* ISO 7064 MOD 11-2 over the first 17 digits. */
static bool id_check_ok(const signed char *d) {
  static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static const int check[11] = {1, 0, CHECK_X, 9, 8, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (size_t i = 0; i < 17; i++) sum += d[i] * weights[i];
  return d[17] == check[sum % 11];
}

static bool id18_ok(const signed char *d, long today) {
  return all_decimal(d, 17) && id_shaped(d, today) && id_check_ok(d);
}

/* First-generation 15-digit number: region, YYMMDD of 19YY, three digits. */
static bool id15_ok(const signed char *d, long today) {
  return all_decimal(d, 15) && province_ok(d) &&
         date_ok(1900 + digits_value(d + 6, 2), digits_value(d + 8, 2), digits_value(d + 10, 2), today);
}

static bool mobile_ok(const signed char *d) { return all_decimal(d, 11) && d[0] == 1 && d[1] >= 3; }

static bool luhn_ok(const signed char *d, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++) {
    int v = d[n - 1 - i];
    if (i % 2 == 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return sum % 10 == 0;
}

/* GB 32100 check of an all-digit unified social credit code: registration
 * authority, category, a region code, and the MOD 31 check character. */
static bool credit_code_ok(const signed char *d) {
  static const int weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  if (d[0] == 0 || !province_ok(d + 2)) return false;
  int sum = 0;
  for (size_t i = 0; i < 17; i++) sum += d[i] * weights[i];
  return d[17] == (31 - sum % 31) % 31;
}

static bool card_ok(const signed char *d, size_t n, long today) {
  if (n < 16 || n > 19 || !all_decimal(d, n)) return false;
  bool iin = (d[0] >= 3 && d[0] <= 6) || digits_value(d, 4) == 9558 || digits_value(d, 4) == 9559;
  if (!iin || !luhn_ok(d, n)) return false;
  return n != 18 || !(id_shaped(d, today) || credit_code_ok(d));
}

/* ---- reading numbers ---- */

static bool digit_or_mask(enum unit_class cls) { return cls == UNIT_DIGIT || cls == UNIT_MASK; }

/* Returns the end of the run of letters, digits and asterisks at p; numeric
 * tells whether it is digits and asterisks, optionally ending in one X. */
static size_t run_end(const char *s, size_t end, size_t p, bool *numeric) {
  bool x_seen = false;
  *numeric = digit_or_mask(unit_at(s, end, p).cls);
  while (p < end) {
    struct unit u = unit_at(s, end, p);
    if (u.cls == UNIT_OTHER) break;
    if (x_seen || (u.cls == UNIT_LETTER && u.value != CHECK_X)) *numeric = false;
    x_seen = x_seen || u.cls == UNIT_LETTER;
    p += u.width;
  }
  return p;
}

/* Appends the digits of the numeric run [p, q) to n as one group. */
static void append_group(struct number *n, const char *s, size_t p, size_t q) {
  size_t count = 0;
  while (p < q) {
    struct unit u = unit_at(s, q, p);
    if (n->ndigits < MAX_DIGITS) {
      n->digit[n->ndigits] = (signed char)u.value;
      n->at[n->ndigits] = p;
      n->width[n->ndigits] = (unsigned char)u.width;
    }
    n->ndigits++;
    count++;
    n->ends_in_x = u.value == CHECK_X;
    p += u.width;
  }
  if (n->ngroups < MAX_GROUPS) n->group_len[n->ngroups] = (unsigned char)(count < 255 ? count : 255);
  n->ngroups++;
  n->overflow = n->ngroups > MAX_GROUPS || n->ndigits > MAX_DIGITS;
}

/* Reads the number at p: its first run and, when joined by ' ' or '-' (the
 * same one throughout), the numeric runs that follow, up to limit groups.
 * Returns false when the run at p is not numeric; n->end is then its end. */
static bool read_number(const char *s, size_t end, size_t p, size_t limit, struct number *n) {
  bool numeric;
  size_t q = run_end(s, end, p, &numeric);
  memset(n, 0, sizeof *n);
  n->start = p;
  n->end = q;
  if (!numeric) return false;
  append_group(n, s, p, q);
  char sep = 0;
  while (n->ngroups < limit && !n->ends_in_x && q + 1 < end && is_separator(s[q]) && (!sep || s[q] == sep) &&
         digit_or_mask(unit_at(s, end, q + 1).cls)) {
    size_t r = run_end(s, end, q + 1, &numeric);
    if (!numeric) break;
    sep = s[q];
    append_group(n, s, q + 1, r);
    q = r;
  }
  n->end = q;
  return true;
}

/* ---- classifying ---- */

static bool found(struct finding *f, enum zw_privacy_kind kind, size_t from, size_t to) {
  *f = (struct finding){kind, from, to};
  return true;
}

/* The digits d[0..len) of a single run, judged by their length. */
static bool judge_run(const signed char *d, size_t len, long today, struct finding *f) {
  if (len == 18 && id18_ok(d, today)) return found(f, ZW_PRIVACY_ID_CARD, 6, 14);
  if (len == 15 && id15_ok(d, today)) return found(f, ZW_PRIVACY_ID_CARD, 6, 11);
  if (len == 11 && mobile_ok(d)) return found(f, ZW_PRIVACY_MOBILE, 3, 7);
  if (len == 13 && digits_value(d, 2) == 86 && mobile_ok(d + 2)) return found(f, ZW_PRIVACY_MOBILE, 5, 9);
  if (len == 15 && digits_value(d, 4) == 86 && mobile_ok(d + 4)) return found(f, ZW_PRIVACY_MOBILE, 7, 11);
  if (card_ok(d, len, today)) return found(f, ZW_PRIVACY_BANK_CARD, 0, len - 4);
  return false;
}

/* A single run. Asterisks at its ends are not part of the number
 * (**13812345678**, a footnote mark); one inside makes it a masked number,
 * which the validators reject. */
static bool classify_run(const struct number *n, long today, struct finding *f) {
  size_t lead = 0, len = n->ndigits;
  if (n->overflow) return false;
  while (lead < len && n->digit[lead] == MASKED) lead++;
  while (len > lead && n->digit[len - 1] == MASKED) len--;
  if (!judge_run(n->digit + lead, len - lead, today, f)) return false;
  f->from += lead;
  f->to += lead;
  return true;
}

static bool groups_are(const struct number *n, size_t count, const unsigned char *lens) {
  return n->ngroups == count && memcmp(n->group_len, lens, count) == 0;
}

/* Groups of 4 and a last group of 1–4. */
static bool card_grouped(const struct number *n) {
  for (size_t i = 0; i + 1 < n->ngroups; i++)
    if (n->group_len[i] != 4) return false;
  return n->group_len[n->ngroups - 1] <= 4;
}

/* Several groups, judged by their grouping. */
static bool classify_groups(const struct number *n, long today, struct finding *f) {
  const signed char *d = n->digit;
  if (n->overflow) return false;
  if (groups_are(n, 3, (const unsigned char[]){3, 4, 4}) && mobile_ok(d)) return found(f, ZW_PRIVACY_MOBILE, 3, 7);
  if (groups_are(n, 3, (const unsigned char[]){6, 8, 4}) && id18_ok(d, today))
    return found(f, ZW_PRIVACY_ID_CARD, 6, 14);
  if (groups_are(n, 3, (const unsigned char[]){6, 6, 3}) && id15_ok(d, today))
    return found(f, ZW_PRIVACY_ID_CARD, 6, 11);
  if (card_grouped(n) && card_ok(d, n->ndigits, today)) return found(f, ZW_PRIVACY_BANK_CARD, 0, n->ndigits - 4);
  return false;
}

/* ---- screening ---- */

static void apply(struct scanner *sc, const struct number *n, const struct finding *f) {
  sc->counts.n[f->kind]++;
  if (!sc->out) return;
  for (size_t i = f->from; i < f->to; i++) {
    if (n->width[i] == 3)
      memcpy(sc->out + n->at[i], wide_star, 3);
    else
      sc->out[n->at[i]] = '*';
  }
}

static bool decimal_after(const char *s, size_t end, size_t q) {
  return q + 1 < end && s[q] == '.' && unit_at(s, end, q + 1).cls == UNIT_DIGIT;
}

/* True when the first group of n is 86 or 0086 and more groups follow. */
static bool country_code_first(const struct number *n) {
  size_t len = n->group_len[0];
  return n->ngroups >= 2 && (len == 2 || len == 4) && all_decimal(n->digit, len) && digits_value(n->digit, len) == 86;
}

/* "+86 138-1234-5678": 86 or 0086, a separator, then a mobile with its own
 * grouping. Returns the end of the mobile, or 0 when n does not start so. */
static size_t screen_prefixed_mobile(struct scanner *sc, size_t end, const struct number *n) {
  if (!country_code_first(n)) return 0;
  size_t last = n->group_len[0] - 1;
  struct number m;
  if (!read_number(sc->s, end, n->at[last] + n->width[last] + 1, SIZE_MAX, &m) || decimal_after(sc->s, end, m.end))
    return 0;
  bool grouping = m.ngroups == 1 || groups_are(&m, 3, (const unsigned char[]){3, 4, 4});
  if (!grouping || m.overflow || m.ndigits != 11 || !mobile_ok(m.digit)) return 0;
  apply(sc, &m, &(struct finding){ZW_PRIVACY_MOBILE, 3, 7});
  return m.end;
}

/* A group of 5 or more digits stands alone; shorter ones are the pieces of a
 * grouped number, so a grouped pattern next to one is part of something
 * longer (6222 0212 3456 7890 1234 is not a card). */
enum { LONE_GROUP = 5 };

/* A decimal point with a digit beyond it at either end of a sequence: the
 * group there is part of a decimal (13812345678.50, 120.13812345678). */
struct edges {
  bool dot_before, dot_after;
};

static struct edges edges_of(const char *s, size_t begin, size_t end, const struct number *n) {
  size_t p = n->start;
  struct edges e = {.dot_after = decimal_after(s, end, n->end)};
  e.dot_before = p >= begin + 2 && s[p - 1] == '.' && class_before(s, begin, p - 1) == UNIT_DIGIT;
  return e;
}

/* Tries the grouped patterns (3-4-4, 6-8-4, 6-6-3, cards: 3 to 5 groups) at p,
 * inside the sequence n; returns the end of a finding, or 0. The caller has
 * checked the group before p. */
static size_t screen_pattern_at(struct scanner *sc, size_t end, const struct number *n, size_t p,
                                const struct edges *e) {
  for (size_t count = 5; count >= 3; count--) {
    struct number w, next;
    struct finding f;
    read_number(sc->s, end, p, count, &w);
    if (w.ngroups != count || (w.end == n->end && e->dot_after)) continue;
    if (w.end < n->end && read_number(sc->s, end, w.end + 1, 1, &next) && next.ndigits < LONE_GROUP) continue;
    if (!classify_groups(&w, sc->today, &f)) continue;
    apply(sc, &w, &f);
    return w.end;
  }
  return 0;
}

/* Screens a sequence of several groups: grouped patterns where they stand
 * between lone groups or the ends, and every other group on its own. */
static void screen_groups(struct scanner *sc, size_t end, const struct number *n, const struct edges *e) {
  bool after_lone = !e->dot_before;
  for (size_t p = n->start; p < n->end;) {
    size_t q = after_lone ? screen_pattern_at(sc, end, n, p, e) : 0;
    if (q) {
      after_lone = false;
      p = q + 1;
      continue;
    }
    struct number g;
    struct finding f;
    read_number(sc->s, end, p, 1, &g);
    bool in_decimal = (p == n->start && e->dot_before) || (g.end == n->end && e->dot_after);
    if (!in_decimal && classify_run(&g, sc->today, &f)) apply(sc, &g, &f);
    after_lone = g.ndigits >= LONE_GROUP;
    p = g.end + 1;
  }
}

/* Screens the number that starts at p, a boundary; returns where it ends. */
static size_t screen_number(struct scanner *sc, size_t begin, size_t end, size_t p) {
  struct number n;
  struct finding f;
  if (!read_number(sc->s, end, p, SIZE_MAX, &n)) return n.end;
  struct edges e = edges_of(sc->s, begin, end, &n);
  size_t q = e.dot_before ? 0 : screen_prefixed_mobile(sc, end, &n);
  if (q) return q;
  if (n.ngroups > 1)
    screen_groups(sc, end, &n, &e);
  else if (!e.dot_before && !e.dot_after && classify_run(&n, sc->today, &f))
    apply(sc, &n, &f);
  return n.end;
}

static bool starts_with_nocase(const char *s, size_t p, size_t end, const char *prefix) {
  size_t len = strlen(prefix);
  return end - p >= len && strncasecmp(s + p, prefix, len) == 0;
}

/* Returns the end of the word at p: a URL (skipped whole, see the header) or
 * a run of letters and digits that starts with a letter. */
static size_t skip_word(const char *s, size_t end, size_t p) {
  bool url = starts_with_nocase(s, p, end, "http://") || starts_with_nocase(s, p, end, "https://") ||
             starts_with_nocase(s, p, end, "www.");
  if (!url) {
    bool numeric;
    return run_end(s, end, p, &numeric);
  }
  while (p < end) {
    unsigned char c = (unsigned char)s[p];
    if (c <= ' ' || c >= 0x7F || strchr("<>\"'()[]{},", c)) break;
    p++;
  }
  return p;
}

/* Screens the text s[begin, end); its ends are boundaries. Words and numbers
 * are consumed whole, so each one starts at a boundary. */
static void screen_slice(struct scanner *sc, size_t begin, size_t end) {
  size_t p = begin;
  while (p < end) {
    struct unit u = unit_at(sc->s, end, p);
    if (u.cls == UNIT_OTHER)
      p += u.width;
    else if (u.cls == UNIT_LETTER)
      p = skip_word(sc->s, end, p);
    else
      p = screen_number(sc, begin, end, p); /* a digit or an asterisk */
  }
}

/* ---- HTML ---- */

/* Returns the position of needle in s[p, end) (ASCII case ignored), or end. */
static size_t find_nocase(const char *s, size_t p, size_t end, const char *needle) {
  for (; p < end; p++)
    if (starts_with_nocase(s, p, end, needle)) return p;
  return end;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

static bool name_is(const char *s, size_t p, size_t q, const char *name) {
  return q - p == strlen(name) && strncasecmp(s + p, name, q - p) == 0;
}

/* Reads one attribute at p inside a start tag, screening the value of alt and
 * title; returns the position after it. */
static size_t screen_attribute(struct scanner *sc, size_t p, size_t end) {
  const char *s = sc->s;
  size_t name = p;
  while (p < end && !is_space(s[p]) && s[p] != '=' && s[p] != '>' && s[p] != '/') p++;
  bool shown = name_is(s, name, p, "alt") || name_is(s, name, p, "title");
  size_t q = p;
  while (q < end && is_space(s[q])) q++;
  if (q >= end || s[q] != '=') return p == name ? p + 1 : p;
  for (q++; q < end && is_space(s[q]); q++) continue;
  size_t value = q, value_end;
  if (q < end && (s[q] == '"' || s[q] == '\'')) {
    value++;
    value_end = q + 1;
    while (value_end < end && s[value_end] != s[q]) value_end++;
    q = value_end < end ? value_end + 1 : end;
  } else {
    while (q < end && !is_space(s[q]) && s[q] != '>') q++;
    value_end = q;
  }
  if (shown) screen_slice(sc, value, value_end);
  return q;
}

/* Reads the start tag at p ("<" and a letter); returns the position after it,
 * or, for script and style, the position of their end tag, so that their
 * content is skipped. */
static size_t screen_start_tag(struct scanner *sc, size_t p, size_t end) {
  const char *s = sc->s;
  size_t name = ++p;
  while (p < end && !is_space(s[p]) && s[p] != '>' && s[p] != '/') p++;
  const char *raw = name_is(s, name, p, "script") ? "</script" : name_is(s, name, p, "style") ? "</style" : NULL;
  while (p < end && s[p] != '>') {
    if (is_space(s[p]) || s[p] == '/')
      p++;
    else
      p = screen_attribute(sc, p, end);
  }
  if (p < end) p++;
  return raw ? find_nocase(s, p, end, raw) : p;
}

static bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Returns the end of the markup at p (s[p] is '<'), screening what is shown
 * in it; p itself when the '<' is text. */
static size_t screen_markup(struct scanner *sc, size_t p, size_t end) {
  const char *s = sc->s;
  if (starts_with_nocase(s, p, end, "<!--")) {
    size_t close = find_nocase(s, p + 4, end, "-->");
    screen_slice(sc, p + 4, close);
    return close < end ? close + 3 : end;
  }
  char next = p + 1 < end ? s[p + 1] : '\0';
  if (ascii_letter(next)) return screen_start_tag(sc, p, end);
  if (next == '!' || next == '?' || (next == '/' && p + 2 < end && ascii_letter(s[p + 2]))) {
    size_t close = find_nocase(s, p, end, ">");
    return close < end ? close + 1 : end;
  }
  return p;
}

static void screen_html(struct scanner *sc, size_t end) {
  size_t text = 0;
  for (size_t p = 0; p < end;) {
    size_t q = sc->s[p] == '<' ? screen_markup(sc, p, end) : p;
    if (q == p) {
      p++;
      continue;
    }
    screen_slice(sc, text, p);
    p = text = q;
  }
  screen_slice(sc, text, end);
}

/* ---- public ---- */

/* Today in Beijing time as YYYYMMDD: no one is born later. */
static long today_in_beijing(void) {
  time_t now = time(NULL) + 8 * 3600;
  struct tm tm;
  if (!gmtime_r(&now, &tm)) return 99991231;
  return (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1L) * 100 + tm.tm_mday;
}

static void screen(struct scanner *sc, bool html) {
  size_t len = strlen(sc->s);
  sc->today = today_in_beijing();
  if (html)
    screen_html(sc, len);
  else
    screen_slice(sc, 0, len);
}

static void add_counts(struct zw_privacy_counts *to, const struct zw_privacy_counts *from) {
  if (!to) return;
  for (size_t i = 0; i < ZW_PRIVACY_KINDS; i++) to->n[i] += from->n[i];
}

static char *mask(const char *text, bool html, struct zw_privacy_counts *counts) {
  assert(text);
  struct scanner sc = {.s = text, .out = strdup(text)};
  if (!sc.out) return NULL;
  screen(&sc, html);
  add_counts(counts, &sc.counts);
  return sc.out;
}

const char *zw_privacy_kind_name(enum zw_privacy_kind kind) {
  switch (kind) {
    case ZW_PRIVACY_ID_CARD: return "id_card";
    case ZW_PRIVACY_MOBILE: return "mobile";
    case ZW_PRIVACY_BANK_CARD: return "bank_card";
    default: return NULL;
  }
}

size_t zw_privacy_total(const struct zw_privacy_counts *counts) {
  size_t total = 0;
  for (size_t i = 0; i < ZW_PRIVACY_KINDS; i++) total += counts->n[i];
  return total;
}

char *zw_privacy_mask_text(const char *text, struct zw_privacy_counts *counts) { return mask(text, false, counts); }

char *zw_privacy_mask_html(const char *html, struct zw_privacy_counts *counts) { return mask(html, true, counts); }

void zw_privacy_scan(const char *text, bool html, struct zw_privacy_counts *counts) {
  assert(text && counts);
  struct scanner sc = {.s = text};
  screen(&sc, html);
  add_counts(counts, &sc.counts);
}

json_t *zw_privacy_public(const json_t *release, struct zw_privacy_counts *counts) {
  static const char *const fields[] = {"title", "summary", "body"};
  struct zw_privacy_counts ignored = {{0}};
  json_t *pub = json_object();
  for (size_t i = 0; pub && i < 3; i++) {
    const char *text = json_string_value(json_object_get(release, fields[i]));
    if (!text) continue;
    char *masked = i == 2 ? zw_privacy_mask_html(text, counts ? counts : &ignored)
                          : zw_privacy_mask_text(text, counts ? counts : &ignored);
    if (!masked || json_object_set_new(pub, fields[i], json_string(masked)) < 0) {
      json_decref(pub);
      pub = NULL;
    }
    free(masked);
  }
  return pub;
}

json_t *zw_privacy_redactions(const struct zw_privacy_counts *counts) {
  json_t *list = json_array();
  for (int k = 0; list && k < ZW_PRIVACY_KINDS; k++)
    if (counts->n[k])
      json_array_append_new(list, json_pack("{s:s, s:I}", "kind", zw_privacy_kind_name((enum zw_privacy_kind)k),
                                            "count", (json_int_t)counts->n[k]));
  return list;
}

bool zw_privacy_doc_type_listed(const char *list, const char *doc_type) {
  size_t n = doc_type ? strlen(doc_type) : 0;
  for (const char *p = list; n && p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
    p += strspn(p, " ");
    if (strncmp(p, doc_type, n) == 0 && (p[n] == ',' || p[n] == ' ' || p[n] == '\0')) return true;
  }
  return false;
}
