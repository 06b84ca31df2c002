"""Fixtures of the end-to-end tests: a running local stack (deploy/local/stack
up) and helpers that use it the way a department system, an operator and a
downstream Kafka consumer do.

The stack is started once per session and left running: whoever started pytest
stops it (`make test` runs `deploy/local/stack down` afterwards). Its directory
and ports come from ZWGK_STACK_DIR and ZWGK_STACK_PORT_BASE, by default var/test
and 29000, so the tests never touch a demo stack.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import time
import uuid

import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack"
SCHEMAS = ROOT / "schemas"

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


def release_id(department, source_id):
    """CONTRACT §1: the first 16 bytes of SHA-256 over department "\\n" source_id."""
    digest = hashlib.sha256(f"{department}\n{source_id}".encode("utf-8")).hexdigest()
    return digest[:32]


def run_stack(*args, timeout=900):
    """Runs deploy/local/stack on the test stack (STACK_SETTINGS)."""
    env = dict(os.environ)
    env.update(STACK_SETTINGS)
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

    def start_daemon(self, daemon):
        return run_stack("start-daemon", daemon, timeout=120)

    def exit_status(self, daemon):
        """The exit status the stack recorded when the daemon last ended, or None."""
        path = self.stack_dir / "run" / f"{daemon}.exit"
        return path.read_text().strip() if path.exists() else None

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
        release.update(fields)
        return {k: v for k, v in release.items() if v is not None}

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
