/* zw_cap — OASIS CAP 1.2 alert documents for the broadcast channel, built with
 * libxml2's tree API so that every text is a text node (escaped on output,
 * never parsed as markup), in the element order CAP-v1.2.xsd requires.
 *
 * Members are checked before anything is built, and the first problem is
 * reported naming the struct member:
 *  - required members (identifier, sender, sent, status, msg_type, scope,
 *    category, event, urgency, severity, certainty, area_desc) must be present
 *    and not empty; an optional member that is NULL or "" is left out;
 *  - status, msg_type, scope, category, urgency, severity and certainty must be
 *    one of CAP 1.2's values (msg_type Ack and Error are CAP values too);
 *  - every text must be well-formed UTF-8 made of characters XML 1.0 allows:
 *    a control character other than tab, LF and CR is rejected, not stripped,
 *    so that what the loudspeakers read is exactly what the caller wrote;
 *  - identifier and sender must not contain white space, commas, '<' or '&'
 *    (CAP 1.2 §3.2.1), since references are built from them;
 *  - sent is a CAP dateTime, YYYY-MM-DDThh:mm:ss±hh:mm with a real date and
 *    time, no fraction and no "Z" ("-00:00" is UTC);
 *  - references is one or more "sender,identifier,sent" triples separated by
 *    single spaces, each part checked as above; Update, Cancel, Ack and Error
 *    must have it;
 *  - language is an RFC 5646 tag as xs:language allows; web is an absolute URI
 *    without white space that xs:anyURI allows (no bad %-escape). */
#include "zw_cap.h"

#include <ctype.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlmemory.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_text.h"

#define CAP_NAMESPACE "urn:oasis:names:tc:emergency:cap:1.2"

static const char *const statuses[] = {"Actual", "Exercise", "System", "Test", "Draft", NULL};
static const char *const message_types[] = {"Alert", "Update", "Cancel", "Ack", "Error", NULL};
static const char *const scopes[] = {"Public", "Restricted", "Private", NULL};
static const char *const categories[] = {"Geo",   "Met",       "Safety", "Security", "Rescue", "Fire", "Health",
                                         "Env",   "Transport", "Infra",  "CBRNE",    "Other",  NULL};
static const char *const urgencies[] = {"Immediate", "Expected", "Future", "Past", "Unknown", NULL};
static const char *const severities[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown", NULL};
static const char *const certainties[] = {"Observed", "Likely", "Possible", "Unlikely", "Unknown", NULL};

static bool present(const char *value) { return value && value[0] != '\0'; }

/* Fails unless value is well-formed UTF-8 of characters XML 1.0 allows. */
static int check_text(const char *member, const char *value, char *err, size_t errlen) {
  size_t n = strlen(value);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t length = zw_text_decode(value + i, n - i, &cp);
    if (length == 0) {
      snprintf(err, errlen, "%s: not valid UTF-8 at byte %zu", member, i);
      return -1;
    }
    if (!zw_text_is_xml_char(cp)) {
      snprintf(err, errlen, "%s: character U+%04X at byte %zu is not allowed in XML 1.0", member, (unsigned)cp, i);
      return -1;
    }
    i += length;
  }
  return 0;
}

static int check_enumerated(const char *member, const char *value, const char *const *allowed, char *err,
                            size_t errlen) {
  for (const char *const *v = allowed; *v; v++)
    if (strcmp(value, *v) == 0) return 0;
  char list[128] = "";
  for (const char *const *v = allowed; *v; v++) {
    if (v != allowed) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, *v, sizeof list - strlen(list) - 1);
  }
  snprintf(err, errlen, "%s: \"%.40s\" is not a CAP 1.2 value (%s)", member, value, list);
  return -1;
}

/* CAP 1.2 §3.2.1: identifier and sender without spaces, commas, '<' or '&'. */
static int check_identifier(const char *member, const char *value, char *err, size_t errlen) {
  for (const char *p = value; *p; p++)
    if (isspace((unsigned char)*p) || *p == ',' || *p == '<' || *p == '&') {
      snprintf(err, errlen, "%s: must not contain white space, commas, '<' or '&'", member);
      return -1;
    }
  return 0;
}

/* Reads exactly `digits` digits at s into *number. */
static bool read_number(const char *s, int digits, int *number) {
  *number = 0;
  for (int i = 0; i < digits; i++) {
    if (!isdigit((unsigned char)s[i])) return false;
    *number = *number * 10 + (s[i] - '0');
  }
  return true;
}

static bool is_date_time(const char *s) {
  int year, month, day, hour, minute, second, offset_hours, offset_minutes;
  if (strlen(s) != 25 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      (s[19] != '+' && s[19] != '-') || s[22] != ':')
    return false;
  if (!read_number(s, 4, &year) || !read_number(s + 5, 2, &month) || !read_number(s + 8, 2, &day) ||
      !read_number(s + 11, 2, &hour) || !read_number(s + 14, 2, &minute) || !read_number(s + 17, 2, &second) ||
      !read_number(s + 20, 2, &offset_hours) || !read_number(s + 23, 2, &offset_minutes))
    return false;
  static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year == 0 || month < 1 || month > 12 || day < 1 || day > month_days[month - 1] ||
      (month == 2 && day == 29 && !leap))
    return false;
  if (hour > 23 || minute > 59 || second > 59 || offset_minutes > 59 || offset_hours > 14 ||
      (offset_hours == 14 && offset_minutes != 0))
    return false;
  return true;
}

static int check_date_time(const char *member, const char *value, char *err, size_t errlen) {
  if (is_date_time(value)) return 0;
  snprintf(err, errlen, "%s: \"%.40s\" is not a CAP dateTime (YYYY-MM-DDThh:mm:ss+hh:mm, no fraction, no Z)", member,
           value);
  return -1;
}

/* One "sender,identifier,sent" triple of n bytes at s. */
static int check_reference(const char *s, size_t n, char *err, size_t errlen) {
  char triple[512];
  if (n >= sizeof triple) {
    snprintf(err, errlen, "references: an entry is longer than %zu bytes", sizeof triple - 1);
    return -1;
  }
  memcpy(triple, s, n);
  triple[n] = '\0';
  char *first_comma = strchr(triple, ','), *second_comma = first_comma ? strchr(first_comma + 1, ',') : NULL;
  if (!second_comma || strchr(second_comma + 1, ',') || first_comma == triple || second_comma == first_comma + 1) {
    snprintf(err, errlen, "references: \"%.60s\" is not sender,identifier,sent", triple);
    return -1;
  }
  *first_comma = *second_comma = '\0';
  if (check_identifier("references: sender", triple, err, errlen) < 0 ||
      check_identifier("references: identifier", first_comma + 1, err, errlen) < 0 ||
      check_date_time("references: sent", second_comma + 1, err, errlen) < 0)
    return -1;
  return 0;
}

static int check_references(const char *value, char *err, size_t errlen) {
  for (const char *p = value;;) {
    const char *space = strchr(p, ' ');
    size_t n = space ? (size_t)(space - p) : strlen(p);
    if (n == 0) {
      snprintf(err, errlen, "references: entries must be separated by single spaces");
      return -1;
    }
    if (check_reference(p, n, err, errlen) < 0) return -1;
    if (!space) return 0;
    p = space + 1;
  }
}

/* xs:language: [a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})* */
static int check_language(const char *value, char *err, size_t errlen) {
  size_t run = 0;
  bool first = true, ok = true;
  for (const char *p = value;; p++) {
    if (*p == '-' || *p == '\0') {
      ok = ok && run >= 1 && run <= 8;
      if (*p == '\0') break;
      first = false, run = 0;
    } else {
      ok = ok && (first ? isalpha((unsigned char)*p) : isalnum((unsigned char)*p));
      run++;
    }
  }
  if (ok) return 0;
  snprintf(err, errlen, "language: \"%.40s\" is not a language tag such as zh-CN", value);
  return -1;
}

/* True when value is an xs:anyURI to libxml2's schema validator, which
 * xmllint and so the broadcast platform use: the characters an IRI may hold
 * but RFC 3986 does not are read as allowed ones, and the rest must parse as
 * a URI reference ("http:%zz", a bad escape, does not). */
static bool any_uri(const char *value) {
  char *copy = strdup(value);
  if (!copy) return false;
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p < 32 || (unsigned char)*p >= 127 || strchr(" <>\"{}|\\^`'", *p)) *p = '_';
  xmlURIPtr uri = xmlParseURI(copy);
  bool ok = uri != NULL;
  xmlFreeURI(uri);
  free(copy);
  return ok;
}

/* An absolute URI: scheme ":" rest, without white space or quotes, that the
 * schema's xs:anyURI accepts. */
static int check_web(const char *value, char *err, size_t errlen) {
  const char *p = value;
  bool ok = isalpha((unsigned char)*p);
  while (ok && (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')) p++;
  ok = ok && *p == ':' && p[1] != '\0';
  for (const char *q = value; ok && *q; q++)
    ok = !isspace((unsigned char)*q) && *q != '"' && *q != '<' && *q != '>';
  if (ok && any_uri(value)) return 0;
  snprintf(err, errlen, "web: \"%.60s\" is not an absolute URI", value);
  return -1;
}

struct member {
  const char *name;
  const char *value;
  bool required;
};

/* Presence and text of every member, in document order. */
static int check_members(const struct member *members, size_t count, char *err, size_t errlen) {
  for (size_t i = 0; i < count; i++) {
    if (members[i].required && !present(members[i].value)) {
      snprintf(err, errlen, "%s: missing", members[i].name);
      return -1;
    }
    if (members[i].value && check_text(members[i].name, members[i].value, err, errlen) < 0) return -1;
  }
  return 0;
}

static int check_alert(const struct zw_cap_alert *a, char *err, size_t errlen) {
  const struct member members[] = {
      {"identifier", a->identifier, true}, {"sender", a->sender, true},       {"sent", a->sent, true},
      {"status", a->status, true},         {"msg_type", a->msg_type, true},   {"scope", a->scope, true},
      {"references", a->references, false}, {"language", a->language, false}, {"category", a->category, true},
      {"event", a->event, true},           {"urgency", a->urgency, true},     {"severity", a->severity, true},
      {"certainty", a->certainty, true},   {"headline", a->headline, false},  {"description", a->description, false},
      {"web", a->web, false},              {"tts", a->tts, false},            {"area_desc", a->area_desc, true},
      {"geocode", a->geocode, false}};
  if (check_members(members, sizeof members / sizeof members[0], err, errlen) < 0 ||
      check_identifier("identifier", a->identifier, err, errlen) < 0 ||
      check_identifier("sender", a->sender, err, errlen) < 0 || check_date_time("sent", a->sent, err, errlen) < 0 ||
      check_enumerated("status", a->status, statuses, err, errlen) < 0 ||
      check_enumerated("msg_type", a->msg_type, message_types, err, errlen) < 0 ||
      check_enumerated("scope", a->scope, scopes, err, errlen) < 0 ||
      check_enumerated("category", a->category, categories, err, errlen) < 0 ||
      check_enumerated("urgency", a->urgency, urgencies, err, errlen) < 0 ||
      check_enumerated("severity", a->severity, severities, err, errlen) < 0 ||
      check_enumerated("certainty", a->certainty, certainties, err, errlen) < 0)
    return -1;
  if (strcmp(a->msg_type, "Alert") != 0 && !present(a->references)) {
    snprintf(err, errlen, "references: missing, and msg_type %s needs the alerts it refers to", a->msg_type);
    return -1;
  }
  if ((present(a->references) && check_references(a->references, err, errlen) < 0) ||
      (present(a->language) && check_language(a->language, err, errlen) < 0) ||
      (present(a->web) && check_web(a->web, err, errlen) < 0))
    return -1;
  return 0;
}

/* Appends <name>value</name> as a text node (escaped on output) unless value
 * is absent. Returns false only when out of memory. */
static bool add(xmlNodePtr parent, const char *name, const char *value) {
  if (!present(value)) return true;
  return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST value) != NULL;
}

/* Appends <name><valueName>…</valueName><value>…</value></name>. */
static bool add_pair(xmlNodePtr parent, const char *name, const char *value_name, const char *value) {
  if (!present(value)) return true;
  xmlNodePtr pair = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
  return pair && add(pair, "valueName", value_name) && add(pair, "value", value);
}

static bool build_info(xmlNodePtr alert, const struct zw_cap_alert *a) {
  xmlNodePtr info = xmlNewChild(alert, NULL, BAD_CAST "info", NULL);
  if (!info || !add(info, "language", a->language) || !add(info, "category", a->category) ||
      !add(info, "event", a->event) || !add(info, "urgency", a->urgency) || !add(info, "severity", a->severity) ||
      !add(info, "certainty", a->certainty) || !add(info, "headline", a->headline) ||
      !add(info, "description", a->description) || !add(info, "web", a->web) ||
      !add_pair(info, "parameter", "zwgk-tts", a->tts))
    return false;
  xmlNodePtr area = xmlNewChild(info, NULL, BAD_CAST "area", NULL);
  return area && add(area, "areaDesc", a->area_desc) && add_pair(area, "geocode", "GB/T 2260", a->geocode);
}

static xmlDocPtr build(const struct zw_cap_alert *a) {
  xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNodePtr alert = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "alert", NULL) : NULL;
  if (!alert) goto failed;
  xmlDocSetRootElement(doc, alert);
  xmlNsPtr ns = xmlNewNs(alert, BAD_CAST CAP_NAMESPACE, NULL);
  if (!ns) goto failed;
  xmlSetNs(alert, ns);
  if (!add(alert, "identifier", a->identifier) || !add(alert, "sender", a->sender) || !add(alert, "sent", a->sent) ||
      !add(alert, "status", a->status) || !add(alert, "msgType", a->msg_type) || !add(alert, "scope", a->scope) ||
      !add(alert, "references", a->references) || !build_info(alert, a))
    goto failed;
  return doc;
failed:
  xmlFreeDoc(doc);
  return NULL;
}

char *zw_cap_write(const struct zw_cap_alert *alert, char *err, size_t errlen) {
  char *document = NULL;
  xmlChar *serialised = NULL;
  xmlDocPtr doc = NULL;
  if (!alert) {
    snprintf(err, errlen, "alert: missing");
    goto out;
  }
  if (check_alert(alert, err, errlen) < 0) goto out;
  doc = build(alert);
  int size = 0;
  if (doc) xmlDocDumpFormatMemoryEnc(doc, &serialised, &size, "UTF-8", 1);
  if (!serialised || size <= 0 || !(document = malloc((size_t)size + 1))) {
    snprintf(err, errlen, "out of memory writing the CAP document");
    goto out;
  }
  memcpy(document, serialised, (size_t)size);
  document[size] = '\0';
out:
  xmlFree(serialised);
  xmlFreeDoc(doc);
  return document;
}
