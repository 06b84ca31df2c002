#!/usr/bin/env python3
"""Load and measurement helper of the end-to-end benchmark (run.sh; see
docs/performance.md, "End-to-end benchmark").

    e2e_bench.py prepare-fakes
        forgets what the stand-ins received and has the WeChat one publish
        at the first poll (tests/faults/run.py reset_standins).
    e2e_bench.py run --label L --mode backlog --requests N --results DIR
        posts N requests (releases and their revisions) of the fault
        harness's mix to /v1/releases/batch as fast as the producer takes
        them, and measures how fast the pipeline delivers the backlog.
    e2e_bench.py run --label L --mode open --rate R --seconds S --results DIR
        posts R requests per second for S seconds to /v1/releases (open loop:
        each at its slot, answered or not; tests/faults/harness.py Load).
    e2e_bench.py raw-latency --out FILE
        parses the output of Kafka's EndToEndLatency tool.
    e2e_bench.py report --results DIR
        prints the table (report.txt) and draws latency.png, throughput.png.

A run waits until every delivery its 202s promise has its receipt on
zwgk.receipts, then reads the run's records back: for each (release_id,
revision, channel) the ingest time (the envelope's ingest.received_at), the
Kafka timestamp of its record on zwgk.channel.<channel> and the receipt's
`at`. It writes DIR/L.json (figures), DIR/L.summary (key=value), and the
latencies and deliveries per second as gnuplot data (DIR/L.*.dat). CPU time
and peak RSS (VmHWM) of every daemon, the broker, PostgreSQL and the
stand-ins are read from /proc before the load and once every delivery is made.

Runs with the Python of var/venv (confluent_kafka, requests), in the
environment of run.sh (ZWGK_STACK_DIR, ZWGK_STACK_PORT_BASE). Exits 0 on
success, 1 with a message on stderr otherwise.
"""

import argparse
import collections
import datetime
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

import harness  # noqa: E402  the fault harness: Stack, Load (the mix), consumer, end_offsets

CHANNELS = harness.CHANNELS
CHANNEL_TOPICS = tuple(f"zwgk.channel.{c}" for c in CHANNELS)
SIZE_TOPICS = ("zwgk.releases", "zwgk.tagged") + CHANNEL_TOPICS + ("zwgk.receipts",)
WATCH_TOPICS = SIZE_TOPICS + ("zwgk.dlq", "zwgk.review")
BATCH = 500  # the most /v1/releases/batch takes (CONTRACT §2)
RUNS = ("max", "load50", "load80")  # the reported runs, in this order


def fail(message):
    print(f"e2e_bench: {message}", file=sys.stderr)
    return 1


def log(message):
    print(f"e2e_bench: {message}", file=sys.stderr, flush=True)


def stack_settings():
    return {k: os.environ[k] for k in ("ZWGK_STACK_DIR", "ZWGK_STACK_PORT_BASE") if k in os.environ}


def epoch_ms(stamp):
    """Milliseconds since the epoch of an RFC 3339 time (the envelopes' received_at and at)."""
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000.0


# --- /proc ---------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command (state is [0]), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]) + int(f[12]) if f else 0


def pg_ticks(postmaster):
    """CPU of PostgreSQL: the postmaster, its children, and what its children
    that have exited used (reaped, so in the postmaster's cutime/cstime)."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = stat_fields(entry)
            if f and f[1].decode() == str(postmaster):
                total += int(f[11]) + int(f[12])
    f = stat_fields(postmaster)
    return total + (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]) if f else 0)


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq


class Processes:
    """The processes whose CPU and peak RSS a run reports, from the stack's
    pid files: each daemon, further instances (run/zwgk-classifier@2.pid),
    the broker, PostgreSQL and the stand-ins."""

    def __init__(self, stack):
        self.pids = {}
        for name in harness.DAEMONS:
            pid = stack.pid(name)
            if pid is None:
                raise RuntimeError(f"{name} has no pid file in {stack.dir / 'run'}")
            self.pids[name] = pid
        for path in sorted((stack.dir / "run").glob("zwgk-*@*.pid")):
            pid = stack.pid(path.stem)
            if pid is not None:
                self.pids[path.stem] = pid
        self.daemons = list(self.pids)
        for name in ("kafka", "fake-wechat", "fake-broadcast"):
            pid = stack.pid(name)
            if pid is not None:
                self.pids[name] = pid
        with open(stack.dir / "pg" / "postmaster.pid") as f:
            self.postmaster = int(f.readline())
        # The stages' admin listeners, for their transaction counters; further
        # instances at the stack's B+44.. (classifier) and B+47.. (fan-out).
        base = int(os.environ.get("ZWGK_STACK_PORT_BASE", "0") or 0)
        self.admin = {}
        for name in self.daemons:
            if "@" in name:
                daemon, n = name.split("@")
                first = 44 if daemon == "zwgk-classifier" else 47
                if base:
                    self.admin[name] = f"http://127.0.0.1:{base + first + int(n) - 2}"
            elif name != "zwgk-producer":
                self.admin[name] = stack.admin_url(name)

    def transactions(self):
        """Per stage: (transactions committed, messages in them) so far, from
        zwgk_transactions_total and zwgk_transaction_messages_total."""
        out = {}
        for name, url in self.admin.items():
            try:
                with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                continue
            v = {}
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] in ("zwgk_transactions_total", "zwgk_transaction_messages_total"):
                    v[parts[0]] = float(parts[1])
            if "zwgk_transactions_total" in v:
                out[name] = (v["zwgk_transactions_total"], v.get("zwgk_transaction_messages_total", 0.0))
        return out

    def snapshot(self):
        ticks = {name: cpu_ticks(pid) for name, pid in self.pids.items()}
        ticks["postgresql"] = pg_ticks(self.postmaster)
        t = os.times()
        ticks["load generator"] = round((t.user + t.system) * CLK_TCK)
        return {"wall": time.monotonic(), "ticks": ticks, "busy": machine_busy_ticks(), "txn": self.transactions()}

    def alive(self):
        return [name for name in self.daemons if (f := stat_fields(self.pids[name])) and f[0] not in (b"Z", b"X")]

    def rss_mib(self):
        out = {}
        for name, pid in self.pids.items():
            kib = vm_hwm_kib(pid)
            if kib is not None:
                out[name] = round(kib / 1024, 1)
        return out


# --- Kafka ---------------------------------------------------------------------------


def read_records(brokers, topic, start, timeout=120.0):
    """Every committed record of topic from the offsets in start ({(topic, p):
    offset}) to the partitions' ends now: (partition, offset, key, timestamp
    in ms, value). harness.read_from without the timestamps would not do."""
    from confluent_kafka import KafkaError, TopicPartition

    ends = harness.end_offsets(brokers, [topic])
    todo = {p for (t, p), end in ends.items() if end > start.get((t, p), 0)}
    records = []
    if not todo:
        return records, ends
    c = harness.consumer(brokers, **{"enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, p, start.get((topic, p), 0)) for p in todo])
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            for msg in c.consume(num_messages=2000, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        todo.discard(msg.partition())
                        continue
                    raise RuntimeError(f"reading {topic}: {msg.error()}")
                p, off = msg.partition(), msg.offset()
                if off >= ends[(topic, p)]:
                    todo.discard(p)
                    continue
                key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
                records.append((p, off, key, msg.timestamp()[1], msg.value()))
                if off + 1 >= ends[(topic, p)]:
                    todo.discard(p)
        if todo:
            raise RuntimeError(f"reading {topic}: partitions {sorted(todo)} not read to their end in {timeout:g} s")
    finally:
        c.close()
    return records, ends


# --- the load ------------------------------------------------------------------------


def post_backlog(stack, load):
    """Posts every request of load to /v1/releases/batch, as fast as the
    producer answers: revision k of every release after revision k-1 of all
    of them, in batches of at most 500 of one department (a token is one
    department's). Fills load.accepted like Load does."""
    import requests

    session = requests.Session()
    url = f"{stack.ingest_url}/v1/releases/batch"
    waves = max(len(r.actions) for r in load.releases)
    load.started = harness.now()
    for revision in range(1, waves + 1):
        by_department = collections.defaultdict(list)
        for r in load.releases:
            if len(r.actions) >= revision:
                by_department[r.department].append(r)
        for department, releases in sorted(by_department.items()):
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {load.tokens[department]}"}
            for i in range(0, len(releases), BATCH):
                chunk = releases[i:i + BATCH]
                data = json.dumps([r.body(revision) for r in chunk], ensure_ascii=False).encode("utf-8")
                sent = harness.now()
                response = session.post(url, data=data, headers=headers, timeout=120)
                load.statuses[response.status_code] += 1
                if response.status_code != 200:
                    raise RuntimeError(f"POST {url} answered {response.status_code}: {response.text[:300]}")
                results = response.json().get("results", [])
                if len(results) != len(chunk):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(chunk)}")
                answered = harness.now()
                for r, result in zip(chunk, results):
                    if result.get("status") != "accepted" or result.get("release_id") != r.rid:
                        raise RuntimeError(f"release {r.source_id} revision {revision}: {json.dumps(result)}")
                    load.accepted[(r.rid, revision)] = answered
                load.answers.append((sent, answered, 200))
                load.sent += len(chunk)


class ReceiptWatcher:
    """Reads zwgk.receipts (read_committed, so only what the adapters'
    transactions committed) from the run's start offsets while the run goes
    on; `have` holds the (release_id, revision, channel) of every receipt."""

    def __init__(self, brokers, start):
        from confluent_kafka import TopicPartition

        self.c = harness.consumer(brokers)
        self.c.assign([TopicPartition(t, p, offset) for (t, p), offset in start.items() if t == "zwgk.receipts"])
        self.records, self.have = [], set()

    def poll(self, timeout):
        for msg in self.c.consume(num_messages=5000, timeout=timeout):
            if msg.error():
                raise RuntimeError(f"reading zwgk.receipts: {msg.error()}")
            key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
            receipt = json.loads(msg.value()).get("receipt") or {}
            self.records.append((msg.partition(), msg.offset(), key, msg.timestamp()[1], msg.value()))
            self.have.add((key, receipt.get("revision"), receipt.get("channel")))

    def close(self):
        self.c.close()


def wait_receipts(stack, watcher, expected, stall_s):
    """Until every expected delivery has its receipt; fails, naming what
    is missing and what PostgreSQL's deliveries say of it, when no receipt
    came for stall_s seconds."""
    last, last_change = -1, time.monotonic()
    while True:
        missing = [k for k in expected if k not in watcher.have]
        if not missing:
            return
        if len(missing) != last:
            last, last_change = len(missing), time.monotonic()
        if time.monotonic() - last_change > stall_s:
            rows = []
            for rid, revision, channel in missing[:5]:
                rows += stack.sql(
                    "SELECT d.release_id, d.revision, d.channel, d.status, d.attempts, coalesce(d.error, ''), "
                    "coalesce(r.next_at::text, '') FROM deliveries d LEFT JOIN delivery_retries r "
                    "USING (release_id, revision, channel) "
                    f"WHERE d.release_id = '{rid}' AND d.revision = {int(revision)} AND d.channel = '{channel}'")
            raise RuntimeError(f"{len(missing)} of {len(expected)} receipts missing, none came for {stall_s:g} s; "
                               f"e.g. {missing[:5]}; in deliveries (status, attempts, error, retry at): {rows}")
        watcher.poll(0.5)


# --- figures -------------------------------------------------------------------------


def percentile(sorted_values, q):
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def distribution(values):
    v = sorted(values)
    if not v:
        return {"n": 0}
    return {"n": len(v), "mean": round(sum(v) / len(v), 1), "p50": percentile(v, 0.5), "p99": percentile(v, 0.99),
            "p999": percentile(v, 0.999), "max": v[-1]}


def steady_rate(completions, low=0.1, high=0.9):
    """Requests per second between the low and high share of the completions
    (times in ms, sorted): the steady part, without the start and the tail."""
    n = len(completions)
    if n < 10:
        return None, None, None
    i, j = int(low * (n - 1)), int(high * (n - 1))
    seconds = (completions[j] - completions[i]) / 1000.0
    return (round((j - i) / seconds, 1) if seconds > 0 else None), completions[i], completions[j]


def drive(stack, procs, args, start):
    """Posts the run's load and waits for every receipt it is owed. Returns
    the Load, the receipts read, the expected deliveries, the seconds the
    load took, the /proc snapshots before and after, and the wall clock (ms)
    at the start."""
    if args.mode == "backlog":
        total, rate = args.requests, 1.0
    else:
        total, rate = max(1, round(args.rate * args.seconds)), args.rate
    load = harness.Load(stack, total, rate, workers=args.workers, seed=f"zwgk-bench-e2e-{args.label}")
    watcher = ReceiptWatcher(stack.brokers, start)
    before = procs.snapshot()
    wall0 = time.time() * 1000.0
    try:
        if args.mode == "backlog":
            post_backlog(stack, load)
        else:
            load.start()
            while not load.join(0):
                watcher.poll(0.5)
            if load.error:
                raise load.error
        loaded = harness.now() - load.started
        expected = load.expected()
        log(f"{args.label}: {len(load.accepted)} requests accepted in {loaded:.1f} s "
            f"({len(expected)} deliveries to wait for)")
        wait_receipts(stack, watcher, expected, args.stall_seconds)
        after = procs.snapshot()
    finally:
        load.stop.set()
        watcher.close()
    return load, watcher.records, expected, loaded, before, after, wall0


class Timings:
    """What the run's records say of each delivery (release_id, revision,
    channel): when its release was received at ingest (the envelope's
    ingest.received_at), the Kafka timestamp of its record on
    zwgk.channel.<channel>, and the `at` of its receipt; with the mean record
    size per topic and what should not be there (duplicates, receipts
    neither delivered nor withdrawn)."""

    def __init__(self, brokers, start, rids, receipts):
        self.sizes, self.channel_ts, self.received, self.delivered_at = {}, {}, {}, {}
        self.stage_ts = {"zwgk.releases": {}, "zwgk.tagged": {}}  # (release_id, revision) -> first record's ms
        self.dup_channel = self.dup_receipts = 0
        self.statuses, self.not_ok = collections.Counter(), []
        for topic in SIZE_TOPICS:
            records = receipts if topic == "zwgk.receipts" else read_records(brokers, topic, start)[0]
            mine = [r for r in records if r[2] in rids]
            self.sizes[topic] = {"records": len(mine),
                                 "value_bytes_mean": round(sum(len(r[4]) for r in mine) / len(mine)) if mine else 0}
            if topic in CHANNEL_TOPICS:
                self._channel_records(topic.rsplit(".", 1)[1], mine)
            elif topic in self.stage_ts:
                seen = self.stage_ts[topic]
                for _p, _o, key, ts, value in mine:
                    seen.setdefault((key, json.loads(value)["revision"]), ts)
        self._receipts([r for r in receipts if r[2] in rids])

    def _channel_records(self, channel, records):
        for _p, _o, key, ts, value in records:
            env = json.loads(value)
            k = (key, env["revision"], channel)
            if k in self.channel_ts:
                self.dup_channel += 1
                continue
            self.channel_ts[k] = ts
            self.received[k] = epoch_ms(env["ingest"]["received_at"])

    def _receipts(self, records):
        for _p, _o, key, _ts, value in records:
            env = json.loads(value)
            receipt = env.get("receipt") or {}
            k = (key, receipt.get("revision"), receipt.get("channel"))
            self.statuses[receipt.get("status")] += 1
            if receipt.get("status") not in ("delivered", "withdrawn"):
                self.not_ok.append((k, receipt.get("status"), receipt.get("error")))
            if k in self.delivered_at:
                self.dup_receipts += 1
                continue
            self.delivered_at[k] = epoch_ms(receipt["at"])
            self.received.setdefault(k, epoch_ms(env["ingest"]["received_at"]))


def hops(t, expected):
    """Where ingest -> channel topic goes, per delivery with every record
    found: ingest -> zwgk.releases (the producer), -> zwgk.tagged (the
    classifier, from the producer's record), -> zwgk.channel.* (the fan-out,
    from the classifier's record). Each a Kafka timestamp taken when the record
    was produced, so a stage's share includes waiting for the previous
    stage's commit and its own batch until the record was produced."""
    out = {"ingest_to_releases": [], "releases_to_tagged": [], "tagged_to_channel": []}
    rel, tag = t.stage_ts["zwgk.releases"], t.stage_ts["zwgk.tagged"]
    for k in expected:
        r = (k[0], k[1])
        if k in t.received and k in t.channel_ts and r in rel and r in tag:
            out["ingest_to_releases"].append(rel[r] - t.received[k])
            out["releases_to_tagged"].append(tag[r] - rel[r])
            out["tagged_to_channel"].append(t.channel_ts[k] - tag[r])
    return {name: distribution(v) for name, v in out.items()}


def figures(t, expected):
    """Latencies (ms) ingest -> channel topic and ingest -> delivered, the
    latter per channel too, and each request's completion (its last
    receipt), from a run's Timings."""
    to_topic, to_delivered, per_channel, completion = [], [], collections.defaultdict(list), {}
    for k in expected:
        t_in = t.received.get(k)
        if t_in is None or k not in t.delivered_at:
            continue
        if k in t.channel_ts:
            to_topic.append(t.channel_ts[k] - t_in)
        to_delivered.append(t.delivered_at[k] - t_in)
        per_channel[k[2]].append(t.delivered_at[k] - t_in)
        request = (k[0], k[1])
        completion[request] = max(completion.get(request, 0), t.delivered_at[k])
    return to_topic, to_delivered, per_channel, sorted(completion.values())


def write_plot_data(results, label, open_loop, wall0, t, expected, to_topic, to_delivered):
    """LABEL.throughput.dat (deliveries and accepted requests per second since
    the run started) and LABEL.topic.dat, LABEL.delivered.dat (the latency
    distributions) for plots.gp."""
    buckets = collections.Counter(int((t.delivered_at[k] - wall0) // 1000) for k in expected if k in t.delivered_at)
    ingested, seen = collections.Counter(), set()
    for k in expected:
        if (k[0], k[1]) not in seen and k in t.received:
            seen.add((k[0], k[1]))
            ingested[int((t.received[k] - wall0) // 1000)] += 1
    with open(results / f"{label}.throughput.dat", "w") as f:
        f.write("# second since the run started, deliveries (receipts' at), requests accepted (ingest received_at;\n"
                "# NaN for a backlog, which is accepted within a second or two)\n")
        for s in range(0, max(list(buckets) + list(ingested) + [0]) + 1):
            f.write(f"{s} {buckets.get(s, 0)} {ingested.get(s, 0) if open_loop else 'NaN'}\n")
    for name, values in (("topic", to_topic), ("delivered", to_delivered)):
        v = sorted(values)
        with open(results / f"{label}.{name}.dat", "w") as f:
            f.write(f"# latency ms (ingest -> {'channel topic' if name == 'topic' else 'delivered'}), "
                    "fraction of deliveries at or below, fraction above\n")
            n = len(v)
            for i, x in enumerate(v):
                if i + 1 < n and v[i + 1] == x:
                    continue  # one point per distinct value: the last rank holding it
                f.write(f"{x:.0f} {(i + 1) / n:.6f} {max(1.0 - (i + 1) / n, 0.5 / n):.6g}\n")


def cpu_figures(before, after, requests):
    """CPU seconds, seconds per 1000 requests and cores, per process, between two snapshots."""
    seconds = after["wall"] - before["wall"]
    cpu = {}
    for name, ticks in after["ticks"].items():
        d = (ticks - before["ticks"].get(name, 0)) / CLK_TCK
        cpu[name] = {"cpu_s": round(d, 2), "per_1000": round(1000 * d / max(requests, 1), 3),
                     "cores": round(d / seconds, 3) if seconds > 0 else 0}
    busy = round((after["busy"] - before["busy"]) / CLK_TCK / seconds, 2) if seconds > 0 else None
    return cpu, busy, seconds


def txn_figures(before, after):
    """Per stage: transactions committed during the run, per second, and
    messages per transaction."""
    seconds = after["wall"] - before["wall"]
    out = {}
    for name, (t1, m1) in after["txn"].items():
        t0, m0 = before["txn"].get(name, (0.0, 0.0))
        n = t1 - t0
        out[name] = {"transactions": int(n), "per_s": round(n / seconds, 1) if seconds > 0 else None,
                     "messages_per_txn": round((m1 - m0) / n, 1) if n > 0 else None}
    return out


def cmd_run(args):
    stack = harness.Stack(stack_settings())
    procs = Processes(stack)
    results = pathlib.Path(args.results)
    label = args.label
    start = harness.end_offsets(stack.brokers, WATCH_TOPICS)
    load, receipts, expected, loaded, before, after, wall0 = drive(stack, procs, args, start)
    rss = procs.rss_mib()
    dead = [d for d in procs.daemons if d not in procs.alive()]
    if dead:
        return fail(f"{label}: {', '.join(dead)} ended during the run")

    t = Timings(stack.brokers, start, {r.rid for r in load.releases}, receipts)
    to_topic, to_delivered, per_channel, completions = figures(t, expected)
    rate_steady, t_low, t_high = steady_rate(completions)
    first_in = min(t.received[k] for k in expected if k in t.received)
    span = (completions[-1] - first_in) / 1000.0
    write_plot_data(results, label, args.mode == "open", wall0, t, expected, to_topic, to_delivered)
    cpu, busy, seconds = cpu_figures(before, after, len(load.accepted))
    ends = harness.end_offsets(stack.brokers, ["zwgk.dlq", "zwgk.review"])
    dlq_new = sum(v - start[k] for k, v in ends.items() if k[0] == "zwgk.dlq")
    review_new = sum(v - start[k] for k, v in ends.items() if k[0] == "zwgk.review")
    out = {
        "label": label,
        "mode": args.mode,
        "rate_target": args.rate if args.mode == "open" else None,
        "seconds_target": args.seconds if args.mode == "open" else None,
        "requests": load.total,
        "accepted": len(load.accepted),
        "answers": {str(k): v for k, v in load.statuses.items()},
        "load_seconds": round(loaded, 2),
        "offered_rate": round(len(load.accepted) / loaded, 1) if loaded > 0 else None,
        "deliveries": len(expected),
        "receipt_statuses": dict(t.statuses),
        "receipts_not_ok": t.not_ok[:10],
        "channel_records_missing": sum(1 for k in expected if k not in t.channel_ts),
        "duplicate_channel_records": t.dup_channel,
        "duplicate_receipts": t.dup_receipts,
        "dlq_new": dlq_new,
        "review_new": review_new,
        "sustained_rate": rate_steady,
        "steady_window_s": round((t_high - t_low) / 1000.0, 2) if t_low is not None else None,
        "overall_rate": round(len(completions) / span, 1) if span > 0 else None,
        "span_s": round(span, 2),
        "measured_s": round(seconds, 2),
        "latency_topic_ms": distribution(to_topic),
        "latency_delivered_ms": distribution(to_delivered),
        "latency_hops_ms": hops(t, expected),
        "latency_delivered_by_channel_ms": {c: distribution(v) for c, v in sorted(per_channel.items())},
        "cpu": cpu,
        "machine_busy_cores": busy,
        "transactions": txn_figures(before, after),
        "peak_rss_mib": rss,
        "daemons": procs.daemons,
        "sizes": t.sizes,
        "releases_by_item": dict(collections.Counter(r.item for r in load.releases)),
        "requests_by_action": dict(collections.Counter(a for r in load.releases for a in r.actions)),
    }
    with open(results / f"{label}.json", "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    write_summary(results / f"{label}.summary", out)
    return check(out)


def write_summary(path, out):
    """The key=value figures run.sh reads."""
    with open(path, "w") as f:
        for key in ("accepted", "deliveries", "offered_rate", "sustained_rate", "overall_rate", "load_seconds",
                    "span_s", "dlq_new", "duplicate_channel_records", "duplicate_receipts"):
            f.write(f"{key}={out[key]}\n")
        for prefix in ("topic", "delivered"):
            for q in ("p50", "p99", "p999"):
                f.write(f"{prefix}_{q}_ms={out[f'latency_{prefix}_ms'].get(q)}\n")
        f.write(f"releases_value_bytes_mean={out['sizes']['zwgk.releases']['value_bytes_mean']}\n")


def check(out):
    """Logs the run's figures; 1 when something is there that should not be."""
    lt, ld = out["latency_topic_ms"], out["latency_delivered_ms"]
    log(f"{out['label']}: {out['accepted']} requests, {out['deliveries']} deliveries; sustained "
        f"{out['sustained_rate']}/s (10-90 %), ingest->channel topic p50/p99/p99.9 {lt.get('p50')}/{lt.get('p99')}/"
        f"{lt.get('p999')} ms, ->delivered {ld.get('p50')}/{ld.get('p99')}/{ld.get('p999')} ms")
    problems = []
    if out["duplicate_channel_records"] or out["duplicate_receipts"]:
        problems.append(f"{out['duplicate_channel_records']} duplicate channel record(s), "
                        f"{out['duplicate_receipts']} duplicate receipt(s)")
    if out["channel_records_missing"]:
        problems.append(f"{out['channel_records_missing']} deliveries without their record on a channel topic")
    if out["receipts_not_ok"]:
        problems.append(f"receipt(s) neither delivered nor withdrawn, e.g. {out['receipts_not_ok'][:2]}")
    if out["dlq_new"]:
        problems.append(f"{out['dlq_new']} new dead letter(s)")
    if out["review_new"]:
        problems.append(f"{out['review_new']} release(s) held for review")
    if problems:
        return fail(f"{out['label']}: " + "; ".join(problems))
    return 0


# --- fakes, raw tools ----------------------------------------------------------------


def cmd_prepare_fakes(_args):
    import run as faults_run  # tests/faults/run.py

    stack = harness.Stack(stack_settings())
    faults_run.reset_standins(stack)
    import requests

    config = requests.get(f"{stack.wechat}/_fake/state", timeout=10).json().get("config", {})
    print(f"wechat_fake_config={json.dumps(config, sort_keys=True)}")
    return 0


def cmd_raw_latency(args):
    """EndToEndLatency prints "Avg latency: A ms" and "Percentiles: 50th = P,
    99th = Q, 99.9th = R" (whole milliseconds)."""
    text = pathlib.Path(args.out).read_text()
    avg = re.search(r"Avg latency: ([0-9.]+) ms", text)
    pct = re.search(r"Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)", text)
    if not avg or not pct:
        return fail(f"no result in {args.out}")
    print(f"raw_e2e_avg_ms={float(avg.group(1)):.2f}")
    for name, value in zip(("p50", "p99", "p999"), pct.groups()):
        print(f"raw_e2e_{name}_ms={value}")
    return 0


# --- the report ----------------------------------------------------------------------


def kv_file(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out.setdefault(k, v)
    except OSError:
        pass
    return out


def num(v, digits=0):
    if v is None or v == "":
        return "–"
    v = float(v)
    return f"{v:,.{digits}f}"


def ratio(a, b, digits=1):
    try:
        return f"{100.0 * float(a) / float(b):.{digits}f} %"
    except (TypeError, ValueError, ZeroDivisionError):
        return "–"


NAMES = {"max": "max (backlog)", "load50": "50 %", "load80": "80 %"}


def run_title(label, run):
    return NAMES[label] + (f" ({run['rate_target']:g}/s)" if run.get("rate_target") else "")


class Report:
    """The text of report.txt, from the runs' JSON and the key=value files
    run.sh wrote (bench.info, raw.summary, raw-e2e.summary, nginx.summary)."""

    def __init__(self, res):
        self.res = res
        self.runs = {label: json.loads((res / f"{label}.json").read_text())
                     for label in RUNS if (res / f"{label}.json").exists()}
        self.info = kv_file(res / "bench.info")
        self.raw = kv_file(res / "raw.summary")
        self.e2e = kv_file(res / "raw-e2e.summary")
        self.nginx = kv_file(res / "nginx.summary")
        self.max = self.runs.get("max")
        self.lines = []
        self.rss = {}
        for r in self.runs.values():
            for name, v in r["peak_rss_mib"].items():
                self.rss[name] = max(self.rss.get(name, 0), v)

    def w(self, line=""):
        self.lines.append(line)

    def text(self):
        for part in (self.header, self.baselines, self.run_table, self.hop_table, self.channel_table, self.txn_table,
                     self.cpu_table, self.targets):
            part()
            self.w()
        self.w(f"results in {self.res}; plots latency.png, throughput.png")
        return "\n".join(self.lines) + "\n"

    def header(self):
        info, m = self.info, self.max
        self.w()
        self.w(f"end-to-end benchmark, {info.get('date', '?')}: one Kafka broker ({info.get('partitions', '?')} "
               f"partitions), {info.get('cores', '?')} cores, {info.get('bin', '?')} (commit {info.get('commit', '?')})")
        self.w(f"background load while the stack idled: {info.get('background', '?')} cores; instances: "
               f"classifier {info.get('classifiers', '1')}, fan-out {info.get('fanouts', '1')}; "
               f"fakes: {info.get('fakes', '?')}")
        settings = [f"{k[len('setting_'):]}={v}" for k, v in sorted(info.items()) if k.startswith("setting_")]
        if info.get("kafka_props"):
            settings.append(f"BENCH_KAFKA_PROPS={info['kafka_props']}")
        self.w(f"settings: kafka.commit_interval_ms {info.get('commit_interval_ms', '?')}; "
               f"{' '.join(settings) or 'defaults'}")
        self.w(f"mix (tests/faults/harness.py MIX): releases per catalog item {m['releases_by_item']}, requests "
               f"{m['requests_by_action']}; mean record on zwgk.releases {m['sizes']['zwgk.releases']['value_bytes_mean']} B")

    def baselines(self):
        fmt = "{:<46} {:>14} {:>14} {:>13}"
        rate = self.max["sustained_rate"]
        self.w(fmt.format("zwgk against the baselines", "zwgk", "baseline", "ratio"))
        self.w(fmt.format(f"releases/s vs raw produce ({self.info.get('record_size', '?')} B, acks=all)",
                          num(rate, 1), num(self.raw.get("raw_produce_rate")) + " rec/s",
                          ratio(rate, self.raw.get("raw_produce_rate"))))
        self.w(fmt.format("releases/s vs raw consume", num(rate, 1), num(self.raw.get("raw_consume_rate")) + " rec/s",
                          ratio(rate, self.raw.get("raw_consume_rate"))))
        self.w(fmt.format("releases/s vs nginx static 202 (1 worker)", num(rate, 1),
                          num(self.nginx.get("rps")) + " req/s", ratio(rate, self.nginx.get("rps"), 2)))
        base = [self.e2e.get(f"raw_e2e_{q}_ms") for q in ("p50", "p99", "p999")]
        for label in ("load50", "load80"):
            for kind, key in (("channel topic", "latency_topic_ms"), ("delivered", "latency_delivered_ms")):
                if label not in self.runs:
                    continue
                z = [self.runs[label][key].get(q) for q in ("p50", "p99", "p999")]
                factors = []
                for a, b in zip(z, base):
                    try:
                        factors.append(f"{float(a) / max(float(b), 1.0):.0f}")
                    except (TypeError, ValueError):
                        factors.append("–")
                self.w(fmt.format(f"{NAMES[label]}: ingest->{kind}, ms p50/p99/p99.9", "/".join(num(x) for x in z),
                                  "/".join(num(x) for x in base), "/".join(factors) + " x"))
        self.w("releases/s: the maximum run's sustained rate. Baselines on the same broker and cores: "
               "ProducerPerformance and")
        self.w("ConsumerPerformance at the mean record size of zwgk.releases, acks=all; EndToEndLatency (acks=all, "
               "one record")
        self.w("at a time, whole ms: a factor divides by at least 1 ms); nginx answering a fixed 202, wrk -t2 -c64.")

    def run_table(self):
        fmt = "{:<16} {:>9} {:>9} {:>11} {:>11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}"
        self.w(fmt.format("run", "offered/s", "accepted", "deliveries", "releases/s", "ch p50", "ch p99", "ch p999",
                          "dl p50", "dl p99", "dl p999", "busy"))
        for label, r in self.runs.items():
            lt, ld = r["latency_topic_ms"], r["latency_delivered_ms"]
            self.w(fmt.format(run_title(label, r), num(r["offered_rate"], 1), r["accepted"], r["deliveries"],
                              num(r["sustained_rate"], 1), num(lt.get("p50")), num(lt.get("p99")), num(lt.get("p999")),
                              num(ld.get("p50")), num(ld.get("p99")), num(ld.get("p999")),
                              num(r["machine_busy_cores"], 2)))
        self.w("releases/s: requests (release revisions) whose every channel had its receipt, per second, between "
               "10 % and")
        self.w("90 % of them; ch: ingest.received_at -> Kafka timestamp of the record on zwgk.channel.*; dl: -> the "
               "receipt's")
        self.w("`at` (delivered); ms, over every delivery of the run; busy: cores the machine used during the run.")
        for label in ("load50", "load80"):
            r = self.runs.get(label)
            if r and r["sustained_rate"] and r["offered_rate"]:
                kept = r["sustained_rate"] >= 0.97 * r["offered_rate"]
                self.w(f"{NAMES[label]}: delivered {num(r['sustained_rate'], 1)}/s of {num(r['offered_rate'], 1)}/s "
                       f"offered -> {'kept up' if kept else 'did NOT keep up: a backlog grew during the run'}")

    def hop_table(self):
        hop_names = (("ingest_to_releases", "ingest->releases"), ("releases_to_tagged", "->tagged"),
                     ("tagged_to_channel", "->channel"))
        fmt = "{:<22}" + " {:>22}" * len(hop_names)
        self.w(fmt.format("ingest->channel topic", *[f"{h} p50/p99/p99.9" for _k, h in hop_names]))
        for label, r in self.runs.items():
            hp = r.get("latency_hops_ms", {})
            self.w(fmt.format(NAMES[label], *["/".join(num(hp.get(k, {}).get(q)) for q in ("p50", "p99", "p999"))
                                              for k, _h in hop_names]))
        self.w("ms between the Kafka timestamps of a release's records: the producer's on zwgk.releases, the "
               "classifier's on")
        self.w("zwgk.tagged, the fan-out's on the channel topic (each when produced, inside its stage's transaction).")

    def channel_table(self):
        fmt = "{:<22}" + " {:>22}" * len(CHANNELS)
        self.w(fmt.format("ingest->delivered", *[f"{c} n, p50/p99 ms" for c in CHANNELS]))
        for label, r in self.runs.items():
            by = r["latency_delivered_by_channel_ms"]
            self.w(fmt.format(NAMES[label], *[f"{by[c]['n']}, {num(by[c].get('p50'))}/{num(by[c].get('p99'))}"
                                              if c in by else "–" for c in CHANNELS]))

    def txn_table(self):
        names = [d for d in self.max["daemons"] if d in self.max.get("transactions", {})]
        if not names:
            return
        fmt = "{:<20}" + " {:>20}" * len(self.runs)
        self.w(fmt.format("transactions", *[f"{NAMES[label]}: /s, msgs each" for label in self.runs]))
        for name in names:
            cells = []
            for r in self.runs.values():
                t = r.get("transactions", {}).get(name)
                cells.append(f"{num(t['per_s'], 1)}, {num(t['messages_per_txn'], 1)}" if t else "–")
            self.w(fmt.format(name, *cells))
        self.w("per stage: transactions committed per second of the run (zwgk_transactions_total) and messages per "
               "transaction.")

    def cpu_table(self):
        order = self.max["daemons"] + ["kafka", "postgresql", "fake-wechat", "fake-broadcast", "load generator"]
        fmt = "{:<20}" + " {:>13}" * len(self.runs) + " {:>12} {:>13}"
        self.w(fmt.format("CPU s per 1000", *[NAMES[label] for label in self.runs], "cores at max", "peak RSS MiB"))
        for name in order:
            if name in self.max["cpu"]:
                self.w(fmt.format(name, *[num(r["cpu"].get(name, {}).get("per_1000"), 3) for r in self.runs.values()],
                                  num(self.max["cpu"][name]["cores"], 2), num(self.rss.get(name), 1)))
        self.w("CPU: user + system time per 1000 accepted requests, from the run's start to its last delivery "
               "(load generator:")
        self.w("this helper, which posts and polls). peak RSS: VmHWM at the end of the runs.")

    def targets(self):
        rate, raw, e2e = self.max["sustained_rate"], self.raw, self.e2e
        commit = self.info.get("commit_interval_ms")
        self.w("targets (reported, not enforced):")
        if raw.get("raw_produce_rate"):
            target = 0.25 * float(raw["raw_produce_rate"])
            self.w(f"  sustained end-to-end rate >= 25 % of raw produce: {ratio(rate, raw['raw_produce_rate'])} "
                   f"({num(rate, 1)} of {num(raw['raw_produce_rate'])}/s; 25 % = {num(target)}/s) -> "
                   f"{'met' if rate and rate >= target else 'MISSED'}")
        if "load50" in self.runs and e2e.get("raw_e2e_p99_ms") and commit:
            bound = 3 * float(e2e["raw_e2e_p99_ms"]) + float(commit) + 100
            p99 = self.runs["load50"]["latency_topic_ms"].get("p99")
            self.w(f"  50 % load: p99 ingest->channel topic <= 3 x {e2e['raw_e2e_p99_ms']} + {commit} + 100 = "
                   f"{bound:.0f} ms: {num(p99)} ms -> {'met' if p99 is not None and p99 <= bound else 'MISSED'}")
        daemons = {d: self.rss.get(d, 0) for d in self.max["daemons"]}
        if daemons:
            worst = max(daemons, key=daemons.get)
            over = [d for d, v in daemons.items() if v > 64]
            self.w(f"  every daemon's peak RSS <= 64 MiB: largest {worst} {daemons[worst]:.1f} MiB -> "
                   f"{'met' if not over else 'MISSED (' + ', '.join(over) + ')'}")


def cmd_report(args):
    res = pathlib.Path(args.results)
    report = Report(res)
    if report.max is None:
        return fail(f"no {res / 'max.json'}")
    text = report.text()
    (res / "report.txt").write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return plot(res, report.runs)


def plot(res, runs):
    """latency.png (CDF and tail of both latencies per run) and
    throughput.png (deliveries per second per run), with gnuplot."""
    setting = [f"dir='{res}'", f"n={len(runs)}"]
    for i, label in enumerate(runs, 1):
        setting += [f"l{i}='{label}'", f"t{i}='{run_title(label, runs[label])}'"]
    proc = subprocess.run(["gnuplot", "-e", "; ".join(setting), str(HERE / "plots.gp")],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return fail(f"gnuplot failed: {proc.stderr.strip()[:500]}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command_name", required=True)

    p = sub.add_parser("prepare-fakes", help="reset the stand-ins; WeChat publishes at the first poll")
    p.set_defaults(fn=cmd_prepare_fakes)

    p = sub.add_parser("run", help="one load and its measurement")
    p.add_argument("--label", required=True)
    p.add_argument("--mode", choices=("backlog", "open"), required=True)
    p.add_argument("--requests", type=int, default=5000, help="backlog: requests posted")
    p.add_argument("--rate", type=float, default=0.0, help="open: requests per second")
    p.add_argument("--seconds", type=float, default=60.0, help="open: how long")
    p.add_argument("--workers", type=int, default=12, help="open: the load's threads")
    p.add_argument("--results", required=True)
    p.add_argument("--stall-seconds", type=float, default=90.0,
                   help="fail when no delivery was made for this long")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("raw-latency", help="parse EndToEndLatency's output")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_raw_latency)

    p = sub.add_parser("report", help="the table and the plots")
    p.add_argument("--results", required=True)
    p.set_defaults(fn=cmd_report)

    args = parser.parse_args(argv)
    if args.command_name == "run" and args.mode == "open" and args.rate <= 0:
        parser.error("--mode open needs --rate")
    try:
        return args.fn(args)
    except Exception as e:  # noqa: BLE001 - one clear line for run.sh, whatever failed
        return fail(f"{args.command_name}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
