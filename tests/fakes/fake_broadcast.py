#!/usr/bin/env python3
"""A fake emergency-broadcast platform for tests: accepts OASIS CAP 1.2 alerts
POSTed to /cap, validates them (well-formed XML, and against the CAP XSD when
--xsd is given, with xmllint), records every document it accepts and answers
the way a real platform would, with faults injected on request.

    fake_broadcast.py [--host 127.0.0.1] [--port 0] [--xsd CAP-v1.2.xsd]

Prints "READY <port>" on stdout once it listens (port 0 picks a free port).

POST /cap          Content-Type application/cap+xml or application/xml.
                   200 {"status": "accepted", "identifier": …} for a new
                   identifier, and for an identifier seen before with the same
                   bytes (counted in "duplicates"); 409 for an identifier seen
                   before with other bytes; 400 with the reason for a document
                   that is not CAP 1.2; 415 for another content type.
GET  /_fake/state  {"alerts": [...], "duplicates", "conflicts", "invalid",
                   "abandoned", "inflight", "counts": {msgType: n}, "posts": [...]}:
                   alerts are the accepted documents (identifier, sender,
                   msgType, references, sent, status, headline, areaDesc,
                   geocode, description, tts, raw, sha256); posts is every
                   POST with its identifier, sha256 and outcome; inflight
                   the identifiers of POSTs being handled right now.
POST /_fake/fail   {"status": 500|503|400|…, "times": n, "retry_after": s?,
                   "match": text?}: the next n POSTs (whose document contains
                   match, when given) answer that status and are not recorded.
POST /_fake/delay  {"seconds": s, "times": n, "phase": "before"|"after",
                   "match": text?}: the next n POSTs (as above) wait s seconds. "before" (the default)
                   waits before accepting, and a client that hung up meanwhile
                   is not served (the post is "abandoned", as a platform that
                   accepts a document only together with its answer); "after"
                   accepts first, then waits before answering.
POST /_fake/reset  forgets everything, faults included.
"""

import argparse
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_TYPES = ("application/cap+xml", "application/xml")


def cap(tag):
    return f"{{{CAP_NS}}}{tag}"


class State:
    """Everything the fake remembers, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.alerts = []
        self.by_identifier = {}
        self.posts = []
        self.duplicates = 0
        self.conflicts = 0
        self.invalid = 0
        self.abandoned = 0
        self.inflight = []
        self.fail = {"status": 0, "times": 0, "retry_after": None, "match": None}
        self.delay = {"seconds": 0.0, "times": 0, "phase": "before", "match": None}

    def snapshot(self):
        counts = {}
        for alert in self.alerts:
            counts[alert["msgType"]] = counts.get(alert["msgType"], 0) + 1
        return {
            "alerts": list(self.alerts),
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "invalid": self.invalid,
            "abandoned": self.abandoned,
            "inflight": list(self.inflight),
            "counts": counts,
            "posts": list(self.posts),
        }

    def take_fault(self, which, raw):
        """Returns a copy of the fault that applies to the document raw and
        uses up one of its times, or None."""
        fault = self.fail if which == "fail" else self.delay
        if fault["times"] <= 0 or (fault["match"] and fault["match"].encode("utf-8") not in raw):
            return None
        fault["times"] -= 1
        return dict(fault)


def text_of(parent, tag):
    node = parent.find(cap(tag)) if parent is not None else None
    return node.text if node is not None and node.text is not None else None


def parameter(info, name):
    for p in info.findall(cap("parameter")) if info is not None else []:
        if text_of(p, "valueName") == name:
            return text_of(p, "value")
    return None


def parse_alert(raw):
    """Returns the recorded fields of a CAP document, or raises ValueError."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        raise ValueError(f"not well-formed XML: {e}") from e
    if root.tag != cap("alert"):
        raise ValueError(f"root element is {root.tag}, not a CAP 1.2 alert")
    info = root.find(cap("info"))
    area = info.find(cap("area")) if info is not None else None
    geocode = area.find(cap("geocode")) if area is not None else None
    fields = {
        "identifier": text_of(root, "identifier"),
        "sender": text_of(root, "sender"),
        "sent": text_of(root, "sent"),
        "status": text_of(root, "status"),
        "msgType": text_of(root, "msgType"),
        "scope": text_of(root, "scope"),
        "references": text_of(root, "references"),
        "language": text_of(info, "language"),
        "event": text_of(info, "event"),
        "headline": text_of(info, "headline"),
        "description": text_of(info, "description"),
        "web": text_of(info, "web"),
        "tts": parameter(info, "zwgk-tts"),
        "areaDesc": text_of(area, "areaDesc"),
        "geocode": text_of(geocode, "value"),
    }
    for required in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        if not fields[required]:
            raise ValueError(f"alert without {required}")
    return fields


def xsd_errors(xsd, raw):
    """Returns None when raw is valid against xsd, else xmllint's reason."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(raw)
        f.flush()
        proc = subprocess.run(
            ["xmllint", "--noout", "--nonet", "--schema", xsd, f.name],
            capture_output=True,
            text=True,
            timeout=30,
        )
    if proc.returncode == 0:
        return None
    return proc.stderr.replace(f.name, "document").strip() or f"xmllint exit {proc.returncode}"


def client_gone(sock):
    """True when the peer closed the connection (EOF is readable)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-broadcast/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D102 - quiet unless asked
        if self.server.verbose:
            sys.stderr.write("fake-broadcast: " + (fmt % args) + "\n")

    def answer(self, status, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):  # noqa: N802
        if self.path == "/_fake/state":
            with self.server.state.lock:
                self.answer(200, self.server.state.snapshot())
        else:
            self.answer(404, {"error": "not_found"})

    def do_POST(self):  # noqa: N802
        raw = self.body()
        if self.path == "/cap":
            self.post_cap(raw)
        elif self.path.startswith("/_fake/"):
            self.control(self.path[len("/_fake/"):], raw)
        else:
            self.answer(404, {"error": "not_found"})

    def control(self, what, raw):
        try:
            args = json.loads(raw or b"{}")
        except ValueError:
            self.answer(400, {"error": "not JSON"})
            return
        state = self.server.state
        with state.lock:
            if what == "reset":
                state.reset()
            elif what == "fail":
                state.fail = {
                    "status": int(args.get("status", 500)),
                    "times": int(args.get("times", 1)),
                    "retry_after": args.get("retry_after"),
                    "match": args.get("match"),
                }
            elif what == "delay":
                phase = args.get("phase", "before")
                if phase not in ("before", "after"):
                    self.answer(400, {"error": "phase is before or after"})
                    return
                state.delay = {
                    "seconds": float(args.get("seconds", 1)),
                    "times": int(args.get("times", 1)),
                    "phase": phase,
                    "match": args.get("match"),
                }
            else:
                self.answer(404, {"error": "not_found"})
                return
        self.answer(200, {"status": "ok"})

    def record_post(self, identifier, digest, outcome, status):
        with self.server.state.lock:
            self.server.state.posts.append(
                {"identifier": identifier, "sha256": digest, "outcome": outcome, "status": status,
                 "at": time.time()}
            )

    def post_cap(self, raw):
        try:
            identifier = parse_alert(raw)["identifier"]
        except ValueError:
            identifier = None
        state = self.server.state
        with state.lock:
            state.inflight.append(identifier)
        try:
            self.handle_cap(raw, identifier)
        finally:
            with state.lock:
                if identifier in state.inflight:  # a reset may have forgotten it
                    state.inflight.remove(identifier)

    def handle_cap(self, raw, identifier):
        state = self.server.state
        digest = hashlib.sha256(raw).hexdigest()
        with state.lock:
            delay = state.take_fault("delay", raw)
            fail = state.take_fault("fail", raw)
        if delay and delay["phase"] == "before":
            time.sleep(delay["seconds"])
            if client_gone(self.connection):
                with state.lock:
                    state.abandoned += 1
                self.record_post(identifier, digest, "abandoned", None)
                self.close_connection = True
                return
        if fail:
            self.record_post(identifier, digest, "injected", fail["status"])
            headers = {"Retry-After": str(fail["retry_after"])} if fail["retry_after"] is not None else None
            self.answer(fail["status"], {"error": "injected failure"}, headers=headers)
            return
        status, reply = self.accept(raw, digest)
        if delay and delay["phase"] == "after":
            time.sleep(delay["seconds"])
        self.answer(status, reply)

    def accept(self, raw, digest):
        """Validates and records one document; returns (status, reply)."""
        state = self.server.state
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in CAP_TYPES:
            self.record_post(None, digest, "unsupported_media_type", 415)
            return 415, {"error": "unsupported_media_type", "detail": content_type}
        try:
            fields = parse_alert(raw)
            reason = xsd_errors(self.server.xsd, raw) if self.server.xsd else None
            if reason:
                raise ValueError(f"not valid against the CAP 1.2 schema: {reason}")
        except ValueError as e:
            with state.lock:
                state.invalid += 1
            self.record_post(None, digest, "invalid", 400)
            return 400, {"error": "invalid_cap", "detail": str(e)}
        identifier = fields["identifier"]
        with state.lock:
            seen = state.by_identifier.get(identifier)
            if seen is not None and seen != digest:
                state.conflicts += 1
                outcome, status = "conflict", 409
            elif seen is not None:
                state.duplicates += 1
                outcome, status = "duplicate", 200
            else:
                state.by_identifier[identifier] = digest
                fields.update(raw=raw.decode("utf-8", "replace"), sha256=digest, received_at=time.time())
                state.alerts.append(fields)
                outcome, status = "accepted", 200
        self.record_post(identifier, digest, outcome, status)
        if status == 409:
            return 409, {"error": "conflict", "detail": f"identifier {identifier} was sent with other content"}
        return 200, {"status": "accepted", "identifier": identifier}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--xsd", help="validate every document against this schema with xmllint")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args()
    if args.xsd:
        if not shutil.which("xmllint"):
            parser.error("--xsd needs xmllint (Debian package libxml2-utils)")
        if not os.path.isfile(args.xsd):
            parser.error(f"--xsd {args.xsd}: no such file")
    server = Server((args.host, args.port), Handler)
    server.state = State()
    server.xsd = os.path.abspath(args.xsd) if args.xsd else None
    server.verbose = args.verbose
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
