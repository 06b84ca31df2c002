"""End to end: the stack's zwgk-wechat against the stack's fake of the WeChat
Official Account API (tests/fakes/fake_wechat.py, ZWGK_FAKE_WECHAT_URL).

Channel envelopes are written straight to zwgk.channel.wechat, the way the
fan-out writes them; the outcome is read from the fake's /_fake/state, the
deliveries table and the receipts on zwgk.receipts. The adapter and the fake
are shared with every other test of the session, so each test uses fresh
release ids, reads the fake's state for its own release only (`match` on the
release id, which every article's content_source_url holds) and injects its
faults with that same `match`; nothing is reset.

The adapter runs with the stack's settings (retry base 1 s, doubling; API
timeout 10 s; polls every 200 ms, at most 30; Kafka session timeout 6 s).
Waits the WeChat quota sets (until after midnight China time, at most
retry_cap_ms = 300 s) are cut short by making the parked retry due in
delivery_retries, once per parked attempt.
Only the last tests, on timeouts and slow publication, restart the adapter
with a 1 s API timeout and 3 polls 100 ms apart (and restore it afterwards),
since with the defaults each would wait far longer.

Every release of the session's other tests on catalog item czyjs-001 (the
default of conftest's make_release) is a WeChat article too, and an article
takes the adapter at least one poll interval. Before its first test the
module waits until the adapter has worked through that backlog (conftest's
wechat_drained).
"""

import os
import subprocess
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from conftest import (NOT_CONFIG, WECHAT_ITEM, channel_envelope, free_port, kill_daemon, release_id,
                      restart_daemon, start_daemon, wait_until)

DAEMON = "zwgk-wechat"
# Settings of the last tests (see the module's docstring).
FAST = {"ZWGK_WECHAT_TIMEOUT_MS": "1000", "ZWGK_WECHAT_POLL_INTERVAL_MS": "100", "ZWGK_WECHAT_POLL_LIMIT": "3"}


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Fake:
    """The stack's fake WeChat API, through its control API."""

    def __init__(self, url):
        self.url = url

    def post(self, what, body=None):
        response = requests.post(f"{self.url}/_fake/{what}", json=body or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self, match=None):
        params = {"match": match} if match else None
        return requests.get(f"{self.url}/_fake/state", params=params, timeout=10).json()

    def articles(self, release, title=None):
        """The release's articles (every revision), or those with that title."""
        return [a for a in self.state(release.rid)["articles"] if title is None or a["title"] == title]


@pytest.fixture(scope="module")
def fake(stack):
    f = Fake(stack.env["ZWGK_FAKE_WECHAT_URL"])
    if "config_rules" not in f.state():
        pytest.fail("the stack's fake_wechat.py predates state?match and config rules; restart it "
                    "(deploy/local/stack down, then up)", pytrace=False)
    return f


@pytest.fixture(scope="module")
def settings(stack):
    return {
        "appid": stack.setting("wechat.appid", ""),
        "secret": stack.setting("wechat.secret", ""),
        "thumb": stack.setting("wechat.thumb_media_id", ""),
        "author": stack.setting("wechat.author", ""),
        "retry_cap_s": int(stack.setting("delivery.retry_cap_ms", "300000")) / 1000,
    }


@pytest.fixture(scope="module")
def admin(stack):
    return stack.admin_url(DAEMON)


def metrics(admin):
    return requests.get(f"{admin}/metrics", timeout=5).text


def parked(sql, rid, revision):
    """The release's parked retry on wechat: (attempts, seconds until due), or None."""
    rows = sql("SELECT attempts, extract(epoch FROM next_at - now()) FROM delivery_retries "
               "WHERE release_id = :'p1' AND revision = :'p2'::int AND channel = 'wechat'", rid, revision)
    return (int(rows[0][0]), float(rows[0][1])) if rows else None


@pytest.fixture(scope="module")
def settle(sql, delivery):
    """settle(rid, revision) waits until the delivery is no longer pending,
    making each parked attempt due at once instead of after the quota's wait;
    returns the deliveries row."""

    def wait(rid, revision, timeout=90):
        hurried = set()

        def done():
            p = parked(sql, rid, revision)
            # Once per parked attempt, and never while the adapter holds the
            # row (its lease does not change attempts).
            if p and p[0] not in hurried and p[1] > 2:
                hurried.add(p[0])
                sql("UPDATE delivery_retries SET next_at = now() WHERE release_id = :'p1' "
                    "AND revision = :'p2'::int AND channel = 'wechat' AND attempts = :'p3'::int",
                    rid, revision, p[0])
            row = delivery(rid, revision, "wechat")
            return row if row and row["status"] != "pending" else None

        return wait_until(f"delivery of {rid} revision {revision} settled", done, timeout=timeout, interval=0.3)

    return wait


class Release:
    """One release of a test: its id and its channel envelopes."""

    def __init__(self, label=""):
        run = uuid.uuid4().hex
        self.source_id = f"e2e-wechat-{run}"
        self.rid = release_id("demo", self.source_id)
        self.title = f"微信{label}测试{run[:8]}"[:32]
        self.trace_id = uuid.uuid4().hex

    def content(self, revision):
        return f"<p>第{revision}版：2025年部门收支预算总表。</p><p>{self.rid}</p>"

    def title_of(self, revision):
        return self.title if revision == 1 else f"{self.title[:26]}（修订{revision}）"

    def envelope(self, revision, action="publish"):
        content, public, payload = {}, {}, {}
        if action != "withdraw":
            title, body = self.title_of(revision), self.content(revision)
            content = {"title": title, "body": body, "doc_type": "budget", "catalog_code": "czyjs-001"}
            public = {"title": title, "summary": "预算公开。", "body": body}
            # The portal URL carries the release id: every call about this
            # release's articles matches it at the fake.
            payload = {"title": title, "digest": "预算公开。", "content": body,
                       "content_source_url": f"http://127.0.0.1/zwgk/czyjs/zfys/{self.rid}.html",
                       "shortened": []}
        return channel_envelope("wechat", self.rid, revision, action, payload, item=WECHAT_ITEM,
                                region_code="370211", content=content, public=public, source_id=self.source_id,
                                trace_id=self.trace_id, received_at=now_rfc3339(), classified_at=now_rfc3339())


@pytest.fixture(scope="module", autouse=True)
def backlog_drained(fake, wechat_drained):
    """Before the module's first test, the adapter has delivered what the
    session put on the topic before it (conftest's wechat_drained)."""


def published(fake, release):
    return [a for a in fake.articles(release) if a["status"] == "published"]


def delivered(receipt, release, revision=1, status="delivered", timeout=90):
    """The release's receipt of that revision from WeChat, which has that status."""
    value = receipt(release.rid, revision, "wechat", timeout=timeout)
    assert value["receipt"]["status"] == status, value["receipt"]
    return value["receipt"]


# --- the ordinary path -------------------------------------------------------


def test_metrics_and_health(admin):
    assert requests.get(f"{admin}/healthz", timeout=5).status_code == 200
    assert "zwgk_wechat_api_calls_total" in metrics(admin)


def test_publish_makes_one_article(admin, fake, settings, produce, receipt, delivery, validate_envelope):
    r = Release("发布")
    envelope = r.envelope(1)
    validate_envelope(envelope)
    produce(envelope)

    value = receipt(r.rid, 1, "wechat")
    validate_envelope(value)
    got = value["receipt"]
    assert (got["status"], got["channel"], got["attempts"]) == ("delivered", "wechat", 1)
    [article] = fake.articles(r)
    assert article["status"] == "published" and article["title"] == r.title
    assert (got["external_id"], got["url"]) == (article["article_id"], article["url"])
    assert article["content"] == r.content(1)
    assert article["digest"] == "预算公开。"
    assert (article["author"], article["thumb_media_id"]) == (settings["author"], settings["thumb"])
    assert article["content_source_url"].endswith(f"/{r.rid}.html")

    row = delivery(r.rid, 1, "wechat")
    assert (row["status"], row["external_id"], row["url"]) == ("delivered", article["article_id"], article["url"])
    assert row["progress"]["media_id"] == article["media_id"]
    assert row["progress"]["publish_id"] == article["publish_id"]

    text = metrics(admin)
    assert 'zwgk_wechat_api_calls_total{endpoint="draft/add",result="ok"}' in text
    assert settings["secret"] not in text


def test_same_message_twice_is_one_article(fake, produce, receipts):
    r = Release("重复")
    envelope = r.envelope(1)
    produce(envelope)
    produce(envelope)

    values = receipts(r.rid, 1, "wechat", count=2)
    assert {v["receipt"]["status"] for v in values} == {"delivered"}
    assert len({v["receipt"]["external_id"] for v in values}) == 1
    state = fake.state(r.rid)
    assert len(state["articles"]) == 1
    assert (state["drafts"], state["calls"]["freepublish/submit"]) == (1, 1)


def test_update_deletes_the_old_article_and_publishes_the_new(fake, produce, receipt):
    r = Release("更新")
    produce(r.envelope(1))
    first = delivered(receipt, r, 1)
    produce(r.envelope(2, "update"))
    second = delivered(receipt, r, 2)

    assert second["external_id"] != first["external_id"]
    [old] = fake.articles(r, r.title_of(1))
    [new] = fake.articles(r, r.title_of(2))
    assert (old["article_id"], old["status"]) == (first["external_id"], "deleted")
    assert (new["article_id"], new["status"]) == (second["external_id"], "published")
    assert new["content"] == r.content(2)
    assert fake.state(r.rid)["calls"]["freepublish/delete"] == 1


def test_withdraw_deletes_the_article(fake, produce, receipt, delivery):
    r = Release("撤回")
    produce(r.envelope(1))
    first = delivered(receipt, r, 1)
    produce(r.envelope(2, "withdraw"))
    withdrawn = delivered(receipt, r, 2, status="withdrawn")

    assert withdrawn["external_id"] == first["external_id"]
    [article] = fake.articles(r)
    assert article["status"] == "deleted"
    assert delivery(r.rid, 2, "wechat")["status"] == "withdrawn"


def test_withdraw_of_something_never_published_is_done(fake, produce, receipt, delivery):
    r = Release("未发")
    produce(r.envelope(1, "withdraw"))
    got = delivered(receipt, r, 1, status="withdrawn")
    # No article was named for deletion: the receipt and the row have none.
    assert got.get("external_id") is None, got
    row = delivery(r.rid, 1, "wechat")
    assert (row["status"], row["external_id"], row["attempts"]) == ("withdrawn", "", 1)
    assert not fake.articles(r)


def test_revision_older_than_a_withdrawal_is_not_sent(fake, produce, receipt, delivery, dump_topic):
    # Revision 2 arrives after revision 3 withdrew the release (a replayed
    # dead letter, say): the runner must not bring the release back.
    r = Release("过时")
    produce(r.envelope(1))
    delivered(receipt, r, 1)
    produce(r.envelope(3, "withdraw"))
    delivered(receipt, r, 3, status="withdrawn")
    before = fake.state(r.rid)

    produce(r.envelope(2, "update"))
    got = delivered(receipt, r, 2, status="failed")
    superseded = "superseded: revision 3 is already delivered or withdrawn on wechat"
    assert got["error"].startswith(superseded), got
    row = delivery(r.rid, 2, "wechat")
    assert row["status"] == "failed" and row["error"].startswith(superseded), row
    # Nothing new at WeChat: the one article, of revision 1, stays deleted.
    [article] = fake.articles(r)
    assert (article["title"], article["status"]) == (r.title_of(1), "deleted")
    after = fake.state(r.rid)
    assert (after["drafts"], after["calls"]) == (before["drafts"], before["calls"])
    # A refusal, not a failed delivery: no dead letter. The receipt was
    # committed with whatever the runner wrote to the DLQ for it.
    assert dump_topic("zwgk.dlq", lambda m: m["key"] == r.rid) == []


# --- the access token ----------------------------------------------------------


@pytest.mark.parametrize("how", ["40001", "42001", "expire_tokens"])
def test_refused_token_is_refreshed_once(admin, fake, produce, receipt, how):
    r = Release(f"令牌{how}")
    before = fake.state()
    if how == "expire_tokens":
        fake.post("expire_tokens")
    else:
        fake.post("fail", {"endpoint": "draft/add", "errcode": int(how), "times": 1, "match": r.rid})
    produce(r.envelope(1))

    got = delivered(receipt, r)
    assert got["attempts"] == 1  # refreshed and repeated within the same attempt
    state = fake.state()
    assert state["force_refreshes"] - before["force_refreshes"] == 1
    assert state["tokens_issued"] - before["tokens_issued"] == 1
    assert len(published(fake, r)) == 1
    assert 'zwgk_wechat_token_refreshes_total{reason="invalid"}' in metrics(admin)


# --- quotas and failures -------------------------------------------------------


def quota_wait_s(cap_s):
    """How long the adapter waits after a daily quota answer: until a minute
    past the next midnight China time, at most cap_s."""
    into_day = (time.time() + 8 * 3600) % 86400
    return min(86400 - into_day + 60, cap_s)


def test_quota_is_retried_and_blocks_no_other_release(fake, settings, sql, produce, receipt, delivery, settle):
    held, other = Release("配额"), Release("其他")
    fake.post("fail", {"endpoint": "draft/add", "errcode": 45009, "match": held.rid})
    produce(held.envelope(1))
    wait_until("the quota answer, parked", lambda: parked(sql, held.rid, 1), timeout=60, interval=0.1)
    row = delivery(held.rid, 1, "wechat")
    assert row["status"] == "pending" and "45009" in row["error"], row
    _attempts, due_in = parked(sql, held.rid, 1)
    expected = quota_wait_s(settings["retry_cap_s"])
    assert expected - 15 <= due_in <= expected + 1, (due_in, expected)

    produce(other.envelope(1))
    delivered(receipt, other)
    assert not fake.articles(held), "the release under quota was published"
    assert delivery(held.rid, 1, "wechat")["status"] == "pending"

    # Its retry is refused again while the quota lasts ...
    sql("UPDATE delivery_retries SET next_at = now() WHERE release_id = :'p1' AND channel = 'wechat'", held.rid)
    wait_until("a second quota answer", lambda: fake.state(held.rid)["errors"]["draft/add"] >= 2, timeout=30,
               interval=0.1)
    assert delivery(held.rid, 1, "wechat")["status"] == "pending"
    # ... and goes through once it is over.
    fake.post("clear", {"match": held.rid})
    assert settle(held.rid, 1)["status"] == "delivered"
    got = delivered(receipt, held)
    assert got["attempts"] >= 3
    assert len(published(fake, held)) == 1


def test_quota_for_a_few_calls_then_delivered(fake, produce, receipt, settle):
    r = Release("限额")
    fake.post("fail", {"endpoint": "freepublish/submit", "errcode": 45009, "times": 2, "match": r.rid})
    produce(r.envelope(1))
    assert settle(r.rid, 1)["status"] == "delivered"
    got = delivered(receipt, r)
    assert got["attempts"] == 3
    state = fake.state(r.rid)
    assert state["drafts"] == 1  # the saved draft is submitted, not made again
    assert state["errors"]["freepublish/submit"] == 2
    assert len(published(fake, r)) == 1


def test_ip_not_whitelisted_fails_to_the_dlq(fake, produce, receipt, consume_until, delivery):
    r = Release("白名单")
    fake.post("fail", {"endpoint": "draft/add", "errcode": 40164, "times": 1, "match": r.rid})
    produce(r.envelope(1))

    got = delivered(receipt, r, status="failed")
    assert "wechat errcode 40164" in got["error"] and "whitelist" in got["error"], got
    [dead] = consume_until("zwgk.dlq", lambda m: m["key"] == r.rid, timeout=60)
    assert dead["value"]["error"]["stage"] == "wechat"
    assert "40164" in dead["value"]["error"]["message"]
    assert delivery(r.rid, 1, "wechat")["status"] == "failed"
    assert not fake.articles(r)


@pytest.mark.parametrize("code,field", [(45003, "title"), (45004, "digest"), (45002, "content")])
def test_article_out_of_limits_fails(fake, produce, receipt, code, field):
    r = Release(f"长度{code}")
    envelope = r.envelope(1)
    envelope["channel"]["payload"][field] = {"title": "标" * 33, "digest": "摘" * 129,
                                             "content": "<p>" + "文" * 20000 + "</p>"}[field]
    produce(envelope)
    got = delivered(receipt, r, status="failed")
    assert f"wechat errcode {code}" in got["error"], got
    state = fake.state(r.rid)
    assert state["errors"]["draft/add"] == 1
    assert state["calls"]["freepublish/submit"] == 0


def test_http_errors_are_retried(admin, fake, produce, receipt):
    r = Release("五百")
    fake.post("http_error", {"endpoint": "draft/add", "status": 500, "times": 2, "match": r.rid})
    fake.post("http_error", {"endpoint": "freepublish/submit", "status": 502, "times": 1, "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r)
    assert got["attempts"] == 4
    state = fake.state(r.rid)
    assert (state["drafts"], state["calls"]["freepublish/submit"]) == (1, 2)
    assert len(published(fake, r)) == 1
    assert 'result="http_error"' in metrics(admin)


def test_system_busy_is_retried(fake, produce, receipt):
    r = Release("繁忙")
    fake.post("fail", {"endpoint": "freepublish/get", "errcode": -1, "times": 1, "match": r.rid})
    produce(r.envelope(1))
    assert delivered(receipt, r)["attempts"] == 2
    assert len(fake.articles(r)) == 1


def test_rejected_publication_fails_with_its_status(fake, produce, receipt):
    r = Release("审核")
    fake.post("config", {"publish_outcome": 4, "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r, status="failed")
    assert "publish_status 4" in got["error"], got
    assert not fake.articles(r)


@pytest.mark.parametrize("setting,value,message", [
    ("ZWGK_WECHAT_SECRET", "", "wechat.secret is empty"),
    ("ZWGK_WECHAT_APPID", "", "wechat.appid is empty"),
    ("ZWGK_WECHAT_SECRET", "wrong-secret", "wechat errcode 40125"),
    ("ZWGK_WECHAT_APPID", "wx-wrong-appid", "wechat errcode 40013"),
])
def test_refuses_to_start_with_bad_credentials(stack, settings, setting, value, message):
    # A second process on the stack's config: its own admin port, consumer
    # group and instance name (hence transactional.id), so that it could not
    # disturb the stack's adapter even if it did start.
    env = {k: v for k, v in os.environ.items() if k not in NOT_CONFIG}
    env.update(ZWGK_WECHAT_ADMIN=f"127.0.0.1:{free_port()}", ZWGK_WECHAT_GROUP_ID=f"e2e-{uuid.uuid4().hex}",
               ZWGK_DAEMON_INSTANCE=f"e2e-{uuid.uuid4().hex[:8]}")
    env[setting] = value
    proc = subprocess.run(
        [str(stack.bin_dir / DAEMON), "--config", stack.config],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "wrong-secret" not in proc.stderr and settings["secret"] not in proc.stderr


# --- crashes ---------------------------------------------------------------------


def test_killed_after_submit_makes_no_second_copy(stack, fake, produce, receipt, delivery):
    # The fake holds the first poll for 20 s, longer than the adapter's API
    # timeout (10 s): killed as soon as that poll arrives, the adapter is
    # surely inside freepublish/get. The restarted one gets the work item
    # again once the consumer group has dropped the killed member (its
    # session timeout, 6 s with the stack's settings) and polls the saved
    # publish_id.
    r = Release("崩溃")
    fake.post("delay", {"endpoint": "freepublish/get", "seconds": 20, "times": 1, "match": r.rid})
    produce(r.envelope(1))
    wait_until("the adapter polling freepublish/get",
               lambda: fake.state(r.rid)["inflight"]["freepublish/get"] >= 1, timeout=60, interval=0.1)
    kill_daemon(stack, DAEMON)

    row = delivery(r.rid, 1, "wechat")
    assert row is not None and row["status"] == "pending", row
    assert row["progress"].get("publish_id"), row  # saved before polling
    start_daemon(stack, DAEMON)

    got = delivered(receipt, r, timeout=60)
    state = fake.state(r.rid)
    assert (state["drafts"], state["calls"]["freepublish/submit"]) == (1, 1)
    [article] = fake.articles(r)
    assert article["status"] == "published" and got["external_id"] == article["article_id"]


# --- timeouts and polling, with a fast adapter -----------------------------------


@pytest.fixture(scope="module")
def fast_adapter(stack):
    """The stack's adapter restarted with FAST settings; the stack's own
    settings are restored after the module."""
    restart_daemon(stack, DAEMON, FAST)
    yield
    restart_daemon(stack, DAEMON)


def test_timeouts_are_retried(fast_adapter, admin, fake, produce, receipt):
    r = Release("超时")
    fake.post("delay", {"endpoint": "draft/add", "seconds": 2.5, "times": 1, "match": r.rid})
    fake.post("delay", {"endpoint": "freepublish/get", "seconds": 2.5, "times": 1, "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r)
    assert got["attempts"] == 3
    state = fake.state(r.rid)
    assert state["calls"]["freepublish/submit"] == 1
    assert len(fake.articles(r)) == 1
    assert 'result="timeout"' in metrics(admin)


def test_lost_submit_answer_finds_the_published_article(fast_adapter, fake, produce, receipt, delivery):
    # WeChat takes the submit but its answer never arrives (client timeout):
    # the saved draft is gone, and the adapter must not make a new one. It
    # finds the article in the published list (freepublish/batchget) instead.
    r = Release("丢失")
    fake.post("delay", {"endpoint": "freepublish/submit", "seconds": 2.5, "times": 1, "phase": "after",
                        "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r)
    state = fake.state(r.rid)
    assert (state["drafts"], len(state["jobs"]), state["calls"]["freepublish/submit"]) == (1, 1, 2)
    [article] = fake.articles(r)
    assert article["status"] == "published" and got["external_id"] == article["article_id"]
    assert got["url"] == article["url"]
    assert delivery(r.rid, 1, "wechat")["progress"]["article_id"] == article["article_id"]


def test_lost_submit_answer_of_a_job_still_publishing_is_looked_for_again(fast_adapter, fake, produce, receipt):
    # The lost submit's job is still publishing when the adapter looks: the
    # article is not listed yet, so the attempt is retried, and a later one
    # finds it. Never a second draft or submit that publishes.
    r = Release("发布中")
    fake.post("config", {"match": r.rid, "publishing_polls": 1000, "unpolled_finish_s": 6})
    fake.post("delay", {"endpoint": "freepublish/submit", "seconds": 1.5, "times": 1, "phase": "after",
                        "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r, timeout=120)
    assert got["attempts"] >= 3, got
    state = fake.state(r.rid)
    assert state["drafts"] == 1 and len(state["jobs"]) == 1
    [article] = fake.articles(r)
    assert got["external_id"] == article["article_id"]


def test_polls_while_publishing_then_delivers(fast_adapter, fake, produce, receipt):
    # poll_limit is 3: the first attempt gives up after 3 polls answering 1,
    # the next one polls the same publish_id again until it answers 0.
    r = Release("轮询")
    fake.post("config", {"publishing_polls": 5, "match": r.rid})
    produce(r.envelope(1))
    got = delivered(receipt, r)
    assert got["attempts"] == 2
    state = fake.state(r.rid)
    assert (state["drafts"], state["calls"]["freepublish/submit"]) == (1, 1)
    assert state["calls"]["freepublish/get"] == 6
    assert len(fake.articles(r)) == 1
