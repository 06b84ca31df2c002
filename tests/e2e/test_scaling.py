"""A second classifier process shares the work: started with the local
stack's `start-daemon zwgk-classifier@2`, it joins the consumer group, the
partitions of zwgk.releases are split between the two, every release is
tagged exactly once, and when it stops the first takes all partitions back.
"""

import re

import pytest
import requests
from conftest import wait_until

INSTANCE = "zwgk-classifier@2"
LAG = re.compile(r'^zwgk_consumer_lag\{[^}]*topic="zwgk\.releases",partition="(\d+)"\} (\S+)$', re.M)
MESSAGES_IN = re.compile(r'^zwgk_messages_in_total\{topic="zwgk\.releases"\} (\S+)$', re.M)


def metrics(admin):
    return requests.get(f"http://{admin}/metrics", timeout=5).text


def partitions(admin):
    return {int(p) for p, _ in LAG.findall(metrics(admin))}


def messages_in(admin):
    found = MESSAGES_IN.search(metrics(admin))
    return float(found.group(1)) if found else 0.0


def instance_admin(stack):
    proc = stack.run("status")
    for line in proc.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == INSTANCE and fields[1] == "running":
            return fields[3]
    raise AssertionError(f"{INSTANCE} not in stack status:\n{proc.stdout}")


@pytest.fixture
def second_classifier(stack):
    proc = stack.run("start-daemon", INSTANCE, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        yield instance_admin(stack)
    finally:
        stopped = stack.run("stop-daemon", INSTANCE, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_two_classifiers_split_the_partitions_and_tag_each_release_once(
    stack, second_classifier, token, make_release, post_release, release_id, consume_until,
):
    first = stack.admin_url("zwgk-classifier").removeprefix("http://")
    second = second_classifier

    def split():
        a, b = partitions(first), partitions(second)
        return a and b and not a & b and a | b == set(range(6))

    wait_until("the six partitions split between the two classifiers", split)
    before = messages_in(first), messages_in(second)

    demo = token("demo")
    rids = set()
    for _ in range(60):
        release = make_release()
        response = post_release(release, demo)
        assert response.status_code == 202, response.text
        rids.add(release_id("demo", release["source_id"]))

    tagged = consume_until("zwgk.tagged", lambda m: m["key"] in rids, timeout=120, count=len(rids))
    seen = [(m["key"], m["value"]["revision"]) for m in tagged]
    assert len(seen) == len(set(seen)) == len(rids)

    # Keys hash over all six partitions, so both processes took some.
    after = messages_in(first), messages_in(second)
    assert after[0] > before[0] and after[1] > before[1], (before, after)


def test_the_first_classifier_takes_the_partitions_back(stack, second_classifier):
    first = stack.admin_url("zwgk-classifier").removeprefix("http://")
    second = second_classifier
    wait_until("the second classifier assigned partitions", lambda: partitions(second))
    proc = stack.run("stop-daemon", INSTANCE, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_until("all six partitions back with the first classifier", lambda: partitions(first) == set(range(6)))
