"""Abuse of the ingest API and of every text that reaches the public.

What a careless or hostile department system (or anyone who can reach the
ingest port) can send, and what must come of it:

- credentials: no Authorization, malformed headers, forged tokens (random, one
  character changed, the stored hash of a real one), a revoked token and a
  token of another department get the status and JSON error of CONTRACT §2;
- bodies: over the size limit (413), 10,000-deep nesting (400, the producer
  lives on with the same pid), huge strings within the limit, invalid UTF-8
  and NUL bytes (raw and \\u0000) in every string field (400), any media type
  but application/json (415); half-sent requests, HTTP that is not HTTP and a
  second request hidden behind a second Content-Length;
- script elements, event attributes and javascript: URLs (mixed case,
  entity-encoded, with white space and control characters inside) in every
  text field of a release (title, summary, body, area, attachment names and
  URLs) on a catalog item that goes to the portal, WeChat and broadcast
  (sthj-004) and on one that goes to a village's bulletin board (zdbc-001):
  none of it is live markup on the portal's pages and feed, the WeChat
  article, the bulletin pages or in the CAP alert;
- XML specials and entity tricks (<, >, &, ]]>, a DOCTYPE declaring an
  external entity, &xxe;) and control characters in the fields that reach CAP:
  the alert stays valid against CAP-v1.2.xsd and holds them only as text; the
  portal's feed.xml stays well-formed, no page holds a control character, and
  zwgkctl shows the operator the text but sends no control character to the
  terminal;
- SQL metacharacters in every string field: free text is accepted and stored
  and returned exactly as sent, coded fields are refused by the schema, and
  every table is still there;
- path traversal in every value that becomes a file name or URL path
  (source_id, region_code, catalog_code, department, a column): refused by
  validation, or (source_id, which only ever enters release_id's hash) never
  written outside the portal's and the boards' document roots; the two file
  servers refuse traversal in request paths.

Whatever was refused is, at the end, neither on zwgk.releases nor in the
releases table, and every daemon still runs with the pid it had at the start.

Only the two sthj-004 releases become WeChat articles (about a second each):
the module waits for the WeChat adapter's queue first (conftest's
wechat_drained), as test_channels.py does. Releases that only need to be
accepted go to conftest's quiet item, which has no channel.
"""

import base64
import hashlib
import http.client
import json
import os
import pathlib
import re
import secrets
import socket
import time
import types
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from conftest import (CAP, DAEMONS, assert_cap_without_markup, assert_no_active_markup, assert_plain_text,
                      assert_valid_cap, get, release_id, wait_until)

# --- the releases ----------------------------------------------------------------

BROADCAST_ITEM = {"item": "sthj-004", "department": "xhaxq-sthj", "region": "370211"}
BULLETIN_ITEM = {"item": "zdbc-001", "department": "jzs-lgzz", "region": "370281101201"}

# Markup that would run in a browser if any of it survived as markup. In a
# body each stands in a paragraph of its own, so that an element left open
# (svg, math) does not take the ones after it along when it is dropped.
SCRIPT_VARIANTS = [
    "<script>alert(1)</script>",
    "<ScRiPt>alert(2)</sCrIpT>",
    "<script src=//evil.example/x.js></script>",
    "<img src=x onerror=alert(3)>",
    '<IMG SRC="x" OnError="alert(4)">',
    "<body onload=alert(5)>",
    "<svg/onload=alert(6)>",
    "<svg><script>alert(7)</script></svg>",
    "<div onmouseover\n=alert(8)>m</div>",
    '<a href="#" onclick="alert(9)">c</a>',
    '<a href="javascript:alert(10)">j</a>',
    '<a href="JaVaScRiPt:alert(11)">j</a>',
    '<a href="&#106;avascript:alert(12)">j</a>',
    '<a href="&#x6A;&#x61;vascript&#x3A;alert(13)">j</a>',
    '<a href="&#0000106avascript:alert(14)">j</a>',
    '<a href="java\nscript:alert(15)">j</a>',
    '<a href="java\tscript:alert(16)">j</a>',
    '<a href=" \x01javascript:alert(17)">j</a>',
    '<a href="javascript&colon;alert(18)">j</a>',
    "<a href=javascript:alert(19)>u</a>",
    '<img src="jav&#x09;ascript:alert(20)">',
    '<a href="vbscript:msgbox(21)">v</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgyMik8L3NjcmlwdD4=">d</a>',
    '<iframe src="javascript:alert(23)"></iframe>',
    '<object data="javascript:alert(24)"></object>',
    '<base href="javascript:alert(25)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(26)">',
    '<form action="javascript:alert(27)"><button>x</button></form>',
    '<p style="background:url(javascript:alert(28))">s</p>',
    '"><script>alert(29)</script>',
    "'><img src=x onerror=alert(30)>",
    "<scr<script>ipt>alert(31)</script>",
    "<!--<script>alert(32)</script>-->",
    "<![CDATA[<script>alert(33)</script>]]>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(34)>",
    "<img src=x onerror=alert(35)",
]

# The same, as attachment URLs may carry them (http(s), no white space).
URL_VARIANTS = [
    'http://x.example/"><script>alert(40)</script>',
    "https://x.example/?next=javascript:alert(41)",
    "http://x.example/'onerror='alert(42)'",
    "http://x.example/<img/src=x/onerror=alert(43)>",
]

# XML specials and an external entity, with control characters and
# noncharacters that neither XML 1.0 nor HTML may carry.
XML_TRICKS = ('a < b && c > d ]]> &xxe; &amp; &#x26; <!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]> '
              "&xxe;")
CONTROLS = "\x01\x08\x0b\x0c\x1b[31m\x7f\x85\x9b\ufffe\uffff\ufdd0\U0001fffe"
XML_BODY = (f"<p>正文 {XML_TRICKS}</p><p><![CDATA[ ]]> ]]></p><p>{CONTROLS}"
            "&#1;&#x0b;&#xfffe;&#xd800;&#1114112;&#0;</p><p>尾 &xxe;</p>")

# The characters no page, feed or alert may hold: C0 controls but tab, line
# feed and carriage return; DEL and the C1 controls; noncharacters.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff"
                                  "\U0001fffe\U0001ffff]")

# A body with every variant in a paragraph of its own, then all of them run
# together.
MARKUP_BODY = "".join(f"<p>第{i}段 {v}</p>" for i, v in enumerate(SCRIPT_VARIANTS)) + "".join(SCRIPT_VARIANTS)


def chunks(variants, limit):
    """The variants joined by spaces into pieces of at most limit characters."""
    out, piece = [], ""
    for v in variants:
        if piece and len(piece) + 1 + len(v) > limit:
            out.append(piece)
            piece = ""
        piece = f"{piece} {v}" if piece else v
    return out + [piece]


TITLES = chunks(SCRIPT_VARIANTS, 180)  # room for a marker in front
SUMMARIES = chunks(SCRIPT_VARIANTS, 480)
AREAS = chunks(SCRIPT_VARIANTS, 200)


def content_release(where, **fields):
    """A publish release of where's department on its catalog item and region."""
    release = {
        "source_id": f"e2e-abuse-{uuid.uuid4().hex}",
        "revision": 1,
        "action": "publish",
        "department": where["department"],
        "title": "滥用测试",
        "body": "<p>滥用测试正文。</p>",
        "summary": "滥用测试摘要。",
        "doc_type": "notice",
        "catalog_code": where["item"],
        "region_code": where["region"],
        "formed_at": "2026-11-20T09:00:00+08:00",
        "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
    }
    release.update(fields)
    return {k: v for k, v in release.items() if v is not None}


def attachments(names, urls):
    return [{"name": name[:255], "url": url, "sha256": "0" * 64, "bytes": 1}
            for name, url in zip(names, urls)][:20]


# --- helpers -------------------------------------------------------------------------


def send(stack, body, token, *, path="/v1/releases", content_type="application/json", raw=None,
         authorization=None):
    """POSTs body (or raw bytes) with a bearer token (None: no Authorization;
    authorization: the header's exact value instead)."""
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return requests.post(f"{stack.ingest_url}{path}", data=data, headers=headers, timeout=60)


def assert_error(response, status, error):
    """The response is status with a JSON body whose error is error; returns the body."""
    assert response.status_code == status, f"wanted {status}, got {response.status_code}: {response.text[:300]}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == error, body
    return body


def violation_paths(response):
    return {d["path"] for d in assert_error(response, 400, "invalid_release")["details"]}


def pid_of(stack, daemon):
    return int((stack.stack_dir / "run" / f"{daemon}.pid").read_text())


def assert_alive(stack, daemon, pid):
    """The daemon still runs as pid and answers /readyz."""
    assert pid_of(stack, daemon) == pid, f"{daemon} was restarted"
    assert os.path.exists(f"/proc/{pid}"), f"{daemon} (pid {pid}) is gone"
    ready = requests.get(f"{stack.admin_url(daemon)}/readyz", timeout=10)
    assert ready.status_code == 200, f"{daemon} /readyz: {ready.status_code} {ready.text}"


def deliveries(sql, rid):
    """{channel: (status, url)} of the release's first revision."""
    rows = sql("SELECT channel, status, coalesce(url, '') FROM deliveries WHERE release_id = :'p1' AND revision = 1",
               rid)
    return {channel: (status, url) for channel, status, url in rows}


def delivered(sql, releases, timeout=90):
    """Waits until each release (rid, channels) is final on each of its
    channels and asserts it was delivered there."""
    for r in releases:
        def final(r=r):
            rows = deliveries(sql, r.rid)
            return rows if r.channels <= set(rows) and all(s != "pending" for s, _ in rows.values()) else None

        rows = wait_until(f"{r.name} on {sorted(r.channels)}", final, timeout=timeout)
        assert {c: s for c, (s, _) in rows.items()} == {c: "delivered" for c in r.channels}, (r.name, rows)
        r.urls = {c: url for c, (_, url) in rows.items()}
        r.column = re.match(r".*/zwgk/(.+)/[0-9a-f]{32}\.html$", r.urls["portal"]).group(1)


def accepted(stack, body, token, name, channels):
    """POSTs a release that must be accepted; returns what the module knows of it."""
    response = send(stack, body, token)
    assert response.status_code == 202, f"{name}: {response.status_code} {response.text[:300]}"
    rid = release_id(body["department"], body["source_id"])
    assert response.json()["release_id"] == rid
    return types.SimpleNamespace(name=name, rid=rid, body=body, channels=set(channels),
                                 region=body["region_code"], column=None, urls={})


def assert_clean_characters(text, where):
    found = FORBIDDEN_CHARACTERS.search(text or "")
    assert not found, f"{where}: character U+{ord(found.group()):04X} at {found.start()}"


def raw_get(base_url, path):
    """GETs path exactly as written (no normalisation of dot segments);
    returns (status, body)."""
    parsed = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- the module's state ----------------------------------------------------------------


@pytest.fixture(scope="module")
def refused():
    """(department, source_id) of every release the module had refused."""
    return []


@pytest.fixture(scope="module", autouse=True)
def before(stack, sql):
    """What the module starts from: each daemon's pid, the stack directory's
    files (outside the databases and logs) and the database's tables."""
    pids = {daemon: pid_of(stack, daemon) for daemon in DAEMONS}
    return types.SimpleNamespace(pids=pids, files=stack_files(stack), tables=tables(sql))


def stack_files(stack):
    root = stack.stack_dir
    skip = {root / "pg", root / "kafka", root / "log"}
    found = set()
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if pathlib.Path(directory) / d not in skip]
        found.update(os.path.relpath(os.path.join(directory, f), root) for f in files)
    return found


def tables(sql):
    return sorted(r[0] for r in sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"))


@pytest.fixture(scope="module")
def tokens(token):
    return {d: token(d) for d in ("demo", "xhaxq-czj", "xhaxq-sthj", "jzs-lgzz")}


@pytest.fixture
def quiet(make_release, quiet_item):
    """quiet(**fields): a valid release of department demo on the quiet item."""
    return lambda **fields: make_release(**{"catalog_code": quiet_item, **fields})


# --- credentials -------------------------------------------------------------------------


def test_requests_without_a_valid_token_are_401(stack, tokens, quiet, refused):
    valid = tokens["demo"]
    changed = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    cases = {
        "no Authorization": None,
        "an empty header": "",
        "Basic credentials": "Basic " + base64.b64encode(f"demo:{valid}".encode()).decode(),
        "the scheme alone": "Bearer",
        "the scheme and spaces": "Bearer    ",
        "the token without a scheme": valid,
        "another scheme": f"Token {valid}",
        "two tokens": f"Bearer {valid} {valid}",
        "the token and a comma": f"Bearer {valid},",
        "a random token": f"Bearer zwgk_{secrets.token_hex(32)}",
        "one character changed": f"Bearer {changed}",
        "upper case": f"Bearer {valid.upper()}",
        "one character short": f"Bearer {valid[:-1]}",
        "the stored hash of the token": f"Bearer {hashlib.sha256(valid.encode()).hexdigest()}",
        "64 KiB": "Bearer " + "a" * 65536,
        "bytes that are not ASCII": b"Bearer \xe4\xbd\xa0\xff\xfe",
        "SQL": "Bearer ' OR '1'='1' --",
    }
    for name, header in cases.items():
        body = quiet()
        response = send(stack, body, None, authorization=header)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text[:200]}"
        assert response.json() == {"error": "unauthorized"}, name
        refused.append(("demo", body["source_id"]))
    # Nowhere else is a credential: not in the query string, not in a cookie.
    body = quiet()
    response = requests.post(f"{stack.ingest_url}/v1/releases?access_token={valid}&token={valid}", json=body,
                             cookies={"token": valid}, timeout=30)
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    refused.append(("demo", body["source_id"]))
    # The batch endpoint the same.
    bodies = [quiet(), quiet()]
    response = send(stack, bodies, None, path="/v1/releases/batch", authorization=f"Bearer {changed}")
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    refused.extend(("demo", b["source_id"]) for b in bodies)
    # The refusals are about the credential: the real token is accepted.
    assert send(stack, quiet(), valid).status_code == 202


def test_a_revoked_token_is_401(stack, ctl, token, tokens, quiet, refused):
    code = f"abuse-{uuid.uuid4().hex[:10]}"
    added = ctl("department", "add", code, "滥用测试部门", "--region", "370211")
    assert added.returncode == 0, added.stderr
    revoked_token = token(code)
    # An empty release is refused by the schema: the token itself was good.
    assert_error(send(stack, {}, revoked_token), 400, "invalid_release")
    done = ctl("department", "revoke", code)
    assert done.returncode == 0, done.stderr
    start = time.monotonic()
    while (response := send(stack, {}, revoked_token)).status_code != 401:
        assert response.status_code == 400, response.text
        assert time.monotonic() - start < 5, "the revoked token was still taken after 5 s"
        time.sleep(0.1)
    assert response.json() == {"error": "unauthorized"}
    body = quiet(department=code, catalog_code=None)
    response = send(stack, body, revoked_token)
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    refused.append((code, body["source_id"]))
    # Revoking one department's tokens leaves the others' alone, and the
    # department may be given a new one.
    assert_error(send(stack, {}, tokens["demo"]), 400, "invalid_release")
    assert_error(send(stack, {}, token(code)), 400, "invalid_release")


def test_a_token_cannot_post_for_a_department_it_does_not_own(stack, tokens, refused):
    body = content_release(BULLETIN_ITEM)  # jzs-lgzz's release, with xhaxq-sthj's token
    error = assert_error(send(stack, body, tokens["xhaxq-sthj"]), 403, "forbidden")
    assert set(error) <= {"error", "message", "department"}, error
    refused.append((body["department"], body["source_id"]))
    # Written otherwise, a department code is not one: the schema refuses it
    # before the department is compared.
    for department in ("JZS-LGZZ", " jzs-lgzz", "jzs-lgzz\n", "jzs\u2010lgzz", "jzs-lgzz\u200b",
                       "xhaxq-sthj/../jzs-lgzz"):
        body = content_release(BULLETIN_ITEM, department=department)
        assert "/department" in violation_paths(send(stack, body, tokens["xhaxq-sthj"])), department
        refused.append((department, body["source_id"]))
    # In a batch each such item is refused on its own.
    other, broken = content_release(BULLETIN_ITEM), content_release(BULLETIN_ITEM, department="JZS-LGZZ")
    response = send(stack, [other, broken], tokens["xhaxq-sthj"], path="/v1/releases/batch")
    assert response.status_code == 200, response.text
    assert [x["status"] for x in response.json()["results"]] == ["forbidden", "invalid_release"]
    refused.extend((b["department"], b["source_id"]) for b in (other, broken))


# --- bodies ------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_in_json(stack, tokens, quiet, refused, before):
    limit = int(stack.setting("producer.body_limit", "1048576"))
    body = quiet(body="<p>" + "x" * limit + "</p>")
    raw = json.dumps(body).encode()
    assert limit < len(raw) <= 4 * limit
    assert_error(send(stack, None, tokens["demo"], raw=raw), 413, "too_large")
    batch = [body]
    assert_error(send(stack, batch, tokens["demo"], path="/v1/releases/batch"), 413, "too_large")
    refused.append(("demo", body["source_id"]))
    # A chunked body has no Content-Length to look at: counted as it comes.
    chunked = quiet(body="<p>" + "x" * limit + "</p>")
    data = json.dumps(chunked).encode()
    response = requests.post(f"{stack.ingest_url}/v1/releases", timeout=60,
                             data=(data[i:i + 65536] for i in range(0, len(data), 65536)),
                             headers={"Authorization": f"Bearer {tokens['demo']}", "Content-Type": "application/json"})
    assert_error(response, 413, "too_large")
    refused.append(("demo", chunked["source_id"]))
    # Far beyond the limit the HTTP layer stops reading and answers 413 with
    # its own page (docs/api.md); nothing is accepted either way.
    far = quiet(body="<p>" + "x" * (5 * limit) + "</p>")
    response = send(stack, far, tokens["demo"])
    assert response.status_code == 413
    refused.append(("demo", far["source_id"]))
    assert_alive(stack, "zwgk-producer", before.pids["zwgk-producer"])


def test_deep_nesting_is_400_and_the_producer_lives_on(stack, tokens, quiet, refused, before):
    depth = 10_000
    nested = {
        "arrays": b"[" * depth + b"]" * depth,
        "objects": b'{"a":' * depth + b"1" + b"}" * depth,
        "mixed": b'[{"a":' * (depth // 2) + b"1" + b"}]" * (depth // 2),
        "unclosed": b"[" * depth,
        "within the parser's depth": b"[" * 2000 + b"]" * 2000,
    }
    for name, value in nested.items():
        body = quiet(title="@@NESTED@@")
        in_a_field = json.dumps(body).encode().replace(b'"@@NESTED@@"', value)
        for path, raw in (("/v1/releases", value), ("/v1/releases", in_a_field),
                          ("/v1/releases/batch", b"[" + value + b"]"),
                          ("/v1/releases/batch", b"[" + in_a_field + b"]")):
            response = send(stack, None, tokens["demo"], path=path, raw=raw)
            if path.endswith("batch") and response.status_code == 200:  # parsed: the item is refused
                assert [x["status"] for x in response.json()["results"]] == ["invalid_release"], name
            else:
                assert_error(response, 400, "invalid_release")
        refused.append(("demo", body["source_id"]))
        assert_alive(stack, "zwgk-producer", before.pids["zwgk-producer"])


def test_huge_strings_within_the_limit(stack, tokens, quiet, consume_until, refused):
    # Every field at its largest: accepted, and on zwgk.releases as sent.
    body = quiet(title="𠀀" * 200, summary="摘" * 500, area="区" * 200, body="<p>" + "预" * 87379 + "</p>",
                 secrecy_review={"reviewer": "审" * 64, "reviewed_at": "2026-11-20T10:00:00+08:00"},
                 attachments=[{"name": "附" * 255, "url": "https://x.example/" + "a" * 2030, "sha256": "0" * 64,
                               "bytes": 9223372036854775807}] * 20)
    assert len(body["body"].encode()) == 262144 and len(body["attachments"][0]["url"]) == 2048
    response = send(stack, body, tokens["demo"])
    assert response.status_code == 202, response.text[:300]
    rid = release_id("demo", body["source_id"])
    [message] = consume_until("zwgk.releases", lambda m: m["key"] == rid)
    assert message["value"]["release"] == body
    # One more of each: refused, every violation listed.
    over = quiet(title="𠀀" * 201, summary="摘" * 501, area="区" * 201, body="<p>" + "预" * 87379 + "x</p>",
                 secrecy_review={"reviewer": "审" * 65, "reviewed_at": "2026-11-20T10:00:00+08:00"},
                 attachments=[{"name": "附" * 256, "url": "https://x.example/" + "a" * 2031, "sha256": "0" * 64,
                               "bytes": 1}] * 21)
    paths = violation_paths(send(stack, over, tokens["demo"]))
    assert paths >= {"/title", "/summary", "/area", "/body", "/secrecy_review/reviewer", "/attachments",
                     "/attachments/0/name", "/attachments/0/url"}, paths
    refused.append(("demo", over["source_id"]))
    # A member name of half a MiB, and twenty thousand unknown members.
    long_name = quiet(**{"k" * 500_000: 1})
    assert violation_paths(send(stack, long_name, tokens["demo"])) == {"/" + "k" * 500_000}
    many = quiet(**{f"k{i}": i for i in range(20_000)})
    assert len(violation_paths(send(stack, many, tokens["demo"]))) == 20_000
    # Counted as unknown members, not as a metric series per made-up name.
    metrics = requests.get(f"{stack.admin_url('zwgk-producer')}/metrics", timeout=30).text
    assert 'zwgk_ingest_invalid_total{rule="unknown"}' in metrics and 'rule="k19999"' not in metrics
    # Numbers no integer type holds.
    for revision in (b"1e400", b"99999999999999999999999999", b"-0", b"1.0", b"2147483648"):
        body = quiet(revision="@@REV@@")
        raw = json.dumps(body).encode().replace(b'"@@REV@@"', revision)
        assert_error(send(stack, None, tokens["demo"], raw=raw), 400, "invalid_release")
        refused.append(("demo", body["source_id"]))
    refused.extend(("demo", b["source_id"]) for b in (long_name, many))


# The string members of a release, as paths into it.
STRING_FIELDS = [("source_id",), ("action",), ("department",), ("title",), ("body",), ("summary",), ("doc_type",),
                 ("catalog_code",), ("region_code",), ("formed_at",), ("publish_at",), ("urgency",), ("area",),
                 ("secrecy_review", "reviewer"), ("secrecy_review", "reviewed_at"), ("attachments", 0, "name"),
                 ("attachments", 0, "url"), ("attachments", 0, "sha256")]
BAD_STRINGS = {
    "an invalid byte": b"a\xffb",
    "an overlong slash": b"a\xc0\xafb",
    "an encoded surrogate": b"a\xed\xa0\x80b",
    "a truncated sequence": b"a\xe9\xa2",
    "beyond U+10FFFF": b"a\xf4\x90\x80\x80b",
    "a raw NUL": b"a\x00b",
    "an escaped NUL": b"a\\u0000b",
    "an escaped lone surrogate": b"a\\udc00b",
}


def test_bad_utf8_and_nul_in_every_string_field_are_400(stack, tokens, quiet, refused):
    for field in STRING_FIELDS:
        for name, bad in BAD_STRINGS.items():
            body = quiet(publish_at="2026-11-20T09:00:00+08:00", urgency="routine", area="区域",
                         attachments=[{"name": "附件", "url": "https://x.example/a.pdf", "sha256": "0" * 64,
                                       "bytes": 1}])
            target = body
            for key in field[:-1]:
                target = target[key]
            target[field[-1]] = "@@BAD@@"
            raw = json.dumps(body, ensure_ascii=False).encode().replace(b'"@@BAD@@"', b'"' + bad + b'"')
            response = send(stack, None, tokens["xhaxq-czj"], raw=raw)
            assert violation_paths(response) == {""}, (field, name)
            if field != ("source_id",):
                refused.append(("demo", body["source_id"]))
    # Nothing at all, or nothing but white space.
    for raw in (b"", b" \r\n\t"):
        response = send(stack, None, tokens["xhaxq-czj"], raw=raw)
        assert violation_paths(response) == {""}
        assert "wrong arguments" not in response.text, response.text
    # NUL in a member name.
    raw = json.dumps(quiet()).encode().replace(b'"title"', b'"ti\\u0000tle"')
    assert violation_paths(send(stack, None, tokens["xhaxq-czj"], raw=raw)) == {""}


def test_a_body_that_is_not_application_json_is_415(stack, tokens, quiet, refused):
    for content_type in (None, "", "text/plain", "text/json", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", "application/jsonp", "application/json-patch+json",
                         "application/javascript", "application/xml", "application/jsonx",
                         "application/json, text/plain", "*/*", "application/*"):
        body = quiet()
        response = send(stack, body, tokens["demo"], content_type=content_type)
        assert_error(response, 415, "unsupported_media_type")
        refused.append(("demo", body["source_id"]))
    # Media types are case-insensitive and may carry parameters.
    assert send(stack, quiet(), tokens["demo"], content_type="Application/JSON; charset=utf-8").status_code == 202


def raw_exchange(url, data, timeout=5, half_close=True):
    """Sends data on a new connection to url's host and port (then, with
    half_close, says it is done sending) and returns what comes back until
    the server closes the connection or stops answering."""
    parsed = urllib.parse.urlsplit(url)
    answer = b""
    with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                answer += chunk
        except (ConnectionError, socket.timeout):
            pass
    return answer


def test_broken_and_half_sent_requests_hold_up_nobody(stack, tokens, quiet, refused, before):
    parsed = urllib.parse.urlsplit(stack.ingest_url)
    held = []
    try:
        # Requests that stop half-way: the ingest API answers others meanwhile.
        for i in range(40):
            s = socket.create_connection((parsed.hostname, parsed.port), timeout=5)
            s.sendall(b"POST /v1/releases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + (b"Content-Length: 100000\r\n\r\n{\"source_id\"" if i % 2 else b"Authoriz"))
            held.append(s)
        started = time.monotonic()
        body = quiet()
        assert send(stack, body, tokens["demo"]).status_code == 202
        assert time.monotonic() - started < 5
    finally:
        for s in held:
            s.close()
    auth = f"Authorization: Bearer {tokens['demo']}\r\nContent-Type: application/json\r\n".encode()
    release = json.dumps(quiet()).encode()
    broken = {
        "a TLS client hello": bytes.fromhex("160301020001000200fc0303") + os.urandom(64),
        "not HTTP": b"GARBAGE\r\n\r\n",
        "NUL bytes": b"\x00" * 4096,
        "an unknown version": b"POST /v1/releases HTTP/9.9\r\n\r\n",
        "a negative length": b"POST /v1/releases HTTP/1.1\r\n" + auth + b"Content-Length: -1\r\n\r\n" + release,
        "a length that is not a number": b"POST /v1/releases HTTP/1.1\r\n" + auth + b"Content-Length: 1e3\r\n\r\n",
        "two lengths": b"POST /v1/releases HTTP/1.1\r\n" + auth + b"Content-Length: 2\r\nContent-Length: "
                       + str(len(release)).encode() + b"\r\n\r\n" + release,
        "a length and chunks": b"POST /v1/releases HTTP/1.1\r\n" + auth + b"Content-Length: 5\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "bad chunks": b"POST /v1/releases HTTP/1.1\r\n" + auth + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        "ten thousand headers": b"POST /v1/releases HTTP/1.1\r\n" + b"X-A: b\r\n" * 10000 + b"\r\n",
        "a header line of 1 MiB": b"POST /v1/releases HTTP/1.1\r\nX-A: " + b"b" * 1048576 + b"\r\n\r\n",
    }
    for name, data in broken.items():
        answer = raw_exchange(stack.ingest_url, data)
        assert b" 202 " not in answer.split(b"\r\n", 1)[0], f"{name}: {answer[:200]!r}"
    refused.append(("demo", json.loads(release)["source_id"]))
    # Two lengths, the first covering nothing and the second a whole request
    # behind it: answered once, and the hidden request is never read.
    hidden = quiet()
    data = json.dumps(hidden).encode()
    inner = (b"POST /v1/releases HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: " + str(len(data)).encode()
             + b"\r\n\r\n" + data)
    for path in (b"/v1/releases", b"/v1/releases/batch", b"/v1/nothing"):
        outer = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 0\r\nContent-Length: "
                 + str(len(inner)).encode() + b"\r\n\r\n" + inner)
        answer = raw_exchange(stack.ingest_url, outer, timeout=3, half_close=False)
        assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 404 ")), answer
    refused.append(("demo", hidden["source_id"]))
    assert_alive(stack, "zwgk-producer", before.pids["zwgk-producer"])


# --- markup, XML and control characters on every channel --------------------------------------


@pytest.fixture(scope="module")
def hostile(stack, tokens, sql, wechat_drained):
    """The module's releases with hostile text, once they reached their channels."""
    marker = uuid.uuid4().hex[:6]
    on_broadcast = {"portal", "wechat", "broadcast"}
    on_bulletin = {"portal", "bulletin"}
    names = [v[:255] for v in SCRIPT_VARIANTS]
    urls = URL_VARIANTS * 5
    out = [
        accepted(stack, content_release(BROADCAST_ITEM, title=f"广播{marker} {TITLES[0]}", summary=SUMMARIES[0],
                                        body=MARKUP_BODY, area=AREAS[0],
                                        attachments=attachments(names, urls)),
                 tokens["xhaxq-sthj"], "broadcast markup", on_broadcast),
        # No summary: the body is what the loudspeakers read.
        accepted(stack, content_release(BROADCAST_ITEM, title=f"广播XML{marker} {XML_TRICKS} {CONTROLS}",
                                        summary=None, body=XML_BODY + MARKUP_BODY, area=f"{XML_TRICKS}{CONTROLS}"[:200],
                                        attachments=attachments([XML_TRICKS, CONTROLS], URL_VARIANTS)),
                 tokens["xhaxq-sthj"], "broadcast xml", on_broadcast),
        accepted(stack, content_release(BULLETIN_ITEM, title=f"公示XML{marker} {XML_TRICKS} {CONTROLS}",
                                        summary=f"{XML_TRICKS} {CONTROLS}", body=XML_BODY,
                                        area=f"{XML_TRICKS}{CONTROLS}"[:200]),
                 tokens["jzs-lgzz"], "bulletin xml", on_bulletin),
    ]
    for i, title in enumerate(TITLES):
        out.append(accepted(stack, content_release(BULLETIN_ITEM, title=f"公示{i}{marker} {title}",
                                                   summary=SUMMARIES[i % len(SUMMARIES)],
                                                   body=MARKUP_BODY, area=AREAS[i % len(AREAS)],
                                                   attachments=attachments(names[i:] + names[:i], urls)),
                            tokens["jzs-lgzz"], f"bulletin markup {i}", on_bulletin))
    delivered(sql, out)
    return out


def pages(stack, channels, r):
    """{where: HTML} of every page the release is on."""
    out = {"portal page": get(channels.portal_url(r)).text,
           "portal column": get(f"{channels.portal}/zwgk/{r.column}/index.html").text,
           "portal index": get(f"{channels.portal}/zwgk/index.html").text}
    if len(r.region) == 12:
        out["portal village page"] = get(f"{channels.portal}/zwgk/cjwgk/{r.region}/index.html").text
    if "bulletin" in r.channels:
        out["bulletin page"] = get(channels.bulletin_url(r)).text
        out["bulletin board"] = get(f"{channels.bulletin}/bulletin/{r.region}/index.html").text
        out["bulletin boards"] = get(f"{channels.bulletin}/bulletin/index.html").text
    marker = r.body["title"].split(" ")[0]
    for where, html in out.items():
        assert marker in html or where in ("portal index", "bulletin boards"), f"{r.name}: {where} without it"
    return out


def test_no_live_markup_reaches_a_channel(stack, hostile, channels):
    for r in hostile:
        for where, html in pages(stack, channels, r).items():
            assert_no_active_markup(html, f"{r.name}: {where}")
        if "wechat" in r.channels:
            [article] = channels.articles(r)
            assert_plain_text(article["title"], f"{r.name}: WeChat title")
            assert_plain_text(article["digest"], f"{r.name}: WeChat digest")
            assert_no_active_markup(article["content"], f"{r.name}: WeChat content")
        if "broadcast" in r.channels:
            alert = channels.alerts(r)[f"{r.rid}.1"]
            assert_valid_cap(alert["raw"])
            assert_cap_without_markup(alert["raw"], f"{r.name}: CAP")
            for field in ("headline", "description", "tts", "areaDesc"):
                assert_plain_text(alert[field], f"{r.name}: CAP {field}")


def feed_items(channels):
    """The items of the portal's feed.xml as {guid: (title, description)};
    fails unless it is well-formed XML."""
    raw = get(f"{channels.portal}/zwgk/feed.xml").content
    root = ET.fromstring(raw)
    return {item.findtext("guid"): (item.findtext("title"), item.findtext("description"))
            for item in root.iter("item")}


def test_the_feed_is_well_formed_and_gives_readers_no_markup(hostile, channels):
    items = feed_items(channels)
    for r in hostile:
        assert r.rid in items, f"{r.name} is not in feed.xml"
        title, description = items[r.rid]
        # A feed reader shows both as HTML (RSS 2.0's description is HTML).
        assert_no_active_markup(title, f"{r.name}: feed title")
        assert_no_active_markup(description or "", f"{r.name}: feed description")
        assert_clean_characters(title, f"{r.name}: feed title")
        assert_clean_characters(description, f"{r.name}: feed description")


def test_xml_tricks_leave_the_cap_alert_valid_and_as_text(hostile, channels):
    r = next(r for r in hostile if r.name == "broadcast xml")
    alert = channels.alerts(r)[f"{r.rid}.1"]
    raw = alert["raw"]
    assert_valid_cap(raw)
    assert "root:x:" not in raw, "the external entity was resolved"
    info = ET.fromstring(raw.encode()).find(f"{{{CAP}}}info")
    headline = info.findtext(f"{{{CAP}}}headline")
    description = info.findtext(f"{{{CAP}}}description")
    # The XML specials are text: the title as sent, markup-like parts dropped.
    assert headline.startswith(r.body["title"].split(" ")[0] + " a < b && c > d ]]> &xxe; &amp; &#x26;"), headline
    assert "正文 a < b && c > d ]]> &xxe;" in description and "尾 &xxe;" in description, description
    for field in ("headline", "description", "tts", "areaDesc", "event"):
        assert_clean_characters(alert[field], f"CAP {field}")


def test_no_page_or_article_holds_a_control_character(stack, hostile, channels):
    for r in hostile:
        for where, html in pages(stack, channels, r).items():
            assert_clean_characters(html, f"{r.name}: {where}")
        for article in channels.articles(r):
            for field in ("title", "digest", "content"):
                assert_clean_characters(article[field], f"{r.name}: WeChat {field}")
        for alert in channels.alerts(r).values():
            assert_clean_characters(alert["raw"], f"{r.name}: CAP")


# What may steer a terminal: C0 controls but line feed, DEL, C1 controls, the
# bidirectional overrides and isolates.
TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_the_operator_sees_a_releases_text_but_not_its_terminal_controls(stack, ctl, tokens, quiet, hostile):
    r = next(r for r in hostile if r.name == "broadcast xml")
    outputs = {"trace": ctl("trace", r.rid)}
    # A release held for review (its catalog item does not exist), shown and rejected.
    body = quiet(title=f"\u202e待审{CONTROLS}\x1b]0;title\x07", summary=f"摘要\x1b[2J{CONTROLS}",
                 catalog_code=f"abuse-none-{uuid.uuid4().hex[:8]}", doc_type="other")
    response = send(stack, body, tokens["demo"])
    assert response.status_code == 202, response.text
    rid = response.json()["release_id"]
    wait_until("the release held", lambda: rid in ctl("--json", "review", "list").stdout)
    outputs["review list"] = ctl("review", "list")
    outputs["review show"] = ctl("review", "show", rid)
    rejected = ctl("review", "reject", rid, "--reason", "不予公开\x1b[2J\u202e")
    assert rejected.returncode == 0, rejected.stderr
    outputs["review show, rejected"] = ctl("review", "show", rid)
    outputs["review list --status all"] = ctl("review", "list", "--status", "all")
    for name, proc in outputs.items():
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        found = TERMINAL_CONTROLS.search(proc.stdout)
        context = proc.stdout[max(0, found.start() - 40):found.end() + 40] if found else ""
        assert not found, f"zwgkctl {name}: U+{ord(found.group()):04X} in {context!r}"
    assert "待审" in outputs["review show"].stdout and "\\x1B" in outputs["review show"].stdout
    # Scripts read the text exactly as sent.
    shown = json.loads(ctl("--json", "review", "show", rid).stdout)
    assert shown["release"]["title"] == body["title"] and shown["release"]["summary"] == body["summary"]


# --- SQL metacharacters ----------------------------------------------------------------------

SQL_PIECES = ["'", "''", "';", "--", "/*", "*/", "$$", "$zwgk$", "\\", "\\'", "%", "_", "%_%", "\"",
              "'); DROP TABLE releases; --", "1' OR '1'='1", "$1", ":'p1'", "\\.", "; SELECT pg_sleep(10); --"]
SQL_TEXT = " ".join(SQL_PIECES)


def test_sql_metacharacters_in_free_text_are_stored_as_sent(stack, ctl, tokens, quiet, sql, consume_until, before):
    assert len(SQL_TEXT) <= 200
    body = quiet(source_id=f"e2e-abuse--sql--{uuid.uuid4().hex}/..:x", title=SQL_TEXT, summary=SQL_TEXT,
                 body=f"<p>{SQL_TEXT}</p>", area=SQL_TEXT,
                 secrecy_review={"reviewer": "'); DROP TABLE releases; --", "reviewed_at": "2026-11-20T10:00:00+08:00"},
                 attachments=[{"name": SQL_TEXT, "url": "http://x.example/';--$$%27%3B", "sha256": "0" * 64,
                               "bytes": 1}])
    response = send(stack, body, tokens["demo"])
    assert response.status_code == 202, response.text
    rid = release_id("demo", body["source_id"])
    [message] = consume_until("zwgk.releases", lambda m: m["key"] == rid)
    assert message["value"]["release"] == body
    rows = wait_until("the release recorded",
                      lambda: sql("SELECT title FROM release_revisions WHERE release_id = :'p1'", rid))
    assert rows == [[SQL_TEXT]]
    assert sql("SELECT source_id FROM releases WHERE release_id = :'p1'", rid) == [[body["source_id"]]]
    trace = ctl("--json", "trace", rid)
    assert trace.returncode == 0, trace.stderr
    assert json.loads(trace.stdout)["revisions"][0]["title"] == SQL_TEXT
    assert tables(sql) == before.tables
    # An operator's argument is not SQL either.
    for argument in ("' OR '1'='1", "%", f"{rid}' --"):
        traced = ctl("--json", "trace", argument)
        assert traced.returncode in (1, 2), traced.stdout
        assert rid not in traced.stdout


def test_sql_metacharacters_in_coded_fields_are_400(stack, tokens, quiet, refused, sql, before):
    injection = "'; DROP TABLE releases; --"
    body = quiet(source_id=f"x{injection}", department=f"demo{injection}", region_code=f"370211{injection}",
                 catalog_code=f"czyjs-001{injection}", doc_type=f"notice{injection}", action=f"publish{injection}",
                 formed_at=f"2026-11-20T09:00:00+08:00{injection}", publish_at=f"2026-11-20T09:00:00Z{injection}",
                 urgency=f"routine{injection}", interprets=f"{'0' * 32}{injection}",
                 secrecy_review={"reviewer": "王敏", "reviewed_at": f"2026-11-20T10:00:00+08:00{injection}"},
                 attachments=[{"name": "a", "url": f"http://x.example/ {injection}", "sha256": injection, "bytes": 1}])
    paths = violation_paths(send(stack, body, tokens["demo"]))
    assert paths >= {"/source_id", "/department", "/region_code", "/catalog_code", "/doc_type", "/action",
                     "/formed_at", "/publish_at", "/urgency", "/interprets", "/secrecy_review/reviewed_at",
                     "/attachments/0/url", "/attachments/0/sha256"}, paths
    refused.append((body["department"], body["source_id"]))
    assert tables(sql) == before.tables


# --- path traversal --------------------------------------------------------------------------

TRAVERSALS = ["../../../../etc/passwd", "..%2f..%2fetc%2fpasswd", "/etc/passwd", "..\\..\\etc\\passwd",
              "%2e%2e/%2e%2e/etc", "sthj-004/../../../x", "\u2025/\u2025/etc", "C:\\Windows\\win.ini", "~root",
              "..", "."]


def test_path_traversal_in_coded_fields_is_400(stack, tokens, refused):
    for value in TRAVERSALS:
        for field in ("region_code", "catalog_code", "department"):
            body = content_release(BULLETIN_ITEM, **{field: value})
            assert f"/{field}" in violation_paths(send(stack, body, tokens["jzs-lgzz"])), (field, value)
            refused.append((body["department"], body["source_id"]))
        # A column (or any other part of the tags) is the classifier's, never the sender's.
        for member in ("column", "url_path", "tags"):
            body = content_release(BULLETIN_ITEM, **{member: value})
            assert f"/{member}" in violation_paths(send(stack, body, tokens["jzs-lgzz"])), (member, value)
            refused.append((body["department"], body["source_id"]))
    for field in ("region_code", "catalog_code", "department", "source_id"):
        body = content_release(BULLETIN_ITEM, **{field: "@@NUL@@"})
        raw = json.dumps(body).encode().replace(b'"@@NUL@@"', b'"370281101201\\u0000/../x"')
        assert violation_paths(send(stack, None, tokens["jzs-lgzz"], raw=raw)) == {""}, field


@pytest.fixture(scope="module")
def traversing(stack, tokens, sql):
    """Releases whose source_id looks like a path: the schema allows '.', '/'
    and ':', and source_id only ever enters release_id's hash."""
    marker = f"zwgk-abuse-{uuid.uuid4().hex[:8]}"
    source_ids = [f"../../../../../../tmp/{marker}", f"/tmp/{marker}", f"....//....//tmp/{marker}",
                  f"a/../../{marker}", f"./{marker}/..", f"C:/{marker}/../..", f"{marker}/../../../../../.."]
    out = [accepted(stack, content_release(BULLETIN_ITEM, source_id=s, title=f"路径{i}"), tokens["jzs-lgzz"],
                    f"source_id {s}", {"portal", "bulletin"})
           for i, s in enumerate(source_ids)]
    delivered(sql, out)
    return marker, out


def test_path_traversal_in_source_id_is_refused_or_stays_in_the_docroots(stack, tokens, traversing, refused):
    marker, releases = traversing
    portal, bulletin = pathlib.Path(stack.setting("portal.docroot")), pathlib.Path(stack.setting("bulletin.docroot"))
    for r in releases:
        assert r.urls["portal"].endswith(f"/zwgk/{r.column}/{r.rid}.html")
        assert r.urls["bulletin"].endswith(f"/bulletin/{r.region}/{r.rid}.html")
        assert (portal / "zwgk" / r.column / f"{r.rid}.html").is_file()
        assert (bulletin / "bulletin" / r.region / f"{r.rid}.html").is_file()
        for base in (portal, portal / "zwgk", portal / "zwgk" / r.column, bulletin, bulletin / "bulletin",
                     bulletin / "bulletin" / r.region):
            for suffix in ("", ".html", ".json"):
                where = os.path.normpath(os.path.join(base, r.body["source_id"].lstrip("/") + suffix))
                assert not os.path.isfile(where), f"{r.name}: {where}"
    assert not [p for p in os.listdir("/tmp") if marker in p], "a file named after a source_id in /tmp"
    for directory, subdirectories, files in os.walk(stack.stack_dir):
        assert not [n for n in subdirectories + files if marker in n], f"a file named after a source_id in {directory}"
    # What the schema refuses in a source_id.
    for source_id in ("..%2f..%2fetc", "..\\..\\etc", "\u2025/etc", "a b", "", "x" * 129, "~root"):
        body = content_release(BULLETIN_ITEM, source_id=source_id)
        assert violation_paths(send(stack, body, tokens["jzs-lgzz"])) == {"/source_id"}, source_id
        refused.append((body["department"], body["source_id"]))


TRAVERSAL_REQUESTS = [
    "{p}../zwgk.conf", "{p}../../zwgk.conf", "{p}%2e%2e/%2e%2e/zwgk.conf", "{p}..%2f..%2fzwgk.conf",
    "{p}%2e%2e%2f%2e%2e%2fzwgk.conf", "{p}..%5c..%5czwgk.conf", "{p}../../../../../../../../etc/passwd",
    "{p}%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "{p}index.html%00.css", "{p}%00",
    "{p}..;/zwgk.conf", "{p}.%2e/zwgk.conf", "{p}%252e%252e/%252e%252e/zwgk.conf", "{p}index.html/../../zwgk.conf",
    "{p}%2e%2e/%2e%2e/zwgk.conf%00.html", "{p}../../../../../../etc/passwd%00.html", "{p}..%c0%af..%c0%afzwgk.conf",
    "{p}/etc/passwd", "//etc/passwd", "/../zwgk.conf", "/%2e%2e/zwgk.conf", "/zwgk.conf", "/run/zwgk-portal.pid",
]


def test_the_file_servers_refuse_traversal(stack, channels, traversing):
    _marker, releases = traversing
    r = releases[0]
    for base, prefix, own in ((channels.portal, "/zwgk/", f"/zwgk/{r.column}/{r.rid}.html"),
                              (channels.bulletin, "/bulletin/", f"/bulletin/{r.region}/{r.rid}.html")):
        paths = [t.format(p=prefix) for t in TRAVERSAL_REQUESTS]
        paths += [f"{own}.gone", f"{own}.tmp.1", f"{own[:-5]}.json", f"{prefix}{'x' * 5000}.html"]
        for path in paths:
            status, body = raw_get(base, path)
            assert status in (400, 404), f"GET {base}{path}: {status}"
            assert b"root:" not in body and b"[pg]" not in body and b"dsn" not in body, path
        assert raw_get(base, own)[0] == 200  # the same server serves its own pages


def test_no_file_outside_the_docroots(stack, before, hostile, traversing):
    portal = os.path.relpath(stack.setting("portal.docroot"), stack.stack_dir)
    bulletin = os.path.relpath(stack.setting("bulletin.docroot"), stack.stack_dir)
    allowed = re.compile(rf"^({re.escape(portal)}/zwgk/([a-z0-9-]+/)*|{re.escape(bulletin)}/bulletin/([0-9]+/|all/)?)"
                         r"([0-9a-f]{32}\.(html|json|html\.gone)|index\.html|feed\.xml)$")
    new = {f for f in stack_files(stack) - before.files if ".tmp." not in f}
    assert new, "the module wrote no page"
    unexpected = sorted(f for f in new if not allowed.match(f))
    assert not unexpected, f"files the module's releases should not have made: {unexpected}"
    for f in new:
        real = os.path.realpath(stack.stack_dir / f)
        assert real.startswith(os.path.realpath(stack.setting("portal.docroot")) + "/") or \
            real.startswith(os.path.realpath(stack.setting("bulletin.docroot")) + "/"), real


# --- what was refused is nowhere; everyone is still there ----------------------------------------


def test_nothing_refused_reached_kafka_or_the_database(stack, refused, sql, dump_topic, before):
    rids = {release_id(department, source_id) for department, source_id in refused}
    rows = sql("SELECT release_id FROM releases WHERE release_id = ANY (string_to_array(:'p1', ','))",
               ",".join(sorted(rids)))
    assert rows == [], f"{len(rows)} refused releases in the releases table"
    on_topic = dump_topic("zwgk.releases", lambda m: m["key"] in rids)
    assert on_topic == [], f"{len(on_topic)} refused releases on zwgk.releases"
    assert tables(sql) == before.tables
    for daemon, pid in before.pids.items():
        assert_alive(stack, daemon, pid)
