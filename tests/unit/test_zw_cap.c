/* Unit tests of zw_cap: CAP 1.2 documents for Alert, Update and Cancel, each
 * validated against schemas/cap/CAP-v1.2.xsd with libxml2's schema validator;
 * XML special characters and entity tricks in every text member come out as
 * the same text, never as markup; and every rejection path names the member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw_cap.h"

#ifndef ZW_SOURCE_DIR
#error "ZW_SOURCE_DIR must name the source tree (tests/unit/CMakeLists.txt defines it)"
#endif

#define CAP_XSD ZW_SOURCE_DIR "/schemas/cap/CAP-v1.2.xsd"
#define CAP_NAMESPACE "urn:oasis:names:tc:emergency:cap:1.2"

static xmlSchemaPtr cap_schema;

static int load_schema(void **state) {
  (void)state;
  xmlSchemaParserCtxtPtr parser = xmlSchemaNewParserCtxt(CAP_XSD);
  if (!parser) return -1;
  cap_schema = xmlSchemaParse(parser);
  xmlSchemaFreeParserCtxt(parser);
  return cap_schema ? 0 : -1;
}

static int free_schema(void **state) {
  (void)state;
  xmlSchemaFree(cap_schema);
  cap_schema = NULL;
  xmlCleanupParser();
  return 0;
}

/* A publish of release 0123…ef, revision 1, with every member set. */
static struct zw_cap_alert full_alert(void) {
  return (struct zw_cap_alert){
      .identifier = "0123456789abcdef0123456789abcdef.1",
      .sender = "zwgk@370211.example.gov.cn",
      .sent = "2026-11-28T09:30:00+08:00",
      .status = "Actual",
      .msg_type = "Alert",
      .scope = "Public",
      .language = "zh-CN",
      .category = "Other",
      .event = "村务公开",
      .urgency = "Expected",
      .severity = "Minor",
      .certainty = "Observed",
      .headline = "东山村2026年第三季度财务收支公开",
      .description = "东山村2026年第三季度财务收支公开。本季度收入十二万元。详情请查看政府网站。",
      .web = "https://www.example.gov.cn/zwgk/cwgk/0123456789abcdef0123456789abcdef.html",
      .tts = "东山村2026年第三季度财务收支公开。本季度收入十二万元。详情请查看政府网站。",
      .area_desc = "东山村",
      .geocode = "370211001001",
  };
}

/* The minimum: required members only. */
static struct zw_cap_alert minimal_alert(void) {
  return (struct zw_cap_alert){
      .identifier = "0123456789abcdef0123456789abcdef.1",
      .sender = "zwgk@370211.example.gov.cn",
      .sent = "2026-11-28T09:30:00-00:00",
      .status = "Actual",
      .msg_type = "Alert",
      .scope = "Public",
      .category = "Other",
      .event = "政务公开",
      .urgency = "Expected",
      .severity = "Minor",
      .certainty = "Observed",
      .area_desc = "全域",
  };
}

static char *write_ok(const struct zw_cap_alert *alert) {
  char err[256] = "";
  char *xml = zw_cap_write(alert, err, sizeof err);
  if (!xml) fail_msg("zw_cap_write failed: %s", err);
  return xml;
}

static xmlDocPtr parse(const char *xml) {
  xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "cap.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
  if (!doc) fail_msg("the document does not parse:\n%s", xml);
  return doc;
}

static void assert_schema_valid(const char *xml) {
  xmlDocPtr doc = parse(xml);
  xmlSchemaValidCtxtPtr validator = xmlSchemaNewValidCtxt(cap_schema);
  assert_non_null(validator);
  int rc = xmlSchemaValidateDoc(validator, doc);
  xmlSchemaFreeValidCtxt(validator);
  xmlFreeDoc(doc);
  if (rc != 0) fail_msg("not valid against CAP-v1.2.xsd (%d):\n%s", rc, xml);
}

/* The first element named `name` (in the CAP namespace) in document order. */
static xmlNodePtr find(xmlNodePtr node, const char *name) {
  for (; node; node = node->next) {
    if (node->type == XML_ELEMENT_NODE && xmlStrcmp(node->name, BAD_CAST name) == 0 && node->ns &&
        xmlStrcmp(node->ns->href, BAD_CAST CAP_NAMESPACE) == 0)
      return node;
    xmlNodePtr inner = find(node->children, name);
    if (inner) return inner;
  }
  return NULL;
}

/* Asserts that element `name` holds exactly the text `expected` and nothing but
 * text: no child elements, entity references, comments or CDATA markup. */
static void assert_text(xmlDocPtr doc, const char *name, const char *expected) {
  xmlNodePtr element = find(xmlDocGetRootElement(doc), name);
  if (!element) fail_msg("no <%s> element", name);
  for (xmlNodePtr child = element->children; child; child = child->next)
    if (child->type != XML_TEXT_NODE) fail_msg("<%s> has a child of type %d", name, (int)child->type);
  xmlChar *text = xmlNodeGetContent(element);
  if (strcmp((const char *)text, expected) != 0) fail_msg("<%s> is \"%s\", expected \"%s\"", name, text, expected);
  xmlFree(text);
}

static void assert_absent(xmlDocPtr doc, const char *name) {
  if (find(xmlDocGetRootElement(doc), name)) fail_msg("unexpected <%s>", name);
}

/* Element names of the document in order, separated by spaces. */
static void element_order(xmlNodePtr node, char *out, size_t outlen) {
  for (; node; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) continue;
    strncat(out, (const char *)node->name, outlen - strlen(out) - 1);
    strncat(out, " ", outlen - strlen(out) - 1);
    element_order(node->children, out, outlen);
  }
}

static void test_alert_valid(void **state) {
  (void)state;
  struct zw_cap_alert a = full_alert();
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
  xmlDocPtr doc = parse(xml);
  xmlNodePtr root = xmlDocGetRootElement(doc);
  assert_string_equal((const char *)root->name, "alert");
  assert_string_equal((const char *)root->ns->href, CAP_NAMESPACE);
  char order[1024] = "";
  element_order(root, order, sizeof order);
  assert_string_equal(order,
                      "alert identifier sender sent status msgType scope info language category event urgency "
                      "severity certainty headline description web parameter valueName value area areaDesc "
                      "geocode valueName value ");
  assert_text(doc, "identifier", a.identifier);
  assert_text(doc, "msgType", "Alert");
  assert_text(doc, "description", a.description);
  assert_text(doc, "areaDesc", "东山村");
  xmlNodePtr parameter = find(root, "parameter"), geocode = find(root, "geocode");
  xmlChar *name = xmlNodeGetContent(find(parameter, "valueName")), *code = xmlNodeGetContent(find(geocode, "value"));
  xmlChar *code_name = xmlNodeGetContent(find(geocode, "valueName"));
  assert_string_equal((const char *)name, "zwgk-tts");
  assert_string_equal((const char *)code, "370211001001");
  assert_string_equal((const char *)code_name, "GB/T 2260");
  xmlFree(name);
  xmlFree(code);
  xmlFree(code_name);
  assert_absent(doc, "references");
  xmlFreeDoc(doc);
  free(xml);
}

static void test_minimal_alert_valid(void **state) {
  (void)state;
  struct zw_cap_alert a = minimal_alert();
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  xmlDocPtr doc = parse(xml);
  char order[1024] = "";
  element_order(xmlDocGetRootElement(doc), order, sizeof order);
  assert_string_equal(order,
                      "alert identifier sender sent status msgType scope info category event urgency severity "
                      "certainty area areaDesc ");
  assert_text(doc, "sent", "2026-11-28T09:30:00-00:00");
  xmlFreeDoc(doc);
  free(xml);
}

static void test_empty_optional_members_left_out(void **state) {
  (void)state;
  struct zw_cap_alert a = minimal_alert();
  a.headline = a.description = a.web = a.tts = a.geocode = a.language = a.references = "";
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  xmlDocPtr doc = parse(xml);
  const char *absent[] = {"headline", "description", "web", "parameter", "geocode", "language", "references"};
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) assert_absent(doc, absent[i]);
  xmlFreeDoc(doc);
  free(xml);
}

static void test_update_with_references_valid(void **state) {
  (void)state;
  struct zw_cap_alert a = full_alert();
  a.identifier = "0123456789abcdef0123456789abcdef.2";
  a.msg_type = "Update";
  a.sent = "2026-11-29T10:00:00+08:00";
  a.references = "zwgk@370211.example.gov.cn,0123456789abcdef0123456789abcdef.1,2026-11-28T09:30:00+08:00";
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  xmlDocPtr doc = parse(xml);
  assert_text(doc, "msgType", "Update");
  assert_text(doc, "references", a.references);
  char order[1024] = "";
  element_order(xmlDocGetRootElement(doc), order, sizeof order);
  assert_non_null(strstr(order, "msgType scope references info "));
  xmlFreeDoc(doc);
  free(xml);
}

static void test_cancel_valid(void **state) {
  (void)state;
  struct zw_cap_alert a = minimal_alert();
  a.identifier = "0123456789abcdef0123456789abcdef.3";
  a.msg_type = "Cancel";
  a.references = "zwgk@370211.example.gov.cn,0123456789abcdef0123456789abcdef.1,2026-11-28T09:30:00+08:00 "
                 "zwgk@370211.example.gov.cn,0123456789abcdef0123456789abcdef.2,2026-11-29T10:00:00+08:00";
  a.headline = "已撤回：东山村2026年第三季度财务收支公开";
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  xmlDocPtr doc = parse(xml);
  assert_text(doc, "msgType", "Cancel");
  assert_text(doc, "references", a.references);
  xmlFreeDoc(doc);
  free(xml);
}

static void test_every_enumerated_value_valid(void **state) {
  (void)state;
  const char *statuses[] = {"Actual", "Exercise", "System", "Test", "Draft"};
  const char *categories[] = {"Geo",  "Met", "Safety",    "Security", "Rescue", "Fire",
                              "Health", "Env", "Transport", "Infra",    "CBRNE",  "Other"};
  const char *urgencies[] = {"Immediate", "Expected", "Future", "Past", "Unknown"};
  const char *severities[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"};
  const char *certainties[] = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"};
  const char *scopes[] = {"Public", "Restricted", "Private"};
  for (size_t i = 0; i < 12; i++) {
    struct zw_cap_alert a = minimal_alert();
    a.category = categories[i];
    a.status = statuses[i % 5];
    a.urgency = urgencies[i % 5];
    a.severity = severities[i % 5];
    a.certainty = certainties[i % 5];
    a.scope = scopes[i % 3];
    char *xml = write_ok(&a);
    assert_schema_valid(xml);
    free(xml);
  }
}

/* Text that would be markup, an entity, a CDATA end or a DTD if pasted. */
static const char *const hostile[] = {
    "<script>alert(1)</script>",
    "a & b && c &amp; d",
    "x ]]> y <![CDATA[ z ]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>&e;",
    "<!ENTITY lol \"lol\"> &lol; &#60; &#x3C;",
    "</event></info><info><event>injected",
    "\"quoted\" 'apostrophe' > <",
    "tab\tline\nreturn\r end",
};

static void test_special_characters_are_text(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    const char *h = hostile[i];
    struct zw_cap_alert a = full_alert();
    a.event = a.headline = a.description = a.tts = a.area_desc = a.geocode = h;
    char *xml = write_ok(&a);
    assert_schema_valid(xml);
    xmlDocPtr doc = parse(xml);
    assert_null(doc->intSubset);
    const char *fields[] = {"event", "headline", "description", "areaDesc"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) assert_text(doc, fields[f], h);
    /* One info, one area: nothing was injected. */
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int infos = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) infos += c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "info") == 0;
    assert_int_equal(infos, 1);
    assert_null(find(root, "script"));
    xmlNodePtr parameter = find(root, "parameter");
    xmlChar *tts = xmlNodeGetContent(find(parameter, "value"));
    assert_string_equal((const char *)tts, h);
    xmlFree(tts);
    xmlFreeDoc(doc);
    free(xml);
  }
}

static void test_special_characters_in_references_and_web(void **state) {
  (void)state;
  struct zw_cap_alert a = full_alert();
  a.web = "https://www.example.gov.cn/search?q=a&b=%3Cscript%3E";
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  assert_non_null(strstr(xml, "q=a&amp;b="));
  xmlDocPtr doc = parse(xml);
  assert_text(doc, "web", a.web);
  xmlFreeDoc(doc);
  free(xml);
}

/* Asserts that zw_cap_write rejects a with an error containing needle. */
static void assert_rejected(const struct zw_cap_alert *a, const char *needle) {
  char err[256] = "";
  char *xml = zw_cap_write(a, err, sizeof err);
  if (xml) {
    print_error("accepted:\n%s\n", xml);
    free(xml);
    fail_msg("expected a rejection mentioning \"%s\"", needle);
  }
  if (!strstr(err, needle)) fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* Sets the member named `name` of a to value. */
static void set_member(struct zw_cap_alert *a, const char *name, const char *value) {
  struct {
    const char *name;
    const char **member;
  } members[] = {{"identifier", &a->identifier}, {"sender", &a->sender},       {"sent", &a->sent},
                 {"status", &a->status},         {"msg_type", &a->msg_type},   {"scope", &a->scope},
                 {"references", &a->references}, {"language", &a->language},   {"category", &a->category},
                 {"event", &a->event},           {"urgency", &a->urgency},     {"severity", &a->severity},
                 {"certainty", &a->certainty},   {"headline", &a->headline},   {"description", &a->description},
                 {"web", &a->web},               {"tts", &a->tts},             {"area_desc", &a->area_desc},
                 {"geocode", &a->geocode}};
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
    if (strcmp(members[i].name, name) == 0) {
      *members[i].member = value;
      return;
    }
  fail_msg("no member %s", name);
}

static const char *const required[] = {"identifier", "sender",  "sent",     "status",    "msg_type", "scope",
                                       "category",   "event",   "urgency",  "severity",  "certainty", "area_desc"};
static const char *const all_members[] = {"identifier", "sender",   "sent",      "status",   "msg_type",
                                          "scope",      "references", "language", "category", "event",
                                          "urgency",    "severity", "certainty", "headline", "description",
                                          "web",        "tts",      "area_desc", "geocode"};

static void test_missing_required_rejected(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "%s: missing", required[i]);
    struct zw_cap_alert a = full_alert();
    set_member(&a, required[i], NULL);
    assert_rejected(&a, needle);
    set_member(&a, required[i], "");
    assert_rejected(&a, needle);
  }
  char err[64] = "";
  assert_null(zw_cap_write(NULL, err, sizeof err));
  assert_non_null(strstr(err, "alert"));
}

static void test_enumerations_rejected(void **state) {
  (void)state;
  const char *enumerated[] = {"status", "msg_type", "scope", "category", "urgency", "severity", "certainty"};
  const char *bad[] = {"actual", "Warning", " Public", "Weather", "Now", "Low", "Sure"};
  for (size_t i = 0; i < sizeof enumerated / sizeof enumerated[0]; i++) {
    struct zw_cap_alert a = full_alert();
    set_member(&a, enumerated[i], bad[i]);
    char needle[64];
    snprintf(needle, sizeof needle, "%s: \"%s\" is not a CAP 1.2 value", enumerated[i], bad[i]);
    assert_rejected(&a, needle);
  }
}

static void test_invalid_utf8_rejected(void **state) {
  (void)state;
  const char *bad[] = {"abc\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8"};
  for (size_t i = 0; i < sizeof all_members / sizeof all_members[0]; i++)
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
      struct zw_cap_alert a = full_alert();
      a.msg_type = "Update";
      a.references = "s,i,2026-11-28T09:30:00+08:00";
      set_member(&a, all_members[i], bad[b]);
      char needle[64];
      snprintf(needle, sizeof needle, "%s: not valid UTF-8", all_members[i]);
      assert_rejected(&a, needle);
    }
}

static void test_control_characters_rejected(void **state) {
  (void)state;
  const char *bad[] = {"a\x01z", "bell\a", "esc\x1b[31m", "\x7f" "del", "form\ffeed", "\xef\xbf\xbe", "\xef\xbf\xbf"};
  for (size_t i = 0; i < sizeof all_members / sizeof all_members[0]; i++)
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
      if (strcmp(bad[b], "\x7f" "del") == 0) continue; /* DEL is an XML 1.0 character */
      struct zw_cap_alert a = full_alert();
      a.msg_type = "Update";
      a.references = "s,i,2026-11-28T09:30:00+08:00";
      set_member(&a, all_members[i], bad[b]);
      char needle[64];
      snprintf(needle, sizeof needle, "%s: character U+", all_members[i]);
      assert_rejected(&a, needle);
    }
}

static void test_identifier_and_sender_rules(void **state) {
  (void)state;
  const char *bad[] = {"has space", "has,comma", "has<angle", "has&amp", "tab\there", "line\nbreak"};
  for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
    struct zw_cap_alert a = full_alert();
    a.identifier = bad[b];
    assert_rejected(&a, "identifier: must not contain");
    a = full_alert();
    a.sender = bad[b];
    assert_rejected(&a, "sender: must not contain");
  }
}

static void test_sent_rules(void **state) {
  (void)state;
  const char *good[] = {"2026-11-28T09:30:00+08:00", "2026-11-28T09:30:00-00:00", "2024-02-29T23:59:59+14:00",
                        "2026-01-01T00:00:00-12:00", "2026-11-28T09:30:00+00:00"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct zw_cap_alert a = minimal_alert();
    a.sent = good[i];
    char *xml = write_ok(&a);
    assert_schema_valid(xml);
    free(xml);
  }
  const char *bad[] = {"2026-11-28T09:30:00Z",      "2026-11-28T09:30:00.123+08:00", "2026-11-28T09:30:00",
                       "2026-11-28 09:30:00+08:00", "2026-13-01T09:30:00+08:00",     "2025-02-29T09:30:00+08:00",
                       "2026-04-31T09:30:00+08:00", "2026-11-28T24:00:00+08:00",     "2026-11-28T09:60:00+08:00",
                       "2026-11-28T09:30:60+08:00", "2026-11-28T09:30:00+15:00",     "2026-11-28T09:30:00+0800",
                       "0000-01-01T00:00:00+00:00", "26-11-28T09:30:00+08:00",       "2026-11-28T9:30:00+08:00",
                       "2026-11-28T09:30:00+08:00 "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct zw_cap_alert a = minimal_alert();
    a.sent = bad[i];
    assert_rejected(&a, "sent: ");
  }
}

static void test_references_rules(void **state) {
  (void)state;
  struct zw_cap_alert a = minimal_alert();
  a.msg_type = "Update";
  assert_rejected(&a, "references: missing");
  a.msg_type = "Cancel";
  assert_rejected(&a, "references: missing");
  const char *bad[] = {"sender,id",
                       "sender,id,2026-11-28T09:30:00+08:00,extra",
                       ",id,2026-11-28T09:30:00+08:00",
                       "sender,,2026-11-28T09:30:00+08:00",
                       "sender,id,yesterday",
                       "sender,id,2026-11-28T09:30:00Z",
                       "sender,id,2026-11-28T09:30:00+08:00  sender,id2,2026-11-28T09:30:00+08:00",
                       "sender,id,2026-11-28T09:30:00+08:00 ",
                       "send<er,id,2026-11-28T09:30:00+08:00",
                       "sender,i&d,2026-11-28T09:30:00+08:00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    a.references = bad[i];
    assert_rejected(&a, "references");
  }
}

static void test_language_and_web_rules(void **state) {
  (void)state;
  const char *bad_languages[] = {"zh_CN", "chinese-simplified-x", "-zh", "zh-", "z1", "toolonglang"};
  for (size_t i = 0; i < sizeof bad_languages / sizeof bad_languages[0]; i++) {
    struct zw_cap_alert a = full_alert();
    a.language = bad_languages[i];
    assert_rejected(&a, "language: ");
  }
  const char *bad_web[] = {"/zwgk/a.html", "www.example.gov.cn", "https://example.gov.cn/a b", "https:",
                           "https://x/\"onmouseover=\"", "1http://x"};
  for (size_t i = 0; i < sizeof bad_web / sizeof bad_web[0]; i++) {
    struct zw_cap_alert a = full_alert();
    a.web = bad_web[i];
    assert_rejected(&a, "web: ");
  }
}

/* web is an xs:anyURI, and libxml2's schema validator (xmllint's) parses it
 * as a URI: a bad %-escape was once written and then failed validation. */
static void test_web_is_schema_any_uri(void **state) {
  (void)state;
  const char *bad_web[] = {"http:%zz", "https://www.example.gov.cn/a%", "https://www.example.gov.cn/a%4g.html"};
  for (size_t i = 0; i < sizeof bad_web / sizeof bad_web[0]; i++) {
    struct zw_cap_alert a = full_alert();
    a.web = bad_web[i];
    assert_rejected(&a, "web: ");
  }
  const char *good_web[] = {"https://www.example.gov.cn/a%20b.html", "https://www.example.gov.cn/政务公开/通知.html",
                            "https://www.example.gov.cn/search?q={a}|b^c`d'e", "urn:uuid:0123456789abcdef"};
  for (size_t i = 0; i < sizeof good_web / sizeof good_web[0]; i++) {
    struct zw_cap_alert a = full_alert();
    a.web = good_web[i];
    char *xml = write_ok(&a);
    assert_schema_valid(xml);
    free(xml);
  }
}

static void test_long_text_round_trips(void **state) {
  (void)state;
  size_t n = 3 * 5000;
  char *text = malloc(n + 1);
  assert_non_null(text);
  for (size_t i = 0; i < n; i += 3) memcpy(text + i, "政", 3);
  text[n] = '\0';
  struct zw_cap_alert a = full_alert();
  a.description = a.tts = text;
  char *xml = write_ok(&a);
  assert_schema_valid(xml);
  xmlDocPtr doc = parse(xml);
  assert_text(doc, "description", text);
  xmlFreeDoc(doc);
  free(xml);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alert_valid),
      cmocka_unit_test(test_minimal_alert_valid),
      cmocka_unit_test(test_empty_optional_members_left_out),
      cmocka_unit_test(test_update_with_references_valid),
      cmocka_unit_test(test_cancel_valid),
      cmocka_unit_test(test_every_enumerated_value_valid),
      cmocka_unit_test(test_special_characters_are_text),
      cmocka_unit_test(test_special_characters_in_references_and_web),
      cmocka_unit_test(test_missing_required_rejected),
      cmocka_unit_test(test_enumerations_rejected),
      cmocka_unit_test(test_invalid_utf8_rejected),
      cmocka_unit_test(test_control_characters_rejected),
      cmocka_unit_test(test_identifier_and_sender_rules),
      cmocka_unit_test(test_sent_rules),
      cmocka_unit_test(test_references_rules),
      cmocka_unit_test(test_language_and_web_rules),
      cmocka_unit_test(test_web_is_schema_any_uri),
      cmocka_unit_test(test_long_text_round_trips),
  };
  return cmocka_run_group_tests(tests, load_schema, free_schema);
}
