/* zw_cap — OASIS CAP 1.2 alert documents for the broadcast channel, written
 * with libxml2 (never by pasting strings), valid against CAP-v1.2.xsd. */
#ifndef ZW_CAP_H
#define ZW_CAP_H

#include <stddef.h>

/* One alert with one info block and one area. Required: identifier, sender,
 * sent, status, msg_type, scope, and in info: category, event, urgency,
 * severity, certainty, area_desc. Optional members may be NULL. */
struct zw_cap_alert {
  const char *identifier; /* "<release_id>.<revision>" */
  const char *sender;
  const char *sent;       /* "2026-11-28T09:30:00+08:00" (CAP dateTime, no fraction, explicit offset) */
  const char *status;     /* Actual, Exercise, System, Test, Draft */
  const char *msg_type;   /* Alert, Update, Cancel */
  const char *scope;      /* Public, Restricted, Private */
  const char *references; /* "sender,identifier,sent" of earlier alerts, space-separated; Update/Cancel */
  const char *language;   /* e.g. "zh-CN" */
  const char *category;   /* Geo, Met, Safety, Security, Rescue, Fire, Health, Env, Transport, Infra, CBRNE, Other */
  const char *event;
  const char *urgency;    /* Immediate, Expected, Future, Past, Unknown */
  const char *severity;   /* Extreme, Severe, Moderate, Minor, Unknown */
  const char *certainty;  /* Observed, Likely, Possible, Unlikely, Unknown */
  const char *headline;
  const char *description; /* the text the loudspeakers read */
  const char *web;
  const char *tts;         /* parameter valueName zwgk-tts */
  const char *area_desc;
  const char *geocode;     /* administrative division code, geocode valueName "GB/T 2260" */
};

/* Returns the alert as a UTF-8 XML document (caller frees), or NULL with err
 * when a required member is missing, an enumerated member has a value CAP does
 * not allow, a text is not valid UTF-8, or memory runs out. */
char *zw_cap_write(const struct zw_cap_alert *alert, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
