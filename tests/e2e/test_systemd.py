"""The systemd integration: the unit files of deploy/systemd pass
`systemd-analyze verify`, and every daemon speaks the sd_notify protocol the
units rely on (Type=notify, ExecReload=kill -HUP).

No systemd runs the daemons here: the test binds the AF_UNIX datagram socket
systemd would, names it in NOTIFY_SOCKET and reads what the daemon sends.
Each daemon of the stack is stopped, the same binary runs with the stack's
config file and environment, and must send READY=1 once started, WATCHDOG=1
at half the interval WATCHDOG_USEC names, a STATUS line with /readyz's answer, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1
on SIGTERM, and exit 0; the stack's instance is started again afterwards.
A second run, beside the stack's, is pointed at a Kafka and a PostgreSQL
that are not there: READY=1 must come all the same (a daemon waiting for its
broker must not be killed by TimeoutStartSec), and the STATUS line says why
it is not ready.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import DAEMONS, NOT_CONFIG, ROOT, STACK_SETTINGS, describe, free_port, start_daemon, wait_until

UNITS = ROOT / "deploy" / "systemd"
TEMPLATES = ("zwgk-classifier", "zwgk-fanout")

# Start-up runs init_transactions (up to 10 s) and the first PostgreSQL
# connection (up to pg.connect_timeout_s) before the loop begins.
READY_TIMEOUT = 60
# The drain ends by daemon.shutdown_grace_ms (15 s by default).
EXIT_TIMEOUT = 60
# The watchdog interval the daemons are started with (microseconds).
WATCHDOG_USEC = 2_000_000


# --- the unit files -------------------------------------------------------------


def unit_files():
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".target"))


def test_every_daemon_has_a_unit_and_the_templates_exist():
    names = {p.name for p in unit_files()}
    expected = {f"{d}.service" for d in DAEMONS} | {f"{t}@.service" for t in TEMPLATES} | {"zwgk.target"}
    assert names == expected


@pytest.fixture(scope="module")
def rendered_units(stack):
    """The units in a temporary directory, ExecStart pointing at the build's
    binaries (verify checks that the program exists)."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="zwgk-units-"))
    for path in unit_files():
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^ExecStart=/usr/bin/", f"ExecStart={stack.bin_dir}/", text, flags=re.M)
        (directory / path.name).write_text(text, encoding="utf-8")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_systemd_analyze_verify_passes_without_a_warning(rendered_units):
    program = shutil.which("systemd-analyze")
    assert program, "systemd-analyze is not installed (Debian package systemd)"
    units = [str(p) for p in sorted(rendered_units.iterdir())]
    proc = subprocess.run([program, "verify", "--man=no", *units], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    # An unknown key or a bad value is only a warning (exit 0): any line that
    # names one of the units fails the test as well.
    ours = [line for line in (proc.stdout + proc.stderr).splitlines()
            if str(rendered_units) in line or "zwgk" in line]
    assert proc.returncode == 0 and not ours, describe(proc)


def test_units_run_the_daemons_as_promised():
    for path in unit_files():
        if path.suffix != ".service":
            continue
        text = path.read_text(encoding="utf-8")
        daemon = path.stem.removesuffix("@")
        for line in ("Type=notify", "User=zwgk", "Group=zwgk", "ExecReload=/bin/kill -HUP $MAINPID",
                     "ProtectSystem=strict", "NoNewPrivileges=yes", "WantedBy=zwgk.target",
                     f"ExecStart=/usr/bin/{daemon} --config /etc/zwgk/zwgk.conf"):
            assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{path.name}: no {line}"
        if path.stem.endswith("@"):
            short = daemon.removeprefix("zwgk-").upper()
            assert f"/etc/zwgk/{daemon}@%i.env" in text, f"{path.name}: no instance environment file"
            assert "Environment=ZWGK_DAEMON_INSTANCE=%H-%i" in text, path.name
            assert f"ZWGK_{short}_ADMIN" in text, f"{path.name} does not say where its admin address goes"


def test_portal_and_bulletin_may_write_their_document_roots():
    for daemon, docroot in (("zwgk-portal", "zwgk/portal"), ("zwgk-bulletin", "zwgk/bulletin")):
        text = (UNITS / f"{daemon}.service").read_text(encoding="utf-8")
        directories = re.search(r"^StateDirectory=(.*)$", text, re.M).group(1).split()
        assert docroot in directories, f"{daemon}: /var/lib/{docroot} is not writable under ProtectSystem=strict"


# --- sd_notify --------------------------------------------------------------------


class NotifySocket:
    """The AF_UNIX datagram socket systemd gives a Type=notify service."""

    def __init__(self):
        # A short path: sun_path holds 108 bytes.
        self.directory = tempfile.mkdtemp(prefix="zwgk-sd-")
        self.path = os.path.join(self.directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen = []  # every message so far, each a dict of its KEY=VALUE lines

    def close(self):
        self.sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def expect(self, key, value=None, timeout=READY_TIMEOUT, proc=None):
        """Waits for a message holding key (=value, if given) and returns it;
        fails at the deadline or if proc ends first."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {key}{'=' + value if value else ''} within {timeout} s; got {self.seen}")
            # Short waits, so that a daemon that died is noticed at once.
            self.sock.settimeout(min(left, 0.5))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                if proc is not None and proc.poll() is not None:
                    pytest.fail(f"the daemon exited ({proc.returncode}) before {key}; got {self.seen}")
                continue
            message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.seen.append(message)
            if key in message and (value is None or message[key] == value):
                return message


@pytest.fixture
def notify_socket():
    sock = NotifySocket()
    yield sock
    sock.close()


def daemon_env(notify_path, watchdog_usec=None):
    """What the stack gives its daemons (its environment and settings, not
    its own variables), with NOTIFY_SOCKET and, as WatchdogSec= would set it,
    WATCHDOG_USEC (WATCHDOG_PID left out: the process is then the one meant)."""
    env = {k: v for k, v in {**os.environ, **STACK_SETTINGS}.items() if k not in NOT_CONFIG}
    env["NOTIFY_SOCKET"] = notify_path
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return env


def launch(stack, daemon, notify, out_path, args=(), watchdog_usec=None):
    with open(out_path, "wb") as out:
        return subprocess.Popen([str(stack.bin_dir / daemon), "--config", stack.config, *args],
                                env=daemon_env(notify.path, watchdog_usec), cwd=stack.stack_dir,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def stop(proc, notify, where):
    """SIGTERM: STOPPING=1, then exit 0."""
    proc.send_signal(signal.SIGTERM)
    notify.expect("STOPPING", "1", timeout=EXIT_TIMEOUT, proc=proc)
    try:
        status = proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_TIMEOUT} s after SIGTERM; see {where}")
    assert status == 0, f"exit {status} after SIGTERM; see {where}"


def readyz(url):
    try:
        return requests.get(url, timeout=10).status_code
    except requests.RequestException:
        return None


@pytest.mark.parametrize("daemon", DAEMONS)
def test_daemon_notifies_ready_reloading_and_stopping(stack, notify_socket, daemon):
    where = stack.stack_dir / "log" / f"systemd-{daemon}.out"
    stopped = stack.stop_daemon(daemon)
    assert stopped.returncode == 0, f"stop-daemon {daemon}: {describe(stopped)}"
    proc = None
    try:
        proc = launch(stack, daemon, notify_socket, where, watchdog_usec=WATCHDOG_USEC)
        ready = notify_socket.expect("READY", "1", proc=proc)
        assert "STATUS" in ready, ready
        # Pinged at half the interval: two pings within one interval and a bit.
        for _ in range(2):
            notify_socket.expect("WATCHDOG", "1", timeout=WATCHDOG_USEC / 1e6 + 2, proc=proc)

        url = f"{stack.admin_url(daemon)}/readyz"
        wait_until(f"{daemon} ready at {url}", lambda: readyz(url) == 200 or proc.poll() is not None,
                   timeout=READY_TIMEOUT)
        notify_socket.expect("STATUS", "ready", timeout=10, proc=proc)

        proc.send_signal(signal.SIGHUP)
        reloading = notify_socket.expect("RELOADING", "1", timeout=30, proc=proc)
        assert reloading.get("STATUS") == "reloading", reloading
        after = notify_socket.expect("READY", "1", timeout=30, proc=proc)
        assert after.get("STATUS") == "ready", after

        stop(proc, notify_socket, where)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        start_daemon(stack, daemon)


# The ports each daemon listens on besides its admin listener.
LISTENERS = {"zwgk-producer": "producer.listen", "zwgk-portal": "portal.listen", "zwgk-bulletin": "bulletin.listen"}


@pytest.mark.parametrize("daemon", DAEMONS)
def test_daemon_is_ready_for_systemd_before_kafka_and_postgresql(stack, notify_socket, daemon, tmp_path):
    """A second instance beside the stack's, on ports of its own, with a
    broker and a database that do not answer."""
    section = daemon.removeprefix("zwgk-")
    admin = f"127.0.0.1:{free_port()}"
    settings = [f"daemon.instance=systemd-test-{os.getpid()}", f"{section}.admin={admin}",
                f"kafka.brokers=127.0.0.1:{free_port()}",
                f"pg.dsn=postgresql://zwgk@127.0.0.1:{free_port()}/zwgk?connect_timeout=1",
                "daemon.shutdown_grace_ms=2000"]
    if daemon in LISTENERS:
        settings.append(f"{LISTENERS[daemon]}=127.0.0.1:{free_port()}")
    if daemon in ("zwgk-portal", "zwgk-bulletin"):
        settings.append(f"{section}.docroot={tmp_path / 'docroot'}")
    args = [arg for setting in settings for arg in ("--set", setting)]
    where = stack.stack_dir / "log" / f"systemd-unreachable-{daemon}.out"
    proc = launch(stack, daemon, notify_socket, where, args)
    try:
        notify_socket.expect("READY", "1", timeout=READY_TIMEOUT, proc=proc)
        # The answer may wait: a stage tries to set up its Kafka transactions on
        # the event loop (up to 10 s per attempt, then backs off), and /readyz
        # is served by the same loop. A 200 or an exit is a failure at once.
        url = f"http://{admin}/readyz"
        answer = wait_until(f"{daemon} answering /readyz without Kafka and PostgreSQL",
                            lambda: readyz(url) or proc.poll() is not None, timeout=45)
        assert proc.poll() is None, f"{daemon} exited; see {where}"
        assert answer == 503, answer
        status = notify_socket.expect("STATUS", timeout=10, proc=proc)["STATUS"]
        assert re.match(r"not ready: (kafka|postgresql): ", status), status
        stop(proc, notify_socket, where)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
