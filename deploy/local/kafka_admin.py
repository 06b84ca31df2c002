#!/usr/bin/env python3
"""Kafka administration for the local stack: waits for a broker to answer,
creates zwgk's topics, describes them and names a partition's leader.

Used by deploy/local/stack (with the Python of var/venv, which has
confluent_kafka); exits 0 on success and 1 with a message on stderr otherwise.

    kafka_admin.py wait --brokers HOST:PORT [--timeout S] [--pid PID]
                        [--node-id N [--in-sync]]
    kafka_admin.py create-topics --brokers HOST:PORT [--prefix zwgk.] [--partitions N]
                        [--replication-factor R] [--min-insync-replicas M]
    kafka_admin.py describe --brokers HOST:PORT [--prefix zwgk.]
    kafka_admin.py leader --brokers HOST:PORT --topic TOPIC --partition P
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


def out_of_sync(md, node_id):
    """Partitions that have a leader and a replica on node_id that is not in
    their ISR (a partition without a leader cannot take the node back)."""
    pending = []
    for topic in md.topics.values():
        for p in topic.partitions.values():
            if p.leader >= 0 and node_id in p.replicas and node_id not in p.isrs:
                pending.append(f"{topic.topic}/{p.id}")
    return sorted(pending)


def node_state(md, args):
    """Why the node is not ready yet, or None when it is."""
    if md is None:
        return f"no broker answered at {args.brokers}"
    if args.node_id is None:
        return None
    if args.node_id not in md.brokers:
        return f"node {args.node_id} is not a registered broker"
    if args.in_sync:
        pending = out_of_sync(md, args.node_id)
        if pending:
            shown = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
            return f"node {args.node_id} is not in the ISR of {len(pending)} partition(s): {shown}"
    return None


def cmd_wait(args):
    client = admin_client(args.brokers, log_level=2)
    deadline = time.monotonic() + args.timeout
    while True:
        remaining = deadline - time.monotonic()
        md = metadata(client, min(2.0, max(remaining, 0.1)))
        why = node_state(md, args)
        if why is None:
            return 0
        if args.pid and not process_alive(args.pid):
            return fail(f"broker process {args.pid} exited before {args.brokers} was ready ({why})")
        if time.monotonic() >= deadline:
            return fail(f"{why} within {args.timeout:g} s")
        time.sleep(0.2)


def topic_names(prefix):
    return [prefix + t for t in TOPICS]


def topics_ready(md, names, min_isr=1):
    """Names of the topics that are missing or have a partition without a
    leader or with fewer than min_isr replicas in sync."""
    pending = []
    for name in names:
        topic = md.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            pending.append(name)
            continue
        if any(p.leader < 0 or p.error is not None or len(p.isrs) < min_isr
               for p in topic.partitions.values()):
            pending.append(name)
    return pending


def cmd_create_topics(args):
    client = admin_client(args.brokers)
    names = topic_names(args.prefix)
    md = metadata(client, args.timeout)
    if md is None:
        return fail(f"no broker answered at {args.brokers}")
    # A topic made with fewer replicas than asked for (by a stack with another
    # number of nodes) would not survive the failures a cluster is run for.
    for name in names:
        topic = md.topics.get(name)
        if args.replication_factor == 1 or topic is None or topic.error is not None \
                or not topic.partitions:
            continue
        replicas = {len(p.replicas) for p in topic.partitions.values()}
        if replicas != {args.replication_factor}:
            return fail(f"{name} exists with {'/'.join(map(str, sorted(replicas)))} replica(s) per "
                        f"partition, not {args.replication_factor}")
    missing = [n for n in names if n not in md.topics]
    if missing:
        config = {}
        if args.min_insync_replicas:
            config["min.insync.replicas"] = str(args.min_insync_replicas)
        futures = client.create_topics(
            [NewTopic(n, num_partitions=args.partitions, replication_factor=args.replication_factor,
                      config=config) for n in missing],
            operation_timeout=args.timeout,
            request_timeout=args.timeout,
        )
        for name, future in futures.items():
            try:
                future.result()
                detail = f"{args.partitions} partitions"
                if args.replication_factor > 1:
                    detail += f", {args.replication_factor} replicas"
                print(f"kafka_admin: created {name} ({detail})", file=sys.stderr)
            except KafkaException as e:
                err = e.args[0]
                if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    return fail(f"cannot create {name}: {err.str()}")
    deadline = time.monotonic() + args.timeout
    while True:
        md = metadata(client, 2.0)
        pending = names if md is None else topics_ready(md, names, max(args.min_insync_replicas, 1))
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


def cmd_leader(args):
    client = admin_client(args.brokers, log_level=2)
    try:
        md = client.list_topics(args.topic, timeout=args.timeout)
    except KafkaException as e:
        return fail(f"no metadata of {args.topic} from {args.brokers}: {e.args[0].str()}")
    topic = md.topics.get(args.topic)
    if topic is None or topic.error is not None:
        reason = topic.error.str() if topic is not None else "not in the metadata"
        return fail(f"topic {args.topic}: {reason}")
    partition = topic.partitions.get(args.partition)
    if partition is None:
        return fail(f"topic {args.topic} has no partition {args.partition}")
    if partition.leader < 0:
        return fail(f"{args.topic}/{args.partition} has no leader")
    print(partition.leader)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("wait", help="wait until a broker answers a metadata request")
    p.add_argument("--brokers", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--pid", type=int, default=0, help="fail at once if this process exits")
    p.add_argument("--node-id", type=int, default=None,
                   help="also wait until the metadata lists this node as a broker")
    p.add_argument("--in-sync", action="store_true",
                   help="and until the node is in the ISR of every partition it holds that has a leader")
    p.set_defaults(func=cmd_wait)

    p = sub.add_parser("create-topics", help="create zwgk's topics (idempotent)")
    p.add_argument("--brokers", required=True)
    p.add_argument("--prefix", default="zwgk.")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--replication-factor", type=int, default=1)
    p.add_argument("--min-insync-replicas", type=int, default=0,
                   help="topic config min.insync.replicas (0: the broker's default)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_create_topics)

    p = sub.add_parser("describe", help="list brokers and zwgk's topics")
    p.add_argument("--brokers", required=True)
    p.add_argument("--prefix", default="zwgk.")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("leader", help="print the node id of a partition's leader")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partition", type=int, required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=cmd_leader)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
