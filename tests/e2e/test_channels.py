"""End to end through ingest: one release of each kind reaches exactly the
channels its catalog item names, on the stack's own adapters and fakes.

Three releases are POSTed to zwgk-producer, each by a department that is a
responsible body (公开主体) of its seed catalog item:

| release   | item       | automated channels          | department  | region                 |
| --------- | ---------- | --------------------------- | ----------- | ---------------------- |
| `wechat`  | czyjs-001  | portal, wechat              | xhaxq-czj   | 370211                 |
| `broadcast` | sthj-004 | portal, wechat, broadcast   | xhaxq-sthj  | 370211                 |
| `bulletin`  | zdbc-001 | portal, bulletin            | jzs-lgzz    | 370281101201 (前屯村)  |

so that every channel has a release it must reach and one it must not. Each
goes out, is updated (revision 2) and withdrawn (revision 3). On the way the
portal page, the fake WeChat API's article, the fake broadcast platform's CAP
alert (valid against schemas/cap/CAP-v1.2.xsd) and the bulletin page are
checked, and so are the deliveries table, the receipts on zwgk.receipts and
the channel topics: nothing reaches a channel the item does not name.

Every title, summary and body carries HTML injection; none of it may reach a
channel as markup (the text may appear escaped).

The broadcast release goes straight out: the two-person rule for broadcast is
not implemented yet.

Every release of the session's other tests on czyjs-001 (conftest's
make_release) is a WeChat article too: before it posts, the module waits
until the WeChat adapter has worked through what is queued for it
(conftest's wechat_drained, as test_wechat_adapter.py does).
"""

import uuid

import pytest
from conftest import (assert_cap_without_markup, assert_no_active_markup, assert_plain_text, assert_valid_cap,
                      get, wait_until)

AUTOMATED = ("portal", "wechat", "broadcast", "bulletin")
INJECTION = ('<script>alert(1)</script><img src=x onerror=alert(1)>'
             '<a href="javascript:alert(1)">x</a>')

# name: (catalog item, its automated channels, department, region, portal column)
KINDS = {
    "wechat": ("czyjs-001", {"portal", "wechat"}, "xhaxq-czj", "370211", "czyjs/zfys"),
    "broadcast": ("sthj-004", {"portal", "wechat", "broadcast"}, "xhaxq-sthj", "370211", "sthj/tfsj"),
    "bulletin": ("zdbc-001", {"portal", "bulletin"}, "jzs-lgzz", "370281101201", "zdbc/ygg"),
}


class Release:
    """One release of the module: what was posted and where it should be."""

    def __init__(self, kind, release_id):
        self.kind = kind
        self.item, self.channels, self.department, self.region, self.column = KINDS[kind]
        self.marker = uuid.uuid4().hex[:8]
        self.source_id = f"e2e-channels-{kind}-{uuid.uuid4().hex}"
        self.rid = release_id(self.department, self.source_id)
        self.bodies = {}

    def body(self, revision):
        """The release as POSTed, revision 1 (publish), 2 (update) or 3 (withdraw)."""
        if revision == 3:
            return {"source_id": self.source_id, "revision": 3, "action": "withdraw",
                    "department": self.department, "region_code": self.region}
        label = "更正" if revision == 2 else "公告"
        return {
            "source_id": self.source_id,
            "revision": revision,
            "action": "publish" if revision == 1 else "update",
            "department": self.department,
            "title": f"渠道{label}{self.marker}{INJECTION}",
            "body": f"<p>第{revision}版正文：渠道测试{self.marker}。</p>{INJECTION}"
                    "<table><tbody><tr><td>项目</td><td>金额</td></tr></tbody></table>",
            "summary": f"第{revision}版摘要{INJECTION}",
            "doc_type": "notice",
            "catalog_code": self.item,
            "region_code": self.region,
            "formed_at": "2026-11-20T09:00:00+08:00",
            "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
        }

    def text(self, revision):
        """What the title reads once the markup is gone: label and marker."""
        return f"渠道{'更正' if revision == 2 else '公告'}{self.marker}"


@pytest.fixture(scope="module")
def releases(stack, sql, release_id, wechat_drained):
    """The module's three releases, after checking the seed still has what
    the table of the module's docstring says."""
    out = {}
    for kind, (item, expected, department, region, column) in KINDS.items():
        rows = sql("SELECT channel FROM catalog_item_channels WHERE item_code = :'p1'", item)
        automated = {c for (c,) in rows if c in AUTOMATED}
        assert automated == expected, f"seed item {item} now has the automated channels {automated}"
        assert sql("SELECT 1 FROM catalog_items WHERE code = :'p1' AND active AND mode = 'active' "
                   "AND column_path = :'p2'", item, column), f"seed item {item} changed"
        assert sql("SELECT 1 FROM catalog_item_bodies WHERE item_code = :'p1' AND department_code = :'p2'",
                   item, department), f"{department} is no longer a responsible body of {item}"
        out[kind] = Release(kind, release_id)
    return out


def deliveries(sql, rid, revision):
    """{channel: (status, external_id, url)} of the deliveries table."""
    rows = sql("SELECT channel, status, coalesce(external_id, ''), coalesce(url, '') FROM deliveries "
               "WHERE release_id = :'p1' AND revision = :'p2'::int", rid, revision)
    return {channel: (status, external_id, url) for channel, status, external_id, url in rows}


def post_revision(releases, revision, token, post_release, sql, status, timeout=120):
    """POSTs the given revision of every release and waits until each reached
    its channels (deliveries rows of every expected channel final)."""
    for r in releases.values():
        response = post_release(r.body(revision), token(r.department))
        assert response.status_code == 202, response.text
        assert response.json()["release_id"] == r.rid
    for r in releases.values():
        def done(r=r):
            rows = deliveries(sql, r.rid, revision)
            return rows if r.channels <= set(rows) and all(v[0] != "pending" for v in rows.values()) else None

        rows = wait_until(f"{r.kind} revision {revision} on {sorted(r.channels)}", done, timeout=timeout)
        assert set(rows) == r.channels, f"{r.kind} revision {revision} reached {sorted(rows)}"
        assert {v[0] for v in rows.values()} == {status}, rows


def assert_exactly_their_channels(releases, revision, status, sql, dump_topic):
    """The deliveries, the receipts and the channel topics of one revision of
    each release name the release's channels and no other."""
    by_rid = {r.rid: r for r in releases.values()}

    def ours(m):
        return m["key"] in by_rid and isinstance(m["value"], dict) and m["value"].get("revision") == revision

    receipts = dump_topic("zwgk.receipts", ours)
    # The fan-out writes a release's channel messages in one transaction: once
    # the expected ones are delivered, any other would be on its topic already.
    sent = {channel: dump_topic(f"zwgk.channel.{channel}", ours) for channel in AUTOMATED}
    for r in releases.values():
        rows = deliveries(sql, r.rid, revision)
        assert set(rows) == r.channels and {v[0] for v in rows.values()} == {status}, (r.kind, rows)
        got = {(m["value"]["receipt"]["channel"], m["value"]["receipt"]["status"])
               for m in receipts if m["key"] == r.rid}
        assert got == {(c, status) for c in r.channels}, (r.kind, got)
        for channel, messages in sent.items():
            count = sum(m["key"] == r.rid for m in messages)
            assert count == (channel in r.channels), f"{r.kind} revision {revision}: {count} on {channel}"


@pytest.fixture(scope="module")
def published(releases, token, post_release, sql):
    post_revision(releases, 1, token, post_release, sql, "delivered")
    return releases


@pytest.fixture(scope="module")
def updated(published, token, post_release, sql):
    post_revision(published, 2, token, post_release, sql, "delivered")
    return published


@pytest.fixture(scope="module")
def withdrawn(updated, token, post_release, sql):
    post_revision(updated, 3, token, post_release, sql, "withdrawn")
    return updated


# --- the tests ------------------------------------------------------------------------


def test_each_release_is_tagged_with_its_items_channels(published, consume_until):
    for r in published.values():
        [tagged] = consume_until("zwgk.tagged", lambda m, r=r: m["key"] == r.rid and m["value"]["revision"] == 1)
        tags = tagged["value"]["tags"]
        assert tags["catalog_code"] == r.item and tags["classified_by"] == "explicit", tags
        assert set(tags["channels"]) == r.channels, tags


def test_each_release_reaches_exactly_its_channels(published, channels, sql, dump_topic, wait_http):
    assert_exactly_their_channels(published, 1, "delivered", sql, dump_topic)
    for r in published.values():
        rows = deliveries(sql, r.rid, 1)

        page = wait_http(channels.portal_url(r), 200, timeout=30, contains=r.marker)
        assert r.text(1) in page.text
        assert rows["portal"][2] == channels.portal_url(r)

        articles = channels.articles(r)
        if "wechat" in r.channels:
            [article] = articles
            assert article["status"] == "published" and article["title"].startswith(r.text(1)), article
            assert rows["wechat"][1:] == (article["article_id"], article["url"])
            assert article["content_source_url"] == channels.portal_url(r)
        else:
            assert articles == [], f"{r.kind} reached WeChat"

        alerts = channels.alerts(r)
        if "broadcast" in r.channels:
            assert list(alerts) == [f"{r.rid}.1"], alerts
            alert = alerts[f"{r.rid}.1"]
            assert alert["msgType"] == "Alert" and alert["references"] is None
            assert alert["headline"].startswith(r.text(1)), alert["headline"]
            assert alert["web"] == channels.portal_url(r)
            assert alert["geocode"] == r.region
            assert_valid_cap(alert["raw"])
            assert rows["broadcast"][1] == f"{r.rid}.1"
        else:
            assert alerts == {}, f"{r.kind} reached the broadcast platform"

        notice = get(channels.bulletin_url(r))
        if "bulletin" in r.channels:
            assert notice.status_code == 200
            assert r.text(1) in notice.text and f"渠道测试{r.marker}" in notice.text
            assert "前屯村" in notice.text  # the village's board
            assert rows["bulletin"][1:] == (f"{r.region}/{r.rid}", channels.bulletin_url(r))
            board = get(f"{channels.bulletin}/bulletin/{r.region}/index.html")
            assert f'href="{r.rid}.html"' in board.text
        else:
            assert notice.status_code == 404, f"{r.kind} reached the bulletin board"


def test_the_village_release_is_on_its_village_page(published, channels, wait_http):
    r = published["bulletin"]
    wait_http(f"{channels.portal}/zwgk/cjwgk/{r.region}/index.html", 200, timeout=30, contains=r.rid)


def check_no_markup(releases, channels, revision):
    for r in releases.values():
        where = f"{r.kind} revision {revision}"
        assert_no_active_markup(get(channels.portal_url(r)).text, f"{where}: portal page")
        if "wechat" in r.channels:
            [article] = [a for a in channels.articles(r) if a["title"].startswith(r.text(revision))]
            assert_plain_text(article["title"], f"{where}: WeChat title")
            assert_plain_text(article["digest"], f"{where}: WeChat digest")
            assert_no_active_markup(article["content"], f"{where}: WeChat content")
        if "broadcast" in r.channels:
            alert = channels.alerts(r)[f"{r.rid}.{revision}"]
            assert_cap_without_markup(alert["raw"], f"{where}: CAP")
            for field in ("headline", "description", "tts", "areaDesc"):
                assert_plain_text(alert[field], f"{where}: CAP {field}")
        if "bulletin" in r.channels:
            page = get(channels.bulletin_url(r))
            assert page.status_code == 200
            assert_no_active_markup(page.text, f"{where}: bulletin page")


def test_no_markup_reaches_a_channel(published, channels):
    check_no_markup(published, channels, 1)


def test_an_update_replaces_the_release_on_each_of_its_channels(updated, channels, sql, dump_topic, wait_http):
    assert_exactly_their_channels(updated, 2, "delivered", sql, dump_topic)
    for r in updated.values():
        rows, first = deliveries(sql, r.rid, 2), deliveries(sql, r.rid, 1)

        page = wait_http(channels.portal_url(r), 200, timeout=30, contains=r.text(2))
        assert "修订记录" in page.text and "第 2 版" in page.text
        assert f"第2版正文：渠道测试{r.marker}" in page.text

        articles = channels.articles(r)
        if "wechat" in r.channels:
            old = [a for a in articles if a["title"].startswith(r.text(1))]
            new = [a for a in articles if a["title"].startswith(r.text(2))]
            assert [(a["article_id"], a["status"]) for a in old] == [(first["wechat"][1], "deleted")], old
            assert [(a["article_id"], a["status"]) for a in new] == [(rows["wechat"][1], "published")], new
            assert f"第2版正文：渠道测试{r.marker}" in new[0]["content"]
        else:
            assert articles == []

        alerts = channels.alerts(r)
        if "broadcast" in r.channels:
            assert sorted(alerts) == [f"{r.rid}.1", f"{r.rid}.2"], alerts
            alert, update = alerts[f"{r.rid}.1"], alerts[f"{r.rid}.2"]
            assert update["msgType"] == "Update"
            assert update["references"] == f"{alert['sender']},{r.rid}.1,{alert['sent']}"
            assert update["headline"].startswith(r.text(2))
            assert_valid_cap(update["raw"])
        else:
            assert alerts == {}

        notice = get(channels.bulletin_url(r))
        if "bulletin" in r.channels:
            assert notice.status_code == 200
            assert r.text(2) in notice.text and "第 2 版，更新于 " in notice.text
            assert r.text(1) not in notice.text and "第1版正文" not in notice.text
            board = get(f"{channels.bulletin}/bulletin/{r.region}/index.html").text
            assert board.count(f'href="{r.rid}.html"') == 1 and "已更新（第 2 版）" in board
        else:
            assert notice.status_code == 404


def test_no_markup_reaches_a_channel_with_the_update(updated, channels):
    check_no_markup(updated, channels, 2)


def test_a_withdrawal_takes_the_release_off_each_of_its_channels(withdrawn, channels, sql, dump_topic,
                                                                  wait_http):
    assert_exactly_their_channels(withdrawn, 3, "withdrawn", sql, dump_topic)
    for r in withdrawn.values():
        rows, second = deliveries(sql, r.rid, 3), deliveries(sql, r.rid, 2)

        page = wait_http(channels.portal_url(r), 410, timeout=30, contains="撤回")
        assert r.text(2) in page.text and "第2版正文" not in page.text

        articles = channels.articles(r)
        if "wechat" in r.channels:
            assert {a["status"] for a in articles} == {"deleted"}, articles
            assert rows["wechat"][1] == second["wechat"][1]  # the article of revision 2, deleted
        else:
            assert articles == []

        alerts = channels.alerts(r)
        if "broadcast" in r.channels:
            assert sorted(alerts) == [f"{r.rid}.1", f"{r.rid}.2", f"{r.rid}.3"], alerts
            update, cancel = alerts[f"{r.rid}.2"], alerts[f"{r.rid}.3"]
            assert cancel["msgType"] == "Cancel"
            assert cancel["references"] == f"{update['sender']},{r.rid}.2,{update['sent']}"
            assert_valid_cap(cancel["raw"])
            assert_cap_without_markup(cancel["raw"], f"{r.kind}: CAP Cancel")
        else:
            assert alerts == {}

        notice = get(channels.bulletin_url(r))
        if "bulletin" in r.channels:
            assert notice.status_code == 410
            assert "已撤回" in notice.text and r.text(2) in notice.text
            assert "第2版正文" not in notice.text
            assert_no_active_markup(notice.text, f"{r.kind}: withdrawn bulletin page")
            board = get(f"{channels.bulletin}/bulletin/{r.region}/index.html").text
            row = next(line for line in board.splitlines() if f'href="{r.rid}.html"' in line)
            assert "已撤回" in row
        else:
            assert notice.status_code == 404
        assert_no_active_markup(page.text, f"{r.kind}: withdrawn portal page")
