"""End to end: a policy and its interpretation go out together (政策解读 三同步).

A policy is held (review reason interpretation_pending) until its interpretation
arrives, and an interpretation that comes first waits for its policy; when the
second of the pair arrives, both are tagged and both reach the portal."""

import pytest

COLUMN = "czyjs/zfys"


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def policy_and_interpretation(make_release, release_id):
    policy = make_release(doc_type="policy", title="关于进一步规范预算公开工作的实施意见")
    pid = release_id("demo", policy["source_id"])
    interpretation = make_release(doc_type="interpretation", interprets=pid,
                                  title="《关于进一步规范预算公开工作的实施意见》政策解读")
    return policy, pid, interpretation, release_id("demo", interpretation["source_id"])


def assert_not_tagged(dump_topic, rid):
    assert not dump_topic("zwgk.tagged", lambda m: m["key"] == rid), f"{rid} was tagged while held"


@pytest.mark.parametrize("first", ["policy", "interpretation"])
def test_pair_goes_out_together(
    first, stack, demo_token, make_release, release_id, post_release, consume_until, dump_topic, wait_http,
):
    policy, pid, interpretation, iid = policy_and_interpretation(make_release, release_id)
    early, early_id, late, late_id = (
        (policy, pid, interpretation, iid) if first == "policy" else (interpretation, iid, policy, pid)
    )
    assert post_release(early, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == early_id)
    assert held["value"]["review"]["reasons"] == ["interpretation_pending"]
    assert_not_tagged(dump_topic, early_id)

    assert post_release(late, demo_token).status_code == 202
    for rid in (pid, iid):
        [tagged] = consume_until("zwgk.tagged", lambda m, rid=rid: m["key"] == rid)
        assert tagged["value"]["tags"]["catalog_code"] == "czyjs-001"
        assert "review" not in tagged["value"]
    for release, rid in ((policy, pid), (interpretation, iid)):
        wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html", 200, contains=release["title"])
    # Each is tagged once: the held one is not sent again later.
    for rid in (pid, iid):
        assert len(dump_topic("zwgk.tagged", lambda m, rid=rid: m["key"] == rid)) == 1


def test_update_of_an_interpreted_policy_is_not_held_again(
    demo_token, make_release, release_id, post_release, consume_until,
):
    policy, pid, interpretation, iid = policy_and_interpretation(make_release, release_id)
    assert post_release(policy, demo_token).status_code == 202
    assert post_release(interpretation, demo_token).status_code == 202
    consume_until("zwgk.tagged", lambda m: m["key"] == iid)
    update = dict(policy, revision=2, action="update", title=policy["title"] + "（修订）")
    assert post_release(update, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == pid and m["value"]["revision"] == 2)
    assert tagged["value"]["public"]["title"] == update["title"]


def test_policy_past_its_grace_is_escalated_once(
    demo_token, make_release, release_id, post_release, consume_until, sql,
):
    policy, pid, _interpretation, _iid = policy_and_interpretation(make_release, release_id)
    assert post_release(policy, demo_token).status_code == 202
    consume_until("zwgk.review", lambda m: m["key"] == pid)
    # As if it had waited a month: older than any grace in working days.
    sql("UPDATE review_queue SET created_at = now() - interval '30 days' WHERE release_id = :'p1'", pid)
    [first, escalated] = consume_until("zwgk.review", lambda m: m["key"] == pid, count=2)
    assert "escalated" not in first["value"]["review"]
    assert escalated["value"]["review"]["escalated"] is True
    assert escalated["value"]["review"]["reasons"] == ["interpretation_pending"]
    assert "3 working days" in escalated["value"]["review"]["detail"]
    [[status, escalated_at]] = sql(
        "SELECT status, escalated_at IS NOT NULL FROM review_queue WHERE release_id = :'p1'", pid)
    assert (status, escalated_at) == ("pending", "t")
    assert sql("SELECT count(*) FROM audit_log WHERE release_id = :'p1' AND action = 'classifier.escalated'",
               pid) == [["1"]]
