/* fuzz_cap — libFuzzer target for zw_cap_write: the input is split at NUL bytes
 * into the members of struct zw_cap_alert, in the order the struct declares
 * them (identifier, sender, sent, status, msg_type, scope, references,
 * language, category, event, urgency, severity, certainty, headline,
 * description, web, tts, area_desc, geocode); members past the last field are
 * NULL. The alert is written, and a refusal must say why in err.
 *
 * A document written must be well-formed XML (read back with libxml2, network
 * and entity substitution off) without a document type declaration, an alert
 * in the CAP 1.2 namespace whose elements hold exactly the members' text as
 * text, and valid against schemas/cap/CAP-v1.2.xsd (the schema is read once;
 * ZWGK_CAP_XSD names another copy). Otherwise the target aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "zw_cap.h"

#ifndef ZW_SOURCE_DIR
#error "ZW_SOURCE_DIR must name the source tree (build.sh and tests/fuzz/CMakeLists.txt define it)"
#endif

#define CAP_NAMESPACE "urn:oasis:names:tc:emergency:cap:1.2"

enum { FIELDS = 19 };

static xmlSchemaPtr cap_schema;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  xmlInitParser();
  const char *path = getenv("ZWGK_CAP_XSD");
  if (!path || !*path) path = ZW_SOURCE_DIR "/schemas/cap/CAP-v1.2.xsd";
  xmlSchemaParserCtxtPtr parser = xmlSchemaNewParserCtxt(path);
  cap_schema = parser ? xmlSchemaParse(parser) : NULL;
  xmlSchemaFreeParserCtxt(parser);
  if (!cap_schema) {
    fprintf(stderr, "fuzz_cap: cannot read the CAP schema %s\n", path);
    abort();
  }
  return 0;
}

/* The first element named name in the CAP namespace under node, in document order. */
static xmlNodePtr find(xmlNodePtr node, const char *name) {
  for (; node; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) continue;
    if (xmlStrcmp(node->name, BAD_CAST name) == 0 && node->ns && xmlStrcmp(node->ns->href, BAD_CAST CAP_NAMESPACE) == 0)
      return node;
    xmlNodePtr inner = find(node->children, name);
    if (inner) return inner;
  }
  return NULL;
}

/* Element name under parent holds exactly value as text, or is absent when
 * value is absent (NULL or ""). */
static void check_text(xmlNodePtr parent, const char *name, const char *value) {
  xmlNodePtr element = parent ? find(parent->children, name) : NULL;
  if (!value || !*value) {
    if (element) abort();
    return;
  }
  if (!element) abort();
  for (xmlNodePtr child = element->children; child; child = child->next)
    if (child->type != XML_TEXT_NODE) abort();
  xmlChar *text = xmlNodeGetContent(element);
  if (!text || strcmp((const char *)text, value) != 0) abort();
  xmlFree(text);
}

/* A parameter or geocode: <name><valueName>value_name</valueName><value>value</value></name>. */
static void check_pair(xmlNodePtr root, const char *name, const char *value_name, const char *value) {
  xmlNodePtr pair = find(root, name);
  if (!value || !*value) {
    if (pair) abort();
    return;
  }
  check_text(pair, "valueName", value_name);
  check_text(pair, "value", value);
}

static void check_document(const char *xml, const struct zw_cap_alert *a) {
  xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "cap.xml", NULL, XML_PARSE_NONET);
  if (!doc || doc->intSubset || doc->extSubset) abort();
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root || xmlStrcmp(root->name, BAD_CAST "alert") != 0 || !root->ns ||
      xmlStrcmp(root->ns->href, BAD_CAST CAP_NAMESPACE) != 0)
    abort();
  const struct {
    const char *element, *value;
  } texts[] = {{"identifier", a->identifier}, {"sender", a->sender},     {"sent", a->sent},
               {"status", a->status},         {"msgType", a->msg_type},  {"scope", a->scope},
               {"references", a->references}, {"language", a->language}, {"category", a->category},
               {"event", a->event},           {"urgency", a->urgency},   {"severity", a->severity},
               {"certainty", a->certainty},   {"headline", a->headline}, {"description", a->description},
               {"web", a->web},               {"areaDesc", a->area_desc}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) check_text(root, texts[i].element, texts[i].value);
  check_pair(root, "parameter", "zwgk-tts", a->tts);
  check_pair(root, "geocode", "GB/T 2260", a->geocode);

  xmlSchemaValidCtxtPtr validator = xmlSchemaNewValidCtxt(cap_schema);
  if (!validator) abort();
  int rc = xmlSchemaValidateDoc(validator, doc);
  xmlSchemaFreeValidCtxt(validator);
  if (rc != 0) {
    fprintf(stderr, "fuzz_cap: not valid against CAP-v1.2.xsd (%d):\n%s", rc, xml);
    abort();
  }
  xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = malloc(size + 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  const char *field[FIELDS] = {NULL};
  const char *p = copy, *end = copy + size;
  for (size_t i = 0; i < FIELDS && p <= end; i++) {
    field[i] = p;
    p += strlen(p) + 1;
  }
  struct zw_cap_alert alert = {
      .identifier = field[0], .sender = field[1],    .sent = field[2],      .status = field[3],
      .msg_type = field[4],   .scope = field[5],     .references = field[6], .language = field[7],
      .category = field[8],   .event = field[9],     .urgency = field[10],  .severity = field[11],
      .certainty = field[12], .headline = field[13], .description = field[14], .web = field[15],
      .tts = field[16],       .area_desc = field[17], .geocode = field[18],
  };
  char err[512] = "";
  char *xml = zw_cap_write(&alert, err, sizeof err);
  if (xml)
    check_document(xml, &alert);
  else if (!err[0])
    abort();
  free(xml);
  free(copy);
  return 0;
}
