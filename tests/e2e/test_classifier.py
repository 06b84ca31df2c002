"""End to end: the classifier's catalog copy follows the database without a
restart (LISTEN/NOTIFY), rules tag releases without a catalog_code, every tag
records the catalog version it was made with, and deadlines count working days
from the calendar."""

import datetime
import uuid

import pytest
from conftest import wait_until


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def without_code(make_release, title):
    return make_release(catalog_code=None, doc_type="notice", title=title)


def test_new_rule_applies_without_a_restart(
    demo_token, make_release, release_id, post_release, consume_until, sql,
):
    keyword = f"规则{uuid.uuid4().hex[:8]}"
    before = without_code(make_release, f"{keyword}专项资金预算说明")
    bid = release_id("demo", before["source_id"])
    assert post_release(before, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == bid)
    assert held["value"]["review"]["reasons"] == ["unclassified"]

    [[rule_id]] = sql(
        "INSERT INTO classification_rules (department_code, keywords, catalog_code, priority) "
        "VALUES ('demo', ARRAY[:'p1'], 'czyjs-001', 1) RETURNING id", keyword)
    after = without_code(make_release, f"{keyword}专项资金预算说明（第二份）")
    aid = release_id("demo", after["source_id"])
    assert post_release(after, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == aid)
    assert tagged["value"]["tags"]["classified_by"] == f"rule:{rule_id}"
    assert tagged["value"]["tags"]["catalog_code"] == "czyjs-001"
    sql("UPDATE classification_rules SET active = false WHERE id = :'p1'", rule_id)


def test_tags_record_the_catalog_version(
    demo_token, make_release, release_id, post_release, consume_until, sql,
):
    [[version]] = sql("INSERT INTO catalog_versions (version, source, note) "
                      "SELECT max(version) + 1, 'e2e', 'a new catalog version' FROM catalog_versions "
                      "RETURNING version")
    release = make_release(title="目录版本记录测试")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    assert tagged["value"]["tags"]["catalog_version"] == int(version)
    wait_until("revision recorded", lambda: sql(
        "SELECT catalog_version FROM release_revisions WHERE release_id = :'p1'", rid) == [[version]])


@pytest.mark.parametrize("formed_at, due_by, item", [
    # Periodic items: 15 days after the end of the month (czyjs-004, 按月公开
    # 每月终了后15日内) or quarter (bzxzf-004, 按季度公开) the release covers.
    ("2026-11-10T09:00:00+08:00", "2026-12-15", "czyjs-004"),
    ("2026-08-10T09:00:00+08:00", "2026-10-15", "bzxzf-004"),
    # czyjs-001 allows 20 working days. From Friday 2026-09-25 they skip the
    # National Day holiday (10-01..10-07) and count the 调休 Saturday 10-10.
    ("2026-09-25T09:00:00+08:00", "2026-10-29", "czyjs-001"),
    # No holiday in between: four weeks of weekdays.
    ("2026-11-19T23:30:00+08:00", "2026-12-17", "czyjs-001"),
    # Formed late on the 19th in China, i.e. on the 19th UTC too; 16:30 UTC on
    # the 19th is already the 20th in China, and counts from there.
    ("2026-11-19T16:30:00Z", "2026-12-18", "czyjs-001"),
])
def test_due_by_counts_working_days_from_the_calendar(
    demo_token, make_release, release_id, post_release, consume_until, formed_at, due_by, item,
):
    release = make_release(formed_at=formed_at, title=f"期限测试 {formed_at}", catalog_code=item)
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    assert tagged["value"]["tags"]["due_by"] == due_by
    today_in_china = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
    assert tagged["value"]["tags"]["late"] is (today_in_china > datetime.date.fromisoformat(due_by))
