"""The fault harness: a paced load of releases through zwgk-producer, faults
injected while it runs, and afterwards the invariants that must hold whatever
broke (docs/reliability.md).

Used by tests/faults/run.py (`make test-faults`, a 3-node cluster and every
fault) and by tests/e2e/test_faults.py (the subset inside `make test`). It
needs only a running local stack (deploy/local/stack) and its `stack env`.

The load is a set of releases across catalog items, channels, revisions and
withdrawals (MIX), posted at a fixed rate (open loop: a request is sent at its
scheduled time whether or not the earlier ones were answered). A release's
revisions go out in order, each after the 202 of the one before. Every answer
is recorded; a 202 is a promise the checks hold zwgk to:

- complete: every (release_id, revision) that got a 202 reached every channel
  of its item (withdrawn where it was a withdrawal);
- exactly once: one committed receipt per (release_id, revision, channel), one
  article per revision at the WeChat stand-in, one alert per identifier at the
  broadcast stand-in and no second, different alert under one identifier;
- in order: per release and channel, receipts and deliveries at the stand-ins
  follow the revisions;
- the DLQ holds exactly the poison injected, nothing else;
- no daemon ended unless the harness killed it.
"""

import collections
import concurrent.futures
import hashlib
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import threading
import time
import uuid

import requests
from confluent_kafka import OFFSET_END, Consumer, KafkaError, Producer, TopicPartition

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack"

DAEMONS = ("zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal", "zwgk-bulletin", "zwgk-wechat",
           "zwgk-broadcast")
CHANNELS = ("portal", "wechat", "broadcast", "bulletin")
INPUT_TOPICS = ("zwgk.releases", "zwgk.tagged", "zwgk.channel.portal", "zwgk.channel.wechat",
                "zwgk.channel.broadcast", "zwgk.channel.bulletin")

# (catalog item, department that is one of its 公开主体, region, automated
# channels, weight). WeChat articles go out one at a time, each a few round
# trips and a publish poll, so they are a small share, as on a real account
# (which publishes a handful a day): about one release in fifty.
MIX = (
    ("czyjs-003", "xhaxq-czj", "370211", ("portal",), 42),
    ("shjz-004", "xhaxq-czj", "370211", ("portal",), 21),
    ("zdbc-001", "jzs-lgzz", "370281101201", ("portal", "bulletin"), 35),
    ("czyjs-001", "xhaxq-czj", "370211", ("portal", "wechat"), 1),
    ("sthj-004", "xhaxq-sthj", "370211", ("portal", "wechat", "broadcast"), 1),
)

TITLE_REVISION = re.compile(r"第(\d+)版")


def release_id(department, source_id):
    """CONTRACT §1: the first 16 bytes of SHA-256 over department "\\n" source_id."""
    return hashlib.sha256(f"{department}\n{source_id}".encode("utf-8")).hexdigest()[:32]


def now():
    return time.monotonic()


# --- the stack -----------------------------------------------------------------------


class Stack:
    """A running local stack, driven through deploy/local/stack. settings are
    the environment the stack script runs with (ZWGK_STACK_DIR and so on)."""

    def __init__(self, settings):
        self.settings = dict(settings)
        self.env = self._env()
        self.dir = pathlib.Path(self.env["ZWGK_STACK_DIR"])
        self.ingest_url = self.env["ZWGK_INGEST_URL"]
        self.brokers = self.env["ZWGK_KAFKA_BROKERS"]
        self.dsn = self.env["ZWGK_PG_DSN"]
        self.bin = pathlib.Path(self.env["ZWGK_BIN_DIR"])
        self.config = self.env["ZWGK_CONFIG"]
        self.wechat = self.env.get("ZWGK_FAKE_WECHAT_URL")
        self.broadcast = self.env.get("ZWGK_FAKE_BROADCAST_URL")

    def run(self, *args, timeout=300, check=True):
        env = dict(os.environ)
        env.update(self.settings)
        proc = subprocess.run([str(STACK_SCRIPT), *args], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"stack {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    def _env(self):
        out = self.run("env", timeout=60).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def admin_url(self, daemon):
        return self.env[f"ZWGK_{daemon.removeprefix('zwgk-').upper()}_ADMIN_URL"]

    def pid(self, daemon):
        path = self.dir / "run" / f"{daemon}.pid"
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            return None

    def alive(self, daemon):
        pid = self.pid(daemon)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def sql(self, query):
        """Rows of one query, as lists of strings (psql, tab-separated)."""
        proc = subprocess.run(["psql", self.dsn, "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1"], input=query,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"psql: {proc.stderr}")
        return [line.split("\t") for line in proc.stdout.splitlines()]

    def token(self, department):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZWGK_")}
        proc = subprocess.run([str(self.bin / "zwgkctl"), "--config", self.config, "--json", "department",
                               "token", department], env=env, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"zwgkctl department token {department}: {proc.stderr}")
        return json.loads(proc.stdout)["token"]


# --- Kafka reading ---------------------------------------------------------------------


def consumer(brokers, **extra):
    conf = {"bootstrap.servers": brokers, "group.id": f"zwgk-faults-{uuid.uuid4().hex}",
            "enable.auto.commit": False, "isolation.level": "read_committed",
            # A node down is the point of some faults: no log line per refused connection.
            "log_level": 0}
    conf.update(extra)
    return Consumer(conf)


def end_offsets(brokers, topics, timeout=20.0):
    """{(topic, partition): high watermark} of the topics."""
    c = consumer(brokers)
    try:
        marks = {}
        for topic in topics:
            meta = c.list_topics(topic, timeout=timeout).topics[topic]
            for p in meta.partitions:
                marks[(topic, p)] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
        return marks
    finally:
        c.close()


def read_from(brokers, topic, start, timeout=120.0):
    """Every committed record of topic from the offsets in start ({(topic, p):
    offset}) to the partitions' current end, as (partition, offset, key,
    value-bytes) in partition order."""
    ends = end_offsets(brokers, [topic])
    c = consumer(brokers, **{"enable.partition.eof": True})
    records = []
    try:
        todo = {p for (t, p), end in ends.items() if end > start.get((t, p), 0)}
        if not todo:
            return records
        c.assign([TopicPartition(topic, p, start.get((topic, p), 0)) for p in todo])
        deadline = now() + timeout
        while todo and now() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    todo.discard(msg.partition())
                    continue
                raise RuntimeError(f"reading {topic}: {msg.error()}")
            key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
            records.append((msg.partition(), msg.offset(), key, msg.value()))
            if msg.offset() + 1 >= ends[(topic, msg.partition())]:
                todo.discard(msg.partition())
        if todo:
            raise RuntimeError(f"reading {topic}: partitions {sorted(todo)} not read to their end in {timeout} s")
    finally:
        c.close()
    records.sort(key=lambda r: (r[0], r[1]))
    return records


# --- the load ----------------------------------------------------------------------------


class Release:
    """One release of the load and the revisions it is to go through."""

    __slots__ = ("index", "item", "department", "region", "channels", "source_id", "rid", "actions")

    def __init__(self, run, index, rng):
        self.index = index
        self.item, self.department, self.region, self.channels, _ = rng.choices(MIX, [m[4] for m in MIX])[0]
        self.source_id = f"ft-{run}-{index}"
        self.rid = release_id(self.department, self.source_id)
        roll = rng.random()
        # Half are published once, a third updated, the rest updated and withdrawn.
        if roll < 0.5:
            self.actions = ("publish",)
        elif roll < 0.83:
            self.actions = ("publish", "update")
        else:
            self.actions = ("publish", "update", "withdraw")

    def body(self, revision):
        action = self.actions[revision - 1]
        if action == "withdraw":
            return {"source_id": self.source_id, "revision": revision, "action": "withdraw",
                    "department": self.department, "region_code": self.region}
        return {
            "source_id": self.source_id,
            "revision": revision,
            "action": action,
            "department": self.department,
            "title": f"故障演练{self.index}第{revision}版",
            "summary": f"故障演练公告第{revision}版摘要。",
            "body": f"<p>第{revision}版正文，编号{self.index}。</p><p>" + "本公告用于检验系统在故障下的可靠性。" * 8
                    + "</p><table><tbody><tr><td>项目</td><td>金额</td></tr></tbody></table>",
            "doc_type": "notice",
            "catalog_code": self.item,
            "region_code": self.region,
            "formed_at": "2026-11-20T09:00:00+08:00",
            "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
        }


class Load:
    """Posts `total` requests (revisions) at `rate` per second from `workers`
    threads, each release's revisions in order. A request answered with
    anything but 202 is sent again after a short pause (a client's retry:
    nothing was accepted); connection errors count as status 0."""

    def __init__(self, stack, total, rate, workers=12, seed=None):
        self.stack = stack
        self.total = total
        self.rate = rate
        self.workers = workers
        self.run = uuid.uuid4().hex[:10]
        rng = random.Random(seed if seed is not None else self.run)
        self.releases = []
        n = 0
        while n < total:
            r = Release(self.run, len(self.releases), rng)
            if n + len(r.actions) > total:
                r.actions = r.actions[: total - n]
            self.releases.append(r)
            n += len(r.actions)
        self.tokens = {d: stack.token(d) for d in {r.department for r in self.releases}}
        self.accepted = {}          # (rid, revision) -> monotonic time of the 202
        self.statuses = collections.Counter()
        self.answers = []           # (sent at, answered at, status), every request
        self.sent = 0               # requests given a slot
        self.lock = threading.Lock()
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.thread = None
        self.started = None
        self.error = None

    @property
    def accepted_count(self):
        return len(self.accepted)

    def start(self):
        self.started = now()
        self.thread = threading.Thread(target=self._main, name="load", daemon=True)
        self.thread.start()

    def join(self, timeout=None):
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _slot(self):
        """Waits for the next send slot of the schedule; False once stopped."""
        with self.lock:
            k = self.sent
            self.sent += 1
        due = self.started + k / self.rate
        while not self.stop.is_set():
            delay = due - now()
            if delay <= 0:
                return True
            self.stop.wait(min(delay, 0.5))
        return False

    def _post(self, session, r, revision):
        url = f"{self.stack.ingest_url}/v1/releases"
        data = json.dumps(r.body(revision), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.tokens[r.department]}"}
        first = True
        while not self.stop.is_set():
            if not first:
                self.stop.wait(0.2)
            first = False
            sent = now()
            try:
                status = session.post(url, data=data, headers=headers, timeout=30).status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                self.statuses[status] += 1
                self.answers.append((sent, now(), status))
            if status == 202:
                with self.lock:
                    self.accepted[(r.rid, revision)] = now()
                return True
            if status in (400, 401, 403, 404, 409, 413, 415, 422):
                raise RuntimeError(f"release {r.source_id} revision {revision} refused with {status}")
        return False

    def _worker(self, releases):
        session = requests.Session()
        for r in releases:
            for revision in range(1, len(r.actions) + 1):
                if not self._slot() or not self._post(session, r, revision):
                    return

    def _main(self):
        shards = [self.releases[i::self.workers] for i in range(self.workers)]
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._worker, s) for s in shards]
            for f in futures:
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001 - handed to the harness
                    self.error = e
                    self.stop.set()

    def expected(self):
        """{(rid, revision, channel): final delivery status} for every 202."""
        out = {}
        by_rid = {r.rid: r for r in self.releases}
        for (rid, revision) in self.accepted:
            r = by_rid[rid]
            status = "withdrawn" if r.actions[revision - 1] == "withdraw" else "delivered"
            for channel in r.channels:
                out[(rid, revision, channel)] = status
        return out


# --- progress ------------------------------------------------------------------------


class Progress:
    """Samples, every interval, how far each stage got: 202s, records on the
    stage output topics, and deliveries per channel of this run. A fault's
    recovery is the time until the stage it hit moves again."""

    def __init__(self, stack, load, interval=0.5):
        self.stack, self.load, self.interval = stack, load, interval
        self.samples = []           # (t, {metric: value})
        self.counters, self.totals = {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name="progress", daemon=True)
        self.c = None

    def start(self):
        self.c = consumer(self.stack.brokers)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.c.close()

    def _topic_total(self, topic, parts):
        total = 0
        for p in parts:
            try:
                total += self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=2.0)[1]
            except Exception:  # a broker down: this sample has no value for it
                return None
        return total

    def _main(self):
        topics = ("zwgk.releases", "zwgk.tagged", "zwgk.channel.portal", "zwgk.receipts", "zwgk.dlq")
        parts = {}
        while not self.stop.is_set():
            t = now()
            values = {"accepted": self.load.accepted_count}
            for topic in topics:
                if topic not in parts:
                    try:
                        parts[topic] = list(self.c.list_topics(topic, timeout=2.0).topics[topic].partitions)
                    except Exception:
                        continue
                v = self._topic_total(topic, parts[topic])
                if v is not None:
                    values[topic] = v
            for channel in CHANNELS:
                done = self._delivered_counter(channel)
                if done is not None:
                    values[f"delivered.{channel}"] = done
            self.samples.append((t, values))
            self.stop.wait(max(0.0, self.interval - (now() - t)))

    _COUNTER = re.compile(r'^zwgk_deliveries_total\{[^}]*outcome="(delivered|withdrawn)"[^}]*\} (\d+)', re.M)

    def _delivered_counter(self, channel):
        """Deliveries the channel's adapter made since the run started, from
        its /metrics (a restarted adapter's counter starts again at 0: each
        sample adds what the counter grew by, or its value after a reset)."""
        try:
            text = requests.get(f"{self.stack.admin_url('zwgk-' + channel)}/metrics", timeout=2).text
        except requests.RequestException:
            return None
        value = sum(int(m.group(2)) for m in self._COUNTER.finditer(text))
        last = self.counters.get(channel)
        self.counters[channel] = value
        if last is not None:
            self.totals[channel] = self.totals.get(channel, 0) + (value - last if value >= last else value)
        return self.totals.get(channel, 0)

    def value(self, metric, at):
        """The metric's last sampled value at or before `at`, or None."""
        best = None
        for t, values in self.samples:
            if t > at:
                break
            if metric in values:
                best = values[metric]
        return best

    def reached_after(self, metric, since, amount):
        """Seconds from `since` until the metric is `amount` above its last
        value sampled before `since`, or None if it has not got there."""
        base = None
        for t, values in self.samples:
            if metric not in values:
                continue
            if t < since:
                base = values[metric]
            elif base is not None and values[metric] >= base + amount:
                return t - since
        return None

    def moved_after(self, metric, since):
        """Seconds from `since` until the metric first exceeds the value it
        had one and a half sampling intervals after `since` (a sample taken
        just after may still show work committed just before), or None if it
        has not moved since."""
        settle = since + 1.5 * self.interval
        base = None
        for t, values in self.samples:
            if metric not in values:
                continue
            if t < settle:
                continue
            if base is None:
                base = values[metric]
            elif values[metric] > base:
                return t - since
        return None


# --- poison ----------------------------------------------------------------------------


def poison_records(rid_prefix):
    """The poison written to an input topic: (kind, key, value bytes)."""
    good = {"schema": "zwgk.release.v1", "release_id": rid_prefix + "0" * (32 - len(rid_prefix)),
            "revision": 1, "action": "publish"}
    text = json.dumps(good)
    return [
        ("bad_json", good["release_id"], text[: len(text) // 2].encode()),
        ("oversized", good["release_id"], json.dumps({"schema": "zwgk.release.v1", "junk": "x" * 990_000}).encode()),
        # Twice as large once escaped inside a dead letter's "original".
        ("oversized_escaped", good["release_id"],
         json.dumps({"schema": "zwgk.release.v1", "junk": '"' * 499_000}).encode()),
        ("truncated_utf8", good["release_id"], ('{"schema": "zwgk.release.v1", "title": "公开').encode()[:-1]),
        ("invalid_utf8", good["release_id"], b'{"schema": "zwgk.release.v1", "release_id": "\xff\xfe"}'),
    ]


def unknown_code_envelope(department="xhaxq-czj"):
    """A valid release envelope naming a catalog item that does not exist:
    poison for a careless classifier, a review item for a correct one."""
    source_id = f"ft-poison-{uuid.uuid4().hex}"
    rid = release_id(department, source_id)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return rid, {
        "schema": "zwgk.release.v1", "release_id": rid, "revision": 1, "action": "publish",
        "ingest": {"received_at": stamp, "department": department, "producer": "faults",
                   "trace_id": uuid.uuid4().hex},
        "release": {"source_id": source_id, "revision": 1, "action": "publish", "department": department,
                    "title": "未知事项编码测试", "body": "<p>未知事项编码。</p>", "doc_type": "notice",
                    "catalog_code": "zzzz-999", "region_code": "370211",
                    "formed_at": "2026-11-20T09:00:00+08:00",
                    "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"}},
    }


class Poison:
    """Writes poison straight to every input topic and remembers where each
    record landed, so the DLQ can be checked entry by entry."""

    def __init__(self, stack):
        self.stack = stack
        self.injected = {}          # "topic:partition:offset" -> kind
        self.review = set()         # release ids of unknown-code envelopes on zwgk.releases
        self.producer = Producer({"bootstrap.servers": stack.brokers, "acks": "all", "enable.idempotence": True,
                                  "message.max.bytes": 1_048_576, "log_level": 0})

    def inject(self):
        """Writes one set of poison; returns how many of its records belong
        on the DLQ (all but the unknown-code envelope, which goes to review)."""
        errors = []
        before = len(self.injected)

        def report(topic, kind):
            def cb(err, msg):
                if err is not None:
                    errors.append(f"{topic} {kind}: {err}")
                else:
                    self.injected[f"{msg.topic()}:{msg.partition()}:{msg.offset()}"] = kind
            return cb

        for topic in INPUT_TOPICS:
            for kind, key, value in poison_records(uuid.uuid4().hex[:8]):
                self.producer.produce(topic, key=key, value=value, on_delivery=report(topic, kind),
                                      headers=[("zwgk-schema", b"zwgk.release.v1")])
        rid, env = unknown_code_envelope()
        self.review.add(rid)
        self.producer.produce("zwgk.releases", key=rid, value=json.dumps(env, ensure_ascii=False).encode(),
                              headers=[("zwgk-schema", b"zwgk.release.v1")])
        left = self.producer.flush(60)
        if left or errors:
            raise RuntimeError(f"poison not written: {left} left, {errors}")
        return len(self.injected) - before


# --- faults ------------------------------------------------------------------------------


class Fault:
    """One kind of fault. inject() breaks something and returns when it is
    broken; heal() undoes it (restarts what was killed, clears the stand-in)
    and returns when the part is back. metric names the Progress metric of
    the stage the fault hits. hold is how long the fault lasts before heal;
    recovery is measured from measure_from ("inject" or "heal")."""

    name = "fault"
    metric = "zwgk.receipts"
    hold = 0.0
    measure_from = "inject"     # or "heal": recovery counts from the end of the fault

    def inject(self, h):
        raise NotImplementedError

    def heal(self, h):
        pass


class KillDaemon(Fault):
    METRICS = {"zwgk-producer": "accepted", "zwgk-classifier": "zwgk.tagged",
               "zwgk-fanout": "zwgk.channel.portal", "zwgk-portal": "delivered.portal",
               "zwgk-bulletin": "delivered.bulletin", "zwgk-wechat": "delivered.wechat",
               "zwgk-broadcast": "delivered.broadcast"}

    def __init__(self, daemon):
        self.daemon = daemon
        self.name = f"SIGKILL {daemon}"
        self.metric = self.METRICS[daemon]

    def inject(self, h):
        pid = h.stack.pid(self.daemon)
        os.kill(pid, signal.SIGKILL)
        deadline = now() + 30
        while h.stack.alive(self.daemon) and now() < deadline:
            time.sleep(0.05)
        h.killed[self.daemon] += 1

    def heal(self, h):
        h.stack.run("start-daemon", self.daemon, timeout=180)


class KillBroker(Fault):
    """SIGKILL of one Kafka node: the leader of zwgk.releases partition 0, or
    the active controller. It stays down for `hold` seconds."""

    def __init__(self, which, hold=10.0):
        self.which = which
        self.name = "kill partition leader" if which == "leader" else "kill active controller"
        self.metric = "zwgk.receipts"
        self.hold = hold
        self.node = None

    def inject(self, h):
        args = ("kafka-leader", "zwgk.releases", "0") if self.which == "leader" else ("kafka-controller",)
        self.node = h.stack.run(*args, timeout=60).stdout.strip().split()[-1]
        h.stack.run("stop-kafka", "--kill", "--node", self.node, timeout=60)

    def heal(self, h):
        h.stack.run("start-kafka", "--node", self.node, timeout=300)


class TwoBrokersDown(Fault):
    """Two of three nodes down: with min.insync.replicas=2 nothing can be
    written, so ingest must refuse (503), never accept and lose."""

    name = "two brokers down"
    metric = "accepted"
    measure_from = "heal"

    def __init__(self, hold=15.0):
        self.hold = hold
        self.nodes = []

    def inject(self, h):
        controller = h.stack.run("kafka-controller", timeout=60).stdout.strip().split()[-1]
        self.nodes = [n for n in ("1", "2", "3") if n != controller][:2]
        for node in self.nodes:
            h.stack.run("stop-kafka", "--kill", "--node", node, timeout=60)
        self.down_at = now()

    def heal(self, h):
        self.up_at = now()
        h.during_outage.append((self.down_at, self.up_at))
        for node in self.nodes:
            h.stack.run("start-kafka", "--node", node, timeout=300)


class PostgresRestart(Fault):
    name = "pg_ctl restart -m immediate"
    metric = "zwgk.receipts"

    def inject(self, h):
        h.stack.run("restart-postgres", "--immediate", timeout=180)


class Standin(Fault):
    """The WeChat or broadcast stand-in misbehaving for `hold` seconds:
    5xx answers, answers later than the adapter waits, or quota refusals."""

    def __init__(self, fake, mode, hold=5.0):
        self.fake, self.mode, self.hold = fake, mode, hold
        self.name = f"{fake} {mode}"
        self.metric = f"delivered.{fake}"
        self.measure_from = "heal"

    def _post(self, h, path, body):
        base = h.stack.wechat if self.fake == "wechat" else h.stack.broadcast
        r = requests.post(f"{base}/_fake/{path}", json=body, timeout=10)
        r.raise_for_status()

    def inject(self, h):
        if self.fake == "wechat":
            if self.mode == "5xx":
                self._post(h, "http_error", {"endpoint": "draft/add", "status": 502})
                self._post(h, "http_error", {"endpoint": "freepublish/get", "status": 503})
            elif self.mode == "timeout":
                # The publish is done, but its answer comes after the adapter gave up.
                self._post(h, "delay", {"endpoint": "freepublish/submit", "seconds": 4, "phase": "after"})
            else:
                self._post(h, "fail", {"endpoint": "freepublish/submit", "errcode": 45009})
        else:
            if self.mode == "5xx":
                self._post(h, "fail", {"status": 503, "times": 1_000_000})
            elif self.mode == "timeout":
                self._post(h, "delay", {"seconds": 4, "phase": "after", "times": 1_000_000})
            else:
                self._post(h, "fail", {"status": 429, "retry_after": 1, "times": 1_000_000})

    def heal(self, h):
        if self.fake == "wechat":
            self._post(h, "clear", {})
        elif self.mode == "timeout":
            self._post(h, "delay", {"seconds": 0, "times": 0})
        else:
            self._post(h, "fail", {"status": 0, "times": 0})


class InjectPoison(Fault):
    """Recovery: until the DLQ holds every dead letter of this injection (the
    stages may dead-letter it before a sample after the injection is taken, so
    \"moved after\" would wait for the next injection)."""
    name = "poison on every input topic"
    metric = "zwgk.dlq"

    def __init__(self):
        self.expected = []  # per injection, the records bound for the DLQ

    def inject(self, h):
        self.expected.append(h.poison.inject())

    def recovery(self, progress, since, index):
        return progress.reached_after(self.metric, since, self.expected[index])


def cluster_faults():
    """Every fault of `make test-faults`, in the order run."""
    return ([KillDaemon(d) for d in DAEMONS]
            + [KillBroker("leader"), KillBroker("controller"), PostgresRestart()]
            + [Standin(f, m) for f in ("wechat", "broadcast") for m in ("5xx", "timeout", "quota")]
            + [InjectPoison(), TwoBrokersDown()])


# --- a run ----------------------------------------------------------------------------------


class Harness:
    """One load with faults injected at given fractions of it, the drain, and
    the checks. faults is a list of (fraction, Fault)."""

    def __init__(self, stack, total, rate, faults, drain_timeout=1800, log=print, shared=False):
        self.stack = stack
        # A shared stack (the one of `make test`) may hold other tests' dead
        # letters: then only this run's releases and poison are looked at.
        self.shared = shared
        self.total, self.rate = total, rate
        self.faults = sorted(faults, key=lambda f: f[0])
        self.drain_timeout = drain_timeout
        self.log = log
        self.killed = collections.Counter()
        self.during_outage = []
        self.poison = Poison(stack)
        self.events = []            # dicts: fault, at (fraction), injected, healed, recovery, ready
        self.load = None
        self.progress = None

    def _pids(self):
        return {d: self.stack.pid(d) for d in DAEMONS}

    def run(self):
        self.start_offsets = end_offsets(self.stack.brokers, ["zwgk.receipts", "zwgk.dlq", "zwgk.review"])
        self.start_exits = {d: self._exit_mtime(d) for d in DAEMONS}
        self.load = Load(self.stack, self.total, self.rate)
        self.progress = Progress(self.stack, self.load)
        self.progress.start()
        self.load.start()
        self.log(f"load {self.load.run}: {self.total} requests over {len(self.load.releases)} releases "
                 f"at {self.rate}/s")
        try:
            for fraction, fault in self.faults:
                target = int(self.total * fraction)
                while self.load.accepted_count < target and self.load.thread.is_alive():
                    time.sleep(0.05)
                event = {"fault": fault.name, "at": fraction, "injected": now(),
                         "accepted": self.load.accepted_count}
                fault.inject(self)
                if fault.hold:
                    time.sleep(fault.hold)  # the fault's duration, not a readiness wait
                event["healing"] = now()
                fault.heal(self)
                event["healed"] = now()
                self.events.append((fault, event))
                self.log(f"  {fault.name} at {int(fraction * 100)}% ({event['accepted']} accepted), "
                         f"healed after {event['healed'] - event['injected']:.1f} s")
            self.load.join()
            self.log(f"load done: {self.load.accepted_count} accepted, answers {dict(self.load.statuses)}")
            self.drained_in = self._drain()
        finally:
            self.load.stop.set()
            self.progress.close()
        strikes = collections.Counter()
        for fault, event in self.events:
            since = event["injected"] if fault.measure_from == "inject" else event["healing"]
            if hasattr(fault, "recovery"):
                event["recovery"] = fault.recovery(self.progress, since, strikes[id(fault)])
            else:
                event["recovery"] = self.progress.moved_after(fault.metric, since)
            strikes[id(fault)] += 1
        if self.load.error:
            raise self.load.error
        return self.check()

    def _exit_mtime(self, daemon):
        path = self.stack.dir / "run" / f"{daemon}.exit"
        return path.stat().st_mtime if path.exists() else None

    def _delivered(self):
        """{(rid, revision, channel): status} of this run's deliveries."""
        ids = ",".join(r.rid for r in self.load.releases)
        rows = self.stack.sql(
            "SELECT release_id, revision, channel, status FROM deliveries "
            f"WHERE release_id = ANY (string_to_array('{ids}', ','))")
        return {(rid, int(rev), ch): st for rid, rev, ch, st in rows}

    def _drain(self):
        """Waits until every expected delivery is final, or no progress for a while."""
        expected = self.load.expected()
        start = now()
        last_count, last_change = -1, now()
        while True:
            got = self._delivered()
            done = sum(1 for k, st in expected.items() if got.get(k) == st)
            if done == len(expected):
                self.log(f"drained: {done} deliveries in {now() - start:.1f} s")
                return now() - start
            if done != last_count:
                last_count, last_change = done, now()
            if now() - last_change > 120 or now() - start > self.drain_timeout:
                self.log(f"drain stopped: {done} of {len(expected)} deliveries final")
                return None
            time.sleep(2.0)

    # --- checks ---

    def check(self):
        """Runs every invariant; returns a list of failures (empty when all hold)."""
        failures = []
        expected = self.load.expected()
        got = self._delivered()
        missing = [k for k, st in expected.items() if got.get(k) != st]
        if missing:
            failures.append(f"{len(missing)} of {len(expected)} deliveries not made, e.g. "
                            f"{[(k, got.get(k)) for k in missing[:5]]}")
        rids = {r.rid for r in self.load.releases}
        failures += self._check_receipts(expected, rids)
        if self.stack.wechat:
            failures += self._check_wechat(rids)
        if self.stack.broadcast:
            failures += self._check_broadcast(rids)
        failures += self._check_dlq(rids)
        failures += self._check_review()
        failures += self._check_daemons()
        failures += self._check_outages()
        return failures

    def _receipts(self, expected, rids, timeout=60.0):
        """This run's committed receipts, read again for up to timeout while
        some expected one is missing: a delivery is final in PostgreSQL just
        before the transaction with its receipt commits."""
        deadline = now() + timeout
        while True:
            records = [r for r in read_from(self.stack.brokers, "zwgk.receipts", self.start_offsets) if r[2] in rids]
            have = set()
            for _p, _o, key, value in records:
                receipt = json.loads(value).get("receipt") or {}
                have.add((key, receipt.get("revision"), receipt.get("channel")))
            if all(k in have for k in expected) or now() >= deadline:
                return records
            time.sleep(2.0)

    def _check_receipts(self, expected, rids):
        failures = []
        seen = collections.Counter()
        order = collections.defaultdict(list)
        for _p, _o, key, value in self._receipts(expected, rids):
            if key not in rids:
                continue
            receipt = json.loads(value).get("receipt") or {}
            if receipt.get("status") not in ("delivered", "withdrawn"):
                failures.append(f"receipt {key} {receipt.get('revision')} {receipt.get('channel')}: "
                                f"{receipt.get('status')} {receipt.get('error')}")
                continue
            k = (key, receipt["revision"], receipt["channel"])
            seen[k] += 1
            order[(key, receipt["channel"])].append(receipt["revision"])
        twice = [k for k, n in seen.items() if n > 1]
        if twice:
            failures.append(f"{len(twice)} deliveries with more than one receipt, e.g. {twice[:5]}")
        absent = [k for k in expected if k not in seen]
        if absent:
            failures.append(f"{len(absent)} deliveries without a receipt, e.g. {absent[:5]}")
        unordered = [k for k, revs in order.items() if revs != sorted(revs)]
        if unordered:
            failures.append(f"{len(unordered)} release/channel receipts out of revision order, e.g. "
                            f"{[(k, order[k]) for k in unordered[:3]]}")
        return failures[:12]

    def _check_wechat(self, rids):
        articles = collections.defaultdict(list)
        # The stand-in lists its articles in the order they were published.
        for n, a in enumerate(requests.get(f"{self.stack.wechat}/_fake/state", timeout=60).json()["articles"]):
            rid = next((r for r in re.findall(r"[0-9a-f]{32}", a.get("content_source_url", "")) if r in rids), None)
            if rid:
                m = TITLE_REVISION.search(a["title"])
                articles[rid].append((n, int(m.group(1)) if m else None, a["status"]))
        failures = []
        expected = {(rid, rev) for (rid, rev, ch), st in self.load.expected().items()
                    if ch == "wechat" and st == "delivered"}
        by_rid = {r.rid: r for r in self.load.releases}
        for rid, revs in articles.items():
            counts = collections.Counter(rev for _a, rev, _s in revs)
            twice = [rev for rev, n in counts.items() if n > 1]
            if twice:
                failures.append(f"wechat: release {rid} revision(s) {twice} published more than once")
            in_order = [rev for _n, rev, _s in sorted(revs)]
            if in_order != sorted(in_order):
                failures.append(f"wechat: release {rid} published out of order: {in_order}")
            r = by_rid[rid]
            last = max(rev for (x, rev) in self.load.accepted if x == rid)
            live = [rev for _a, rev, s in revs if s == "published"]
            want = [] if r.actions[last - 1] == "withdraw" else [last]
            if sorted(live) != want:
                failures.append(f"wechat: release {rid} shows revisions {live} published, not {want}")
        missing = [k for k in expected if k[1] not in [rev for _a, rev, _s in articles.get(k[0], [])]]
        if missing:
            failures.append(f"wechat: {len(missing)} revisions never published, e.g. {missing[:3]}")
        return failures[:12]

    def _check_broadcast(self, rids):
        state = requests.get(f"{self.stack.broadcast}/_fake/state", timeout=60).json()
        failures = []
        accepted = collections.Counter()
        digests = collections.defaultdict(set)
        for post in state["posts"]:
            ident = post["identifier"] or ""
            if ident.split(".")[0] not in rids:
                continue
            if post["outcome"] in ("accepted", "duplicate", "conflict"):
                digests[ident].add(post["sha256"])
            if post["outcome"] == "accepted":
                accepted[ident] += 1
        expected = {f"{rid}.{rev}" for (rid, rev, ch) in self.load.expected() if ch == "broadcast"}
        conflicts = [i for i, d in digests.items() if len(d) > 1]
        if conflicts:
            failures.append(f"broadcast: {len(conflicts)} identifiers with two different alerts, e.g. {conflicts[:3]}")
        missing = sorted(expected - set(accepted))
        if missing:
            failures.append(f"broadcast: {len(missing)} alerts never accepted, e.g. {missing[:3]}")
        extra = sorted(set(accepted) - expected)
        if extra:
            failures.append(f"broadcast: {len(extra)} alerts for revisions that had no 202, e.g. {extra[:3]}")
        return failures

    def _check_dlq(self, rids):
        failures = []
        found = {}
        for p, o, key, value in read_from(self.stack.brokers, "zwgk.dlq", self.start_offsets):
            try:
                entry = json.loads(value)
            except ValueError:
                failures.append(f"dlq {p}:{o}: not JSON")
                continue
            if self.shared and entry.get("source") not in self.poison.injected and entry.get("release_id") not in rids:
                continue
            found[entry.get("source")] = entry.get("error", {})
        injected = self.poison.injected
        unexpected = {s: e for s, e in found.items() if s not in injected}
        absent = sorted(set(injected) - set(found))
        if unexpected:
            failures.append(f"dlq: {len(unexpected)} entries not injected, e.g. {list(unexpected.items())[:3]}")
        if absent:
            failures.append(f"dlq: {len(absent)} injected poison records not dead-lettered, e.g. "
                            f"{[(s, injected[s]) for s in absent[:4]]}")
        wrong = [(s, e.get("kind")) for s, e in found.items() if s in injected and e.get("kind") != "poison"]
        if wrong:
            failures.append(f"dlq: poison dead-lettered with another kind: {wrong[:3]}")
        self.dlq_found = found
        return failures

    def _check_review(self):
        """Nothing of the load is held for review; each unknown-code envelope is."""
        failures = []
        held = self.stack.sql(
            "SELECT q.release_id FROM review_queue q JOIN releases r USING (release_id) "
            f"WHERE r.source_id LIKE 'ft-{self.load.run}-%'")
        if held:
            failures.append(f"{len(held)} releases of the load held for review, e.g. {held[:3]}")
        if self.poison.review:
            ids = ",".join(f"'{rid}'" for rid in self.poison.review)
            rows = self.stack.sql(f"SELECT release_id FROM review_queue WHERE release_id IN ({ids})")
            if len(rows) != len(self.poison.review):
                failures.append(f"unknown-code envelopes: {len(rows)} of {len(self.poison.review)} held for review")
        return failures

    def _check_daemons(self):
        failures = []
        for d in DAEMONS:
            if not self.stack.alive(d):
                failures.append(f"{d} is not running at the end")
            mtime = self._exit_mtime(d)
            exits = mtime is not None and mtime != self.start_exits[d]
            if exits and not self.killed[d]:
                failures.append(f"{d} ended during the run without being killed "
                                f"(exit {(self.stack.dir / 'run' / f'{d}.exit').read_text().strip()})")
            log = self.stack.dir / "log" / f"{d}.log"
            if log.exists():
                text = log.read_text(errors="replace")
                if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", text):
                    failures.append(f"{d}: sanitizer report in {log}")
        return failures

    def _check_outages(self):
        """While two brokers were down, no request sent then got a 202; what
        the requests got instead is kept in outage_answers."""
        failures = []
        self.outage_answers = collections.Counter() if self.during_outage else None
        self.outage_slowest = None
        for down, up in self.during_outage:
            settle = down + 2.0  # requests already acknowledged when the second node died
            during = [a for a in self.load.answers if settle <= a[0] <= up]
            accepted = [a for a in during if a[1] <= up and a[2] == 202]
            if accepted:
                failures.append(f"two brokers down: {len(accepted)} requests accepted (202) during the outage")
            self.outage_answers.update(a[2] for a in during)
            slow = [a[1] - a[0] for a in during if a[2] == 503]
            if slow:
                self.outage_slowest = max(slow + [self.outage_slowest or 0])
        return failures

    def table(self):
        """Rows: fault, the share of the load accepted when it struck (in %;
        a fault that takes long to heal can delay the next strike), seconds
        until healed, recovery seconds (None: the stage did not need to move)."""
        rows = []
        for fault, event in self.events:
            rows.append((fault.name, round(100 * event["accepted"] / self.total), event["healed"] - event["injected"],
                         event.get("recovery")))
        return rows
