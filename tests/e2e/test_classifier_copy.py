"""The classifier's exactly-once copy, tested the way Kafka tests its own
transactions: a large input written straight to zwgk.releases, the classifier
killed with SIGKILL at several points while it copies, and afterwards a
read_committed dump of zwgk.tagged + zwgk.review that must hold exactly the
expected set — every (release_id, revision) once, none missing, none twice,
revisions in order per release. Then the same with two classifiers sharing the
consumer group and one of them killed.

ZWGK_COPY_TEST_RELEASES sets the size (default 20000).
"""

import collections
import datetime
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from conftest import QUIET_ITEM, free_port, release_id, wait_until

TOTAL = int(os.environ.get("ZWGK_COPY_TEST_RELEASES", "20000"))
OUTPUTS = ("zwgk.tagged", "zwgk.review")


@pytest.fixture(scope="module", autouse=True)
def item(quiet_item):
    """The copy's releases name a catalog item without automated channels, so
    the test measures the classifier and does not flood the portal and the
    WeChat stand-in with 20,000 articles."""
    return quiet_item


def envelope(source_id, revision, catalog_code):
    """An envelope as zwgk-producer writes it (CONTRACT §3)."""
    rid = release_id("demo", source_id)
    release = {
        "source_id": source_id,
        "revision": revision,
        "action": "publish" if revision == 1 else "update",
        "department": "demo",
        "title": f"预算公开复制测试 {source_id} 第{revision}版",
        "body": "<p>2025年部门收支预算总表。</p><p>" + "基本支出与项目支出说明。" * 20 + "</p>",
        "doc_type": "budget",
        "catalog_code": catalog_code,
        "region_code": "370211",
        "formed_at": "2026-11-20T09:00:00+08:00",
        "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
    }
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return rid, {
        "schema": "zwgk.release.v1", "release_id": rid, "revision": revision, "action": release["action"],
        "ingest": {"received_at": now, "department": "demo", "producer": "copy-test",
                   "trace_id": uuid.uuid4().hex},
        "release": release,
    }


def write_input(stack, count):
    """Writes `count` envelopes over count/2.5 releases (revisions 1..3, about
    one in ten held for review by an unknown catalog code); returns the
    expected {(release_id, revision)} and the releases' ids."""
    run = uuid.uuid4().hex[:10]
    producer = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 20})
    expected, ids, n, i = set(), set(), 0, 0
    while n < count:
        source_id = f"copy-{run}-{i}"
        code = "zzzz-999" if i % 10 == 7 else QUIET_ITEM
        for revision in range(1, min(1 + i % 3, count - n) + 1):
            rid, env = envelope(source_id, revision, code)
            producer.produce("zwgk.releases", key=rid, value=json.dumps(env, ensure_ascii=False).encode(),
                             headers=[("zwgk-schema", b"zwgk.release.v1")])
            expected.add((rid, revision))
            ids.add(rid)
            n += 1
            producer.poll(0)
        i += 1
    assert producer.flush(60) == 0, "input not acknowledged"
    return expected, ids


def count_outputs(stack, ids):
    """Reads zwgk.tagged and zwgk.review read_committed to their ends; returns
    the messages of ids as (topic, partition, offset, key, revision)."""
    consumer = Consumer({"bootstrap.servers": stack.brokers, "group.id": f"copy-check-{uuid.uuid4().hex}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})
    try:
        parts = []
        for topic in OUTPUTS:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if hi > lo:
                    parts.append(TopicPartition(topic, p, lo))
        consumer.assign(parts)
        pending = {(tp.topic, tp.partition) for tp in parts}
        found = []
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1):
                if msg.error():
                    if msg.error().code() == -191:  # _PARTITION_EOF
                        pending.discard((msg.topic(), msg.partition()))
                    continue
                key = msg.key().decode()
                if key in ids:
                    found.append((msg.topic(), msg.partition(), msg.offset(), key,
                                  json.loads(msg.value())["revision"]))
        assert not pending, f"could not read {pending} to the end"
        return found
    finally:
        consumer.close()


def check_copy(found, expected):
    seen = collections.Counter((key, rev) for _t, _p, _o, key, rev in found)
    duplicates = {k: c for k, c in seen.items() if c > 1}
    missing = expected - set(seen)
    extra = set(seen) - expected
    assert not duplicates, f"{len(duplicates)} duplicated, e.g. {list(duplicates.items())[:3]}"
    assert not missing, f"{len(missing)} missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} unexpected, e.g. {sorted(extra)[:3]}"
    # Per release, in each topic: revisions in increasing offset order.
    by_release = collections.defaultdict(list)
    for topic, partition, offset, key, rev in sorted(found):
        by_release[(topic, key)].append(rev)
    disordered = {k: revs for k, revs in by_release.items() if revs != sorted(revs)}
    assert not disordered, f"revisions out of order: {list(disordered.items())[:3]}"


def processed(stack, ids):
    return len({(key, rev) for _t, _p, _o, key, rev in count_outputs(stack, ids)})


def classifier_pid(stack):
    return int((stack.stack_dir / "run" / "zwgk-classifier.pid").read_text())


def sigkill_classifier(stack):
    os.kill(classifier_pid(stack), signal.SIGKILL)
    wait_until("classifier gone", lambda: stack.exit_status("zwgk-classifier") is not None, timeout=30)


def test_copy_survives_three_sigkills(stack):
    expected, ids = write_input(stack, TOTAL)
    for share in (0.2, 0.5, 0.8):
        wait_until(f"{share:.0%} copied", lambda share=share: processed(stack, ids) >= share * len(expected),
                   timeout=900, interval=1)
        sigkill_classifier(stack)
        assert stack.exit_status("zwgk-classifier") not in ("0", None)
        started = stack.start_daemon("zwgk-classifier")
        assert started.returncode == 0, started.stderr
    wait_until("everything copied", lambda: processed(stack, ids) >= len(expected), timeout=900, interval=1)
    check_copy(count_outputs(stack, ids), expected)


def pipeline_drained(ctl):
    """True when every consumer group has caught up: the copy's 20,000 tagged
    releases have also passed the fan-out, so that later tests do not queue
    behind them."""
    proc = ctl("--json", "status")
    if not proc.stdout:
        return False
    return all(row["lag"] == 0 for row in json.loads(proc.stdout)["lag"])


@pytest.fixture(scope="module", autouse=True)
def drain_afterwards(ctl):
    yield
    wait_until("the pipeline drained after the copy", lambda: pipeline_drained(ctl), timeout=600, interval=1)


@pytest.fixture
def second_classifier(stack):
    """A second zwgk-classifier in the same consumer group (its own instance
    name, hence transactional.id, and admin port), with short session and
    transaction timeouts so that the group notices its death quickly."""
    admin = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZWGK_")}
    env.update(ZWGK_DAEMON_INSTANCE=f"second-{uuid.uuid4().hex[:6]}", ZWGK_CLASSIFIER_ADMIN=admin,
               ZWGK_KAFKA_TRANSACTION_TIMEOUT_MS="10000")
    log = open(stack.stack_dir / "log" / "zwgk-classifier-second.log", "ab")
    proc = subprocess.Popen([str(stack.bin_dir / "zwgk-classifier"), "--config", stack.config,
                             "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"],
                            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def ready():
        try:
            return requests.get(f"http://{admin}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None
    wait_until("second classifier ready", ready, timeout=60)
    assert proc.poll() is None, "second classifier exited at start-up"
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log.close()


def test_two_classifiers_share_the_work_and_survive_one_death(stack, second_classifier):
    expected, ids = write_input(stack, max(TOTAL // 5, 1000))
    wait_until("a third copied", lambda: processed(stack, ids) >= len(expected) / 3, timeout=600, interval=1)
    second_classifier.send_signal(signal.SIGKILL)
    second_classifier.wait(timeout=30)
    wait_until("everything copied by the survivor", lambda: processed(stack, ids) >= len(expected),
               timeout=600, interval=1)
    check_copy(count_outputs(stack, ids), expected)
