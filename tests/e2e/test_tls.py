"""End to end: zwgk against a Kafka that wants TLS and SASL, and a PostgreSQL
that wants TLS and client certificates (docs/tls.md).

The module starts servers of its own, beside the test stack and without it:

- a certificate authority, a server certificate (SAN localhost and 127.0.0.1)
  and a client certificate (CN zwgk) made with openssl, and a second CA that
  signed none of them;
- a Kafka 3.9.1 broker (KRaft, one node, from the jars and with the java the
  local stack uses) with a SASL_SSL listener (SCRAM-SHA-512, user zwgk created
  at format time) and an SSL listener that requires a client certificate;
- a PostgreSQL cluster (initdb) with ssl = on and only hostssl lines in
  pg_hba.conf, each requiring a client certificate whose CN is the user.

Their data lives in a directory of its own under var/, their ports lie in
20500-20599, and they are stopped and removed whatever the tests did. The
configuration file the tests give zwgk holds exactly the lines docs/tls.md
shows.
"""

import base64
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import release_id

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ZWGK_BUILD_DIR") or ROOT / "build").resolve() / "bin"
KAFKA_LIBS = pathlib.Path(os.environ.get("ZWGK_CACHE_DIR") or pathlib.Path.home() / ".cache" / "zwgk") \
    / "kafka-3.9.1" / "libs"
PORT_RANGE = (20500, 20600)
PASSWORD = "zwgk-" + uuid.uuid4().hex  # letters, digits and '-': nothing the format tool parses
DEPARTMENT = "tlsdemo"


def pg_bindir():
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return pathlib.Path(initdb).parent if initdb else None


def clean_env():
    """The environment without ZWGK_* (they would override the file's keys)
    and without libpq's PG* defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ZWGK_", "PG"))}


def run(args, timeout=60, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)
    return proc


def check(args, timeout=60, **kw):
    proc = run(args, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def describe(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def free_ports(count):
    """count consecutive ports in PORT_RANGE that nothing listens on."""
    for base in range(PORT_RANGE[0], PORT_RANGE[1] - count + 1, count):
        taken = False
        for port in range(base, base + count):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return list(range(base, base + count))
    pytest.fail(f"no {count} free ports in {PORT_RANGE[0]}-{PORT_RANGE[1] - 1}")


def tail(path, lines=30):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def wait_for(what, probe, timeout, alive=None, log=None):
    """Polls probe() until it returns a true value; fails at the deadline or
    when alive() says the process behind it has exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if alive is not None and not alive():
            pytest.fail(f"{what}: the process exited\n{tail(log) if log else ''}", pytrace=False)
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout} s\n{tail(log) if log else ''}", pytrace=False)
        time.sleep(0.2)


# --- certificates ---------------------------------------------------------------


def make_pki(d):
    """A CA, a server and a client certificate it signed, and another CA."""
    def openssl(*args):
        check(["openssl", *args], cwd=d)

    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out",
                f"{ca}.pem", "-days", "2", "-subj", f"/CN=zwgk test {ca}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, cn in (("server", "localhost"), ("client", "zwgk")):
        (d / f"{name}.ext").write_text(
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth, clientAuth\n"
            + ("subjectAltName = DNS:localhost, IP:127.0.0.1\n" if name == "server" else ""))
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={cn}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    for key in d.glob("*.key"):
        key.chmod(0o600)  # libpq refuses a client key others can read
    # Kafka's PEM key store: the private key (PKCS#8, unencrypted) and the chain.
    (d / "broker-keystore.pem").write_text((d / "server.key").read_text() + (d / "server.pem").read_text())
    (d / "broker-keystore.pem").chmod(0o600)


# --- Kafka ----------------------------------------------------------------------


class Kafka:
    def __init__(self, d, ports):
        self.dir = d / "kafka"
        self.sasl_port, self.ssl_port, self.controller_port, self.internal_port = ports
        self.proc = None
        self.log = self.dir / "kafka.out"

    def java(self, *args):
        return ["java", f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                "-cp", f"{KAFKA_LIBS}/*", *args]

    def write_config(self, pki):
        self.dir.mkdir()
        (self.dir / "server.properties").write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{self.controller_port}
listeners=SASL_SSL://127.0.0.1:{self.sasl_port},SSL://127.0.0.1:{self.ssl_port},\
CONTROLLER://127.0.0.1:{self.controller_port},INTERNAL://127.0.0.1:{self.internal_port}
advertised.listeners=SASL_SSL://127.0.0.1:{self.sasl_port},SSL://127.0.0.1:{self.ssl_port},\
INTERNAL://127.0.0.1:{self.internal_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={pki / 'broker-keystore.pem'}
ssl.truststore.type=PEM
ssl.truststore.location={pki / 'ca.pem'}
listener.name.ssl.ssl.client.auth=required
log.dirs={self.dir / 'data'}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=2
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
""")
        (self.dir / "log4j.properties").write_text(f"""\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={self.dir / 'kafka.log'}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
""")

    def format(self):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        check(self.java("-Xmx256m", "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format",
                        "-t", cluster_id, "-c", self.dir / "server.properties",
                        "--add-scram", f"SCRAM-SHA-512=[name=zwgk,password={PASSWORD}]"), timeout=120)

    def start(self):
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(a) for a in self.java("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "kafka.Kafka",
                                           self.dir / "server.properties")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# --- PostgreSQL -----------------------------------------------------------------


class Postgres:
    def __init__(self, d, port):
        self.bin = pg_bindir()
        self.data = d / "pg"
        self.port = port
        self.as_postgres = os.geteuid() == 0  # the server refuses to run as root
        self.started = False

    def cmd(self, *args):
        args = [str(a) for a in args]
        return ["runuser", "-u", "postgres", "--", *args] if self.as_postgres else args

    def own(self, path):
        if self.as_postgres:
            shutil.chown(path, "postgres", "postgres")

    def init(self, pki):
        self.data.mkdir(mode=0o700)
        self.own(self.data)
        check(self.cmd(self.bin / "initdb", "-D", self.data, "-U", "zwgk", "--auth=trust", "-E", "UTF8",
                       "--locale=C.UTF-8", "-N"), timeout=120, cwd="/")
        for name in ("server.pem", "server.key", "ca.pem"):
            shutil.copy(pki / name, self.data / name)
            self.own(self.data / name)
            (self.data / name).chmod(0o600)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = ''
ssl = on
ssl_cert_file = 'server.pem'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.pem'
fsync = off
max_connections = 20
""")
        # TLS only, and a client certificate signed by the CA whose CN is the user.
        (self.data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust clientcert=verify-full\n")

    def start(self):
        self.started = True
        proc = run(self.cmd(self.bin / "pg_ctl", "-D", self.data, "-l", self.data / "server.log", "-w", "-t",
                            "60", "start"), timeout=90, cwd="/")
        assert proc.returncode == 0, f"pg_ctl start: {describe(proc)}\n{tail(self.data / 'server.log')}"

    def stop(self):
        if self.started:
            run(self.cmd(self.bin / "pg_ctl", "-D", self.data, "stop", "-m", "fast", "-w", "-t", "30"), timeout=60,
                cwd="/")


# --- the fixture ----------------------------------------------------------------


class Servers:
    """What the tests need: paths, ports and settings of the private servers."""

    def __init__(self, d, ports, kafka, pg):
        self.dir = d
        self.pki = d / "pki"
        self.kafka = kafka
        self.pg = pg
        self.producer_ports = ports[5:7]
        self.bad_producer_ports = ports[7:9]

    @property
    def sasl_brokers(self):
        return f"127.0.0.1:{self.kafka.sasl_port}"

    def pg_dsn(self, **overrides):
        params = {"host": "127.0.0.1", "port": self.pg.port, "dbname": "zwgk", "user": "zwgk",
                  "sslmode": "verify-full", "sslrootcert": self.pki / "ca.pem",
                  "sslcert": self.pki / "client.pem", "sslkey": self.pki / "client.key"}
        params.update(overrides)
        return " ".join(f"{k}={v}" for k, v in params.items() if v is not None)

    def client_config(self, password=PASSWORD, ca="ca.pem"):
        """confluent_kafka settings equal to the [kafka] lines of the zwgk.conf."""
        return {"bootstrap.servers": self.sasl_brokers, "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "zwgk", "sasl.password": password,
                "ssl.ca.location": str(self.pki / ca)}

    def write_conf(self, name, listen_port, admin_port):
        """A zwgk.conf with the lines docs/tls.md shows (SASL_SSL with SCRAM,
        PostgreSQL with verify-full and a client certificate)."""
        path = self.dir / name
        path.write_text(f"""\
[log]
level = info

[kafka]
brokers = {self.sasl_brokers}
partitions = 2
security.protocol = SASL_SSL
sasl.mechanisms = SCRAM-SHA-512
sasl.username = zwgk
sasl.password = {PASSWORD}
ssl.ca.location = {self.pki / 'ca.pem'}

[pg]
dsn = {self.pg_dsn()}

[producer]
listen = 127.0.0.1:{listen_port}
admin = 127.0.0.1:{admin_port}
""")
        path.chmod(0o600)
        return path

    def ctl(self, conf, *args, timeout=120):
        return run([BIN / "zwgkctl", "--config", conf, *args], timeout=timeout, env=clean_env())


@pytest.fixture(scope="module")
def servers():
    if not list(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        pytest.fail(f"Kafka 3.9.1 jars not found in {KAFKA_LIBS}; run 'make deps'", pytrace=False)
    if pg_bindir() is None:
        pytest.fail("PostgreSQL server programs not found; run 'make deps'", pytrace=False)
    (ROOT / "var").mkdir(exist_ok=True)
    d = pathlib.Path(tempfile.mkdtemp(prefix="tls-", dir=ROOT / "var"))
    d.chmod(0o755)  # the cluster's owner, postgres, must reach its data directory
    ports = free_ports(10)
    kafka = Kafka(d, ports[0:4])
    pg = Postgres(d, ports[4])
    try:
        (d / "pki").mkdir()
        make_pki(d / "pki")
        kafka.write_config(d / "pki")
        kafka.format()
        kafka.start()
        # PostgreSQL comes up while the JVM starts.
        pg.init(d / "pki")
        pg.start()
        s = Servers(d, ports, kafka, pg)
        admin = AdminClient({**s.client_config(), "log_level": 2})

        def kafka_answers():
            try:
                return bool(admin.list_topics(timeout=2).brokers)
            except Exception:  # noqa: BLE001 - not up yet
                return False

        wait_for("the TLS broker answering over SASL_SSL", kafka_answers, 60, kafka.alive, kafka.log)
        check(["psql", s.pg_dsn(dbname="postgres"), "-qAt", "-c", "CREATE DATABASE zwgk"], env=clean_env())
        yield s
    finally:
        kafka.stop()
        pg.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def conf(servers):
    return servers.write_conf("zwgk.conf", *servers.producer_ports)


@pytest.fixture(scope="module")
def database(servers, conf):
    """Migrated over verify-full with a client certificate; a department with a token."""
    proc = servers.ctl(conf, "db", "migrate", "--sql-dir", ROOT / "sql")
    assert proc.returncode == 0, describe(proc)
    proc = servers.ctl(conf, "department", "add", DEPARTMENT, "TLS 测试部门")
    assert proc.returncode == 0, describe(proc)
    proc = servers.ctl(conf, "--json", "department", "token", DEPARTMENT)
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)["token"]


@pytest.fixture(scope="module")
def topics(servers, conf):
    proc = servers.ctl(conf, "topics", "create", "--replication-factor", "1", "--partitions", "2")
    assert proc.returncode == 0, describe(proc)
    return proc


class Daemon:
    def __init__(self, servers, name, conf, admin_port, extra=()):
        self.log = servers.dir / f"{name}.log"
        self.admin = f"http://127.0.0.1:{admin_port}"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([str(BIN / "zwgk-producer"), "--config", str(conf), *extra],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=clean_env(), start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def readyz(self):
        try:
            return requests.get(f"{self.admin}/readyz", timeout=2)
        except requests.RequestException:
            return None

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return None
        return self.proc.returncode


def read_release(servers, topic, rid, timeout=30):
    consumer = Consumer({**servers.client_config(), "group.id": f"e2e-tls-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert not msg.error(), msg.error()
            if msg.key() == rid.encode():
                return json.loads(msg.value())
        return None
    finally:
        consumer.close()


# --- the tests ------------------------------------------------------------------


def test_topics_are_created_and_listed_over_sasl_ssl(servers, conf, topics):
    assert "9 topic(s) created" in topics.stdout, describe(topics)
    listed = servers.ctl(conf, "topics", "list")
    assert listed.returncode == 0, describe(listed)
    assert f"Kafka at {servers.sasl_brokers}: 1 broker(s)" in listed.stdout
    assert "zwgk.releases" in listed.stdout and "MISSING" not in listed.stdout


def test_a_release_reaches_the_tls_broker(servers, conf, database, topics):
    producer = Daemon(servers, "zwgk-producer", conf, servers.producer_ports[1])
    try:
        wait_for("zwgk-producer /readyz 200 over SASL_SSL and verify-full",
                 lambda: (r := producer.readyz()) is not None and r.status_code == 200,
                 30, producer.alive, producer.log)
        source_id = f"tls-{uuid.uuid4().hex}"
        release = {
            "source_id": source_id, "revision": 1, "action": "publish", "department": DEPARTMENT,
            "title": "TLS 通道测试公开", "body": "<p>经 TLS 与 SCRAM 写入 Kafka。</p>",
            "doc_type": "notice", "region_code": "370211", "formed_at": "2026-11-20T09:00:00+08:00",
            "secrecy_review": {"reviewer": "王敏", "reviewed_at": "2026-11-20T10:00:00+08:00"},
        }
        answer = requests.post(f"http://127.0.0.1:{servers.producer_ports[0]}/v1/releases",
                               data=json.dumps(release, ensure_ascii=False).encode(),
                               headers={"Content-Type": "application/json", "Authorization": f"Bearer {database}"},
                               timeout=30)
        assert answer.status_code == 202, answer.text
        rid = release_id(DEPARTMENT, source_id)
        assert answer.json()["release_id"] == rid
        envelope = read_release(servers, "zwgk.releases", rid)
        assert envelope is not None, "the release is not on zwgk.releases of the TLS broker"
        assert envelope["release"]["title"] == release["title"]
    finally:
        status = producer.stop()
    assert status == 0, f"zwgk-producer exit {status}\n{tail(producer.log)}"


def test_a_wrong_password_is_logged_and_not_ready_without_a_crash(servers, conf, database, topics):
    bad = servers.write_conf("wrong-password.conf", *servers.bad_producer_ports)
    daemon = Daemon(servers, "zwgk-producer-wrong-password", bad, servers.bad_producer_ports[1],
                    extra=("-X", "sasl.password=not-the-password"))
    try:
        def refused():
            ready = daemon.readyz()
            logged = "authentication" in daemon.log.read_text(errors="replace").lower()
            return [ready] if ready is not None and logged else None  # a 503 Response is falsy

        [ready] = wait_for("the SASL authentication failure in the log and /readyz answering",
                           refused, 30, daemon.alive, daemon.log)
        assert ready.status_code == 503, ready.text
        assert "kafka" in ready.text
        text = daemon.log.read_text(errors="replace")
        assert "SASL authentication error" in text or "Authentication failed" in text, text[-2000:]
        assert daemon.alive()
    finally:
        status = daemon.stop()
    assert status == 0, f"exit {status}\n{tail(daemon.log)}"

    started = time.monotonic()
    proc = servers.ctl(conf, "--set", "kafka.sasl.password=not-the-password",
                       "topics", "list")
    assert proc.returncode == 1, describe(proc)
    assert f"Kafka at {servers.sasl_brokers} refused zwgk" in proc.stderr, describe(proc)
    assert "SASL authentication error" in proc.stderr or "Authentication failed" in proc.stderr, describe(proc)
    assert time.monotonic() - started < 8, "an authentication failure is reported at once"


def test_a_ca_that_did_not_sign_the_broker_certificate_fails(servers, conf):
    proc = servers.ctl(conf, "--set", f"kafka.ssl.ca.location={servers.pki / 'other-ca.pem'}", "topics", "list")
    assert proc.returncode == 1, describe(proc)
    assert "refused zwgk" in proc.stderr and "certificate verify failed" in proc.stderr, describe(proc)
    admin = AdminClient({**servers.client_config(ca="other-ca.pem"), "log_level": 0})
    with pytest.raises(Exception):
        admin.list_topics(timeout=3)


def test_mutual_tls_on_the_ssl_listener(servers, conf, topics):
    mtls = ("--set", f"kafka.brokers=127.0.0.1:{servers.kafka.ssl_port}",
            "--set", "kafka.security.protocol=SSL",
            "--set", f"kafka.ssl.certificate.location={servers.pki / 'client.pem'}",
            "--set", f"kafka.ssl.key.location={servers.pki / 'client.key'}")
    listed = servers.ctl(conf, *mtls, "topics", "list")
    assert listed.returncode == 0, describe(listed)
    assert "zwgk.dlq" in listed.stdout
    # Without a client certificate the broker ends the handshake.
    refused = servers.ctl(conf, "--set", f"kafka.brokers=127.0.0.1:{servers.kafka.ssl_port}",
                          "--set", "kafka.security.protocol=SSL", "topics", "list")
    assert refused.returncode == 1, describe(refused)
    assert "answered within 10 s" in refused.stderr or "refused zwgk" in refused.stderr, describe(refused)


def test_postgresql_verify_full_refuses_a_wrong_ca_and_a_missing_certificate(servers, conf, database):
    wrong_ca = servers.ctl(conf, "--set", "pg.dsn=" + servers.pg_dsn(sslrootcert=servers.pki / "other-ca.pem"),
                           "department", "list")
    assert wrong_ca.returncode == 1, describe(wrong_ca)
    assert "certificate verify failed" in wrong_ca.stderr, describe(wrong_ca)

    no_cert = servers.ctl(conf, "--set", "pg.dsn=" + servers.pg_dsn(sslcert=None, sslkey=None,
                                                                  sslrootcert=servers.pki / "ca.pem"),
                          "department", "list")
    assert no_cert.returncode == 1, describe(no_cert)
    assert "certificate" in no_cert.stderr, describe(no_cert)

    plain = servers.ctl(conf, "--set", "pg.dsn=" + servers.pg_dsn(sslmode="disable", sslrootcert=None,
                                                                sslcert=None, sslkey=None),
                        "department", "list")
    assert plain.returncode == 1, describe(plain)
    assert "no encryption" in plain.stderr, describe(plain)

    fine = servers.ctl(conf, "department", "list")
    assert fine.returncode == 0 and DEPARTMENT in fine.stdout, describe(fine)
