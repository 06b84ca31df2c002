/* zw_privacy — finds the personal data that must not be published in clear
 * (CONTRACT §4, MISSION "personal privacy ... de-identification"): resident ID
 * numbers, mainland mobile numbers and bank card numbers in a release's title,
 * summary and body, and masks them or counts them for the hold policy.
 *
 * What is recognised
 *
 *  Resident ID (居民身份证号), 18 characters: 17 digits and a check character
 *  (digit, X or x) that satisfies ISO 7064 MOD 11-2; the first two digits a
 *  province code (11–15, 21–23, 31–37, 41–46, 50–54, 61–65) or 81/82/83, the
 *  codes of the residence permits for Hong Kong, Macao and Taiwan residents,
 *  which use the same format. 71 (Taiwan in GB/T 2260) is not accepted: no
 *  number is issued under it. Digits 7–14 are a birth date from 1900-01-01 to
 *  today (Beijing time). Also the 15-digit first-generation form: region code,
 *  YYMMDD read as 19YY, three digits, no check digit. Masked keeping the first 6
 *  and last 4: 110101********1234, 370202*****1234.
 *
 *  Mobile: 11 digits 1[3-9]xxxxxxxxx, optionally after +86, 86 or 0086 (joined
 *  or followed by one space or hyphen). Grouped 3-4-4 with one space or one
 *  hyphen used in both places (138 1234 5678, 138-1234-5678) is recognised;
 *  other groupings (3-8, 4-3-4, mixed separators) are not. Masked keeping the
 *  first 3 and last 4 of the national number: 138****5678, +86 138-****-5678.
 *  Shape decides: an 11-digit amount such as 13800000000元 is masked too.
 *
 *  Bank card: 16–19 digits passing Luhn whose first digit is 3–6 (UnionPay 62
 *  and 60, and the Visa, Mastercard and JCB ranges Chinese banks also issue) or
 *  whose first four are 9558 or 9559 (the pre-UnionPay ICBC and ABC debit
 *  ranges); contiguous, or in groups of 4 with one space or one hyphen and a
 *  last group of 1–4. Masked except the last 4 digits, separators kept. An
 *  18-digit number that reads as another identifier is not a card: one with a
 *  province code and a valid birth date but a wrong ID check digit, and an
 *  all-digit unified social credit code (统一社会信用代码) whose GB 32100 check
 *  character is right. Either would otherwise pass Luhn one time in ten.
 *
 *  A resident ID in 6-8-4 (or 6-6-3) groups is recognised the same way.
 *
 * What is not
 *
 *  A candidate is a whole number: the characters on either side must not be
 *  ASCII or full-width letters or digits, so nothing is found inside a longer
 *  run (a 20-digit number, ABC13812345678, 13812345678abc, a G-prefixed student
 *  number), and a decimal point with a digit on its other side makes it part of
 *  a decimal (13812345678.50元, 东经120.13812345678). CJK, ASCII and full-width
 *  punctuation, spaces and markup are boundaries. In a sequence of digit
 *  groups joined by spaces (or hyphens), a grouped form counts only where the
 *  groups on either side of it, if any, have 5 digits or more, because groups
 *  of up to 4 are pieces of one longer number: 6222 0212 3456 7890 1234 is not
 *  a card, but 370202198506152348 6222 0212 3456 7894 is an ID and a card.
 *  Other groups are judged one by one, so 13812345678 13987654321 is two
 *  mobiles; two 3-4-4 mobiles in a row (138 1234 5678 139 1234 5678) are not
 *  recognised, nor is one right after a short group (2025 138 1234 5678).
 *
 *  An all-digit unified social credit code is never taken for a resident ID in
 *  practice: digits 7–8 of the code are the end of its region code, usually
 *  00, so they do not start a birth year, and a code that still read as a date
 *  would also need the MOD 11-2 check to agree; if one ever did, it would be
 *  masked, which is the safe side. Codes with letters are never candidates.
 *
 *  Dates, document numbers (〔2020〕12号), amounts, landlines (0532-88881234,
 *  400 numbers), postcodes, 12-digit region codes, IPv4 addresses, ISBNs and
 *  times have the wrong length or shape and are left alone.
 *
 *  URLs in text (http://, https://, www. up to a space, quote, bracket, comma
 *  or non-ASCII character) are skipped as markup is: their digits are page and
 *  file identifiers, and masking them would break the link.
 *
 *  Digits are ASCII or full-width (０–９); a full-width digit is masked with a
 *  full-width asterisk (＊), so a masked string has the length of the original.
 *
 *  An asterisk (* or ＊) is read as a masked digit: 138****5678 is one number
 *  with four digits unknown, never a finding, and the digits a mask keeps do
 *  not combine with their neighbours into new numbers, so masking a masked
 *  text changes nothing. Asterisks at the ends of a single run are not part
 *  of it: **13812345678** and a footnote mark after a number still count.
 *
 * HTML
 *
 *  Only what a reader can see is screened: text between tags, the values of
 *  alt and title attributes, and comments (they go out in the page source, and
 *  masking them cannot change how the page works). Tags, other attributes
 *  (href, src, data-*) and the content of script and style elements are left
 *  untouched. Entities are not decoded, so a number written with &nbsp; between
 *  its groups or as character references is not recognised; a number split by
 *  a tag is not recognised either. */
#ifndef ZW_PRIVACY_H
#define ZW_PRIVACY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum zw_privacy_kind { ZW_PRIVACY_ID_CARD, ZW_PRIVACY_MOBILE, ZW_PRIVACY_BANK_CARD, ZW_PRIVACY_KINDS };

/* Findings per kind; callers zero it and let several fields add to it. */
struct zw_privacy_counts {
  size_t n[ZW_PRIVACY_KINDS];
};

/* Returns "id_card", "mobile" or "bank_card" (a static string), or NULL for a
 * value outside the enum. */
const char *zw_privacy_kind_name(enum zw_privacy_kind kind);

/* Returns the total of all kinds in counts. */
size_t zw_privacy_total(const struct zw_privacy_counts *counts);

/* Returns a copy of the plain text text (UTF-8, not NULL) with every finding
 * masked, the same length in bytes; caller frees. Adds each finding to counts
 * when counts is not NULL. NULL when out of memory (counts then unchanged). */
char *zw_privacy_mask_text(const char *text, struct zw_privacy_counts *counts) __attribute__((warn_unused_result));

/* The same for an HTML body: only text, alt and title values and comments are
 * screened (see above); markup is copied unchanged. Caller frees. NULL when out
 * of memory (counts then unchanged). */
char *zw_privacy_mask_html(const char *html, struct zw_privacy_counts *counts) __attribute__((warn_unused_result));

/* Adds the findings in text (HTML when html is true) to counts without
 * masking, for the hold policy; finds exactly what the mask functions mask. */
void zw_privacy_scan(const char *text, bool html, struct zw_privacy_counts *counts);

/* Returns the release's public text {title, summary, body} with personal data
 * masked (the body screened as HTML), adding what was found to counts when it
 * is not NULL: what every channel renders from. A new reference, or NULL when
 * out of memory. */
json_t *zw_privacy_public(const json_t *release, struct zw_privacy_counts *counts)
    __attribute__((warn_unused_result));

/* True when doc_type is one of the comma-separated doc_types in list (the
 * form of classifier.privacy_hold; blanks around the commas are allowed). */
bool zw_privacy_doc_type_listed(const char *list, const char *doc_type);

/* Returns the tags' redactions list [{kind, count}] for counts (new reference). */
json_t *zw_privacy_redactions(const struct zw_privacy_counts *counts) __attribute__((warn_unused_result));

#endif
