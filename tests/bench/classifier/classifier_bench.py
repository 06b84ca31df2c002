#!/usr/bin/env python3
"""Load and measurement helper of the classifier benchmark (run.sh; see
docs/performance.md, "The classifier benchmark").

    classifier_bench.py load --url URL --token T --count N --run TAG
        POSTs N realistic releases of department demo to URL/v1/releases/batch
        in batches of 500; every item must come back "accepted".
    classifier_bench.py topic-stats --brokers B --topic zwgk.releases
        high watermarks, record count and mean value size of a topic.
    classifier_bench.py create-topic --brokers B --topic bench.raw --like zwgk.releases
        creates a topic with as many partitions as another one.
    classifier_bench.py measure --brokers B --topic zwgk.releases --group G
            --out result.json [--perf-out perf.data --pid-file F] -- COMMAND...
        runs COMMAND (deploy/local/stack start-daemon zwgk-classifier) and
        polls the group's committed offsets every --interval seconds until
        they reach the topic's high watermarks; writes the timings.
    classifier_bench.py raw-rate --producer-out P --consumer-out C --records N
        parses ProducerPerformance's and ConsumerPerformance's output.

Runs with the Python of var/venv (confluent_kafka, requests). Prints
key=value lines; exits 0 on success, 1 with a message on stderr otherwise.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

BATCH = 500  # the most /v1/releases/batch takes (CONTRACT §2)
DEPARTMENT = "demo"


def fail(message):
    print(f"classifier_bench: {message}", file=sys.stderr)
    return 1


def release_id(department, source_id):
    """CONTRACT §1: the first 16 bytes of SHA-256 over department "\\n" source_id."""
    return hashlib.sha256(f"{department}\n{source_id}".encode("utf-8")).hexdigest()[:32]


# --- the releases -----------------------------------------------------------------

SENTENCES = (
    "根据《中华人民共和国预算法》和《中华人民共和国政府信息公开条例》有关规定，现将本部门预算情况公开如下。",
    "本年度一般公共预算收入安排与上年相比有所增长，主要是财政拨款增加和事业收入调整。",
    "基本支出主要用于保障机构正常运转、完成日常工作任务，包括人员经费和日常公用经费。",
    "项目支出主要用于社区公共服务设施维护、民生实事项目和专项业务工作。",
    "“三公”经费预算较上年减少，主要是严格落实过紧日子要求，压减公务接待和因公出国（境）支出。",
    "政府采购预算全部用于货物、工程和服务的采购，其中面向中小企业预留份额不低于百分之四十。",
    "本部门将按照预算绩效管理要求，对重点项目开展绩效目标审核和绩效运行监控。",
    "以上数据均为预算数，如与决算数存在差异，以决算公开数据为准。",
    "本表反映本部门年度收支预算总体情况，收入包括财政拨款收入、事业收入和其他收入。",
    "机关运行经费主要用于办公及印刷费、水电费、差旅费、会议费和其他商品和服务支出。",
    "国有资产占用情况：截至上年末，本部门共有车辆若干辆，单位价值五十万元以上的设备若干台。",
    "名词解释：基本支出指为保障机构正常运转、完成日常工作任务而发生的各项支出。",
)
ROWS = (
    ("基本支出", "926.15"), ("项目支出", "312.40"), ("人员经费", "701.88"), ("公用经费", "224.27"),
    ("政府采购", "88.60"), ("公务接待费", "1.20"), ("公务用车运行维护费", "6.30"), ("会议费", "3.10"),
    ("培训费", "4.75"), ("社区服务设施维护", "56.00"), ("民生实事项目", "120.00"), ("合计", "1238.55"),
)
NEUTRAL_TITLES = (
    "关于开展社区环境整治活动的通知", "关于调整办公地点的公告", "关于举办文明家庭评选活动的通知",
    "关于做好辖区志愿服务登记工作的通知", "关于开展图书漂流活动的公告",
)


def utf8_len(text):
    return len(text.encode("utf-8"))


BODY_MIN, BODY_MAX = 1024, 4096  # bytes of UTF-8


def body_html(rng, target_bytes, phone=None):
    """<p> paragraphs and a <table> of Chinese text, about target_bytes long."""
    parts = ["<h2>部门预算说明</h2>"]
    rows = rng.sample(ROWS, rng.randint(2, 5))
    table = "<table><thead><tr><th>项目</th><th>金额（万元）</th></tr></thead><tbody>"
    table += "".join(f"<tr><td>{name}</td><td>{amount}</td></tr>" for name, amount in rows)
    table += "</tbody></table>"
    size = utf8_len(parts[0]) + utf8_len(table)
    if phone:
        contact = f"<p>如有疑问，请联系经办人王敏，联系电话：{phone}。</p>"
        parts.append(contact)
        size += utf8_len(contact)
    placed = False
    while size < target_bytes:
        n = rng.randint(1, 3)
        para = "<p>" + "".join(rng.choice(SENTENCES) for _ in range(n)) + "</p>"
        if size + utf8_len(para) > BODY_MAX:  # a short last paragraph keeps the body within 4 KiB
            para = "<p>" + rng.choice(SENTENCES) + "</p>"
            if size + utf8_len(para) > BODY_MAX:
                break
        parts.append(para)
        size += utf8_len(para)
        if not placed and size > target_bytes / 3:
            parts.append(table)
            placed = True
    if not placed:
        parts.append(table)
    return "".join(parts)


def base_release(rng, run, index, **fields):
    month, day = rng.randint(3, 10), rng.randint(1, 28)
    formed = f"2026-{month:02d}-{day:02d}T09:00:00+08:00"
    release = {
        "source_id": f"bench-cls-{run}-{index:06d}",
        "revision": 1,
        "action": "publish",
        "department": DEPARTMENT,
        "title": f"演示部门{2026}年部门预算公开（第{index}号）",
        "body": body_html(rng, rng.randint(BODY_MIN, BODY_MAX)),
        "summary": "演示部门年度收支预算总表及说明。",
        "doc_type": "budget",
        "catalog_code": "czyjs-001",
        "region_code": "370211",
        "formed_at": formed,
        "secrecy_review": {"reviewer": "王敏", "reviewed_at": formed.replace("T09", "T10")},
    }
    release.update(fields)
    return {k: v for k, v in release.items() if v is not None}


# Kinds of release per 100 (the pairs count twice): see docs/performance.md.
MIX = (
    ("explicit", 66),      # catalog_code czyjs-001, tagged explicitly
    ("personal", 10),      # the same with a mobile number in the body: masked
    ("rule", 6),           # budget without catalog_code, 预算 in the title: rule 4
    ("unclassified", 4),   # notice without catalog_code, no rule matches: review
    ("pair", 5),           # a policy and its interpretation (two records)
    ("update", 4),         # revision 2 of an earlier explicit release
)


def releases(count, run, seed=20261127):
    """Yields batches (lists of at most 500 releases), count releases in all."""
    rng = random.Random(seed)
    kinds = [k for k, n in MIX for _ in range(n)]
    made, index = 0, 0
    updatable = []  # explicit releases of earlier batches, not yet updated
    while made < count:
        batch, fresh = [], []
        while len(batch) < BATCH and made < count:
            kind = rng.choice(kinds)
            if kind == "pair" and (count - made < 2 or BATCH - len(batch) < 2):
                kind = "explicit"
            if kind == "update" and not updatable:
                kind = "explicit"
            index += 1
            if kind == "explicit":
                r = base_release(rng, run, index)
                fresh.append(r)
            elif kind == "personal":
                phone = f"138{rng.randint(0, 99999999):08d}"
                r = base_release(rng, run, index, body=body_html(rng, rng.randint(BODY_MIN, BODY_MAX), phone=phone))
            elif kind == "rule":
                r = base_release(rng, run, index, catalog_code=None, title=f"演示部门2026年预算调整方案（第{index}号）")
            elif kind == "unclassified":
                r = base_release(rng, run, index, catalog_code=None, doc_type="notice",
                                 title=f"{rng.choice(NEUTRAL_TITLES)}（第{index}号）")
            elif kind == "pair":
                policy = base_release(rng, run, index, doc_type="policy",
                                      title=f"关于进一步规范预算公开工作的实施意见（第{index}号）")
                index += 1
                r = base_release(rng, run, index, doc_type="interpretation",
                                 interprets=release_id(DEPARTMENT, policy["source_id"]),
                                 title=f"《关于进一步规范预算公开工作的实施意见（第{index - 1}号）》政策解读")
                batch.append(policy)
                made += 1
            else:  # update
                first = updatable.pop(rng.randrange(len(updatable)))
                r = dict(first, revision=2, action="update", title=first["title"] + "（修订）",
                         body=body_html(rng, rng.randint(BODY_MIN, BODY_MAX)),
                         formed_at="2026-11-02T09:00:00+08:00",
                         secrecy_review={"reviewer": "王敏", "reviewed_at": "2026-11-02T10:00:00+08:00"})
            batch.append(r)
            made += 1
        yield batch
        updatable.extend(fresh)  # revision 1 is in Kafka before its update is sent


def kind_of(release):
    if release["revision"] == 2:
        return "update"
    if release["doc_type"] in ("policy", "interpretation"):
        return release["doc_type"]
    if "catalog_code" not in release:
        return "rule" if release["doc_type"] == "budget" else "unclassified"
    return "personal" if "联系电话" in release["body"] else "explicit"


def cmd_load(args):
    import requests

    url = args.url.rstrip("/") + "/v1/releases/batch"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
    session = requests.Session()
    counts, sent, request_bytes, body_bytes = {}, 0, 0, 0
    start = time.monotonic()
    for number, batch in enumerate(releases(args.count, args.run), 1):
        data = json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            response = session.post(url, data=data, headers=headers, timeout=60)
        except requests.RequestException as e:
            return fail(f"batch {number}: POST {url}: {e}")
        if response.status_code != 200:
            return fail(f"batch {number}: POST {url} answered {response.status_code}: {response.text[:500]}")
        results = response.json().get("results", [])
        if len(results) != len(batch):
            return fail(f"batch {number}: {len(results)} results for {len(batch)} releases")
        for i, (release, result) in enumerate(zip(batch, results)):
            if result.get("status") != "accepted":
                return fail(f"batch {number}, item {i} ({release['source_id']}): {json.dumps(result, ensure_ascii=False)}")
            if result.get("release_id") != release_id(DEPARTMENT, release["source_id"]):
                return fail(f"batch {number}, item {i}: release_id {result.get('release_id')} is not "
                            f"{release_id(DEPARTMENT, release['source_id'])}")
            kind = kind_of(release)
            counts[kind] = counts.get(kind, 0) + 1
            body_bytes += utf8_len(release["body"])
        sent += len(batch)
        request_bytes += len(data)
    seconds = time.monotonic() - start
    print(f"accepted={sent}")
    print(f"load_seconds={seconds:.2f}")
    print(f"load_rate={sent / seconds:.0f}")
    print(f"body_bytes_mean={body_bytes / max(sent, 1):.0f}")
    print(f"release_json_bytes_mean={request_bytes / max(sent, 1):.0f}")
    print("mix=" + ",".join(f"{k}:{counts.get(k, 0)}" for k in
                             ("explicit", "personal", "rule", "unclassified", "policy", "interpretation", "update")))
    return 0


# --- Kafka ------------------------------------------------------------------------

def high_watermarks(brokers, topic, timeout=15.0):
    """{partition: (low, high)}: the ingest bench's reader, in this process."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ingest"))
    import kafka_records

    return kafka_records.watermarks(brokers, topic, timeout, group="zwgk-bench-classifier-offsets")


def cmd_topic_stats(args):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    marks = high_watermarks(args.brokers, args.topic)
    wanted = {p: (lo, hi) for p, (lo, hi) in marks.items() if hi > lo}
    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": "zwgk-bench-classifier-stats",
                         "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3})
    read, value_bytes, key_bytes, sizes = 0, 0, 0, []
    try:
        consumer.assign([TopicPartition(args.topic, p, lo) for p, (lo, _) in wanted.items()])
        remaining = {p: hi for p, (_, hi) in wanted.items()}
        deadline = time.monotonic() + args.timeout
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10000, timeout=1.0):
                if msg.error():
                    raise KafkaException(msg.error())
                p, off = msg.partition(), msg.offset()
                if p not in remaining or off >= remaining[p]:
                    continue
                read += 1
                size = len(msg.value() or b"")
                value_bytes += size
                sizes.append(size)
                key_bytes += len(msg.key() or b"")
                if off + 1 >= remaining[p]:
                    del remaining[p]
        if remaining:
            raise KafkaException(f"records not read within {args.timeout:.0f} s: partitions {sorted(remaining)}")
    finally:
        consumer.close()
    sizes.sort()
    print(f"partitions={len(marks)}")
    print(f"records={sum(hi - lo for lo, hi in marks.values())}")
    print(f"records_read={read}")
    print(f"value_bytes_mean={value_bytes / max(read, 1):.0f}")
    print(f"value_bytes_min={sizes[0] if sizes else 0}")
    print(f"value_bytes_max={sizes[-1] if sizes else 0}")
    print(f"key_bytes_mean={key_bytes / max(read, 1):.0f}")
    print("high_watermarks=" + ",".join(f"{p}:{hi}" for p, (_, hi) in sorted(marks.items())))
    return 0


def cmd_create_topic(args):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "deploy", "local"))
    import kafka_admin  # the stack's own helpers: metadata(), topics_ready()

    client = AdminClient({"bootstrap.servers": args.brokers, "log_level": 3})
    md = kafka_admin.metadata(client, args.timeout)
    if md is None:
        return fail(f"no broker answered at {args.brokers}")
    like = md.topics.get(args.like)
    if like is None or not like.partitions:
        return fail(f"topic {args.like} not found")
    partitions = len(like.partitions)
    if args.topic in md.topics:
        if len(md.topics[args.topic].partitions) != partitions:
            return fail(f"{args.topic} exists with {len(md.topics[args.topic].partitions)} partitions, not {partitions}")
    else:
        future = client.create_topics([NewTopic(args.topic, num_partitions=partitions, replication_factor=1)],
                                      operation_timeout=args.timeout, request_timeout=args.timeout)[args.topic]
        try:
            future.result()
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                return fail(f"cannot create {args.topic}: {e.args[0].str()}")
    deadline = time.monotonic() + args.timeout
    while True:
        md = kafka_admin.metadata(client, 2.0)
        if md is not None and not kafka_admin.topics_ready(md, [args.topic]):
            break
        if time.monotonic() >= deadline:
            return fail(f"{args.topic} has a partition without a leader after {args.timeout:g} s")
        time.sleep(0.2)
    print(f"topic={args.topic}")
    print(f"partitions={partitions}")
    return 0


def cmd_measure(args):
    from confluent_kafka import Consumer, TopicPartition

    marks = high_watermarks(args.brokers, args.topic)
    total = sum(hi for _, hi in marks.values())
    if total == 0:
        return fail(f"{args.topic} is empty")
    # Only OffsetFetch requests: this consumer never joins the group.
    watcher = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group,
                        "enable.auto.commit": False, "log_level": 3})
    partitions = [TopicPartition(args.topic, p) for p in marks]
    watcher.committed(partitions, timeout=10)  # connect to the coordinator before the clock starts
    if args.pid_file and daemon_alive(args.pid_file):  # its readiness and its pid would pass for ours
        return fail(f"the daemon of {args.pid_file} runs already; stop it first")
    command = args.command[1:] if args.command and args.command[0] == "--" else args.command
    log = open(args.command_log, "ab") if args.command_log else subprocess.DEVNULL
    samples, first, ready_at, perf, done_at = [], None, None, None, None
    t0 = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = t0 + args.timeout
    try:
        while True:
            if ready_at is None and proc.poll() is not None:
                ready_at = time.monotonic() - t0
                if proc.returncode != 0:
                    # start-daemon gives up when /readyz does not answer within its
                    # deadline; the daemon may still be alive and working (its
                    # event loop busy with batches). Go on only if it is.
                    if not (args.pid_file and daemon_alive(args.pid_file)):
                        return fail(f"{' '.join(command)} exited with status {proc.returncode} and the daemon "
                                    f"is not running (see {args.command_log})")
                    print(f"classifier_bench: {' '.join(command)} exited with status {proc.returncode}, but the "
                          f"daemon runs; measuring on (see {args.command_log})", file=sys.stderr)
                if args.perf_out:
                    perf = start_perf(args)
            committed = watcher.committed(partitions, timeout=10)
            now = time.monotonic() - t0
            done = sum(max(tp.offset, 0) for tp in committed)
            if tp_errors := [tp for tp in committed if tp.error is not None]:
                return fail(f"committed offsets of {args.group}: {tp_errors[0].error}")
            samples.append((round(now, 3), done))
            if first is None and done > 0:
                first = (now, done)
            if done >= total:
                done_at = now
                break
            if time.monotonic() >= deadline:
                return fail(f"group {args.group} committed {done} of {total} records within {args.timeout:g} s")
            time.sleep(args.interval)
        if ready_at is None:  # done before start-daemon saw /readyz: wait for it
            proc.wait(timeout=120)
            ready_at = time.monotonic() - t0
    finally:
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            try:
                perf.wait(timeout=60)
            except subprocess.TimeoutExpired:
                perf.kill()
        if proc.poll() is None and done_at is None:
            proc.terminate()
        watcher.close()
    steady = (total - first[1]) / (done_at - first[0]) if done_at > first[0] and total > first[1] else 0.0
    result = {
        "group": args.group,
        "records": total,
        "elapsed_s": round(done_at, 3),
        "ready_s": round(ready_at, 3),
        "start_daemon_status": proc.returncode,
        "first_commit_s": round(first[0], 3),
        "first_commit_records": first[1],
        "rate": round(total / done_at, 1),
        "rate_after_first_commit": round(steady, 1),
        "poll_interval_s": args.interval,
        "samples": samples,
    }
    with open(args.out, "w") as f:
        json.dump(result, f)
    for key in ("records", "elapsed_s", "ready_s", "start_daemon_status", "first_commit_s", "first_commit_records", "rate",
                "rate_after_first_commit"):
        print(f"{key}={result[key]}")
    return 0


def daemon_alive(pid_file):
    """True when the process in pid_file runs (not a zombie)."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b") ", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in (b"Z", b"X")


def children_titled(parent, prefix):
    """Pids of the children of parent whose command line (process title) starts with prefix."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = f.read().rsplit(b") ", 1)[1].split()[1].decode()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, IndexError):
            continue
        if ppid == str(parent) and cmdline.startswith(prefix):
            pids.append(entry)
    return pids


def start_perf(args):
    """perf record of the daemon (its pid from the stack's pid file) and of the
    children of --perf-also-parent titled --perf-also (its PostgreSQL backend),
    until SIGINT."""
    with open(args.pid_file) as f:
        pids = [f.read().strip()]
    if args.perf_also:
        pids += children_titled(args.perf_also_parent, args.perf_also)
    with open(args.perf_out + ".pids", "w") as f:
        f.write(" ".join(pids) + "\n")
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-g", "-p", ",".join(pids),
                             "-o", args.perf_out], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(args.perf_out + ".log", "wb"))


# --- Kafka's own tools ----------------------------------------------------------------

def cmd_raw_rate(args):
    # ProducerPerformance's last line: "N records sent, R records/sec (M MB/sec), A ms avg latency,
    # B ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
    final = None
    with open(args.producer_out) as f:
        for line in f:
            if " records sent, " in line and " 50th" in line:
                final = line.strip()
    if final is None:
        return fail(f"no summary line in {args.producer_out}")
    fields = [p.strip() for p in final.rstrip(".").split(",")]
    sent = int(fields[0].split()[0])
    produce_rate = float(fields[1].split()[0])
    avg_ms, max_ms = float(fields[2].split()[0]), float(fields[3].split()[0])
    p99_ms = float(fields[6].split()[0])
    if sent != args.records:
        return fail(f"ProducerPerformance sent {sent} records, not {args.records}")
    # ConsumerPerformance: a header line and one line of values.
    with open(args.consumer_out) as f:
        lines = [line.strip() for line in f if line.strip()]
    header_at = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if header_at is None or header_at + 1 >= len(lines):
        return fail(f"no result in {args.consumer_out}")
    names = [n.strip() for n in lines[header_at].split(",")]
    values = dict(zip(names, [v.strip() for v in lines[header_at + 1].split(",")]))
    consumed = int(values["data.consumed.in.nMsg"])
    if consumed < args.records:
        return fail(f"ConsumerPerformance read {consumed} records, not {args.records}")
    fetch_s = float(values["fetch.time.ms"]) / 1000
    rebalance_s = float(values["rebalance.time.ms"]) / 1000
    produce_s = args.records / produce_rate
    print(f"raw_produce_rate={produce_rate:.0f}")
    print(f"raw_produce_s={produce_s:.3f}")
    print(f"raw_produce_latency_avg_ms={avg_ms:.1f}")
    print(f"raw_produce_latency_p99_ms={p99_ms:.0f}")
    print(f"raw_produce_latency_max_ms={max_ms:.0f}")
    print(f"raw_consume_rate={consumed / fetch_s:.0f}")
    print(f"raw_consume_s={fetch_s:.3f}")
    print(f"raw_consume_rebalance_s={rebalance_s:.3f}")
    print(f"raw_rate={args.records / (produce_s + fetch_s):.0f}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command_name", required=True)

    p = sub.add_parser("load", help="POST N releases of department demo in batches of 500")
    p.add_argument("--url", required=True, help="the ingest URL (ZWGK_INGEST_URL)")
    p.add_argument("--token", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--run", required=True, help="makes the source_ids unique to this run")
    p.set_defaults(fn=cmd_load)

    p = sub.add_parser("topic-stats", help="record count and mean value size of a topic")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", default="zwgk.releases")
    p.add_argument("--timeout", type=float, default=120.0)
    p.set_defaults(fn=cmd_topic_stats)

    p = sub.add_parser("create-topic", help="create a topic with the partitions of another")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--like", default="zwgk.releases")
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(fn=cmd_create_topic)

    p = sub.add_parser("measure", help="time COMMAND until GROUP's committed offsets reach the high watermarks")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", default="zwgk.releases")
    p.add_argument("--group", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--command-log", default="")
    p.add_argument("--perf-out", default="", help="perf record the daemon into this file once it is ready")
    p.add_argument("--pid-file", default="", help="the daemon's pid file (the stack's run/NAME.pid)")
    p.add_argument("--perf-also", default="", help="also profile children of --perf-also-parent whose title "
                   "starts with this")
    p.add_argument("--perf-also-parent", type=int, default=0, help="e.g. the postmaster's pid")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_measure)

    p = sub.add_parser("raw-rate", help="parse the output of ProducerPerformance and ConsumerPerformance")
    p.add_argument("--producer-out", required=True)
    p.add_argument("--consumer-out", required=True)
    p.add_argument("--records", type=int, required=True)
    p.set_defaults(fn=cmd_raw_rate)

    args = parser.parse_args(argv)
    if args.command_name == "measure" and (not args.command or args.command == ["--"]):
        parser.error("measure needs a COMMAND after --")
    if args.command_name == "measure" and args.perf_out and not args.pid_file:
        parser.error("--perf-out needs --pid-file")
    try:
        return args.fn(args)
    except Exception as e:  # noqa: BLE001 - one clear line for run.sh, whatever failed
        return fail(f"{args.command_name}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
