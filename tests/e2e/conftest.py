"""Fixtures of the end-to-end tests: a running local stack (deploy/local/stack
up) and helpers that use it the way a department system, an operator and a
downstream Kafka consumer do.

The stack is started once per session and left running: whoever started pytest
stops it (`make test` runs `deploy/local/stack down` afterwards). Its directory
and ports come from ZWGK_STACK_DIR and ZWGK_STACK_PORT_BASE, by default var/test
and 29000, so the tests never touch a demo stack.
"""

import configparser
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The fault harness is pytest-free and shared with make test-faults; helpers
# both need live there.
sys.path.insert(0, str(ROOT / "tests" / "faults"))
from harness import release_id  # noqa: E402,F401
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack"
SCHEMAS = ROOT / "schemas"
CAP_XSD = SCHEMAS / "cap" / "CAP-v1.2.xsd"
CAP = "urn:oasis:names:tc:emergency:cap:1.2"

STACK_SETTINGS = {
    "ZWGK_STACK_DIR": os.environ.get("ZWGK_STACK_DIR") or str(ROOT / "var" / "test"),
    "ZWGK_STACK_PORT_BASE": os.environ.get("ZWGK_STACK_PORT_BASE") or "29000",
    # Public lists with personal data are held for review (test_privacy); other
    # doc_types are masked, the default.
    "ZWGK_CLASSIFIER_PRIVACY_HOLD": "public_list",
}

# Variables of the stack script and of `stack env`: not config keys, so they are
# kept out of the environment of zwgkctl.
NOT_CONFIG = (
    "ZWGK_STACK_DIR", "ZWGK_STACK_PORT_BASE", "ZWGK_STACK_NO_DAEMONS", "ZWGK_BUILD_DIR",
    "ZWGK_CACHE_DIR", "ZWGK_CONFIG", "ZWGK_BIN_DIR", "ZWGK_INGEST_URL", "ZWGK_PORTAL_URL",
    "ZWGK_PRODUCER_ADMIN_URL", "ZWGK_CLASSIFIER_ADMIN_URL", "ZWGK_FANOUT_ADMIN_URL",
    "ZWGK_PORTAL_ADMIN_URL", "ZWGK_BULLETIN_ADMIN_URL", "ZWGK_WECHAT_ADMIN_URL", "ZWGK_BROADCAST_ADMIN_URL",
    "ZWGK_BULLETIN_URL", "ZWGK_FAKE_WECHAT_URL", "ZWGK_FAKE_BROADCAST_URL",
)

DAEMONS = ("zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal", "zwgk-bulletin", "zwgk-wechat",
           "zwgk-broadcast")


def override(defaults, fields):
    """defaults updated with fields; a field given as None is left out."""
    merged = {**defaults, **fields}
    return {k: v for k, v in merged.items() if v is not None}


def run_stack(*args, timeout=900, settings=None):
    """Runs deploy/local/stack on the test stack (STACK_SETTINGS), with
    further ZWGK_<SECTION>_<KEY> settings for this run only."""
    env = dict(os.environ)
    env.update(STACK_SETTINGS)
    env.update(settings or {})
    return subprocess.run(
        [str(STACK_SCRIPT), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def describe(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


class Stack:
    """A running local stack: the values of `stack env` and its controls."""

    def __init__(self, env):
        self.env = env
        self.ingest_url = env["ZWGK_INGEST_URL"]
        self.portal_url = env["ZWGK_PORTAL_URL"]
        self.brokers = env["ZWGK_KAFKA_BROKERS"]
        self.config = env["ZWGK_CONFIG"]
        self.bin_dir = pathlib.Path(env["ZWGK_BIN_DIR"])
        self.stack_dir = pathlib.Path(env["ZWGK_STACK_DIR"])

    def admin_url(self, daemon):
        short = daemon.removeprefix("zwgk-").upper()
        return self.env[f"ZWGK_{short}_ADMIN_URL"]

    def run(self, *args, timeout=300):
        """Runs another stack command (e.g. stop-kafka, start-kafka)."""
        return run_stack(*args, timeout=timeout)

    def stop_daemon(self, daemon):
        return run_stack("stop-daemon", daemon, timeout=120)

    def start_daemon(self, daemon, settings=None):
        """stack start-daemon, with ZWGK_<SECTION>_<KEY> settings for this process only."""
        return run_stack("start-daemon", daemon, timeout=120, settings=settings)

    def exit_status(self, daemon):
        """The exit status the stack recorded when the daemon last ended, or None."""
        path = self.stack_dir / "run" / f"{daemon}.exit"
        return path.read_text().strip() if path.exists() else None

    def setting(self, key, default=None):
        """A value of the stack's config file (section.key), or default."""
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.config, encoding="utf-8")
        section, name = key.split(".", 1)
        return config.get(section, name, fallback=default)

    def ctl(self, *args, timeout=120):
        env = {k: v for k, v in os.environ.items() if k not in NOT_CONFIG}
        return subprocess.run(
            [str(self.bin_dir / "zwgkctl"), "--config", self.config, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def stack():
    up = run_stack("up")
    if up.returncode != 0:
        pytest.fail(f"deploy/local/stack up failed: {describe(up)}", pytrace=False)
    env_out = run_stack("env", timeout=60)
    if env_out.returncode != 0:
        pytest.fail(f"deploy/local/stack env failed: {describe(env_out)}", pytrace=False)
    env = dict(line.split("=", 1) for line in env_out.stdout.splitlines() if "=" in line)
    return Stack(env)


@pytest.fixture(scope="session")
def ctl(stack):
    """ctl(*args) runs zwgkctl --config <the stack's config> ARGS; returns the CompletedProcess."""
    return stack.ctl


@pytest.fixture(scope="session")
def token(stack):
    """token(department) issues a fresh token with `zwgkctl --json department token`."""

    def issue(department):
        proc = stack.ctl("--json", "department", "token", department)
        assert proc.returncode == 0, f"zwgkctl department token {department}: {describe(proc)}"
        answer = json.loads(proc.stdout)
        assert answer["department"] == department
        assert answer["token"]
        return answer["token"]

    return issue


@pytest.fixture(scope="session", name="release_id")
def release_id_fixture():
    return release_id


@pytest.fixture
def make_release():
    """make_release(**fields) returns a valid publish release of department demo
    (catalog item czyjs-001) with a source_id unique to this call."""

    def make(**fields):
        run = uuid.uuid4().hex
        release = {
            "source_id": f"e2e-{run}",
            "revision": 1,
            "action": "publish",
            "department": "demo",
            "title": f"端到端测试预算公开 {run[:8]}",
            "body": "<p>2025年部门收支预算总表。</p><table><tbody><tr><td>基本支出</td>"
            "<td>926.15万元</td></tr></tbody></table>",
            "summary": "端到端测试用的预算公开。",
            "doc_type": "budget",
            "catalog_code": "czyjs-001",
            "region_code": "370211",
            "formed_at": "2026-11-20T09:00:00+08:00",
            "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
        }
        return override(release, fields)

    return make


@pytest.fixture(scope="session")
def post_release(stack):
    """post_release(body, token) POSTs to /v1/releases; token None sends no
    Authorization; raw bytes replace the JSON encoding of body."""

    def post(body, token, *, content_type="application/json", raw=None):
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        return requests.post(f"{stack.ingest_url}/v1/releases", data=data, headers=headers, timeout=30)

    return post


def _decode(msg):
    raw = msg.value()
    try:
        value = json.loads(raw) if raw is not None else None
    except ValueError:
        value = raw
    headers = {}
    for name, data in msg.headers() or []:
        headers[name] = data.decode("utf-8", "replace") if data is not None else None
    key = msg.key()
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "value": value,
        "headers": headers,
        "timestamp": msg.timestamp()[1],  # milliseconds since the epoch
    }


def read_topic(brokers, topic, predicate, timeout, done):
    """Reads a topic from the beginning with a read_committed consumer of a
    fresh group and returns (matching messages, finished) once done(matched,
    all_at_end) says so or the deadline passes."""
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"zwgk-e2e-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    deadline = time.monotonic() + timeout
    try:
        metadata = consumer.list_topics(topic, timeout=min(timeout, 15))
        partitions = metadata.topics[topic].partitions
        assert partitions, f"topic {topic} has no partitions (does it exist?)"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end, matched = set(), []
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consuming {topic}: {msg.error()}")
                at_end.add(msg.partition())
            else:
                at_end.discard(msg.partition())
                decoded = _decode(msg)
                if predicate(decoded):
                    matched.append(decoded)
            if done(matched, len(at_end) == len(partitions)):
                return matched, True
        return matched, False
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def consume_until(stack):
    """consume_until(topic, predicate, timeout, count=1) returns the first
    `count` messages of the topic matching predicate, as dicts (topic,
    partition, offset, key, value decoded from JSON, headers); fails at the
    deadline."""

    def consume(topic, predicate, timeout=60, count=1):
        matched, finished = read_topic(
            stack.brokers, topic, predicate, timeout, lambda m, _end: len(m) >= count
        )
        if not finished:
            pytest.fail(f"{len(matched)} of {count} matching message(s) on {topic} after {timeout} s")
        return matched

    return consume


@pytest.fixture(scope="session")
def dump_topic(stack):
    """dump_topic(topic, predicate=None, timeout) returns every committed
    message on the topic up to its current end (optionally only those matching)."""

    def dump(topic, predicate=None, timeout=60):
        matched, finished = read_topic(
            stack.brokers, topic, predicate or (lambda _m: True), timeout, lambda _m, end: end
        )
        if not finished:
            pytest.fail(f"did not reach the end of {topic} within {timeout} s")
        return matched

    return dump


@pytest.fixture(scope="session")
def sql(stack):
    """sql(query, *params) runs one statement on the stack's PostgreSQL with
    psql (parameters bound as psql variables, quoted by psql) and returns its
    rows as lists of strings."""

    def run(query, *params):
        args = ["psql", stack.env["ZWGK_PG_DSN"], "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        for i, value in enumerate(params, 1):
            args += ["-v", f"p{i}={value}"]
        proc = subprocess.run(args, input=query, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"psql failed: {proc.stderr}"
        return [line.split("\t") for line in proc.stdout.splitlines()]

    return run


def wait_until(what, check, timeout=60, interval=0.25):
    """Polls check() until it returns a true value, which is returned; fails
    with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait_http():
    """wait_http(url, status=200, timeout=60, contains=None) polls GET url until
    it answers `status` (and its body contains `contains`); returns the response."""

    def wait(url, status=200, timeout=60, contains=None):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                response = requests.get(url, timeout=5)
                if "charset" not in response.headers.get("Content-Type", "").lower():
                    response.encoding = "utf-8"  # the portal's pages are UTF-8
                if response.status_code == status and (contains is None or contains in response.text):
                    return response
                last = f"status {response.status_code}"
                if contains is not None and response.status_code == status:
                    last += f", body without {contains!r}"
            except requests.RequestException as e:
                last = str(e)
            if time.monotonic() >= deadline:
                pytest.fail(f"GET {url}: wanted {status} within {timeout} s, last: {last}")
            time.sleep(0.25)

    return wait


@pytest.fixture(scope="session")
def validate_envelope():
    """validate_envelope(value) checks a message value against schemas/envelope.v1.json."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        if "$id" in contents:
            resources.append((contents["$id"], Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / "envelope.v1.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )

    def validate(value):
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        assert not errors, "envelope does not match envelope.v1.json:\n" + "\n".join(
            f"  /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )

    return validate


def assert_valid_cap(raw):
    """A CAP document is valid against schemas/cap/CAP-v1.2.xsd (xmllint)."""
    proc = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", str(CAP_XSD), "-"],
                          input=raw.encode("utf-8"), capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


# --- daemons ------------------------------------------------------------------


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_daemon(stack, daemon):
    """SIGKILLs the stack's daemon (pid from its pid file) and waits until the
    stack recorded its end, which must not be a clean exit."""
    pid = int((stack.stack_dir / "run" / f"{daemon}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_until(f"{daemon} gone", lambda: stack.exit_status(daemon) is not None, timeout=30, interval=0.1)
    assert stack.exit_status(daemon) != "0"


def start_daemon(stack, daemon, settings=None):
    """stack start-daemon, with ZWGK_<SECTION>_<KEY> settings for this process
    only; fails the test if it does not start."""
    started = stack.start_daemon(daemon, settings)
    assert started.returncode == 0, f"start-daemon {daemon}: {describe(started)}"


def restart_daemon(stack, daemon, settings=None):
    """stack stop-daemon, then start_daemon with these settings (none: the stack's own)."""
    stopped = stack.stop_daemon(daemon)
    assert stopped.returncode == 0, f"stop-daemon {daemon}: {describe(stopped)}"
    start_daemon(stack, daemon, settings)


# --- channel envelopes, straight to the adapters -------------------------------

# The tags of catalog item czyjs-001 (make_release's item, a WeChat article).
WECHAT_ITEM = {"catalog_code": "czyjs-001", "domain": "财政预决算", "item_l1": "财政预决算", "level": "county"}


def channel_envelope(channel, rid, revision, action, payload, *, item, region_code, content, public=None,
                     source_id=None, trace_id=None, received_at="2026-11-20T10:00:00.000+08:00",
                     classified_at="2026-11-20T10:00:01+08:00"):
    """A channel envelope of department demo's release rid for one channel, as
    the fan-out writes it (valid against envelope.v1.json). item: the tags of
    its catalog item (catalog_code, domain, item_l1, level); content: the
    release's fields beyond its identity (title, body, doc_type, ...), which
    a withdrawal leaves out, as it does formed_at and the secrecy review;
    public: by default content's title and body, without a summary;
    source_id: by default e2e-<channel>-<rid>."""
    release = {"source_id": source_id or f"e2e-{channel}-{rid}", "revision": revision, "action": action,
               "department": "demo", "region_code": region_code}
    if action != "withdraw":
        release.update(content, formed_at="2026-11-20T09:00:00+08:00",
                       secrecy_review={"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"})
    if public is None:
        public = {"title": content["title"], "summary": "", "body": content["body"]}
    return {
        "schema": "zwgk.channel.v1", "release_id": rid, "revision": revision, "action": action,
        "release": release,
        "ingest": {"received_at": received_at, "department": "demo", "producer": "e2e",
                   "trace_id": trace_id or uuid.uuid4().hex},
        "tags": {**item, "channels": [channel], "manual_channels": [], "audience": "public", "mode": "active",
                 "classified_by": "explicit", "classified_at": classified_at},
        "public": public,
        "channel": {"name": channel, "payload": payload},
    }


@pytest.fixture(scope="module")
def producer(stack):
    """An idempotent Kafka producer on the stack's brokers, for the module."""
    p = Producer({"bootstrap.servers": stack.brokers, "enable.idempotence": True, "acks": "all",
                  "log_level": 3})
    yield p
    p.flush(30)


@pytest.fixture(scope="module")
def produce(producer):
    """produce(envelope, partition=None) writes one channel envelope to its
    channel's topic (zwgk.channel.<channel.name>), keyed by its release_id,
    with the fan-out's headers, and waits until it is acknowledged."""

    def send(envelope, partition=None):
        errors = []
        where = {} if partition is None else {"partition": partition}
        producer.produce(
            f"zwgk.channel.{envelope['channel']['name']}", key=envelope["release_id"],
            value=json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
            headers={"zwgk-schema": "zwgk.channel.v1",
                     "traceparent": f"00-{envelope['ingest']['trace_id']}-{uuid.uuid4().hex[:16]}-01"},
            on_delivery=lambda err, _msg: errors.append(err) if err else None,
            **where,
        )
        assert producer.flush(30) == 0, "the channel envelope was not acknowledged"
        assert not errors, errors

    return send


@pytest.fixture(scope="session")
def receipts(consume_until):
    """receipts(rid, revision, channel, count=1, timeout=90) waits for `count`
    receipts of that revision from that channel on zwgk.receipts and returns
    their values."""

    def wait(rid, revision, channel, count=1, timeout=90):
        def ours(m):
            receipt = m["value"].get("receipt") if isinstance(m["value"], dict) else None
            return m["key"] == rid and bool(receipt) and receipt.get("revision") == revision \
                and receipt.get("channel") == channel

        return [m["value"] for m in consume_until("zwgk.receipts", ours, timeout=timeout, count=count)]

    return wait


@pytest.fixture(scope="session")
def receipt(receipts):
    """receipt(rid, revision, channel, timeout=90) waits for the first receipt
    of that revision from that channel and returns its value."""

    def wait(rid, revision, channel, timeout=90):
        return receipts(rid, revision, channel, timeout=timeout)[0]

    return wait


@pytest.fixture(scope="session")
def delivery(sql):
    """delivery(rid, revision, channel) returns the release's deliveries row on
    the channel as a dict (status, external_id, url, attempts, error,
    progress), or None."""

    def row(rid, revision, channel):
        rows = sql(
            "SELECT status, coalesce(external_id, ''), coalesce(url, ''), attempts, coalesce(error, ''), "
            "progress::text FROM deliveries WHERE release_id = :'p1' AND revision = :'p2'::int "
            "AND channel = :'p3'",
            rid, revision, channel,
        )
        if not rows:
            return None
        status, external_id, url, attempts, error, progress = rows[0]
        return {"status": status, "external_id": external_id, "url": url, "attempts": int(attempts),
                "error": error, "progress": json.loads(progress)}

    return row


def wechat_sentinel(rid):
    """A WeChat work item of a release of its own, as the fan-out writes it."""
    payload = {"title": "哨兵", "digest": "哨兵", "content": f"<p>哨兵 {rid}</p>",
               "content_source_url": f"http://127.0.0.1/zwgk/czyjs/zfys/{rid}.html", "shortened": []}
    return channel_envelope("wechat", rid, 1, "publish", payload, item=WECHAT_ITEM, region_code="370211",
                            content={"title": "哨兵", "body": "<p>哨兵</p>", "doc_type": "notice",
                                     "catalog_code": "czyjs-001"},
                            source_id=f"e2e-sentinel-{rid}")


@pytest.fixture(scope="module")
def wechat_drained(stack, producer, produce, receipt):
    """Waits until the stack's WeChat adapter has delivered what is queued for
    it: one sentinel per partition of zwgk.channel.wechat, each delivered only
    after everything ahead of it. Every release of the session on czyjs-001
    (make_release's item) is a WeChat article, and a load test leaves
    hundreds: meanwhile the fake WeChat API publishes at the first poll
    (articles take milliseconds instead of a poll interval); its default comes
    back afterwards."""
    fake, topic = stack.env["ZWGK_FAKE_WECHAT_URL"], "zwgk.channel.wechat"

    def config(**values):
        response = requests.post(f"{fake}/_fake/config", json=values, timeout=10)
        assert response.status_code == 200, response.text

    default = requests.get(f"{fake}/_fake/state", timeout=10).json()["config"]["publishing_polls"]
    config(publishing_polls=0)
    try:
        rids = []
        for partition in producer.list_topics(topic, timeout=15).topics[topic].partitions:
            rids.append(uuid.uuid4().hex)
            produce(wechat_sentinel(rids[-1]), partition=partition)
        for rid in rids:
            receipt(rid, 1, "wechat", timeout=900)
    finally:
        config(publishing_polls=default)


# A catalog item that names no automated channel: releases filed under it are
# tagged and recorded but fanned out nowhere, so a test that needs thousands of
# releases (the classifier copy, a broker outage under load) does not queue
# thousands of articles for the portal and the WeChat stand-in ahead of the
# tests after it. It belongs to no catalog version, so the seed (which owns
# version 1) and catalog imports leave it alone.
QUIET_ITEM = "czyjs-901"


@pytest.fixture(scope="session")
def quiet_item(sql):
    """Creates QUIET_ITEM (department demo may publish it) and returns its code."""
    sql("INSERT INTO catalog_items (code, domain_code, item_l1, item_l2, content, basis, time_limit_text, "
        "  time_limit_kind, time_limit_days, audience, mode, level, column_path, active, catalog_version) "
        "VALUES (:'p1', 'czyjs', '财政预算', '测试用（无自动渠道）', '测试用', '测试用', '20个工作日', "
        "  'working_days', 20, 'public', 'active', 'county', 'czyjs/fzcs', true, NULL) "
        "ON CONFLICT (code) DO NOTHING", QUIET_ITEM)
    sql("INSERT INTO catalog_item_bodies (item_code, department_code) VALUES (:'p1', 'demo') "
        "ON CONFLICT DO NOTHING", QUIET_ITEM)
    return QUIET_ITEM


# --- the stack's channels, as the public sees them --------------------------------


class Channels:
    """Where the stack's channels can be read. A release r is anything with
    rid, column (its portal column) and region."""

    def __init__(self, stack):
        self.portal = stack.portal_url
        self.bulletin = stack.env["ZWGK_BULLETIN_URL"]
        self.wechat = stack.env["ZWGK_FAKE_WECHAT_URL"]
        self.broadcast = stack.env["ZWGK_FAKE_BROADCAST_URL"]

    def portal_url(self, r):
        return f"{self.portal}/zwgk/{r.column}/{r.rid}.html"

    def bulletin_url(self, r):
        return f"{self.bulletin}/bulletin/{r.region}/{r.rid}.html"

    def articles(self, r):
        """The fake WeChat API's articles of the release (their source URL is
        the portal page, which holds the release id)."""
        state = requests.get(f"{self.wechat}/_fake/state", params={"match": r.rid}, timeout=10).json()
        assert "config_rules" in state, "the stack's fake_wechat.py predates state?match; restart the stack"
        return [a for a in state["articles"] if r.rid in a["content_source_url"]]

    def alerts(self, r):
        state = requests.get(f"{self.broadcast}/_fake/state", timeout=10).json()
        return {a["identifier"]: a for a in state["alerts"] if a["identifier"].startswith(r.rid + ".")}


def get(url):
    """GET url, its body read as UTF-8 (the pages of the portal and the boards)."""
    response = requests.get(url, timeout=10)
    response.encoding = "utf-8"
    return response


@pytest.fixture(scope="module")
def channels(stack):
    return Channels(stack)


class Markup(HTMLParser):
    """Every start tag of an HTML text, with its attributes (character
    references decoded, as a browser decodes them)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))


# Elements that run code, load a document or change where links go: none may
# come from a release (the page templates use none of them).
ACTIVE_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "svg",
                   "math", "link", "template", "noscript", "xml"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "background", "poster", "cite", "srcset",
                  "xlink:href", "codebase", "lowsrc", "dynsrc"}


def url_scheme(value):
    """The scheme of a URL as a browser reads it (leading C0 controls and
    spaces stripped, tabs and line breaks removed anywhere), in lower case;
    "" for a relative URL."""
    url = re.sub(r"[\t\n\r]", "", value or "").lstrip("".join(map(chr, range(0x21))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


def assert_no_active_markup(html, where):
    """No element that runs code, no on* attribute, no javascript:, vbscript:
    or data: URL, no refresh and no script in a style attribute in an HTML
    text (their text, escaped, may be there)."""
    parser = Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in ACTIVE_ELEMENTS, f"{where}: a <{tag}> element"
        for name, value in attrs:
            assert not name.startswith("on"), f"{where}: <{tag} {name}=…>"
            if name in URL_ATTRIBUTES:
                assert url_scheme(value) not in ("javascript", "vbscript", "data"), \
                    f"{where}: <{tag} {name}={value!r}>"
            assert name != "http-equiv", f"{where}: <{tag} http-equiv={value!r}>"
            if name == "style":
                assert not re.search(r"javascript:|expression\(|url\(", value or "", re.I), \
                    f"{where}: <{tag} style={value!r}>"
    assert not re.search(r"<\s*script", html, re.I), f"{where}: <script"
    assert not re.search(r"<[A-Za-z][^>]*[\s/\"']on[a-z]+\s*=", html, re.I), f"{where}: an on* attribute"


def assert_plain_text(text, where):
    """A plain-text field: nothing shaped like a tag ("a < b" is text)."""
    assert not re.search(r"<[A-Za-z/!?]", text or ""), f"{where}: markup in {text!r}"


def assert_cap_without_markup(raw, where):
    """A CAP document: only CAP elements, no attributes, no markup in its
    text, no document type or entity declaration."""
    assert not re.search(r"<!DOCTYPE|<!ENTITY", raw, re.I), f"{where}: a DTD in the CAP document"
    root = ET.fromstring(raw.encode("utf-8"))
    for element in root.iter():
        assert element.tag.startswith(f"{{{CAP}}}"), f"{where}: element {element.tag}"
        assert not element.attrib, f"{where}: attributes {element.attrib} on {element.tag}"
        assert_plain_text(element.text, f"{where} {element.tag}")
    for tag in ("script", "img", "a"):
        assert not re.search(rf"<\s*{tag}[\s>/]", raw, re.I), f"{where}: <{tag}"
