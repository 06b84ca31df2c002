#!/usr/bin/env python3
"""A fake of the WeChat Official Account API for tests: the stable access
token, the draft box and free publishing (发布能力), with the real paths, field
names, length limits and error codes, and faults injected on request.

    fake_wechat.py [--host 127.0.0.1] [--port 0] [--appid ID] [--secret S]
                   [--publishing-polls N] [--token-ttl S] [--verbose]

Prints "READY <port>" on stdout once it listens (port 0 picks a free port).

API (every answer is HTTP 200 with a JSON body, as the real one; errors carry
{"errcode", "errmsg"}):

POST /cgi-bin/stable_token          {grant_type: "client_credential", appid,
                                    secret, force_refresh?} -> {access_token,
                                    expires_in}
POST /cgi-bin/draft/add?access_token=…          {articles: [...]} -> {media_id}
POST /cgi-bin/freepublish/submit?access_token=… {media_id} -> {errcode: 0,
                                    errmsg: "ok", publish_id}
POST /cgi-bin/freepublish/get?access_token=…    {publish_id} -> {publish_id,
                                    publish_status, article_id?,
                                    article_detail?, fail_idx}
POST /cgi-bin/freepublish/delete?access_token=… {article_id, index?} ->
                                    {errcode: 0, errmsg: "ok"}
POST /cgi-bin/freepublish/batchget?access_token=… {offset, count (1..20),
                                    no_content?} -> {total_count, item_count,
                                    item: [{article_id, content: {news_item:
                                    [...]}, update_time}]}, newest first

A submitted job answers publish_status 1 (publishing) to its first N polls
(--publishing-polls, or /_fake/config), then 0 with the article, or the
configured failure status (2..6). A job nobody has polled for
unpolled_finish_s seconds (UNPOLLED_FINISH_S by default) finishes on its own (the platform publishes whether
or not anyone asks), which freepublish/batchget then shows. Submitting
consumes the draft: a second
submit of the same media_id answers 40007, as the draft is no longer in the
draft box (a failed job gives it back).

Control API:

GET  /_fake/state    {"articles": [...], "copies": [...], "drafts", "calls",
                     "errors", "inflight", "tokens_issued", "token_requests",
                     "force_refreshes", "jobs": [...], "faults": [...],
                     "config", "config_rules": [...]}. articles: every article
                     published, with article_id, publish_id, media_id, title,
                     author, digest, content, content_source_url,
                     thumb_media_id, url, status ("published" or "deleted");
                     copies: per (title, content) the number of articles
                     "published" now and "total" ever.
GET  /_fake/state?match=TEXT  the same, counting only what concerns articles
                     containing TEXT (see "subject" below): articles, copies,
                     drafts, jobs, calls, errors, inflight and abandoned.
                     Token counters stay global.
POST /_fake/fail     {"endpoint": "draft/add" | "freepublish/submit" | … |
                     "stable_token", "errcode": n, "errmsg"?, "times"?,
                     "match"?}: the next `times` calls of the endpoint answer
                     that error; without "times" until /_fake/clear or
                     /_fake/reset (a quota that stays exhausted). "match":
                     only calls whose subject contains that text.
POST /_fake/http_error {"endpoint", "status": 500|502|…, "times"?, "match"?}
POST /_fake/delay    {"endpoint", "seconds", "times"?, "match"?, "phase"?}:
                     "before" (default) waits before doing anything, and a
                     call whose client hung up meanwhile is dropped undone;
                     "after" does the work, then waits before answering.
POST /_fake/clear    {"endpoint"?, "match"?}: removes the faults (of one
                     endpoint, of one match), and with "match" the config
                     rules of that match.
POST /_fake/config   {"publishing_polls"?, "publish_outcome"? (0 or 2..6),
                     "unpolled_finish_s"?, "token_ttl"?, "match"?}: without
                     "match" changes the defaults; with it, publishing_polls,
                     publish_outcome and unpolled_finish_s apply only to jobs
                     whose draft contains that text.

A call's subject is its request body and, for freepublish/submit, get and
delete, the article fields of the draft the media_id, publish_id or
article_id names: so "match" with a release's title or id (e.g. in
content_source_url) selects every call about that release's articles, and
several test runs can share one fake without resetting it.
POST /_fake/expire_tokens  every token issued so far answers 42001 from now on.
POST /_fake/reset    forgets articles, drafts, jobs, counters, faults and
                     config changes (issued tokens stay valid).
"""

import argparse
import json
import secrets
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ENDPOINTS = ("stable_token", "draft/add", "freepublish/submit", "freepublish/get", "freepublish/delete",
             "freepublish/batchget")
# A job that no freepublish/get has asked about for this long finishes by itself.
UNPOLLED_FINISH_S = 2.0
BATCHGET_MAX = 20

# errmsg of the codes the fake answers, after the published global error code
# list (全局返回码) and the draft / freepublish interface pages.
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40007: "invalid media_id",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45028: "has no masssend quota",
    47001: "data format error",
    48001: "api unauthorized",
    53600: "Article ID 无效",
}

TITLE_MAX = 32  # characters
DIGEST_MAX = 128  # characters
CONTENT_LIMIT = 20000  # characters; content must be shorter


def error(code, errmsg=None):
    """An error answer with a request id, the way the real API words it."""
    return {"errcode": code, "errmsg": f"{errmsg or ERRMSG.get(code, 'error')} rid: {secrets.token_hex(4)}"}


def client_gone(sock):
    """True when the peer closed the connection (EOF is readable)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class State:
    """Everything the fake remembers, behind one lock."""

    def __init__(self, defaults):
        self.lock = threading.Lock()
        self.defaults = dict(defaults)
        self.tokens = {}  # token -> expiry (time.time())
        self.current_token = None
        self.reset()

    def reset(self):
        self.config = dict(self.defaults)
        self.articles = []
        self.drafts = {}  # media_id -> {"articles": [...], "consumed": bool}
        self.jobs = {}  # publish_id -> job
        self.faults = []
        self.calls = {e: 0 for e in ENDPOINTS}
        self.errors = {e: 0 for e in ENDPOINTS}
        self.inflight = {e: 0 for e in ENDPOINTS}
        self.tokens_issued = 0
        self.token_requests = 0
        self.force_refreshes = 0
        self.drafts_added = 0
        self.abandoned = 0
        self.next_publish_id = 2247483648
        self.log = []  # one entry per API call: endpoint, subject, error, inflight, abandoned
        self.draft_log = []  # the subject of every successful draft/add
        self.config_rules = []  # {"match", "publishing_polls"?, "publish_outcome"?}

    def snapshot(self, match=None):
        """The state; with match, only what concerns articles containing it."""
        articles = [a for a in self.articles if match is None or match in a["subject"]]
        copies = {}
        for a in articles:
            c = copies.setdefault((a["title"], a["content"]), {"title": a["title"], "content": a["content"],
                                                                "published": 0, "total": 0})
            c["total"] += 1
            c["published"] += a["status"] == "published"
        if match is None:
            drafts, calls, errors = self.drafts_added, dict(self.calls), dict(self.errors)
            inflight, abandoned = dict(self.inflight), self.abandoned
            jobs = list(self.jobs.values())
        else:
            entries = [e for e in self.log if match in e["subject"]]
            drafts = sum(match in d for d in self.draft_log)
            calls, errors, inflight = ({e: 0 for e in ENDPOINTS} for _ in range(3))
            for e in entries:
                calls[e["endpoint"]] += 1
                errors[e["endpoint"]] += e["error"]
                inflight[e["endpoint"]] += e["inflight"]
            abandoned = sum(e["abandoned"] for e in entries)
            jobs = [j for j in self.jobs.values() if match in j["subject"]]
        hidden = ("articles", "subject")
        return {
            "articles": [{k: v for k, v in a.items() if k != "subject"} for a in articles],
            "copies": list(copies.values()),
            "drafts": drafts,
            "calls": calls,
            "errors": errors,
            "inflight": inflight,
            "abandoned": abandoned,
            "tokens_issued": self.tokens_issued,
            "token_requests": self.token_requests,
            "force_refreshes": self.force_refreshes,
            "jobs": [{k: v for k, v in j.items() if k not in hidden} for j in jobs],
            "faults": [dict(f) for f in self.faults],
            "config": dict(self.config),
            "config_rules": [dict(r) for r in self.config_rules],
        }

    def subject(self, endpoint, raw):
        """What a call is about: its body and, for a call naming a draft, a
        job or an article by id, that draft's article fields."""
        text = raw.decode("utf-8", "replace")
        try:
            request = json.loads(raw) if raw else None
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return text
        related = ""
        if endpoint == "draft/add":
            related = article_text(request.get("articles"))
        elif endpoint == "freepublish/submit":
            draft = self.drafts.get(request.get("media_id"))
            related = draft["subject"] if draft else ""
        elif endpoint == "freepublish/get":
            job = self.jobs.get(str(request.get("publish_id")))
            related = job["subject"] if job else ""
        elif endpoint == "freepublish/delete":
            related = " ".join(a["subject"] for a in self.articles if a["article_id"] == request.get("article_id"))
        return f"{text}\n{related}"

    def take_faults(self, endpoint, subject):
        """Returns the faults that apply to this call, using up one of each one's times."""
        taken = []
        for fault in list(self.faults):
            if fault["endpoint"] != endpoint:
                continue
            if fault.get("match") and fault["match"] not in subject:
                continue
            # At most one fault of each kind per call, the oldest first.
            if any(t["kind"] == fault["kind"] for t in taken):
                continue
            taken.append(dict(fault))
            if fault["times"] is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
        return taken

    def issue_token(self, force):
        now = time.time()
        token = self.current_token
        if force or token is None or self.tokens.get(token, 0) <= now:
            token = secrets.token_urlsafe(96)
            self.tokens[token] = now + self.config["token_ttl"]
            self.current_token = token
            self.tokens_issued += 1
        return token, int(self.tokens[token] - now)

    def check_token(self, token):
        """None when the token is good, else the error answer."""
        if not token:
            return error(41001)
        expiry = self.tokens.get(token)
        if expiry is None:
            return error(40001)
        if expiry <= time.time():
            return error(42001)
        return None


def text_length(value):
    return len(value) if isinstance(value, str) else 0


def article_text(articles):
    """The text fields of draft/add articles, for matching."""
    fields = ("title", "author", "digest", "content", "content_source_url")
    if not isinstance(articles, list):
        return ""
    return "\n".join(str(a.get(f, "")) for a in articles if isinstance(a, dict) for f in fields)


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-wechat/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D102 - quiet unless asked
        if self.server.verbose:
            sys.stderr.write("fake-wechat: " + (fmt % args) + "\n")

    def answer(self, status, body):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        if url.path == "/_fake/state":
            match = (parse_qs(url.query).get("match") or [None])[0] or None
            with self.server.state.lock:
                self.answer(200, self.server.state.snapshot(match))
        else:
            self.answer(404, {"errcode": 404, "errmsg": "not found"})

    def do_POST(self):  # noqa: N802
        raw = self.body()
        url = urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            self.control(url.path[len("/_fake/"):], raw)
        elif url.path.startswith("/cgi-bin/") and url.path[len("/cgi-bin/"):] in ENDPOINTS:
            token = (parse_qs(url.query).get("access_token") or [None])[0]
            self.api(url.path[len("/cgi-bin/"):], token, raw)
        else:
            self.answer(404, {"errcode": 404, "errmsg": "not found"})

    # --- control ---------------------------------------------------------

    def control(self, what, raw):
        try:
            args = json.loads(raw or b"{}")
            if not isinstance(args, dict):
                raise ValueError("not an object")
        except ValueError:
            self.answer(400, {"error": "not a JSON object"})
            return
        state = self.server.state
        with state.lock:
            problem = self.apply_control(state, what, args)
        if problem == "not_found":
            self.answer(404, {"error": "not_found"})
        elif problem:
            self.answer(400, {"error": problem})
        else:
            self.answer(200, {"status": "ok"})

    @staticmethod
    def apply_control(state, what, args):
        """Changes the state as asked; returns None or what is wrong with the request."""
        if what == "reset":
            state.reset()
        elif what == "expire_tokens":
            for token in state.tokens:
                state.tokens[token] = 0
        elif what == "clear":
            endpoint, match = args.get("endpoint"), args.get("match")
            state.faults = [f for f in state.faults
                            if (endpoint and f["endpoint"] != endpoint) or (match and f.get("match") != match)]
            if match and not endpoint:
                state.config_rules = [r for r in state.config_rules if r["match"] != match]
        elif what == "config":
            if "publish_outcome" in args and int(args["publish_outcome"]) not in (0, 2, 3, 4, 5, 6):
                return "publish_outcome is 0 or 2..6"
            if args.get("match"):
                rule = {"match": args["match"]}
                for key in ("publishing_polls", "publish_outcome"):
                    if key in args:
                        rule[key] = int(args[key])
                if "unpolled_finish_s" in args:
                    rule["unpolled_finish_s"] = float(args["unpolled_finish_s"])
                state.config_rules.append(rule)
            else:
                for key in ("publishing_polls", "publish_outcome", "token_ttl"):
                    if key in args:
                        state.config[key] = int(args[key])
                if "unpolled_finish_s" in args:
                    state.config["unpolled_finish_s"] = float(args["unpolled_finish_s"])
        elif what in ("fail", "http_error", "delay"):
            endpoint = args.get("endpoint")
            if endpoint not in ENDPOINTS:
                return f"endpoint is one of {', '.join(ENDPOINTS)}"
            times = args.get("times")
            fault = {"endpoint": endpoint, "kind": what, "times": None if times is None else int(times),
                     "match": args.get("match")}
            if what == "fail":
                fault["errcode"] = int(args.get("errcode", -1))
                fault["errmsg"] = args.get("errmsg")
            elif what == "http_error":
                fault["status"] = int(args.get("status", 500))
            else:
                fault["seconds"] = float(args.get("seconds", 1))
                fault["phase"] = args.get("phase", "before")
                if fault["phase"] not in ("before", "after"):
                    return "phase is before or after"
            if fault["times"] is not None and fault["times"] <= 0:
                return "times must be positive"
            state.faults.append(fault)
        else:
            return "not_found"
        return None

    # --- the API ---------------------------------------------------------

    def api(self, endpoint, token, raw):
        state = self.server.state
        with state.lock:
            state.calls[endpoint] += 1
            state.inflight[endpoint] += 1
            entry = {"endpoint": endpoint, "subject": state.subject(endpoint, raw), "error": False,
                     "inflight": True, "abandoned": False}
            state.log.append(entry)
            faults = {f["kind"]: f for f in state.take_faults(endpoint, entry["subject"])}
        try:
            delay = faults.get("delay")
            if delay and delay["phase"] == "before":
                time.sleep(delay["seconds"])
                if client_gone(self.connection):
                    with state.lock:
                        state.abandoned += 1
                        entry["abandoned"] = True
                    self.close_connection = True
                    return
            if "http_error" in faults:
                with state.lock:
                    state.errors[endpoint] += 1
                    entry["error"] = True
                status = faults["http_error"]["status"]
                self.answer(status, {"errcode": -1, "errmsg": f"injected HTTP {status}"})
                return
            if "fail" in faults:
                reply = error(faults["fail"]["errcode"], faults["fail"]["errmsg"])
            else:
                reply = self.dispatch(endpoint, token, raw)
            if reply.get("errcode"):
                with state.lock:
                    state.errors[endpoint] += 1
                    entry["error"] = True
            if delay and delay["phase"] == "after":
                time.sleep(delay["seconds"])
            self.answer(200, reply)
        finally:
            with state.lock:
                state.inflight[endpoint] -= 1
                entry["inflight"] = False

    def dispatch(self, endpoint, token, raw):
        try:
            request = json.loads(raw) if raw else None
        except ValueError:
            return error(47001)
        if request is None:
            return error(44002)
        if not isinstance(request, dict):
            return error(47001)
        state = self.server.state
        with state.lock:
            if endpoint == "stable_token":
                return self.stable_token(state, request)
            problem = state.check_token(token)
            if problem:
                return problem
            if endpoint == "draft/add":
                return self.draft_add(state, request)
            if endpoint == "freepublish/submit":
                return self.submit(state, request)
            if endpoint == "freepublish/get":
                return self.publish_get(state, request)
            if endpoint == "freepublish/batchget":
                return self.batchget(state, request)
            return self.delete(state, request)

    def stable_token(self, state, request):
        state.token_requests += 1
        if request.get("grant_type") != "client_credential":
            return error(40002)
        if not request.get("appid"):
            return error(41002)
        if not request.get("secret"):
            return error(41004)
        if request["appid"] != self.server.appid:
            return error(40013)
        if request["secret"] != self.server.secret:
            return error(40125)
        force = bool(request.get("force_refresh"))
        state.force_refreshes += force
        token, expires_in = state.issue_token(force)
        return {"access_token": token, "expires_in": expires_in}

    @staticmethod
    def draft_add(state, request):
        articles = request.get("articles")
        if not isinstance(articles, list) or not articles:
            return error(47001)
        for a in articles:
            if not isinstance(a, dict) or not isinstance(a.get("title"), str) or not isinstance(
                    a.get("content"), str):
                return error(47001)
            if text_length(a["title"]) > TITLE_MAX:
                return error(45003)
            if text_length(a.get("digest")) > DIGEST_MAX:
                return error(45004)
            if text_length(a["content"]) >= CONTENT_LIMIT:
                return error(45002)
            if not a.get("thumb_media_id"):
                return error(40007)
        media_id = secrets.token_urlsafe(32)
        subject = article_text(articles)
        state.drafts[media_id] = {"articles": articles, "consumed": False, "subject": subject}
        state.drafts_added += 1
        state.draft_log.append(subject)
        return {"media_id": media_id}

    @staticmethod
    def submit(state, request):
        draft = state.drafts.get(request.get("media_id"))
        if draft is None or draft["consumed"]:
            return error(40007)
        draft["consumed"] = True
        publish_id = str(state.next_publish_id)
        state.next_publish_id += 1
        settings = {"publishing_polls": state.config["publishing_polls"],
                    "publish_outcome": state.config["publish_outcome"],
                    "unpolled_finish_s": state.config["unpolled_finish_s"]}
        for rule in state.config_rules:  # the latest matching rule wins
            if rule["match"] in draft["subject"]:
                settings.update({k: v for k, v in rule.items() if k != "match"})
        state.jobs[publish_id] = {
            "publish_id": publish_id,
            "media_id": request["media_id"],
            "articles": draft["articles"],
            "subject": draft["subject"],
            "polls": 0,
            "publishing_polls": settings["publishing_polls"],
            "outcome": settings["publish_outcome"],
            "status": 1,
            "article_id": None,
            "touched": time.time(),
            "unpolled_finish_s": settings["unpolled_finish_s"],
        }
        return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id}

    def publish_get(self, state, request):
        publish_id = request.get("publish_id")
        job = state.jobs.get(str(publish_id) if publish_id is not None else None)
        if job is None:
            return error(40007, "invalid publish_id")
        job["polls"] += 1
        job["touched"] = time.time()
        if job["status"] == 1 and job["polls"] > job["publishing_polls"]:
            self.finish_job(state, job)
        reply = {"publish_id": job["publish_id"], "publish_status": job["status"]}
        if job["status"] == 0:
            items = [{"idx": i + 1, "article_url": a["url"]}
                     for i, a in enumerate(x for x in state.articles if x["article_id"] == job["article_id"])]
            reply.update(article_id=job["article_id"], article_detail={"count": len(items), "item": items},
                         fail_idx=[])
        elif job["status"] != 1:
            reply["fail_idx"] = list(range(1, len(job["articles"]) + 1))
        return reply

    @staticmethod
    def finish_job(state, job):
        job["status"] = job["outcome"]
        if job["status"] != 0:
            state.drafts[job["media_id"]]["consumed"] = False  # a failed job leaves the draft
            return
        job["article_id"] = secrets.token_urlsafe(48)
        sn = secrets.token_hex(16)
        for idx, a in enumerate(job["articles"], start=1):
            state.articles.append({
                "article_id": job["article_id"],
                "publish_id": job["publish_id"],
                "media_id": job["media_id"],
                "idx": idx,
                "title": a["title"],
                "author": a.get("author", ""),
                "digest": a.get("digest", ""),
                "content": a["content"],
                "content_source_url": a.get("content_source_url", ""),
                "thumb_media_id": a.get("thumb_media_id"),
                "url": f"http://mp.weixin.qq.com/s?__biz=ZmFrZQ==&mid={job['publish_id']}&idx={idx}&sn={sn}",
                "status": "published",
                "published_at": time.time(),
                "subject": job["subject"],
            })

    def batchget(self, state, request):
        """freepublish/batchget: the published articles, newest first, a page
        of `count` from `offset`; deleted ones are left out, as the real list
        leaves out what the account deleted."""
        offset, count = request.get("offset"), request.get("count")
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= BATCHGET_MAX:
            return error(40097, "invalid args")
        now = time.time()
        for job in state.jobs.values():
            if job["status"] == 1 and now - job["touched"] > job["unpolled_finish_s"]:
                self.finish_job(state, job)
        groups = {}
        for a in state.articles:
            if a["status"] == "published":
                groups.setdefault(a["article_id"], []).append(a)
        ordered = sorted(groups.values(), key=lambda g: g[0]["published_at"], reverse=True)
        page = ordered[offset:offset + count]
        fields = ("title", "author", "digest", "content_source_url", "thumb_media_id", "url")
        items = []
        for group in page:
            news = []
            for a in group:
                item = {f: a.get(f) for f in fields}
                item.update(need_open_comment=0, only_fans_can_comment=0, is_deleted=False)
                if not request.get("no_content"):
                    item["content"] = a["content"]
                news.append(item)
            items.append({"article_id": group[0]["article_id"], "content": {"news_item": news,
                          "create_time": int(group[0]["published_at"]), "update_time": int(group[0]["published_at"])},
                          "update_time": int(group[0]["published_at"])})
        return {"total_count": len(ordered), "item_count": len(items), "item": items}

    @staticmethod
    def delete(state, request):
        article_id = request.get("article_id")
        index = int(request.get("index") or 0)
        hits = [a for a in state.articles if a["article_id"] == article_id and a["status"] == "published"
                and (index == 0 or a["idx"] == index)]
        if not article_id or not hits:
            return error(53600)
        for a in hits:
            a["status"] = "deleted"
            a["deleted_at"] = time.time()
        return {"errcode": 0, "errmsg": "ok"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--appid", default="wxfake0000000001", help="the AppID stable_token accepts")
    parser.add_argument("--secret", default="fake-app-secret", help="the AppSecret stable_token accepts")
    parser.add_argument("--publishing-polls", type=int, default=1,
                        help="freepublish/get answers 1 (publishing) this many times per job")
    parser.add_argument("--token-ttl", type=int, default=7200, help="expires_in of issued tokens")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    server.state = State({"publishing_polls": args.publishing_polls, "publish_outcome": 0,
                          "token_ttl": args.token_ttl, "unpolled_finish_s": UNPOLLED_FINISH_S})
    server.appid, server.secret, server.verbose = args.appid, args.secret, args.verbose
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
