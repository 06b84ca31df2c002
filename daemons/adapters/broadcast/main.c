/* zwgk-broadcast — the broadcast adapter: turns zwgk.channel.broadcast work
 * items into OASIS CAP 1.2 alerts (Alert, Update, Cancel) for the emergency
 * broadcast platform's loudspeakers (村村响) and POSTs them to its endpoint.
 *
 * No second alert: a document is built once per (release_id, revision) and
 * saved in the delivery's progress before it is posted, so every later
 * attempt (after a 5xx, a timeout or a crash) re-sends the same bytes, with
 * the same identifier and sent time, which the platform recognises. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "post.h"
#include "zw_cap.h"
#include "zw_envelope.h"
#include "zw_log.h"

struct broadcast {
  struct zw_daemon *d;
  struct post *post;
  bool curl_ready; /* curl_global_init succeeded */
};

/* The info members of an alert that its Cancel repeats when the withdrawal's
 * payload lacks them, saved in the alert's progress under "info". */
static const char *const info_keys[] = {"category", "event",     "urgency", "severity",
                                        "certainty", "headline", "area_desc", "geocode", NULL};

/* The string member key of obj, or NULL when it is absent or empty. */
static const char *jstr(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s && *s ? s : NULL;
}

/* True when s may stand in a CAP references triple: no space, comma, < or &. */
static bool cap_token(const char *s) { return s && *s && !strpbrk(s, " ,<&\t\r\n"); }

/* Writes now in China time as CAP wants it: no fraction, explicit offset. */
static void cap_now(char out[32]) {
  time_t t = time(NULL) + 8 * 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  if (strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm) == 0) *out = '\0';
}

/* Fills out with "sender,identifier,sent" of the alert that delivered the
 * previous revision (from its saved progress). Returns false when there is no
 * such alert, or it is this very identifier. */
static bool previous_reference(const json_t *previous, const char *identifier, char *out, size_t len) {
  const json_t *pp = json_object_get(previous, "progress");
  const char *id = jstr(pp, "identifier"), *sent = jstr(pp, "sent"), *sender = jstr(pp, "sender");
  if (!cap_token(id) || !cap_token(sent) || !cap_token(sender) || strcmp(id, identifier) == 0) return false;
  snprintf(out, len, "%s,%s,%s", sender, id, sent);
  return true;
}

/* The payload's member key; for a Cancel, else the cancelled alert's; else
 * dflt (for a Cancel only). */
static const char *pick(const json_t *payload, const json_t *info, bool cancel, const char *key, const char *dflt) {
  const char *s = jstr(payload, key);
  if (s || !cancel) return s;
  s = jstr(info, key);
  return s ? s : dflt;
}

/* The payload's web link when it is an absolute http(s) URL; anything else
 * is left out rather than failing the alert over an optional member. */
static const char *web_link(const struct zw_delivery *dv) {
  const char *web = jstr(dv->payload, "web");
  if (!web || strncmp(web, "http://", 7) == 0 || strncmp(web, "https://", 8) == 0) return web;
  zw_warn(dv->release_id, "payload web is not an absolute http(s) URL; left out of the alert");
  return NULL;
}

/* Counts one POST by outcome and, when it was made, observes its duration. */
static void count(struct broadcast *bc, const char *outcome, double seconds) {
  char label[64];
  struct zw_metrics *m = zw_daemon_metrics(bc->d);
  zw_metrics_add(m, "zwgk_broadcast_posts_total", zw_metrics_label(label, sizeof label, "outcome", outcome), 1);
  if (seconds >= 0) zw_metrics_observe(m, "zwgk_broadcast_post_seconds", NULL, seconds);
}

/* Builds this work item's CAP document and saves it in dv->progress with its
 * identifier, sent time, sender and references — before anything is posted.
 * Returns ZW_OK, ZW_FAIL (the payload cannot make a valid alert) or ZW_RETRY
 * (the progress could not be saved, or the sender is misconfigured). */
static enum zw_outcome build(struct broadcast *bc, struct zw_delivery *dv, const char *identifier,
                             const char *msg_type, const char *references, char *err, size_t errlen) {
  const json_t *pl = dv->payload;
  const json_t *info = json_object_get(json_object_get(dv->previous, "progress"), "info");
  bool cancel = strcmp(msg_type, "Cancel") == 0;
  const char *sender = zw_config_str(zw_daemon_config(bc->d), "broadcast.sender");
  if (!cap_token(sender)) {
    snprintf(err, errlen, "broadcast.sender '%s' has a space, comma, < or &", sender);
    return ZW_RETRY;
  }
  char sent[32], cancel_text[1024], cancel_headline[512];
  cap_now(sent);
  const char *headline = jstr(pl, "headline"), *tts = jstr(pl, "tts_text");
  if (cancel && !tts) { /* a withdrawal carries no text: announce it in our words */
    const char *earlier = jstr(info, "headline");
    snprintf(cancel_text, sizeof cancel_text, "此前播发的“%s”已撤回，请以最新通知为准。",
             earlier ? earlier : "信息");
    tts = cancel_text;
    if (!headline && earlier) {
      snprintf(cancel_headline, sizeof cancel_headline, "已撤回：%s", earlier);
      headline = cancel_headline;
    }
  }
  struct zw_cap_alert a = {
      .identifier = identifier, .sender = sender, .sent = sent, .status = "Actual", .msg_type = msg_type,
      .scope = "Public", .references = references, .language = "zh-CN",
      .category = pick(pl, info, cancel, "category", "Other"),
      .event = pick(pl, info, cancel, "event", "政务信息撤回"),
      .urgency = pick(pl, info, cancel, "urgency", "Unknown"),
      .severity = pick(pl, info, cancel, "severity", "Unknown"),
      .certainty = pick(pl, info, cancel, "certainty", "Unknown"), .headline = headline, .description = tts,
      .web = web_link(dv), .tts = tts, .area_desc = pick(pl, info, cancel, "area_desc", "全域"),
      .geocode = pick(pl, info, cancel, "geocode", NULL)};
  char *doc = zw_cap_write(&a, err, errlen);
  if (!doc) return ZW_FAIL;
  const char *values[] = {a.category, a.event, a.urgency, a.severity, a.certainty, a.headline, a.area_desc,
                          a.geocode};
  json_t *saved_info = json_object();
  for (size_t i = 0; info_keys[i]; i++)
    if (values[i]) json_object_set_new(saved_info, info_keys[i], json_string(values[i]));
  json_t *pr = dv->progress;
  json_object_set_new(pr, "identifier", json_string(identifier));
  json_object_set_new(pr, "sent", json_string(sent));
  json_object_set_new(pr, "sender", json_string(sender));
  json_object_set_new(pr, "msg_type", json_string(msg_type));
  if (references) json_object_set_new(pr, "references", json_string(references));
  json_object_set_new(pr, "info", saved_info);
  json_object_set_new(pr, "document", json_string(doc));
  free(doc);
  if (zw_delivery_save(dv, err, errlen) < 0) return ZW_RETRY; /* nothing posted yet */
  return ZW_OK;
}

/* Sorts the platform's answer into an outcome. */
static enum zw_outcome answer(struct broadcast *bc, struct zw_delivery *dv, const char *identifier, int rc,
                              const struct post_result *r, char *err, size_t errlen) {
  if (rc < 0) {
    snprintf(err, errlen, "POST %s: %s", post_endpoint(bc->post), r->timed_out ? "timed out" : r->error);
    count(bc, "retry", r->seconds);
    return ZW_RETRY;
  }
  if (r->status >= 200 && r->status < 300) {
    char serr[256], label[64];
    json_object_set_new(dv->progress, "accepted", json_true());
    if (zw_delivery_save(dv, serr, sizeof serr) < 0)
      zw_warn(dv->release_id, "alert %s accepted, but that could not be noted: %s", identifier, serr);
    snprintf(dv->external_id, sizeof dv->external_id, "%s", identifier);
    snprintf(dv->url, sizeof dv->url, "%s", post_endpoint(bc->post));
    count(bc, "accepted", r->seconds);
    zw_metrics_add(zw_daemon_metrics(bc->d), "zwgk_broadcast_alerts_total",
                   zw_metrics_label(label, sizeof label, "msg_type", jstr(dv->progress, "msg_type")), 1);
    zw_info(dv->release_id, "CAP %s %s accepted (HTTP %ld)", jstr(dv->progress, "msg_type"), identifier,
            r->status);
    return ZW_OK;
  }
  snprintf(err, errlen, "POST %s: HTTP %ld: %s", post_endpoint(bc->post), r->status, r->body);
  if (r->status >= 500 || r->status == 408 || r->status == 429) {
    dv->retry_after_s = r->retry_after_s;
    count(bc, "retry", r->seconds);
    return ZW_RETRY;
  }
  count(bc, "failed", r->seconds);
  return ZW_FAIL; /* 409 and every other answer: the same document will never be accepted */
}

/* True when an earlier attempt at this work item built its document. */
static bool built(const struct zw_delivery *dv, const char *identifier) {
  const char *id = jstr(dv->progress, "identifier");
  return id && strcmp(id, identifier) == 0 && jstr(dv->progress, "document");
}

/* Posts the work item's document: the one an earlier attempt built, else a
 * new one of msg_type (references may be NULL). */
static enum zw_outcome send_alert(struct broadcast *bc, struct zw_delivery *dv, const char *identifier,
                                  const char *msg_type, const char *references, char *err, size_t errlen) {
  if (!built(dv, identifier)) {
    enum zw_outcome o = build(bc, dv, identifier, msg_type, references, err, errlen);
    if (o != ZW_OK) return o;
  } else if (json_is_true(json_object_get(dv->progress, "accepted"))) {
    zw_info(dv->release_id, "alert %s was accepted before; not sent again", identifier);
    snprintf(dv->external_id, sizeof dv->external_id, "%s", identifier);
    snprintf(dv->url, sizeof dv->url, "%s", post_endpoint(bc->post));
    return ZW_OK;
  } else {
    zw_info(dv->release_id, "re-sending alert %s as built at %s", identifier, jstr(dv->progress, "sent"));
  }
  const char *doc = jstr(dv->progress, "document");
  struct post_result r;
  long timeout_ms = zw_config_int(zw_daemon_config(bc->d), "broadcast.timeout_ms");
  int rc = post_cap(bc->post, doc, strlen(doc), timeout_ms, &r);
  return answer(bc, dv, identifier, rc, &r, err, errlen);
}

/* Checks what every work item needs and makes its identifier. */
static bool prepare(const struct zw_delivery *dv, char *identifier, size_t len, char *err, size_t errlen) {
  if (!zw_is_release_id(dv->release_id) || dv->revision < 1) {
    snprintf(err, errlen, "unusable release id or revision");
    return false;
  }
  if (!json_is_object(dv->progress)) {
    snprintf(err, errlen, "the runner gave no progress object");
    return false;
  }
  snprintf(identifier, len, "%s.%d", dv->release_id, dv->revision);
  return true;
}

static enum zw_outcome deliver(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  char identifier[64], references[1200] = "";
  if (!prepare(dv, identifier, sizeof identifier, err, errlen)) return ZW_FAIL;
  bool update = previous_reference(dv->previous, identifier, references, sizeof references);
  if (!update && strcmp(dv->action, "update") == 0 && !built(dv, identifier))
    zw_info(dv->release_id, "update of a release never broadcast: sent as a new Alert");
  return send_alert(state, dv, identifier, update ? "Update" : "Alert", update ? references : NULL, err, errlen);
}

static enum zw_outcome withdraw(void *state, struct zw_delivery *dv, char *err, size_t errlen) {
  char identifier[64], references[1200] = "";
  if (!prepare(dv, identifier, sizeof identifier, err, errlen)) return ZW_FAIL;
  if (!built(dv, identifier) && !previous_reference(dv->previous, identifier, references, sizeof references)) {
    zw_info(dv->release_id, "withdrawal of a release not on the air: nothing to cancel");
    return ZW_OK;
  }
  return send_alert(state, dv, identifier, "Cancel", references, err, errlen);
}

static void destroy(void *state) {
  struct broadcast *bc = state;
  if (!bc) return;
  post_destroy(bc->post);
  if (bc->curl_ready) curl_global_cleanup();
  free(bc);
}

static void *init(struct zw_daemon *d, struct zw_pg *pg, char *err, size_t errlen) {
  const struct zw_config *cfg = zw_daemon_config(d);
  struct broadcast *bc = calloc(1, sizeof *bc);
  if (!bc) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  bc->d = d;
  const char *sender = zw_config_str(cfg, "broadcast.sender");
  if (!cap_token(sender)) {
    snprintf(err, errlen, "broadcast.sender '%s' must not be empty nor hold a space, comma, < or &", sender);
    goto failed;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "curl_global_init failed");
    goto failed;
  }
  bc->curl_ready = true;
  if (!(bc->post = post_new(zw_config_str(cfg, "broadcast.endpoint"), err, errlen))) goto failed;
  struct zw_metrics *m = zw_daemon_metrics(d);
  zw_metrics_declare(m, "zwgk_broadcast_posts_total", ZW_COUNTER, "CAP POSTs, by outcome (accepted, retry, failed)");
  zw_metrics_declare(m, "zwgk_broadcast_post_seconds", ZW_HISTOGRAM, "Time of one CAP POST");
  zw_metrics_declare(m, "zwgk_broadcast_alerts_total", ZW_COUNTER, "Alerts accepted, by msgType");
  return bc;
failed:
  destroy(bc);
  return NULL;
}

static const struct zw_adapter_ops broadcast_ops = {"broadcast", init, deliver, withdraw, destroy, NULL, false};

int main(int argc, char **argv) { return zw_adapter_main(&broadcast_ops, argc, argv); }
