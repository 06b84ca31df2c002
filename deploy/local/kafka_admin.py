#!/usr/bin/env python3
"""Kafka administration for the local stack: waits for a broker to answer,
creates zwgk's topics and describes them.

Used by deploy/local/stack (with the Python of var/venv, which has
confluent_kafka); exits 0 on success and 1 with a message on stderr otherwise.

    kafka_admin.py wait --brokers HOST:PORT [--timeout S] [--pid PID]
    kafka_admin.py create-topics --brokers HOST:PORT [--prefix zwgk.] [--partitions N]
    kafka_admin.py describe --brokers HOST:PORT [--prefix zwgk.]
"""

import argparse
import os
import sys
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

# Topic names without the prefix, in pipeline order (CONTRACT §3).
TOPICS = (
    "releases",
    "tagged",
    "review",
    "channel.portal",
    "channel.wechat",
    "channel.broadcast",
    "channel.bulletin",
    "receipts",
    "dlq",
)


def fail(message):
    print(f"kafka_admin: {message}", file=sys.stderr)
    return 1


def admin_client(brokers, log_level=3):
    # librdkafka logs at syslog levels; 3 shows errors, 2 hides the
    # "connection refused" lines expected while a broker is still starting.
    return AdminClient({"bootstrap.servers": brokers, "log_level": log_level})


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited already; its cmdline is empty.
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return bool(f.read())
    except OSError:
        return False


def metadata(client, timeout):
    """Returns the cluster metadata, or None if no broker answered in time."""
    try:
        md = client.list_topics(timeout=max(timeout, 0.1))
    except KafkaException:
        return None
    return md if md.brokers else None


def cmd_wait(args):
    client = admin_client(args.brokers, log_level=2)
    deadline = time.monotonic() + args.timeout
    while True:
        remaining = deadline - time.monotonic()
        md = metadata(client, min(2.0, max(remaining, 0.1)))
        if md is not None:
            return 0
        if args.pid and not process_alive(args.pid):
            return fail(f"broker process {args.pid} exited before {args.brokers} answered")
        if time.monotonic() >= deadline:
            return fail(f"no broker answered at {args.brokers} within {args.timeout:g} s")
        time.sleep(0.2)


def topic_names(prefix):
    return [prefix + t for t in TOPICS]


def topics_ready(md, names):
    """Names of the topics that are missing or have a partition without a leader."""
    pending = []
    for name in names:
        topic = md.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            pending.append(name)
            continue
        if any(p.leader < 0 or p.error is not None for p in topic.partitions.values()):
            pending.append(name)
    return pending


def cmd_create_topics(args):
    client = admin_client(args.brokers)
    names = topic_names(args.prefix)
    md = metadata(client, args.timeout)
    if md is None:
        return fail(f"no broker answered at {args.brokers}")
    missing = [n for n in names if n not in md.topics]
    if missing:
        futures = client.create_topics(
            [NewTopic(n, num_partitions=args.partitions, replication_factor=1) for n in missing],
            operation_timeout=args.timeout,
            request_timeout=args.timeout,
        )
        for name, future in futures.items():
            try:
                future.result()
                print(f"kafka_admin: created {name} ({args.partitions} partitions)", file=sys.stderr)
            except KafkaException as e:
                err = e.args[0]
                if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    return fail(f"cannot create {name}: {err.str()}")
    deadline = time.monotonic() + args.timeout
    while True:
        md = metadata(client, 2.0)
        pending = names if md is None else topics_ready(md, names)
        if not pending:
            return 0
        if time.monotonic() >= deadline:
            return fail("topics without a leader after %g s: %s" % (args.timeout, ", ".join(pending)))
        time.sleep(0.2)


def cmd_describe(args):
    client = admin_client(args.brokers)
    md = metadata(client, args.timeout)
    if md is None:
        return fail(f"no broker answered at {args.brokers}")
    for b in sorted(md.brokers.values(), key=lambda b: b.id):
        print(f"broker {b.id} {b.host}:{b.port}")
    names = topic_names(args.prefix)
    for name in names:
        topic = md.topics.get(name)
        if topic is None:
            print(f"topic {name} missing")
            continue
        leaders = sum(1 for p in topic.partitions.values() if p.leader >= 0)
        print(f"topic {name} partitions={len(topic.partitions)} with_leader={leaders}")
    return 0 if not topics_ready(md, names) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("wait", help="wait until a broker answers a metadata request")
    p.add_argument("--brokers", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--pid", type=int, default=0, help="fail at once if this process exits")
    p.set_defaults(func=cmd_wait)

    p = sub.add_parser("create-topics", help="create zwgk's topics (idempotent)")
    p.add_argument("--brokers", required=True)
    p.add_argument("--prefix", default="zwgk.")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_create_topics)

    p = sub.add_parser("describe", help="list brokers and zwgk's topics")
    p.add_argument("--brokers", required=True)
    p.add_argument("--prefix", default="zwgk.")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_describe)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
