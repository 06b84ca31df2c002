"""End to end: the operator's commands `zwgkctl audit verify`, `dlq list` /
`dlq replay` and `report timeliness` on the real stack (see conftest.py).

The stack is shared with the other tests, so these tests only change what
they made themselves: the audit rows tampered with are their own and are
put back exactly (from a copy taken first) before the test ends; the
`dlq replay --all` test works on topics of its own (a private
kafka.topic_prefix); departments, releases and source ids are fresh on every
run, so the suite can run again on the same stack.
"""

import csv
import datetime
import hashlib
import io
import json
import os
import re
import subprocess
import uuid

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import NOT_CONFIG, describe, wait_until

CHINA = datetime.timezone(datetime.timedelta(hours=8))
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")
HASH = re.compile(r"^[0-9a-f]{64}$")
ZERO_HASH = "0" * 64


def run_json(ctl, *args, expect=0):
    proc = ctl("--json", *args)
    assert proc.returncode == expect, f"zwgkctl {' '.join(args)}: {describe(proc)}"
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def ctl_bytes(stack, *args):
    """Runs zwgkctl as the ctl fixture does, but keeps stdout as bytes (line ends intact)."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_CONFIG}
    return subprocess.run([str(stack.bin_dir / "zwgkctl"), "--config", stack.config, *args], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


def now_china():
    return datetime.datetime.now(CHINA).replace(microsecond=0)


# --- audit verify -------------------------------------------------------------


@pytest.fixture
def own_audit_rows(ctl, sql):
    """Four audit rows of this test's own (a department added and three
    tokens issued), their ids oldest first; and a saved copy of them in a
    table of their own, restored and dropped at the end whatever happened."""
    code = f"e2eaudit{uuid.uuid4().hex[:8]}"
    proc = ctl("department", "add", code, "审计测试部门", "--region", "370211")
    assert proc.returncode == 0, describe(proc)
    for _ in range(3):
        proc = ctl("--json", "department", "token", code)
        assert proc.returncode == 0, describe(proc)
    ids = [int(r[0]) for r in sql("SELECT id FROM audit_log WHERE detail->>'department' = :'p1' ORDER BY id", code)]
    assert len(ids) == 4, ids
    backup = f"e2e_audit_backup_{uuid.uuid4().hex[:8]}"
    sql(f"CREATE TABLE {backup} AS SELECT * FROM audit_log WHERE id = ANY (:'p1'::bigint[])",
        "{" + ",".join(map(str, ids)) + "}")
    yield ids, backup
    # Put every row back exactly as it was: the same id and every column.
    sql(f"BEGIN; DELETE FROM audit_log a USING {backup} b WHERE a.id = b.id; "
        f"INSERT INTO audit_log SELECT * FROM {backup}; DROP TABLE {backup}; COMMIT;")


def verify(ctl, expect):
    return run_json(ctl, "audit", "verify", expect=expect)


def test_audit_verify_intact(ctl, own_audit_rows):
    ids, _ = own_audit_rows
    result = verify(ctl, 0)
    assert result["intact"] is True
    assert result["rows"] >= len(ids)
    assert result["last_id"] >= ids[-1]
    assert HASH.match(result["last_hash"])

    # the last hash as an anchor: found; an unknown one: the end was cut off
    anchored = run_json(ctl, "audit", "verify", "--anchor", result["last_hash"])
    assert anchored["intact"] is True and anchored["anchor"]["found"] is True
    cut = run_json(ctl, "audit", "verify", "--anchor", "ab" * 32, expect=1)
    assert cut["intact"] is False and cut["broken"]["problem"] == "truncated"

    people = ctl("audit", "verify")
    assert people.returncode == 0, describe(people)
    assert "intact" in people.stdout and "last hash" in people.stdout
    assert "\033[" not in people.stdout  # no colour when not on a terminal

    bad = ctl("audit", "verify", "--anchor", "nothex")
    assert bad.returncode == 2, describe(bad)


def test_audit_verify_names_an_altered_row(ctl, sql, own_audit_rows):
    ids, backup = own_audit_rows
    assert verify(ctl, 0)["intact"] is True
    altered = ids[1]
    sql("UPDATE audit_log SET detail = detail || '{\"token_id\": 999999}' WHERE id = :'p1'", altered)

    result = verify(ctl, 1)
    assert result["intact"] is False
    assert result["broken"]["id"] == altered
    assert result["broken"]["problem"] == "altered"
    assert result["broken"]["hash"] != result["broken"]["computed_hash"]
    people = ctl("audit", "verify")
    assert people.returncode == 1 and f"row {altered}" in people.stdout, describe(people)

    sql(f"UPDATE audit_log a SET detail = b.detail FROM {backup} b WHERE a.id = b.id")
    assert verify(ctl, 0)["intact"] is True


def test_audit_verify_names_a_deleted_row(ctl, sql, own_audit_rows):
    ids, backup = own_audit_rows
    assert verify(ctl, 0)["intact"] is True
    deleted = ids[1]
    [[following]] = sql("SELECT min(id) FROM audit_log WHERE id > :'p1'", deleted)
    sql("DELETE FROM audit_log WHERE id = :'p1'", deleted)

    result = verify(ctl, 1)
    assert result["broken"]["id"] == int(following)  # the row after the gap
    assert result["broken"]["problem"] == "deleted"
    assert result["broken"]["previous_id"] < deleted
    assert result["broken"]["prev_hash"] != result["broken"]["expected_prev_hash"]

    sql(f"INSERT INTO audit_log SELECT * FROM {backup} WHERE id = :'p1'", deleted)
    assert verify(ctl, 0)["intact"] is True


def test_audit_verify_names_rows_out_of_order(ctl, sql, own_audit_rows):
    ids, backup = own_audit_rows
    assert verify(ctl, 0)["intact"] is True
    first, second = ids[1], ids[2]
    columns = "at, actor, action, release_id, revision, detail, prev_hash, hash"
    # swap every column but the id: each row still hashes right, the order is wrong
    sql(f"UPDATE audit_log a SET ({columns}) = (SELECT {columns} FROM {backup} b WHERE b.id = "
        f"CASE a.id WHEN :'p1'::bigint THEN :'p2'::bigint ELSE :'p1'::bigint END) "
        f"WHERE a.id IN (:'p1'::bigint, :'p2'::bigint)", first, second)

    result = verify(ctl, 1)
    assert result["broken"]["id"] == first
    assert result["broken"]["problem"] == "out_of_order"
    assert "comes after" in result["broken"]["message"]

    sql(f"UPDATE audit_log a SET ({columns}) = (SELECT {columns} FROM {backup} b WHERE b.id = a.id) "
        f"WHERE a.id IN (:'p1'::bigint, :'p2'::bigint)", first, second)
    assert verify(ctl, 0)["intact"] is True


# --- dlq list and replay --------------------------------------------------------


def dlq_entries(ctl, *args):
    return run_json(ctl, "dlq", "list", *args)["entries"]


def wait_for_dead_letter(ctl, rid, count=1, timeout=90):
    def found():
        entries = dlq_entries(ctl, "--release", rid)
        return entries if len(entries) >= count else None

    return wait_until(f"{count} dead letter(s) of {rid} in dlq list", found, timeout=timeout, interval=1)


def test_poison_is_listed_and_not_replayed_without_force(stack, ctl, consume_until):
    key = uuid.uuid4().hex  # a release id, so that dlq list can find the entry by it
    poison = b'{"schema": "zwgk.release.v1", "release_id": not json'
    producer = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all"})
    producer.produce("zwgk.releases", key=key.encode(), value=poison)
    assert producer.flush(30) == 0

    [entry] = wait_for_dead_letter(ctl, key)
    record = entry["record"]
    assert record["schema"] == "zwgk.dlq.v1"
    assert record["error"]["kind"] == "poison" and record["error"]["stage"] == "classifier"
    assert record["original"] == poison.decode()
    assert record["source"].startswith("zwgk.releases:")
    assert entry["replayed"] is None
    assert re.match(r"^\d+:\d+$", entry["id"]) and entry["time"]

    table = ctl("dlq", "list", "--release", key)
    assert table.returncode == 0, describe(table)
    assert "ID" in table.stdout and entry["id"] in table.stdout and "poison" in table.stdout

    refused = ctl("dlq", "replay", entry["id"])
    assert refused.returncode == 1, describe(refused)
    assert "poison" in refused.stderr and "--force" in refused.stderr
    assert dlq_entries(ctl, "--release", key)[0]["replayed"] is None

    # forced, the bytes go back as they were, and are dead-lettered once more
    forced = run_json(ctl, "dlq", "replay", entry["id"], "--force")
    assert forced["target_topic"] == "zwgk.releases" and forced["forced"] is True
    [again] = consume_until("zwgk.releases", lambda m: m["key"] == key and m["offset"] == forced["target_offset"]
                            and m["partition"] == forced["target_partition"])
    assert again["value"] == poison
    assert TRACEPARENT.match(again["headers"]["traceparent"])
    entries = wait_for_dead_letter(ctl, key, count=2)
    assert entries[0]["replayed"]["count"] == 1 and entries[1]["replayed"] is None


def test_a_message_too_large_for_a_dead_letter_is_kept_in_part_and_not_replayed(stack, ctl):
    """A message near Kafka's 1 MB limit whose escaping in JSON doubles it: the
    dead letter keeps a prefix, the length and the SHA-256 of the whole, and the
    partition goes on (before, the refused dead letter held it for good)."""
    key = uuid.uuid4().hex
    big = ('{"schema": "zwgk.release.v1", "junk": "' + '\\"' * 499_000 + '"}').encode()
    producer = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all",
                         "message.max.bytes": 1_048_576})
    producer.produce("zwgk.tagged", key=key.encode(), value=big)
    assert producer.flush(30) == 0

    [entry] = wait_for_dead_letter(ctl, key)
    record = entry["record"]
    assert record["error"]["kind"] == "poison" and record["error"]["stage"] == "fanout"
    assert record["original_truncated"] is True and record["original_bytes"] == len(big)
    assert record["original_sha256"] == hashlib.sha256(big).hexdigest()
    assert 0 < len(record["original"].encode()) < len(big) and big.decode().startswith(record["original"])
    refused = ctl("dlq", "replay", entry["id"], "--force")
    assert refused.returncode == 1, describe(refused)
    assert "cannot be replayed" in refused.stderr


def test_replay_usage_and_unknown_entries(ctl):
    assert ctl("dlq", "replay").returncode == 2
    assert ctl("dlq", "replay", "zero:one").returncode == 2
    missing = ctl("dlq", "replay", "999:0")
    assert missing.returncode == 1 and "no dead letter" in missing.stderr, describe(missing)
    assert ctl("dlq", "list", "--since", "yesterday").returncode == 2
    assert ctl("dlq", "list", "--limit", "0").returncode == 2
    assert ctl("dlq", "list", "--since", "2d").returncode == 0


@pytest.fixture
def year_2031(sql):
    """Makes sure calendar year 2031 is not loaded, and unloads it at the end."""
    sql("DELETE FROM calendar_days WHERE year = 2031; DELETE FROM calendar_years WHERE year = 2031")
    yield
    sql("DELETE FROM calendar_days WHERE year = 2031; DELETE FROM calendar_years WHERE year = 2031")


def test_a_release_fixed_after_dead_lettering_is_replayed(
    ctl, sql, token, make_release, post_release, release_id, consume_until, year_2031,
):
    release = make_release(formed_at="2031-03-03T09:00:00+08:00")
    rid = release_id("demo", release["source_id"])
    response = post_release(release, token("demo"))
    assert response.status_code == 202, response.text
    [accepted] = consume_until("zwgk.releases", lambda m: m["key"] == rid)

    [entry] = wait_for_dead_letter(ctl, rid)
    error = entry["record"]["error"]
    assert (error["stage"], error["kind"]) == ("classifier", "unprocessable")
    assert "2031" in error["message"], error
    assert entry["record"]["release_id"] == rid and entry["record"]["revision"] == 1

    # the cause fixed: 2031 loaded (no holidays known; weekdays are working days)
    sql("INSERT INTO calendar_years (year, source) VALUES (2031, 'e2e test') ON CONFLICT DO NOTHING")
    replayed = run_json(ctl, "dlq", "replay", entry["id"])
    assert replayed["target_topic"] == "zwgk.releases"
    assert (replayed["release_id"], replayed["revision"], replayed["forced"]) == (rid, 1, False)

    [copy] = consume_until("zwgk.releases", lambda m: m["key"] == rid and m["offset"] == replayed["target_offset"]
                           and m["partition"] == replayed["target_partition"])
    assert copy["value"] == accepted["value"]
    assert copy["headers"]["zwgk-schema"] == "zwgk.release.v1"
    tp = TRACEPARENT.match(copy["headers"]["traceparent"])
    assert tp and tp.group(1) == accepted["value"]["ingest"]["trace_id"]  # the same trace, a new span
    assert copy["headers"]["traceparent"] != accepted["headers"]["traceparent"]

    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid, timeout=90)
    assert tagged["value"]["tags"]["due_by"].startswith("2031-")

    # recorded, audited, marked; a second replay needs --force
    rows = sql("SELECT replayed_by, target_topic, forced FROM dlq_replays WHERE dlq_topic = 'zwgk.dlq' "
               "AND dlq_partition = :'p1' AND dlq_offset = :'p2'", entry["partition"], entry["offset"])
    assert len(rows) == 1 and rows[0][0].startswith("operator:") and rows[0][1:] == ["zwgk.releases", "f"]
    [[detail]] = sql("SELECT detail FROM audit_log WHERE action = 'dlq.replay' AND release_id = :'p1'", rid)
    detail = json.loads(detail)
    assert detail["dlq"] == f"zwgk.dlq:{entry['id']}" and detail["kind"] == "unprocessable"
    assert detail["target"].startswith("zwgk.releases:")
    [listed] = dlq_entries(ctl, "--release", rid)
    assert listed["replayed"]["count"] == 1 and listed["replayed"]["target_topic"] == "zwgk.releases"
    assert dlq_entries(ctl, "--release", rid, "--pending") == []
    table = ctl("dlq", "list", "--release", rid)
    assert re.search(rf"{re.escape(entry['id'])}\s.*\syes\s", table.stdout), table.stdout

    again = ctl("dlq", "replay", entry["id"])
    assert again.returncode == 1 and "already" in again.stderr and "--force" in again.stderr, describe(again)
    forced = run_json(ctl, "dlq", "replay", entry["id"], "--force")
    assert forced["forced"] is True
    assert dlq_entries(ctl, "--release", rid)[0]["replayed"]["count"] == 2
    assert verify(ctl, 0)["intact"] is True  # the replays' audit rows keep the chain


def broadcast_envelope(rid):
    """A channel envelope for zwgk-broadcast, as the fan-out writes it."""
    trace = uuid.uuid4().hex
    release = {"source_id": f"e2e-ops-{rid}", "revision": 1, "action": "publish", "department": "demo",
               "region_code": "370211001001", "title": "东山村停水通知", "body": "<p>通知正文。</p>",
               "doc_type": "notice", "formed_at": "2026-11-20T09:00:00+08:00",
               "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"}}
    payload = {"headline": "东山村停水通知", "tts_text": "各位村民请注意：明天上午东山村停水检修，请提前储水。",
               "area_desc": "青岛市黄岛区东山村", "geocode": "370211001001", "event": "停水通知",
               "category": "Infra", "urgency": "Expected", "severity": "Minor", "certainty": "Observed",
               "web": "https://www.example.gov.cn/zwgk/szfw/notice.html", "shortened": []}
    return trace, {
        "schema": "zwgk.channel.v1", "release_id": rid, "revision": 1, "action": "publish", "release": release,
        "ingest": {"received_at": "2026-11-20T10:00:00.000+08:00", "department": "demo", "producer": "e2e",
                   "trace_id": trace},
        "tags": {"catalog_code": "szfw-001", "domain": "市政服务", "item_l1": "市政设施", "channels": ["broadcast"],
                 "manual_channels": [], "audience": "public", "mode": "active", "level": "village",
                 "classified_by": "explicit", "classified_at": "2026-11-20T10:00:01+08:00"},
        "public": {"title": "东山村停水通知", "summary": "", "body": "<p>通知正文。</p>"},
        "channel": {"name": "broadcast", "payload": payload},
    }


def test_a_failed_delivery_is_delivered_after_its_replay(stack, ctl, sql, consume_until):
    fake = stack.env["ZWGK_FAKE_BROADCAST_URL"]
    rid = uuid.uuid4().hex
    trace, envelope = broadcast_envelope(rid)
    # the platform refuses this alert once, for good (400): the delivery fails
    answer = requests.post(f"{fake}/_fake/fail", json={"status": 400, "times": 1, "match": rid}, timeout=10)
    assert answer.status_code == 200, answer.text
    producer = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all"})
    producer.produce("zwgk.channel.broadcast", key=rid, value=json.dumps(envelope, ensure_ascii=False).encode(),
                     headers=[("zwgk-schema", b"zwgk.channel.v1"),
                              ("traceparent", f"00-{trace}-{uuid.uuid4().hex[:16]}-01".encode())])
    assert producer.flush(30) == 0

    [entry] = wait_for_dead_letter(ctl, rid)
    record = entry["record"]
    assert (record["source"], record["error"]["kind"]) == ("schedule", "delivery_failed")
    assert json.loads(record["original"])["channel"]["name"] == "broadcast"
    assert sql("SELECT status, attempts FROM deliveries WHERE release_id = :'p1' AND channel = 'broadcast'",
               rid) == [["failed", "1"]]

    replayed = run_json(ctl, "dlq", "replay", entry["id"])
    assert replayed["target_topic"] == "zwgk.channel.broadcast" and replayed["reset_delivery"] == "broadcast"
    wait_until("the replayed alert delivered", lambda: sql(
        "SELECT status, attempts FROM deliveries WHERE release_id = :'p1' AND channel = 'broadcast'",
        rid) == [["delivered", "1"]], timeout=90)
    consume_until("zwgk.receipts", lambda m: m["key"] == rid
                  and (m["value"].get("receipt") or {}).get("status") == "delivered", timeout=60)
    state = requests.get(f"{fake}/_fake/state", timeout=10).json()
    assert [a["identifier"] for a in state["alerts"] if a["identifier"].startswith(rid)] == [f"{rid}.1"]
    assert len(wait_for_dead_letter(ctl, rid)) == 1  # no second dead letter


@pytest.fixture
def private_dlq(stack, sql):
    """Topics under a prefix of this test's own: <prefix>dlq (2 partitions),
    <prefix>releases and <prefix>channel.portal; deleted at the end, with
    the deliveries rows the test made."""
    prefix = f"e2eops{uuid.uuid4().hex[:8]}."
    admin = AdminClient({"bootstrap.servers": stack.brokers})
    topics = [NewTopic(f"{prefix}dlq", 2, 1), NewTopic(f"{prefix}releases", 1, 1),
              NewTopic(f"{prefix}channel.portal", 1, 1)]
    for future in admin.create_topics(topics, operation_timeout=30).values():
        future.result()
    made = []
    yield prefix, made
    for rid in made:
        sql("DELETE FROM deliveries WHERE release_id = :'p1'", rid)
    for future in admin.delete_topics([t.topic for t in topics], operation_timeout=30).values():
        future.result()


def dead_letter(kind, source, original, rid, trace, stage="classifier"):
    return {"schema": "zwgk.dlq.v1", "error": {"stage": stage, "kind": kind, "message": f"test {kind}"},
            "source": source, "original": original, "release_id": rid, "revision": 1,
            "ingest": {"received_at": "2026-11-20T01:00:00.000Z", "department": "demo", "producer": "e2e",
                       "trace_id": trace}}


def test_replay_all_on_private_topics(stack, ctl, sql, private_dlq, dump_topic):
    prefix, made = private_dlq
    rid_release, rid_channel, rid_poison = (uuid.uuid4().hex for _ in range(3))
    trace = uuid.uuid4().hex
    release_original = json.dumps({"schema": "zwgk.release.v1", "release_id": rid_release, "revision": 1})
    channel_original = json.dumps({"schema": "zwgk.channel.v1", "release_id": rid_channel, "revision": 1,
                                   "action": "publish", "channel": {"name": "portal", "payload": {}}})
    letters = [
        dead_letter("unprocessable", f"{prefix}releases:0:7", release_original, rid_release, trace),
        dead_letter("delivery_failed", "schedule", channel_original, rid_channel, trace, stage="portal"),
        dead_letter("poison", f"{prefix}releases:0:8", "not json {", rid_poison, trace),
    ]
    producer = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all"})
    for letter in letters:
        producer.produce(f"{prefix}dlq", key=letter["release_id"].encode(), value=json.dumps(letter).encode())
    assert producer.flush(30) == 0
    made.append(rid_channel)
    sql("INSERT INTO deliveries (release_id, revision, channel, status, attempts, error) "
        "VALUES (:'p1', 1, 'portal', 'failed', 8, 'HTTP 503 (gave up after 8 attempts)')", rid_channel)
    private = ("--set", f"kafka.topic_prefix={prefix}")

    listed = run_json(ctl, *private, "dlq", "list")
    assert listed["topic"] == f"{prefix}dlq"
    assert sorted(e["record"]["release_id"] for e in listed["entries"]) == sorted(
        [rid_release, rid_channel, rid_poison])
    assert all(e["replayed"] is None for e in listed["entries"])
    assert len(run_json(ctl, *private, "dlq", "list", "--limit", "2")["entries"]) == 2

    done = run_json(ctl, *private, "dlq", "replay", "--all")
    assert done["failed"] == []
    assert sorted((r["release_id"], r["target_topic"]) for r in done["replayed"]) == sorted(
        [(rid_release, f"{prefix}releases"), (rid_channel, f"{prefix}channel.portal")])
    assert [s["reason"] for s in done["skipped"]] and "poison" in done["skipped"][0]["reason"]
    [reset] = [r for r in done["replayed"] if r["release_id"] == rid_channel]
    assert reset["reset_delivery"] == "portal"

    # the failed delivery was reset, so the adapter tries again
    assert sql("SELECT status, attempts, error FROM deliveries WHERE release_id = :'p1'", rid_channel) == [
        ["pending", "0", ""]]
    [on_release] = dump_topic(f"{prefix}releases")
    assert on_release["value"] == json.loads(release_original) and on_release["key"] == rid_release
    assert on_release["headers"]["zwgk-schema"] == "zwgk.release.v1"
    assert TRACEPARENT.match(on_release["headers"]["traceparent"]).group(1) == trace
    [on_channel] = dump_topic(f"{prefix}channel.portal")
    assert on_channel["value"] == json.loads(channel_original) and on_channel["key"] == rid_channel
    assert on_channel["headers"]["zwgk-schema"] == "zwgk.channel.v1"

    [[detail]] = sql("SELECT detail FROM audit_log WHERE action = 'dlq.replay' AND release_id = :'p1'",
                     rid_channel)
    assert json.loads(detail)["reset_delivery"] == {
        "channel": "portal", "attempts": 8, "error": "HTTP 503 (gave up after 8 attempts)"}

    pending = run_json(ctl, *private, "dlq", "list", "--pending")["entries"]
    assert [e["record"]["release_id"] for e in pending] == [rid_poison]
    again = run_json(ctl, *private, "dlq", "replay", "--all")
    assert again["replayed"] == [] and len(again["skipped"]) == 1 and again["failed"] == []
    forced = run_json(ctl, *private, "dlq", "replay", "--all", "--force")
    assert [(r["release_id"], r["forced"]) for r in forced["replayed"]] == [(rid_poison, True)]
    assert len(dump_topic(f"{prefix}releases")) == 2
    assert run_json(ctl, *private, "dlq", "list", "--pending")["entries"] == []
    people = ctl(*private, "dlq", "replay", "--all")
    assert people.returncode == 0 and "0 replayed, 0 skipped, 0 failed" in people.stdout, describe(people)


# --- report timeliness -------------------------------------------------------------


@pytest.fixture
def two_departments(ctl, sql):
    """Two fresh departments, each a responsible body of catalog items
    czyjs-001 (财政预决算) and, for the first, aqsc-001 (安全生产)."""
    codes = [f"e2erpt{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for code, name in zip(codes, ("时效测试甲局", "时效测试乙局")):
        proc = ctl("department", "add", code, name, "--region", "370211")
        assert proc.returncode == 0, describe(proc)
    sql("INSERT INTO catalog_item_bodies (item_code, department_code) VALUES "
        "('czyjs-001', :'p1'), ('aqsc-001', :'p1'), ('czyjs-001', :'p2')", *codes)
    yield codes
    sql("DELETE FROM catalog_item_bodies WHERE department_code IN (:'p1', :'p2')", *codes)


def test_report_timeliness(stack, ctl, sql, token, make_release, post_release, release_id, two_departments):
    a, b = two_departments
    now = now_china()
    recent = (now - datetime.timedelta(minutes=5)).isoformat()
    long_ago = "2025-01-06T09:00:00+08:00"  # due 20 working days later, in February 2025
    embargo = (now + datetime.timedelta(days=30)).isoformat()
    review = {"reviewer": "王敏", "reviewed_at": recent}
    plan = {  # name: (department, fields, expected outcome)
        "late": (a, {"formed_at": long_ago, "title": '迟到的预算, "公开" 测试'}, "overdue"),
        "on_time": (a, {"formed_at": recent}, "on_time"),
        "other_domain": (a, {"formed_at": recent, "catalog_code": "aqsc-001", "doc_type": "notice"}, "on_time"),
        "not_yet": (a, {"formed_at": long_ago, "publish_at": embargo}, "overdue"),
        "pending": (a, {"formed_at": recent, "publish_at": embargo}, "pending"),
        "second": (b, {"formed_at": recent}, "on_time"),
    }
    tokens = {a: token(a), b: token(b)}
    rids = {}
    for name, (dept, fields, _) in plan.items():
        release = make_release(department=dept, secrecy_review=review, **fields)
        response = post_release(release, tokens[dept])
        assert response.status_code == 202, response.text
        rids[name] = release_id(dept, release["source_id"])

    def settled():
        delivered = {r[0] for r in sql("SELECT DISTINCT release_id FROM delivery_attempts "
                                       "WHERE outcome = 'delivered' AND release_id = ANY (:'p1'::text[])",
                                       "{" + ",".join(rids.values()) + "}")}
        embargoed = {r[0] for r in sql("SELECT release_id FROM release_revisions WHERE status = 'embargoed' "
                                       "AND release_id = ANY (:'p1'::text[])", "{" + ",".join(rids.values()) + "}")}
        return delivered == {rids[n] for n in ("late", "on_time", "other_domain", "second")} and \
            embargoed == {rids["not_yet"], rids["pending"]}

    wait_until("the releases delivered or embargoed", settled, timeout=120, interval=1)
    period = ("--from", (now - datetime.timedelta(days=1)).date().isoformat(),
              "--to", (now + datetime.timedelta(days=1)).date().isoformat())

    everyone = run_json(ctl, "report", "timeliness", *period)
    by_department = {d["department"]: d for d in everyone["departments"]}
    first, second = by_department[a], by_department[b]
    assert (first["releases"], first["on_time"], first["overdue"], first["overdue_undelivered"],
            first["pending"], first["not_assessed"]) == (5, 2, 2, 1, 1, 0)
    assert first["on_time_rate"] == 0.5 and first["name"] == "时效测试甲局"
    assert (second["releases"], second["on_time"], second["overdue"], second["on_time_rate"]) == (1, 1, 0, 1.0)

    one = run_json(ctl, "report", "timeliness", *period, "--department", a)
    assert one["department"] == a and [d["department"] for d in one["departments"]] == [a]
    domains = {d["domain_code"]: d for d in one["domains"]}
    assert set(domains) == {"czyjs", "aqsc"}
    assert (domains["czyjs"]["releases"], domains["czyjs"]["on_time"], domains["czyjs"]["overdue"],
            domains["czyjs"]["pending"]) == (4, 1, 2, 1)
    assert domains["czyjs"]["domain"] == "财政预决算" and domains["czyjs"]["on_time_rate"] == 0.3333
    assert (domains["aqsc"]["releases"], domains["aqsc"]["on_time"], domains["aqsc"]["on_time_rate"]) == (1, 1, 1.0)
    assert one["totals"]["releases"] == 5 and one["totals"]["on_time_rate"] == 0.5
    overdue = {o["release_id"]: o for o in one["overdue"]}
    assert set(overdue) == {rids["late"], rids["not_yet"]}
    late, not_yet = overdue[rids["late"]], overdue[rids["not_yet"]]
    assert late["due_by"].startswith("2025-02-") and late["first_delivered_at"].startswith(now.date().isoformat())
    assert not_yet["first_delivered_at"] is None
    # from February 2025 to now: well over 300 working days, and fewer than calendar days
    assert 300 < late["working_days_late"] < late["days_late"]

    table = ctl("report", "timeliness", *period, "--department", a)
    assert table.returncode == 0, describe(table)
    assert "时效测试甲局" in table.stdout and "Overdue releases: 2" in table.stdout and "not yet" in table.stdout

    exported = ctl_bytes(stack, "report", "timeliness", *period, "--department", a, "--csv")
    assert exported.returncode == 0, exported.stderr
    text = exported.stdout.decode("utf-8")  # UTF-8, every line ending in CRLF
    assert text.endswith("\r\n") and text.count("\r\n") == 6 and text.count("\n") == 6
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["release_id", "department", "department_name", "domain", "catalog_code", "item", "title",
                       "received_at", "due_by", "first_delivered_at", "outcome", "working_days_late",
                       "days_late"]
    outcomes = {row[0]: row[10] for row in rows[1:]}
    assert outcomes == {rids[name]: plan[name][2] for name in plan if plan[name][0] == a}
    [late_row] = [row for row in rows[1:] if row[0] == rids["late"]]
    assert late_row[6] == '迟到的预算, "公开" 测试'  # quoted per RFC 4180, read back intact
    assert '"迟到的预算, ""公开"" 测试"' in text

    assert ctl("report", "timeliness", "--from", "2026-02-30").returncode == 2
    assert ctl("report", "timeliness", "--csv", "--json").returncode == 2
    unknown = ctl("report", "timeliness", "--department", "no-such-department")
    assert unknown.returncode == 1 and "unknown department" in unknown.stderr
