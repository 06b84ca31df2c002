"""End to end: `zwgkctl topics create` and `topics list` against the test
stack's single Kafka broker (see conftest.py).

Every test works under a kafka.topic_prefix of its own (`--set`), so the
stack's zwgk.* topics and the other tests are left alone; the topics made are
deleted at the end whatever happened.
"""

import json
import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from conftest import describe, free_port, wait_until

SUFFIXES = ("releases", "tagged", "review", "channel.portal", "channel.wechat", "channel.broadcast",
            "channel.bulletin", "receipts", "dlq")
DAY_MS = 86_400_000


@pytest.fixture
def prefixes(stack):
    """new() returns a fresh topic prefix; every topic under one is deleted at the end."""
    admin = AdminClient({"bootstrap.servers": stack.brokers})
    made = []

    def new():
        made.append(f"e2etopics{uuid.uuid4().hex[:8]}.")
        return made[-1]

    yield new, admin
    existing = admin.list_topics(timeout=15).topics
    doomed = [t for t in existing for p in made if t.startswith(p)]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def topics_ctl(ctl, prefix, *args):
    return ctl("--set", f"kafka.topic_prefix={prefix}", "topics", *args)


def ours(admin, prefix):
    """{topic: metadata} of the topics under prefix."""
    return {name: t for name, t in admin.list_topics(timeout=15).topics.items() if name.startswith(prefix)}


def has_leaders(admin, name):
    topic = admin.list_topics(timeout=15).topics.get(name)
    return bool(topic and topic.error is None and topic.partitions
                and all(p.leader >= 0 for p in topic.partitions.values()))


def configs(admin, names):
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    out = {}
    for resource, future in admin.describe_configs(resources, request_timeout=30).items():
        out[resource.name] = {k: v.value for k, v in future.result().items()}
    return out


def test_create_makes_every_topic_with_its_configuration_and_is_idempotent(ctl, prefixes):
    new, admin = prefixes
    prefix = new()
    proc = topics_ctl(ctl, prefix, "create", "--replication-factor", "1", "--partitions", "3")
    assert proc.returncode == 0, describe(proc)
    assert "9 topic(s) created" in proc.stdout, describe(proc)
    names = [prefix + s for s in SUFFIXES]
    for name in names:
        assert name in proc.stdout

    topics = ours(admin, prefix)
    assert sorted(topics) == sorted(names)
    for name, topic in topics.items():
        assert len(topic.partitions) == 3, name
        assert all(len(p.replicas) == 1 and p.leader >= 0 for p in topic.partitions.values()), name
    got = configs(admin, names)
    for name in names:
        want_days = 90 if name.endswith(".dlq") else 14
        assert got[name]["retention.ms"] == str(want_days * DAY_MS), name
        assert got[name]["min.insync.replicas"] == "1", name  # at most the replication
        assert got[name]["cleanup.policy"] == "delete", name

    again = topics_ctl(ctl, prefix, "create", "--json", "--replication-factor", "1", "--partitions", "3")
    assert again.returncode == 0, describe(again)
    answer = json.loads(again.stdout)
    assert answer["dry_run"] is False and answer["broker_count"] == 1
    assert [t["result"] for t in answer["topics"]] == ["exists"] * len(SUFFIXES)
    assert all(t["problems"] == [] for t in answer["topics"])

    listed = topics_ctl(ctl, prefix, "list")
    assert listed.returncode == 0, describe(listed)
    assert "1 broker(s)" in listed.stdout
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[2:]}
    assert sorted(rows) == sorted(names), listed.stdout
    assert all(row.rstrip().endswith("ok") for row in rows.values()), listed.stdout
    assert "90d" in rows[prefix + "dlq"] and "14d" in rows[prefix + "releases"]

    as_json = json.loads(topics_ctl(ctl, prefix, "list", "--json").stdout)
    dlq = next(t for t in as_json["topics"] if t["topic"] == prefix + "dlq")
    assert dlq["exists"] and dlq["partitions"] == 3 and dlq["replication_factor"] == 1
    assert dlq["configs"]["retention.ms"] == str(90 * DAY_MS)


def test_retention_and_min_isr_options(ctl, prefixes):
    new, admin = prefixes
    prefix = new()
    proc = topics_ctl(ctl, prefix, "create", "--replication-factor", "1", "--partitions", "1",
                      "--retention-days", "120", "--min-insync-replicas", "1")
    assert proc.returncode == 0, describe(proc)
    got = configs(admin, [prefix + "releases", prefix + "dlq"])
    assert got[prefix + "releases"]["retention.ms"] == str(120 * DAY_MS)
    assert got[prefix + "dlq"]["retention.ms"] == str(120 * DAY_MS)  # longer than 90 days: N


def test_an_existing_topic_that_differs_is_reported_not_changed(ctl, prefixes):
    new, admin = prefixes
    prefix = new()
    for future in admin.create_topics([NewTopic(prefix + "tagged", 1, 1)], operation_timeout=30).values():
        future.result()
    # The broker's metadata may lag the controller's answer a moment.
    wait_until(f"{prefix}tagged in the metadata with a leader", lambda: has_leaders(admin, prefix + "tagged"),
               timeout=30)
    proc = topics_ctl(ctl, prefix, "create", "--replication-factor", "1", "--partitions", "2")
    assert proc.returncode == 1, describe(proc)
    assert f"{prefix}tagged exists but differs" in proc.stderr, describe(proc)
    assert "1 partition(s), not 2" in proc.stderr, describe(proc)
    assert "retention.ms is" in proc.stderr  # made without zwgk's settings
    topics = ours(admin, prefix)
    assert len(topics) == len(SUFFIXES), "the other topics are created all the same"
    assert len(topics[prefix + "tagged"].partitions) == 1, "the existing topic is not changed"
    assert all(len(t.partitions) == 2 for n, t in topics.items() if n != prefix + "tagged")

    as_json = json.loads(topics_ctl(ctl, prefix, "create", "--json", "--replication-factor", "1",
                                    "--partitions", "2").stdout)
    tagged = next(t for t in as_json["topics"] if t["topic"] == prefix + "tagged")
    assert tagged["result"] == "mismatch"
    assert "it has 1 partition(s), not 2" in tagged["problems"]


def test_replication_larger_than_the_cluster_is_refused_clearly(ctl, prefixes):
    new, admin = prefixes
    prefix = new()
    proc = topics_ctl(ctl, prefix, "create")  # the production default: 3 replicas
    assert proc.returncode == 1, describe(proc)
    assert "--replication-factor 3 needs at least 3 brokers" in proc.stderr, describe(proc)
    assert "has 1" in proc.stderr and "--replication-factor 1" in proc.stderr
    assert ours(admin, prefix) == {}


def test_dry_run_creates_nothing(ctl, prefixes):
    new, admin = prefixes
    prefix = new()
    proc = topics_ctl(ctl, prefix, "create", "--replication-factor", "1", "--dry-run")
    assert proc.returncode == 0, describe(proc)
    assert "would be created" in proc.stdout and "dry run" in proc.stdout, describe(proc)
    assert ours(admin, prefix) == {}
    listed = topics_ctl(ctl, prefix, "list")
    assert listed.returncode == 1, describe(listed)
    assert listed.stdout.count("MISSING") == len(SUFFIXES)
    assert "9 of zwgk's 9 topics missing" in listed.stderr


def test_an_unreachable_broker_fails_within_a_bounded_time(ctl, prefixes):
    new, _admin = prefixes
    port = free_port()  # nothing listens there
    started = time.monotonic()
    proc = ctl("--set", f"kafka.brokers=127.0.0.1:{port}", "--set", f"kafka.topic_prefix={new()}",
               "topics", "create", "--replication-factor", "1", timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 1, describe(proc)
    assert f"no Kafka broker at 127.0.0.1:{port} answered within 10 s" in proc.stderr, describe(proc)
    assert "Connection refused" in proc.stderr or "Connect to" in proc.stderr, describe(proc)
    assert took < 20, f"took {took:.1f} s"


def test_usage_errors(ctl):
    for args in (("--partitions", "0"), ("--replication-factor", "x"), ("--retention-days", "-1"),
                 ("--replication-factor", "1", "--min-insync-replicas", "2"), ("extra",)):
        proc = ctl("topics", "create", *args)
        assert proc.returncode == 2, f"{args}: {describe(proc)}"
        assert "usage: zwgkctl topics create" in proc.stderr
    assert "more than the 1 replica(s)" in ctl("topics", "create", "--replication-factor", "1",
                                               "--min-insync-replicas", "2").stderr
    assert ctl("topics", "list", "extra").returncode == 2
    helped = ctl("topics", "create", "--help")
    assert helped.returncode == 0 and "--retention-days" in helped.stdout and "Exits 0" in helped.stdout
    group = ctl("topics", "--help")
    assert group.returncode == 0 and "topics create" in group.stdout and "topics list" in group.stdout
