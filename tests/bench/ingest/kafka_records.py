#!/usr/bin/env python3
"""Durability check of the ingest benchmark: every 202 is exactly one record.

    kafka_records.py offsets --brokers HOST:PORT --topic zwgk.releases > before.json
    ... the benchmark run ...
    kafka_records.py offsets --brokers HOST:PORT --topic zwgk.releases > after.json
    kafka_records.py verify --brokers HOST:PORT --topic zwgk.releases \\
        --before before.json --after after.json --ids accepted.txt \\
        --unanswered N --refused N

`offsets` prints the high watermark of each partition as JSON. `verify` reads
the records between the two snapshots (only their keys, which are the
release_ids) and compares them with the release_ids of the 202 answers that
the client received (one a line in --ids):

- every acknowledged release_id is on the topic exactly once, otherwise the
  check fails: a 202 without its record is a lost release, two records for one
  release is a duplicate;
- records whose release was not acknowledged to the client are allowed only as
  many as there were requests without an answer (in flight when wrk stopped,
  or on a connection that broke; --unanswered) plus 503 answers (--refused: the
  producer gave up waiting for Kafka, which may still have written it);
  any more fail the check.

Runs with the Python of var/venv, which has confluent_kafka. Prints one
key=value line per figure; exits 0 when the check passed, 1 otherwise.
"""

import argparse
import json
import sys
import time
from collections import Counter

from confluent_kafka import Consumer, KafkaException, TopicPartition


def watermarks(brokers, topic, timeout=15.0, group="zwgk-bench-offsets"):
    """{partition: (low, high)} of every partition of topic."""
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        "enable.auto.commit": False,
        "log_level": 3,
    })
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            raise KafkaException(f"topic {topic}: {t.error if t else 'not found'}")
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in sorted(t.partitions)}
    finally:
        consumer.close()


def high_watermarks(brokers, topic, timeout=15.0):
    """{"partition": high} of every partition of topic (JSON keys)."""
    return {str(p): high for p, (_, high) in watermarks(brokers, topic, timeout).items()}


def read_keys(brokers, topic, before, after, timeout):
    """Returns a Counter of the keys of the records in [before, after)."""
    wanted = {int(p): (before.get(p, 0), high) for p, high in after.items() if high > before.get(p, 0)}
    keys = Counter()
    if not wanted:
        return keys, 0
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "zwgk-bench-verify",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "isolation.level": "read_uncommitted",
        "log_level": 3,
    })
    read = 0
    try:
        consumer.assign([TopicPartition(topic, p, lo) for p, (lo, _) in wanted.items()])
        remaining = {p: hi for p, (_, hi) in wanted.items()}
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10000, timeout=1.0):
                if msg.error():
                    raise KafkaException(msg.error())
                p, off = msg.partition(), msg.offset()
                if p not in remaining or off >= remaining[p]:
                    continue
                read += 1
                keys[(msg.key() or b"").decode("ascii", "replace")] += 1
                if off + 1 >= remaining[p]:
                    del remaining[p]
        if remaining:
            raise KafkaException(f"records not read within {timeout:.0f} s: partitions {sorted(remaining)}")
    finally:
        consumer.close()
    return keys, read


def cmd_offsets(args):
    json.dump(high_watermarks(args.brokers, args.topic), sys.stdout)
    print()
    return 0


def cmd_verify(args):
    with open(args.before) as f:
        before = json.load(f)
    with open(args.after) as f:
        after = json.load(f)
    with open(args.ids) as f:
        accepted = [line.strip() for line in f if line.strip()]
    acked = Counter(accepted)
    keys, read = read_keys(args.brokers, args.topic, before, after, args.timeout)

    delta = sum(after.values()) - sum(before.get(p, 0) for p in after)
    missing = [k for k in acked if keys[k] == 0]
    duplicated = [k for k, n in keys.items() if n > 1]
    twice_acked = [k for k, n in acked.items() if n > 1]
    unacked = sum(n for k, n in keys.items() if k not in acked)
    allowed = args.unanswered + args.refused

    ok = not missing and not duplicated and not twice_acked and read == delta and unacked <= allowed
    print(f"records={delta}")
    print(f"records_read={read}")
    print(f"acknowledged_202={len(accepted)}")
    print(f"acknowledged_missing={len(missing)}")
    print(f"records_duplicated={len(duplicated)}")
    print(f"acknowledged_twice={len(twice_acked)}")
    print(f"records_without_202={unacked}")
    print(f"records_without_202_allowed={allowed}")
    print(f"durable={'yes' if ok else 'NO'}")
    for k in missing[:5]:
        print(f"missing: {k}", file=sys.stderr)
    for k in duplicated[:5]:
        print(f"duplicated: {k} ({keys[k]} records)", file=sys.stderr)
    return 0 if ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("offsets", help="print the high watermark of each partition as JSON")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", default="zwgk.releases")
    p.set_defaults(fn=cmd_offsets)
    p = sub.add_parser("verify", help="compare the records between two snapshots with the 202s")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", default="zwgk.releases")
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--ids", required=True, help="release_ids of the 202 answers, one a line")
    p.add_argument("--unanswered", type=int, default=0, help="requests sent without an answer")
    p.add_argument("--refused", type=int, default=0, help="503 answers")
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(fn=cmd_verify)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except KafkaException as e:
        print(f"kafka_records: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
