"""End to end: the stack's zwgk-bulletin. Channel envelopes are written
straight to zwgk.channel.bulletin; the notices are checked as files under the
stack's bulletin document root (bulletin.docroot), over HTTP
(ZWGK_BULLETIN_URL) and on zwgk.receipts: print-ready A4 pages, valid HTML5,
every text escaped, updates replacing the page, withdrawals marked 已撤回, and
a region code that is not one never becoming a path.

The adapter and its document root are shared with the rest of the session
(other tests' notices are on the same boards): every test uses fresh release
ids and looks at its own notices, and at the boards only for what its own
notices put there."""

import http.client
import pathlib
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import requests
from conftest import channel_envelope, override, wait_until

REGION = "370211001001"
# The tags of the catalog item of the module's notices.
ITEM = {"catalog_code": "cwgk-001", "domain": "村务公开", "item_l1": "村级财务", "level": "village"}
BOARD = re.compile(r"^([0-9]{6,12}|all)$")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Bulletin:
    """The stack's zwgk-bulletin: its document root and its HTTP server."""

    def __init__(self, stack):
        self.docroot = pathlib.Path(stack.setting("bulletin.docroot"))
        self.base_url = stack.env["ZWGK_BULLETIN_URL"]
        self.listen = urlsplit(self.base_url).netloc
        self.admin = stack.admin_url("zwgk-bulletin")

    def get(self, path):
        r = requests.get(self.base_url + path, timeout=10)
        r.encoding = "utf-8"
        return r


@pytest.fixture(scope="module")
def bulletin(stack):
    b = Bulletin(stack)
    assert requests.get(f"{b.admin}/readyz", timeout=10).status_code == 200
    return b


def payload(**fields):
    """The payload of a village's accounts notice, with these fields instead (None: without it)."""
    return override({
        "region_code": REGION,
        "region_name": "东山村",
        "title": "东山村2026年第三季度村务收支公开",
        "summary": "本季度收入与支出明细。",
        "body_html": "<p>本季度村集体收入12.5万元。</p><table><tbody><tr><td>道路维修</td><td>3.2万元</td></tr>"
                     "</tbody></table>",
        "department": "dsc",
        "department_name": "东山村村民委员会",
        "doc_type": "public_list",
        "formed_at": "2026-11-20T09:00:00+08:00",
        "column_name": "村务公开",
        "portal_url": "https://www.example.gov.cn/zwgk/cjwgk/370211001001/notice.html",
        "shortened": [],
    }, fields)


def envelope(rid, revision, action, pl):
    """A channel envelope as the fan-out writes it."""
    content = {"title": pl.get("title", "公告"), "body": "<p>正文。</p>", "doc_type": "notice"}
    return channel_envelope("bulletin", rid, revision, action, pl, item=ITEM, region_code=REGION, content=content)


class Html5Check(HTMLParser):
    """Structural HTML5 checks: doctype first, <html lang>, <meta charset> in
    <head>, a title, every non-void element closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.first, self.lang, self.charset = [], [], None, None, False
        self.title, self.tags = "", []

    def handle_decl(self, decl):
        self.first = self.first or decl

    def handle_starttag(self, tag, attrs):
        self.first = self.first or f"<{tag}>"
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and (a.get("charset") or "").lower() == "utf-8":
            self.charset = self.stack == ["html", "head"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title":
            self.title += data


def check_html5(text):
    c = Html5Check()
    c.feed(text)
    c.close()
    assert text.startswith("<!DOCTYPE html>\n"), text[:40]
    assert c.first == "DOCTYPE html"
    assert c.lang == "zh-CN"
    assert c.charset, "no <meta charset=utf-8> in <head>"
    assert c.title.strip()
    assert not c.errors and not c.stack, (c.errors, c.stack)
    assert not [t for t, a in c.tags if t == "script" or any(k.startswith("on") for k in a)]
    return c


def test_notice_page_and_index_are_written_and_served(bulletin, produce, receipt, validate_envelope):
    rid = uuid.uuid4().hex
    pl = payload()
    produce(envelope(rid, 1, "publish", pl))
    value = receipt(rid, 1, "bulletin")
    validate_envelope(value)
    r = value["receipt"]
    assert r["status"] == "delivered", r
    assert r["external_id"] == f"{REGION}/{rid}"
    assert r["url"] == f"{bulletin.base_url}/bulletin/{REGION}/{rid}.html"

    board = bulletin.docroot / "bulletin" / REGION
    assert (board / f"{rid}.html").is_file() and (board / "index.html").is_file()
    assert not list(board.glob("*.tmp.*"))
    page = bulletin.get(f"/bulletin/{REGION}/{rid}.html")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text == (board / f"{rid}.html").read_text(encoding="utf-8")
    check_html5(page.text)
    for text in (pl["title"], "东山村村民委员会", "2026-11-20", "本季度村集体收入12.5万元。", "道路维修",
                 "东山村公示栏", pl["portal_url"], "本季度收入与支出明细。"):
        assert text in page.text, text
    assert "@page { size: A4; margin: 20mm }" in page.text

    index = bulletin.get(f"/bulletin/{REGION}/index.html")
    assert index.status_code == 200
    check_html5(index.text)
    assert f'href="{rid}.html"' in index.text and pl["title"] in index.text
    assert "东山村公示栏" in index.text
    boards = bulletin.get("/bulletin/index.html")
    check_html5(boards.text)
    assert f'href="{REGION}/index.html"' in boards.text
    assert bulletin.get("/").url.endswith("/bulletin/index.html")


def test_text_is_escaped_and_the_body_sanitised(bulletin, produce, receipt):
    rid = uuid.uuid4().hex
    pl = payload(
        title="通知 <script>alert(1)</script> & \"引号\"",
        department_name="<b>村委会</b>",
        body_html="<p onclick=\"steal()\">正文</p><script>alert(2)</script>"
                  "<a href=\"javascript:alert(3)\">链接</a><img src=\"x.png\" onerror=\"alert(4)\">",
    )
    produce(envelope(rid, 1, "publish", pl))
    assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    page = bulletin.get(f"/bulletin/{REGION}/{rid}.html").text
    check_html5(page)
    assert "通知 &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;引号&quot;" in page
    assert "&lt;b&gt;村委会&lt;/b&gt;" in page
    assert "<script" not in page and "onclick" not in page and "onerror" not in page
    assert "javascript:" not in page and "alert(2)" not in page
    assert "<p>正文</p>" in page


def test_update_replaces_the_page_and_notes_the_revision(bulletin, produce, receipt):
    rid = uuid.uuid4().hex
    produce(envelope(rid, 1, "publish", payload(title="原标题公告")))
    assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    first = bulletin.get(f"/bulletin/{REGION}/{rid}.html").text
    assert "原标题公告" in first and "第 2 版" not in first

    produce(envelope(rid, 2, "update", payload(title="更正后的公告", body_html="<p>更正后的正文。</p>")))
    assert receipt(rid, 2, "bulletin")["receipt"]["status"] == "delivered"
    page = bulletin.get(f"/bulletin/{REGION}/{rid}.html").text
    check_html5(page)
    assert "更正后的公告" in page and "更正后的正文。" in page
    assert "原标题公告" not in page and "12.5万元" not in page
    assert "第 2 版，更新于 " in page
    index = bulletin.get(f"/bulletin/{REGION}/index.html").text
    assert index.count(f'href="{rid}.html"') == 1
    assert "已更新（第 2 版）" in index and "原标题公告" not in index


def test_withdrawal_marks_the_notice_withdrawn(bulletin, produce, receipt):
    rid = uuid.uuid4().hex
    produce(envelope(rid, 1, "publish", payload(title="将被撤回的公告")))
    assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    produce(envelope(rid, 2, "withdraw", {"region_code": REGION, "shortened": []}))
    r = receipt(rid, 2, "bulletin")["receipt"]
    assert r["status"] == "withdrawn", r
    assert r["url"] == f"{bulletin.base_url}/bulletin/{REGION}/{rid}.html"

    page = bulletin.get(f"/bulletin/{REGION}/{rid}.html")
    assert page.status_code == 410
    check_html5(page.text)
    assert "已撤回" in page.text and "将被撤回的公告" in page.text
    assert re.search(r"已于 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 撤回", page.text), page.text
    assert "12.5万元" not in page.text
    index = bulletin.get(f"/bulletin/{REGION}/index.html").text
    row = next(line for line in index.splitlines() if f'href="{rid}.html"' in line)
    assert 'class="withdrawn"' in row and "已撤回" in row


def test_withdrawal_of_an_unknown_notice_changes_nothing(bulletin, produce, receipt):
    rid = uuid.uuid4().hex
    produce(envelope(rid, 3, "withdraw", {"shortened": []}))
    r = receipt(rid, 3, "bulletin")["receipt"]
    assert r["status"] == "withdrawn" and r.get("external_id") is None, r
    assert not list(bulletin.docroot.glob(f"bulletin/*/{rid}.*"))


@pytest.mark.parametrize("code", ["../../etc", "..", "/tmp/x", "37021100100%2F", "370211/../../x", "3702"])
def test_a_region_code_that_is_not_one_never_becomes_a_path(bulletin, produce, receipt, code):
    rid = uuid.uuid4().hex
    produce(envelope(rid, 1, "publish", payload(region_code=code)))
    r = receipt(rid, 1, "bulletin")["receipt"]
    assert r["status"] == "delivered", r
    assert r["external_id"] == f"all/{rid}"
    files = list(bulletin.docroot.rglob(f"{rid}.*"))
    assert {f.relative_to(bulletin.docroot).as_posix() for f in files} == {
        f"bulletin/all/{rid}.html", f"bulletin/all/{rid}.json"}
    # Nothing was written where the code would lead as a path (inside the
    # document root that is the rglob above; outside it, these), and every
    # board is named by a division code or is `all`.
    escapes = {(base / c).resolve() for base in (bulletin.docroot / "bulletin", bulletin.docroot)
               for c in (code, code.lstrip("/"))}
    for place in escapes:
        assert not list(place.glob(f"{rid}.*")), place
    entries = list((bulletin.docroot / "bulletin").iterdir())
    boards = {p.name for p in entries if p.is_dir()}
    assert all(BOARD.match(b) for b in boards), boards
    assert {p.name for p in entries if not p.is_dir() and ".tmp." not in p.name} <= {"index.html"}, entries
    assert bulletin.get(f"/bulletin/all/{rid}.html").status_code == 200


@pytest.mark.parametrize("path", ["/bulletin/../../etc/passwd", "/bulletin/%2e%2e/%2e%2e/etc/passwd",
                                  "/bulletin/all/../../../etc/passwd", "/etc/passwd"])
def test_the_server_answers_nothing_outside_the_boards(bulletin, path):
    conn = http.client.HTTPConnection(bulletin.listen.split(":")[0], int(bulletin.listen.split(":")[1]), timeout=10)
    conn.request("GET", path)  # sent as is, not normalised
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    assert answer.status in (400, 404), (answer.status, body[:200])
    assert b"root:" not in body


def test_sidecars_and_temporary_files_are_not_served(bulletin, produce, receipt):
    rid = uuid.uuid4().hex
    produce(envelope(rid, 1, "publish", payload()))
    assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    assert bulletin.get(f"/bulletin/{REGION}/{rid}.json").status_code == 404
    assert bulletin.get(f"/bulletin/{REGION}/{rid}.html.gone").status_code == 404


def test_a_changed_region_moves_the_notice(bulletin, produce, receipt):
    rid, other = uuid.uuid4().hex, "370211001002"
    produce(envelope(rid, 1, "publish", payload(title="搬家的公告")))
    assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    produce(envelope(rid, 2, "update", payload(title="搬家的公告", region_code=other, region_name="西山村")))
    assert receipt(rid, 2, "bulletin")["receipt"]["external_id"] == f"{other}/{rid}"
    assert not (bulletin.docroot / "bulletin" / REGION / f"{rid}.html").exists()
    assert f'href="{rid}.html"' not in bulletin.get(f"/bulletin/{REGION}/index.html").text
    assert f'href="{rid}.html"' in bulletin.get(f"/bulletin/{other}/index.html").text
    assert "西山村公示栏" in bulletin.get(f"/bulletin/{other}/{rid}.html").text


def test_index_is_newest_first(bulletin, produce, receipt):
    rids = [uuid.uuid4().hex for _ in range(3)]
    for i, rid in enumerate(rids):
        produce(envelope(rid, 1, "publish", payload(region_code="370211001003", title=f"排序公告{i}")))
        assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    index = bulletin.get("/bulletin/370211001003/index.html").text
    positions = [index.index(f'href="{rid}.html"') for rid in rids]
    assert positions == sorted(positions, reverse=True)


def test_every_page_written_is_html5(bulletin):
    # Every page of the stack's boards, this module's and the session's others.
    pages = list((bulletin.docroot / "bulletin").rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        try:
            text = page.read_text(encoding="utf-8")
        except FileNotFoundError:  # a notice moved to another board meanwhile
            continue
        check_html5(text)


def test_a_full_board_lists_its_newest_notices(bulletin, produce, receipt):
    # A board's index lists its BOARD_INDEX_MAX (500) newest notices; the
    # older ones keep their pages and can still be withdrawn.
    region = f"3702119{uuid.uuid4().int % 100000:05d}"
    oldest = [uuid.uuid4().hex for _ in range(3)]
    for rid in oldest:
        produce(envelope(rid, 1, "publish", payload(region_code=region, title="较早的公告")))
        assert receipt(rid, 1, "bulletin")["receipt"]["status"] == "delivered"
    newer = [uuid.uuid4().hex for _ in range(500)]
    for i, rid in enumerate(newer):
        produce(envelope(rid, 1, "publish", payload(region_code=region, title=f"满板公告{i}")))
    assert receipt(newer[-1], 1, "bulletin")["receipt"]["status"] == "delivered"

    def index():
        return bulletin.get(f"/bulletin/{region}/index.html").text

    text = wait_until("all 503 notices on the board", lambda: (
        (t := index()).count("<tr") - 1 == 500 and all(f'href="{r}.html"' in t for r in newer[-5:]) and t))
    assert 'class="more"' in text and "最新的 500 条" in text
    assert not [r for r in oldest if f'href="{r}.html"' in text]
    assert all((bulletin.docroot / "bulletin" / region / f"{r}.html").exists() for r in oldest)

    produce(envelope(oldest[0], 2, "withdraw", payload(region_code=region, title="较早的公告")))
    assert receipt(oldest[0], 2, "bulletin")["receipt"]["status"] == "withdrawn"
    assert "已撤回" in bulletin.get(f"/bulletin/{region}/{oldest[0]}.html").text
    assert index().count("<tr") - 1 == 500
