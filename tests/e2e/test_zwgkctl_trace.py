"""End to end: `zwgkctl trace` shows a release's whole path — every revision
with its stage times, tags and catalog version, and each channel's delivery
with its external id and URL — from what the stages recorded."""

import json

import pytest
from conftest import wait_until


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def test_trace_shows_every_revision_and_delivery(
    ctl, demo_token, make_release, release_id, post_release, sql,
):
    release = make_release(title="追踪测试：预算公开")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    update = dict(release, revision=2, action="update", title="追踪测试：预算公开（更正）")
    wait_until("revision 1 delivered on the portal", lambda: sql(
        "SELECT status FROM deliveries WHERE release_id = :'p1' AND revision = 1 AND channel = 'portal'",
        rid) == [["delivered"]])
    assert post_release(update, demo_token).status_code == 202
    wait_until("revision 2 delivered everywhere", lambda: sql(
        "SELECT count(*) FROM deliveries WHERE release_id = :'p1' AND revision = 2 AND status = 'delivered'",
        rid) == [["2"]], timeout=90)

    proc = ctl("--json", "trace", rid)
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(proc.stdout)
    assert trace["release_id"] == rid and trace["department"] == "demo"
    assert trace["source_id"] == release["source_id"] and trace["latest_revision"] == 2
    assert [r["revision"] for r in trace["revisions"]] == [1, 2]
    for revision in trace["revisions"]:
        assert revision["times"]["received"] and revision["times"]["classified"] and revision["times"]["fanned_out"]
        assert revision["catalog_code"] == "czyjs-001" and revision["catalog_version"]
        assert revision["tags"]["channels"] == ["portal", "wechat"]
    assert trace["revisions"][1]["title"] == update["title"]
    delivered = {(d["revision"], d["channel"]) for d in trace["deliveries"] if d["status"] == "delivered"}
    assert delivered == {(1, "portal"), (1, "wechat"), (2, "portal"), (2, "wechat")}
    wechat = [d for d in trace["deliveries"] if d["channel"] == "wechat" and d["revision"] == 2][0]
    assert wechat["external_id"] and wechat["url"].startswith("http") and wechat["attempts"] >= 1
    # Every stage's decision is in the audit log: tagged, fanned out, delivered.
    audited = {(a["action"], a["actor"], int(a["revision"])) for a in trace["audit"]}
    for revision in (1, 2):
        assert ("classifier.tagged", "classifier", revision) in audited
        assert ("fanout.fanned_out", "fanout", revision) in audited
        assert ("delivery.delivered", "portal", revision) in audited
        assert ("delivery.delivered", "wechat", revision) in audited

    human = ctl("trace", rid)
    assert human.returncode == 0
    for text in (rid, "revision 2", "czyjs-001", "portal", "wechat", wechat["external_id"], "audit log"):
        assert text in human.stdout


def test_trace_of_unknown_or_malformed_id(ctl):
    assert ctl("trace", "0" * 32).returncode == 1
    assert ctl("trace", "not-an-id").returncode == 2
    assert ctl("trace").returncode == 2
