"""End to end: a release with publish_at in the future is held by the fan-out
(in PostgreSQL, surviving a restart) and goes out when its time comes; a later
revision that arrives first ends the embargo of the earlier one, which then
never goes out."""

import datetime

import pytest
from conftest import wait_until

COLUMN = "czyjs/zfys"
CHINA = datetime.timezone(datetime.timedelta(hours=8))


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def in_seconds(seconds):
    return (datetime.datetime.now(CHINA) + datetime.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def revision_status(sql, rid, revision=1):
    rows = sql("SELECT status FROM release_revisions WHERE release_id = :'p1' AND revision = :'p2'", rid, revision)
    return rows[0][0] if rows else None


def test_embargo_held_across_a_fanout_restart(
    stack, demo_token, make_release, release_id, post_release, sql, consume_until, wait_http,
):
    publish_at = in_seconds(20)
    release = make_release(publish_at=publish_at, title="定时发布的预算公开")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    wait_until("revision held as embargoed", lambda: revision_status(sql, rid) == "embargoed")

    assert stack.stop_daemon("zwgk-fanout").returncode == 0
    assert stack.start_daemon("zwgk-fanout").returncode == 0

    [item] = consume_until("zwgk.channel.portal", lambda m: m["key"] == rid, timeout=90)
    not_before = datetime.datetime.fromisoformat(publish_at).timestamp() * 1000
    assert item["timestamp"] >= not_before, "the channel message left before publish_at"
    wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html", 200, contains=release["title"])
    assert revision_status(sql, rid) == "fanned_out"


def test_withdrawal_ends_an_embargo_before_it_went_out(
    stack, demo_token, make_release, release_id, post_release, sql, consume_until, dump_topic,
):
    held = make_release(publish_at=in_seconds(3600), title="撤回前从未发布的公开")
    hid = release_id("demo", held["source_id"])
    assert post_release(held, demo_token).status_code == 202
    wait_until("revision held as embargoed", lambda: revision_status(sql, hid) == "embargoed")
    withdrawal = {k: held[k] for k in ("source_id", "department", "region_code")}
    withdrawal.update(revision=2, action="withdraw")
    assert post_release(withdrawal, demo_token).status_code == 202
    wait_until("embargo superseded", lambda: sql(
        "SELECT superseded_by FROM embargoes WHERE release_id = :'p1' AND revision = 1", hid) == [["2"]])

    # Time passes for both: the superseded embargo comes due first, then a
    # control release; once the control is out, the superseded one would be too.
    control = make_release(publish_at=in_seconds(3600), title="对照的定时发布")
    cid = release_id("demo", control["source_id"])
    assert post_release(control, demo_token).status_code == 202
    wait_until("control held", lambda: revision_status(sql, cid) == "embargoed")
    sql("UPDATE embargoes SET publish_at = now() - interval '1 minute' WHERE release_id = :'p1'", hid)
    sql("UPDATE embargoes SET publish_at = now() WHERE release_id = :'p1'", cid)
    consume_until("zwgk.channel.portal", lambda m: m["key"] == cid, timeout=60)
    assert not dump_topic("zwgk.channel.portal", lambda m: m["key"] == hid)
    assert revision_status(sql, hid) == "embargoed"
