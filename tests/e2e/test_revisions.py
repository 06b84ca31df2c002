"""End to end: the classifier's idempotence per (release_id, revision) and its
review hold, on the real stack. A re-sent release is processed once, a newer
revision replaces the page and shows in its history, an older one is ignored,
the same revision with other content goes to review, and a release the catalog
cannot place is held for a person instead of being published."""

import collections
import json
import time

import pytest

COLUMN = "czyjs/zfys"


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def wait_classified_past(ctl, message, timeout=60):
    """Waits until the classifier's group has committed past message (a record
    of zwgk.releases), read through zwgkctl status."""
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(ctl("--json", "status").stdout)
        for lag in status["lag"]:
            if (lag["group"], lag["topic"], lag["partition"]) == (
                "zwgk-classifier", "zwgk.releases", message["partition"]
            ) and lag["committed"] is not None and lag["committed"] > message["offset"]:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"classifier did not commit past {message['partition']}:{message['offset']}")
        time.sleep(0.2)


def count_on(dump_topic, topic, rid):
    messages = dump_topic(topic, lambda m: m["key"] == rid)
    return collections.Counter(m["value"]["revision"] for m in messages), messages


def test_resent_release_is_processed_once(
    stack, ctl, demo_token, make_release, post_release, release_id, consume_until, dump_topic, wait_http,
):
    release = make_release()
    rid = release_id("demo", release["source_id"])
    first, second = post_release(release, demo_token), post_release(release, demo_token)
    assert first.status_code == second.status_code == 202
    assert first.json()["release_id"] == second.json()["release_id"] == rid
    # Both copies are on zwgk.releases: the producer does not look anything up.
    copies = consume_until("zwgk.releases", lambda m: m["key"] == rid, count=2)
    wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html", 200, timeout=60)
    wait_classified_past(ctl, copies[-1])
    tagged, _ = count_on(dump_topic, "zwgk.tagged", rid)
    assert tagged == {1: 1}, dict(tagged)


def test_update_replaces_the_page_and_keeps_its_history(
    stack, demo_token, make_release, post_release, release_id, dump_topic, wait_http,
):
    release = make_release()
    rid = release_id("demo", release["source_id"])
    url = f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html"
    assert post_release(release, demo_token).status_code == 202
    wait_http(url, 200, contains=release["title"])

    update = dict(release, revision=2, action="update", title=release["title"] + "（更正）")
    assert post_release(update, demo_token).status_code == 202
    page = wait_http(url, 200, contains=update["title"])
    assert "修订记录" in page.text and "第 2 版" in page.text

    stale = dict(release, revision=1, title=release["title"] + "（旧稿）")
    assert post_release(stale, demo_token).status_code == 202
    # Revision 3 after the stale one: once it is on the page, the stale one was passed.
    third = dict(update, revision=3, title=release["title"] + "（第三版）")
    assert post_release(third, demo_token).status_code == 202
    wait_http(url, 200, contains=third["title"])
    tagged, _ = count_on(dump_topic, "zwgk.tagged", rid)
    assert tagged == {1: 1, 2: 1, 3: 1}, dict(tagged)
    review, _ = count_on(dump_topic, "zwgk.review", rid)
    assert review == {1: 1}, "the same revision with other content is a revision_conflict"
    [conflict] = dump_topic("zwgk.review", lambda m: m["key"] == rid)
    assert conflict["value"]["review"]["reasons"] == ["revision_conflict"]


def test_unknown_catalog_item_is_held_for_review(
    demo_token, make_release, post_release, release_id, consume_until, validate_envelope,
):
    release = make_release(catalog_code="czyjs-999")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == rid)
    validate_envelope(held["value"])
    assert held["value"]["review"]["reasons"] == ["unclassified"]
    assert "czyjs-999" in held["value"]["review"]["detail"]


def test_department_not_responsible_for_the_item_is_held(
    token, make_release, post_release, release_id, consume_until, ctl,
):
    # A township office is not a responsible body of the district budget item.
    other = token("smq-jmljd")
    release = make_release(department="smq-jmljd", region_code="370202")
    rid = release_id("smq-jmljd", release["source_id"])
    assert post_release(release, other).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == rid)
    assert held["value"]["review"]["reasons"] == ["catalog_owner_mismatch"]


def test_withdrawal_takes_the_page_down_with_410(
    stack, demo_token, make_release, post_release, release_id, wait_http, consume_until,
):
    release = make_release()
    rid = release_id("demo", release["source_id"])
    url = f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html"
    assert post_release(release, demo_token).status_code == 202
    wait_http(url, 200, contains=release["title"])
    withdraw = {k: release[k] for k in ("source_id", "department", "region_code")}
    withdraw.update(revision=2, action="withdraw")
    assert post_release(withdraw, demo_token).status_code == 202
    page = wait_http(url, 410, contains="撤回")
    assert release["title"] in page.text
    [receipt] = consume_until("zwgk.receipts", lambda m: m["key"] == rid and m["value"]["revision"] == 2)
    assert receipt["value"]["receipt"]["status"] == "withdrawn"
    column = wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/index.html", 200)
    assert rid not in column.text


def audit_actions(stack, rid):
    """The audit log's (action, revision) rows of a release, oldest first, via psql."""
    import subprocess

    out = subprocess.run(
        ["psql", stack.env["ZWGK_PG_DSN"], "-At", "-c",
         f"SELECT action || ' ' || revision FROM audit_log WHERE release_id = '{rid}' ORDER BY id"],
        capture_output=True, text=True, check=True,
    ).stdout
    return out.split("\n")[:-1] if out else []


def test_older_revision_is_ignored_and_audited(
    stack, demo_token, make_release, post_release, release_id, wait_http, dump_topic,
):
    release = make_release(revision=2, title="第二版")
    rid = release_id("demo", release["source_id"])
    url = f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html"
    assert post_release(release, demo_token).status_code == 202
    wait_http(url, 200, contains="第二版")
    assert post_release(dict(release, revision=1, title="第一版"), demo_token).status_code == 202
    import time

    deadline = time.monotonic() + 60
    while "classifier.stale_ignored 1" not in audit_actions(stack, rid):
        assert time.monotonic() < deadline, audit_actions(stack, rid)
        time.sleep(0.2)
    assert audit_actions(stack, rid)[0] == "classifier.tagged 2"
    tagged, _ = count_on(dump_topic, "zwgk.tagged", rid)
    assert tagged == {2: 1}
    assert "第一版" not in wait_http(url, 200).text
