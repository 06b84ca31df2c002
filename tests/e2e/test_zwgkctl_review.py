"""End to end: the review queue through zwgkctl — a held release approved by
an operator goes on to zwgk.tagged with classified_by operator:<name> and
reaches its channels; a release routed to broadcast needs two different
operators; a rejected one never goes out; every decision is audited."""

import getpass
import json
import uuid

import pytest
from conftest import wait_until

BROADCAST_ITEM = "aqsc-003"  # portal, wechat and broadcast in the seed catalog


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def held_unclassified(ctl, make_release, release_id, post_release, consume_until, demo_token):
    release = make_release(catalog_code=None, doc_type="notice", title=f"无法自动归类的通知 {uuid.uuid4().hex[:6]}")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == rid)
    assert held["value"]["review"]["reasons"] == ["unclassified"]
    wait_until("review row", lambda: rid in review_ids(ctl))
    return release, rid


def review_ids(ctl, *args):
    proc = ctl("--json", "review", "list", *args)
    assert proc.returncode == 0, proc.stderr
    return {r["release_id"] for r in json.loads(proc.stdout)["reviews"]}


def audit_actions(sql, rid):
    return [(a, actor) for a, actor in sql(
        "SELECT action, actor FROM audit_log WHERE release_id = :'p1' ORDER BY id", rid)]


def test_unclassified_release_approved_with_a_catalog_item(
    stack, ctl, sql, demo_token, make_release, release_id, post_release, consume_until, wait_http,
):
    release, rid = held_unclassified(ctl, make_release, release_id, post_release, consume_until, demo_token)
    refused = ctl("review", "approve", rid)
    assert refused.returncode == 1
    assert "--catalog" in refused.stderr

    approved = ctl("--json", "review", "approve", rid, "--catalog", "czyjs-001")
    assert approved.returncode == 0, approved.stderr
    answer = json.loads(approved.stdout)
    assert answer["outcome"] == "released"
    operator = f"operator:{getpass.getuser()}"
    assert answer["operator"] == operator

    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    assert tagged["value"]["tags"]["classified_by"] == operator
    assert tagged["value"]["tags"]["catalog_code"] == "czyjs-001"
    assert "review" not in tagged["value"]
    wait_http(f"{stack.portal_url}/zwgk/czyjs/zfys/{rid}.html", 200, contains=release["title"])

    shown = json.loads(ctl("--json", "review", "show", rid).stdout)
    assert (shown["status"], shown["decided_by"]) == ("approved", operator)
    assert rid not in review_ids(ctl)
    assert ("review.approve", operator) in audit_actions(sql, rid)
    again = ctl("review", "approve", rid)
    assert again.returncode == 1 and "already approved" in again.stderr


def test_privacy_hold_approved_goes_out_masked(
    ctl, demo_token, make_release, release_id, post_release, consume_until,
):
    release = make_release(doc_type="public_list", title="低保对象名单公示",
                           body="<p>张三，身份证号110101199003071233，电话13812345678。</p>")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == rid)
    assert held["value"]["review"]["reasons"] == ["privacy"]
    assert ctl("review", "approve", rid).returncode == 0
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    body = tagged["value"]["public"]["body"]
    assert "110101199003071233" not in body and "13812345678" not in body
    assert "110101********1233" in body and "138****5678" in body
    assert {r["kind"] for r in tagged["value"]["tags"]["redactions"]} == {"id_card", "mobile"}


def test_broadcast_needs_two_different_operators(
    stack, ctl, sql, demo_token, make_release, release_id, post_release, consume_until, dump_topic,
):
    _release, rid = held_unclassified(ctl, make_release, release_id, post_release, consume_until, demo_token)
    first = ctl("--json", "review", "approve", rid, "--catalog", BROADCAST_ITEM)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert (answer["outcome"], answer["approvals"], answer["approvals_needed"]) == ("awaiting_second_approval", 1, 2)
    # The same operator again is refused: the rule is two different people.
    same = ctl("review", "approve", rid, "--catalog", BROADCAST_ITEM)
    assert same.returncode == 1 and "different operator" in same.stderr
    shown = json.loads(ctl("--json", "review", "show", rid).stdout)
    assert shown["status"] == "pending" and len(shown["approvals"]) == 1
    assert not dump_topic("zwgk.tagged", lambda m: m["key"] == rid)

    # --as is refused unless the configuration allows it.
    refused = ctl("review", "approve", rid, "--as", "li.si")
    assert refused.returncode == 2 and "allow_as" in refused.stderr
    second = ctl("--json", "--set", "zwgkctl.allow_as=true", "review", "approve", rid, "--catalog",
                 BROADCAST_ITEM, "--as", "li.si")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["outcome"] == "released"
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    assert "broadcast" in tagged["value"]["tags"]["channels"]
    assert tagged["value"]["tags"]["classified_by"] == "operator:li.si"
    [alert] = consume_until("zwgk.channel.broadcast", lambda m: m["key"] == rid)
    assert alert["value"]["revision"] == 1
    actions = audit_actions(sql, rid)
    assert actions.count(("review.approval_recorded", f"operator:{getpass.getuser()}")) == 1
    assert ("review.approval_recorded", "operator:li.si") in actions
    assert ("review.approve", "operator:li.si") in actions


def test_rejected_release_never_goes_out(
    ctl, sql, demo_token, make_release, release_id, post_release, consume_until, dump_topic,
):
    _release, rid = held_unclassified(ctl, make_release, release_id, post_release, consume_until, demo_token)
    assert ctl("review", "reject", rid).returncode == 2  # --reason is required
    rejected = ctl("review", "reject", rid, "--reason", "不属于主动公开范围")
    assert rejected.returncode == 0, rejected.stderr
    shown = json.loads(ctl("--json", "review", "show", rid).stdout)
    assert (shown["status"], shown["note"]) == ("rejected", "不属于主动公开范围")
    assert sql("SELECT status FROM release_revisions WHERE release_id = :'p1'", rid) == [["ignored"]]
    assert ("review.reject", f"operator:{getpass.getuser()}") in audit_actions(sql, rid)
    assert ctl("review", "approve", rid, "--catalog", "czyjs-001").returncode == 1
    assert not dump_topic("zwgk.tagged", lambda m: m["key"] == rid)


def test_review_list_table_and_bad_input(ctl):
    table = ctl("review", "list")
    assert table.returncode == 0 and table.stdout.startswith("RELEASE")
    assert ctl("review", "show", "not-a-release-id").returncode == 1
    assert ctl("review", "show", "0" * 32).returncode == 1
    assert ctl("review", "list", "--status", "maybe").returncode == 2
    assert ctl("review", "approve", "0" * 32, "--revision", "x").returncode == 2
