"""End to end: the stack's zwgk-broadcast against the stack's fake broadcast
platform (tests/fakes/fake_broadcast.py, ZWGK_FAKE_BROADCAST_URL, which
validates every document against schemas/cap/CAP-v1.2.xsd). Channel envelopes
are written straight to zwgk.channel.broadcast; what comes out is checked on
the platform (every document valid CAP 1.2, with xmllint), on zwgk.receipts
and on zwgk.dlq.

The no-duplicate guarantee is checked through the fake's record of every
POST: a retry, a timeout or a crash never makes a second alert, and whatever
is sent again is the same document byte for byte.

The adapter and the fake are shared with the rest of the session: every test
uses a fresh release id, reads only the alerts and POSTs of that id, injects
its faults with `match` on it, and never resets the fake. The adapter runs
with the stack's settings (retry base 1 s, doubling; POST timeout 10 s). A
crash test SIGKILLs it and starts it again with the stack; the work item in
flight comes back once the consumer group has dropped the killed member,
after its session timeout (6 s with the stack's settings)."""

import json
import re
import shutil
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from conftest import assert_valid_cap, channel_envelope, kill_daemon, override, start_daemon, wait_until

CAP_NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
DAEMON = "zwgk-broadcast"
SENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
# The tags of the catalog item of the module's releases.
ITEM = {"catalog_code": "szfw-001", "domain": "市政服务", "item_l1": "市政设施", "level": "village"}


class Fake:
    """The stack's fake platform and its control API."""

    def __init__(self, url, endpoint):
        self.url, self.endpoint = url, endpoint

    def state(self):
        return requests.get(f"{self.url}/_fake/state", timeout=10).json()

    def control(self, what, **args):
        r = requests.post(f"{self.url}/_fake/{what}", json=args, timeout=10)
        assert r.status_code == 200, r.text

    def alerts(self, rid):
        return [a for a in self.state()["alerts"] if a["identifier"].startswith(rid + ".")]

    def posts(self, rid):
        return [p for p in self.state()["posts"] if (p["identifier"] or "").startswith(rid + ".")]

    def inflight(self, rid):
        return [i for i in self.state()["inflight"] if (i or "").startswith(rid + ".")]


@pytest.fixture(scope="module")
def fake(stack):
    assert shutil.which("xmllint"), "xmllint is needed (Debian package libxml2-utils)"
    endpoint = stack.setting("broadcast.endpoint", "")
    url = stack.env["ZWGK_FAKE_BROADCAST_URL"]
    assert endpoint == f"{url}/cap", f"the stack's broadcast adapter posts to {endpoint}, not to its fake"
    f = Fake(url, endpoint)
    f.state()  # it answers
    return f


class Adapter:
    """The stack's zwgk-broadcast: its admin URL and settings."""

    def __init__(self, stack):
        self.stack = stack
        self.admin = stack.admin_url(DAEMON)
        self.sender = stack.setting("broadcast.sender", "zwgk@localhost")
        self.timeout_ms = int(stack.setting("broadcast.timeout_ms", "10000"))

    def metrics(self):
        return requests.get(f"{self.admin}/metrics", timeout=10).text


@pytest.fixture(scope="module")
def adapter(stack):
    a = Adapter(stack)
    assert requests.get(f"{a.admin}/readyz", timeout=10).status_code == 200
    return a


def new_release_id():
    return uuid.uuid4().hex


def payload(**fields):
    """The CAP payload of a village's water notice, with these fields instead (None: without it)."""
    return override({
        "headline": "东山村停水通知",
        "tts_text": "各位村民请注意：明天上午八点到十二点东山村停水检修，请提前储水。",
        "area_desc": "青岛市黄岛区东山村",
        "geocode": "370211001001",
        "event": "停水通知",
        "category": "Infra",
        "urgency": "Expected",
        "severity": "Minor",
        "certainty": "Observed",
        "web": "https://www.example.gov.cn/zwgk/szfw/notice.html",
        "shortened": [],
    }, fields)


def envelope(rid, revision, action, pl):
    """A channel envelope as the fan-out writes it (valid against envelope.v1.json)."""
    content = {"title": pl.get("headline") or "通知", "body": "<p>通知正文。</p>", "doc_type": "notice"}
    return channel_envelope("broadcast", rid, revision, action, pl, item=ITEM, region_code="370211001001",
                            content=content)


def assert_no_second_alert(fake, rid):
    """Every identifier of the release was accepted once, and everything
    posted under it was the same document."""
    by_id = {}
    for p in fake.posts(rid):
        by_id.setdefault(p["identifier"], set()).add(p["sha256"])
    assert all(len(digests) == 1 for digests in by_id.values()), by_id
    outcomes = [p["outcome"] for p in fake.posts(rid)]
    assert "conflict" not in outcomes, outcomes
    ids = [a["identifier"] for a in fake.alerts(rid)]
    assert len(ids) == len(set(ids)), ids


def test_alert_update_cancel(fake, adapter, produce, receipt, validate_envelope):
    sender = adapter.sender
    rid = new_release_id()
    produce(envelope(rid, 1, "publish", payload()))
    first = receipt(rid, 1, "broadcast")
    validate_envelope(first)
    assert first["receipt"]["status"] == "delivered", first["receipt"]
    assert first["receipt"]["external_id"] == f"{rid}.1"
    assert first["receipt"]["url"] == fake.endpoint
    [alert] = fake.alerts(rid)
    assert alert["msgType"] == "Alert" and alert["references"] is None
    assert alert["sender"] == sender and alert["status"] == "Actual" and alert["scope"] == "Public"
    assert alert["language"] == "zh-CN"
    assert SENT.match(alert["sent"]), alert["sent"]
    assert alert["description"] == alert["tts"] == payload()["tts_text"]
    assert alert["areaDesc"] == "青岛市黄岛区东山村" and alert["geocode"] == "370211001001"
    assert alert["web"] == payload()["web"]

    update = payload(headline="东山村停水通知（时间调整）", tts_text="停水时间调整为明天下午两点到五点。")
    produce(envelope(rid, 2, "update", update))
    second = receipt(rid, 2, "broadcast")
    assert second["receipt"]["status"] == "delivered", second["receipt"]
    updated = next(a for a in fake.alerts(rid) if a["identifier"] == f"{rid}.2")
    assert updated["msgType"] == "Update"
    assert updated["references"] == f"{sender},{rid}.1,{alert['sent']}"
    assert updated["tts"] == update["tts_text"]

    produce(envelope(rid, 3, "withdraw", payload(tts_text=None, headline=None)))
    third = receipt(rid, 3, "broadcast")
    validate_envelope(third)
    assert third["receipt"]["status"] == "withdrawn", third["receipt"]
    assert third["receipt"]["external_id"] == f"{rid}.3"
    cancel = next(a for a in fake.alerts(rid) if a["identifier"] == f"{rid}.3")
    assert cancel["msgType"] == "Cancel"
    assert cancel["references"] == f"{sender},{rid}.2,{updated['sent']}"
    assert cancel["tts"] == cancel["description"] == f"此前播发的“{update['headline']}”已撤回，请以最新通知为准。"
    assert cancel["headline"] == f"已撤回：{update['headline']}"
    assert cancel["areaDesc"] == "青岛市黄岛区东山村" and cancel["geocode"] == "370211001001"

    assert [a["msgType"] for a in fake.alerts(rid)] == ["Alert", "Update", "Cancel"]
    for a in fake.alerts(rid):
        assert_valid_cap(a["raw"])
    assert [p["outcome"] for p in fake.posts(rid)] == ["accepted"] * 3


def test_500_twice_is_delivered_on_a_later_attempt(fake, adapter, produce, receipt):
    rid = new_release_id()
    fake.control("fail", status=500, times=2, match=rid)
    produce(envelope(rid, 1, "publish", payload()))
    r = receipt(rid, 1, "broadcast")["receipt"]
    assert r["status"] == "delivered" and r["attempts"] == 3, r
    assert [p["outcome"] for p in fake.posts(rid)] == ["injected", "injected", "accepted"]
    assert len(fake.alerts(rid)) == 1
    assert_no_second_alert(fake, rid)


def test_503_with_retry_after_is_retried(fake, adapter, produce, receipt):
    rid = new_release_id()
    fake.control("fail", status=503, times=1, retry_after=1, match=rid)
    produce(envelope(rid, 1, "publish", payload()))
    r = receipt(rid, 1, "broadcast")["receipt"]
    assert r["status"] == "delivered" and r["attempts"] == 2, r
    posts = fake.posts(rid)
    assert [p["outcome"] for p in posts] == ["injected", "accepted"]
    assert posts[1]["at"] - posts[0]["at"] >= 0.9  # the platform's Retry-After was kept
    assert_no_second_alert(fake, rid)


def test_400_fails_and_goes_to_the_dlq(fake, adapter, produce, receipt, consume_until, validate_envelope):
    rid = new_release_id()
    fake.control("fail", status=400, times=1, match=rid)
    produce(envelope(rid, 1, "publish", payload()))
    value = receipt(rid, 1, "broadcast")
    validate_envelope(value)
    r = value["receipt"]
    assert r["status"] == "failed" and r["attempts"] == 1, r
    assert "HTTP 400" in r["error"] and "injected failure" in r["error"], r["error"]
    [dead] = consume_until("zwgk.dlq", lambda m: m["key"] == rid, timeout=60)
    assert "HTTP 400" in json.dumps(dead["value"], ensure_ascii=False)
    assert fake.alerts(rid) == []


def test_invalid_payload_fails_without_posting(fake, adapter, produce, receipt, consume_until):
    rid = new_release_id()
    produce(envelope(rid, 1, "publish", payload(category="Gossip")))
    r = receipt(rid, 1, "broadcast")["receipt"]
    assert r["status"] == "failed" and r["error"], r
    consume_until("zwgk.dlq", lambda m: m["key"] == rid, timeout=60)
    assert fake.posts(rid) == []


def test_timeout_is_retried_with_the_same_document(fake, adapter, produce, receipt):
    rid = new_release_id()
    # Longer than the adapter's POST timeout (10 s with the stack's settings).
    fake.control("delay", seconds=adapter.timeout_ms / 1000 + 1.5, times=1, match=rid)
    produce(envelope(rid, 1, "publish", payload()))
    r = receipt(rid, 1, "broadcast")["receipt"]
    assert r["status"] == "delivered" and r["attempts"] == 2, r
    wait_until("the timed-out POST to finish on the platform", lambda: len(fake.posts(rid)) == 2, timeout=30,
               interval=0.1)
    assert sorted(p["outcome"] for p in fake.posts(rid)) == ["abandoned", "accepted"]
    assert len(fake.alerts(rid)) == 1
    assert_no_second_alert(fake, rid)


def test_the_same_message_twice_makes_one_alert(fake, adapter, produce, receipts):
    rid = new_release_id()
    env = envelope(rid, 1, "publish", payload())
    produce(env)
    produce(env)
    values = receipts(rid, 1, "broadcast", count=2)
    assert {v["receipt"]["status"] for v in values} == {"delivered"}
    assert [p["outcome"] for p in fake.posts(rid)] == ["accepted"]
    assert len(fake.alerts(rid)) == 1


def test_withdrawal_of_a_release_never_broadcast_sends_nothing(fake, adapter, produce, receipt):
    rid = new_release_id()
    produce(envelope(rid, 2, "withdraw", payload(tts_text=None)))
    r = receipt(rid, 2, "broadcast")["receipt"]
    assert r["status"] == "withdrawn", r
    assert fake.posts(rid) == []


def test_xml_specials_and_markup_come_through_as_text(fake, adapter, produce, receipt):
    rid = new_release_id()
    headline = "水费 & 电费 <script>alert(1)</script> \"通知\" 'x' ]]> &amp;"
    tts = "请注意 <b>不是标签</b> & 5 < 6 > 4 ]]>"
    produce(envelope(rid, 1, "publish", payload(headline=headline, tts_text=tts)))
    assert receipt(rid, 1, "broadcast")["receipt"]["status"] == "delivered"
    [alert] = fake.alerts(rid)
    assert alert["headline"] == headline
    assert alert["description"] == alert["tts"] == tts
    assert "<script>" not in alert["raw"] and "<b>" not in alert["raw"]
    root = ET.fromstring(alert["raw"].encode("utf-8"))
    info = root.find(f"{CAP_NS}info")
    assert [child.tag for child in info.find(f"{CAP_NS}headline")] == []  # text, no elements
    assert_valid_cap(alert["raw"])


def kill_mid_delivery(fake, adapter, produce, receipt, phase):
    """Delays the platform, kills the adapter while its POST is in flight,
    restarts it and returns the release's posts once it was delivered."""
    rid = new_release_id()
    fake.control("delay", seconds=4, times=1, phase=phase, match=rid)
    produce(envelope(rid, 1, "publish", payload()))
    wait_until("the POST to reach the platform", lambda: fake.inflight(rid), timeout=90, interval=0.1)
    kill_daemon(adapter.stack, DAEMON)
    start_daemon(adapter.stack, DAEMON)
    r = receipt(rid, 1, "broadcast", timeout=60)["receipt"]
    assert r["status"] == "delivered", r
    wait_until("the killed POST to finish on the platform", lambda: not fake.inflight(rid), timeout=30,
               interval=0.1)
    assert len(fake.alerts(rid)) == 1
    assert_no_second_alert(fake, rid)
    return rid, fake.posts(rid)


def test_sigkill_mid_delivery_and_restart_makes_no_duplicate(fake, adapter, produce, receipt):
    rid, posts = kill_mid_delivery(fake, adapter, produce, receipt, "before")
    assert sorted(p["outcome"] for p in posts) == ["abandoned", "accepted"], posts
    assert not any(p["outcome"] == "duplicate" for p in posts)


def test_sigkill_after_acceptance_resends_the_same_bytes(fake, adapter, produce, receipt):
    # The platform took the alert but its answer never arrived: the adapter
    # cannot know, so it sends again — the very same document, which the
    # platform recognises by identifier and content, never a second alert.
    rid, posts = kill_mid_delivery(fake, adapter, produce, receipt, "after")
    assert [p["outcome"] for p in posts] == ["accepted", "duplicate"], posts
    assert len({p["sha256"] for p in posts}) == 1


def test_metrics_count_the_posts(adapter):
    # The process was restarted by the tests above: its counters start anew.
    text = adapter.metrics()
    assert re.search(r'^zwgk_broadcast_posts_total\{outcome="accepted"\} [1-9]', text, re.M), text
    assert re.search(r'^zwgk_broadcast_alerts_total\{msg_type="Alert"\} [1-9]', text, re.M), text

