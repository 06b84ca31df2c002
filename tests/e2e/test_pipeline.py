"""End to end: a release POSTed to zwgk-producer travels through Kafka, the
classifier and the fan-out to the portal; bad requests are refused; and a
daemon stopped and started again loses and duplicates nothing.

These tests drive the real binaries on the real stack (see conftest.py). Every
release has a fresh source_id, so the suite can run again on the same stack.
"""

import collections
import re

import pytest

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
RECEIVED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")

COLUMN = "czyjs/zfys"  # the portal column of catalog item czyjs-001
DAEMONS = ("zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal")


def trace_id(message):
    match = TRACEPARENT.match(message["headers"].get("traceparent") or "")
    assert match, f"traceparent header missing or malformed: {message['headers']}"
    return match.group(1)


def article_url(stack, rid):
    return f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html"


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def test_every_daemon_is_ready(stack, wait_http):
    for daemon in DAEMONS:
        wait_http(f"{stack.admin_url(daemon)}/readyz", 200, timeout=10)
        wait_http(f"{stack.admin_url(daemon)}/healthz", 200, timeout=10)


def test_release_reaches_the_portal(
    stack, demo_token, make_release, post_release, release_id, consume_until,
    validate_envelope, wait_http,
):
    release = make_release()
    rid = release_id("demo", release["source_id"])

    response = post_release(release, demo_token)
    assert response.status_code == 202, response.text
    assert response.json() == {"release_id": rid, "revision": 1, "status": "accepted"}

    [accepted] = consume_until("zwgk.releases", lambda m: m["key"] == rid)
    envelope = accepted["value"]
    validate_envelope(envelope)
    assert envelope["schema"] == "zwgk.release.v1"
    assert accepted["headers"].get("zwgk-schema") == "zwgk.release.v1"
    assert (envelope["release_id"], envelope["revision"], envelope["action"]) == (rid, 1, "publish")
    assert envelope["release"] == release
    assert RECEIVED_AT.match(envelope["ingest"]["received_at"]), envelope["ingest"]
    assert envelope["ingest"]["department"] == "demo"
    trace = trace_id(accepted)
    assert envelope["ingest"]["trace_id"] == trace

    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    envelope = tagged["value"]
    validate_envelope(envelope)
    assert tagged["headers"].get("zwgk-schema") == envelope["schema"]
    tags = envelope["tags"]
    assert tags["catalog_code"] == "czyjs-001"
    assert tags["column"] == COLUMN
    assert DATE.match(tags.get("due_by", "")), tags
    assert tags["classified_by"] == "explicit"
    assert "portal" in tags["channels"]
    assert envelope["public"]["title"] == release["title"]
    assert envelope["release"] == release
    assert trace_id(tagged) == trace

    [work] = consume_until("zwgk.channel.portal", lambda m: m["key"] == rid)
    envelope = work["value"]
    validate_envelope(envelope)
    assert envelope["channel"]["name"] == "portal"
    assert envelope["tags"]["catalog_code"] == "czyjs-001"
    assert trace_id(work) == trace

    page = wait_http(article_url(stack, rid), 200, timeout=60)
    assert release["title"] in page.text
    wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/index.html", 200, timeout=30, contains=f"{rid}.html")
    wait_http(f"{stack.portal_url}/zwgk/index.html", 200, timeout=30)


def test_no_token_is_unauthorized(make_release, post_release):
    response = post_release(make_release(), None)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "unauthorized"}


def test_unknown_token_is_unauthorized(make_release, post_release):
    response = post_release(make_release(), "e2e-no-such-token-0123456789abcdef")
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "unauthorized"}


def test_other_departments_release_is_forbidden(demo_token, make_release, post_release):
    response = post_release(make_release(department="xhaxq-czj"), demo_token)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


def test_invalid_json_is_rejected(demo_token, post_release):
    response = post_release(None, demo_token, raw=b'{"source_id": "e2e-broken", "revision": ')
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_release"


def test_missing_title_is_named(demo_token, make_release, post_release):
    response = post_release(make_release(title=None), demo_token)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "invalid_release"
    paths = [detail.get("path") for detail in answer.get("details", [])]
    assert "/title" in paths, answer


def test_wrong_content_type_is_refused(demo_token, make_release, post_release):
    response = post_release(make_release(), demo_token, content_type="text/plain")
    assert response.status_code == 415, response.text
    assert "error" in response.json()


@pytest.mark.parametrize("daemon", DAEMONS)
def test_restart_loses_and_duplicates_nothing(
    daemon, stack, demo_token, make_release, post_release, release_id, wait_http, dump_topic,
):
    # Releases accepted just before the stop are still in flight somewhere in
    # the pipeline when the daemon gets SIGTERM.
    before = [make_release() for _ in range(3)]
    for release in before:
        response = post_release(release, demo_token)
        assert response.status_code == 202, response.text

    stopped = stack.stop_daemon(daemon)
    assert stopped.returncode == 0, f"stop-daemon {daemon}: {stopped.stderr}"
    assert stack.exit_status(daemon) == "0", f"{daemon} exit status {stack.exit_status(daemon)}"

    started = stack.start_daemon(daemon)
    assert started.returncode == 0, f"start-daemon {daemon}: {started.stderr}"

    after = make_release()
    response = post_release(after, demo_token)
    assert response.status_code == 202, response.text

    releases = before + [after]
    ids = {release_id("demo", r["source_id"]) for r in releases}
    for release in releases:
        rid = release_id("demo", release["source_id"])
        wait_http(article_url(stack, rid), 200, timeout=90, contains=release["title"])

    expected = collections.Counter({(rid, 1): 1 for rid in ids})
    for topic in ("zwgk.tagged", "zwgk.channel.portal"):
        messages = dump_topic(topic, lambda m: m["key"] in ids)
        seen = collections.Counter((m["key"], m["value"]["revision"]) for m in messages)
        assert seen == expected, f"{topic} after restarting {daemon}: {dict(seen)}"


def test_village_release_is_listed_on_its_village_page(
    stack, demo_token, make_release, post_release, release_id, wait_http,
):
    village = "370281101201"  # 前屯村, a village in the seed regions
    release = make_release(region_code=village)
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    wait_http(article_url(stack, rid), 200, contains=release["title"])
    page = wait_http(f"{stack.portal_url}/zwgk/cjwgk/{village}/index.html", 200, contains=rid)
    assert "村(居)务公开" in page.text
    index = wait_http(f"{stack.portal_url}/zwgk/index.html", 200)
    for entrance in ("互动交流", "在线办事", f"/zwgk/cjwgk/{village}/index.html"):
        assert entrance in index.text


def test_feed_lists_the_newest_releases(stack, demo_token, make_release, post_release, release_id, wait_http):
    import xml.etree.ElementTree as ET

    release = make_release(title="RSS <&> 测试 " + make_release()["source_id"][-8:])
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    wait_http(article_url(stack, rid), 200)
    feed = wait_http(f"{stack.portal_url}/zwgk/feed.xml", 200, contains=rid)
    assert feed.headers["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(feed.content).find("channel")
    items = {i.findtext("guid"): i for i in channel.findall("item")}
    assert items[rid].findtext("title") == release["title"]
    assert items[rid].findtext("link") == article_url(stack, rid)
