"""Every daemon starts and stops cleanly under Valgrind's memcheck: the stack's
instance is stopped, the same binary runs under valgrind with the stack's
config file and environment until its /readyz answers, its /metrics is read,
SIGTERM drains and ends it, and it must exit 0 with nothing definitely or indirectly lost and no
memory error. Blocks still reachable at exit (the one-time allocations of
librdkafka, OpenSSL and libpq) are not errors. The stack's instance is started
again afterwards, so later tests find it.

The valgrind reports stay in the stack's log directory as
valgrind-<daemon>.log, the daemon's own output as valgrind-<daemon>.out.
None of the libraries reports a leak of its own today, so nothing is
suppressed; should one ever do, a narrow suppression goes into
tests/valgrind/zwgk.supp, which is used when it exists.

Valgrind cannot run a binary built with AddressSanitizer; on the sanitizer
build (make test-asan, make test-asan-full) the module is skipped, since that
build checks leaks at exit itself.
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest
import requests

from conftest import DAEMONS, NOT_CONFIG, STACK_SETTINGS, describe, start_daemon, wait_until

SUPPRESSIONS = pathlib.Path(__file__).resolve().parents[1] / "valgrind" / "zwgk.supp"

# Valgrind runs a daemon some twenty times slower; start-up (Kafka metadata,
# the PostgreSQL connection, transactions initialised) and the drain at
# SIGTERM get a minute each.
READY_TIMEOUT = 60
EXIT_TIMEOUT = 60

LOST = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes")


def is_sanitizer_build(binary):
    """True if the binary was built with AddressSanitizer (the build's
    CMakeCache says so, or the binary refers to __asan_init)."""
    cache = binary.parent.parent / "CMakeCache.txt"
    if cache.exists() and "CMAKE_BUILD_TYPE:STRING=Asan" in cache.read_text(errors="replace"):
        return True
    proc = subprocess.run(["nm", str(binary)], capture_output=True, text=True, timeout=60)
    return "__asan_init" in proc.stdout


@pytest.fixture(scope="module")
def valgrind(stack):
    """The valgrind program; skips the module on a sanitizer build."""
    if is_sanitizer_build(stack.bin_dir / DAEMONS[0]):
        pytest.skip(f"{stack.bin_dir} is an AddressSanitizer build; valgrind cannot run it")
    program = shutil.which("valgrind")
    assert program, "valgrind is not installed (make deps installs it)"
    return program


def ready(url, proc):
    """True once url answers 200; stops waiting if the process has ended."""
    if proc.poll() is not None:
        return True
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def leaks(report):
    """The non-zero "definitely lost" / "indirectly lost" lines of a report."""
    return [m.group(0) for m in LOST.finditer(report) if m.group(2) != "0"]


def run_under_valgrind(stack, valgrind, daemon):
    """Runs the daemon under valgrind until ready, then SIGTERMs it; returns
    (exit status, valgrind report, where the report is)."""
    log_dir = stack.stack_dir / "log"
    report_path = log_dir / f"valgrind-{daemon}.log"
    args = [valgrind, "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-fds=no",
            "--num-callers=30", f"--log-file={report_path}"]
    if SUPPRESSIONS.exists():
        args.append(f"--suppressions={SUPPRESSIONS}")
    args += [str(stack.bin_dir / daemon), "--config", stack.config]
    # What the stack gives its daemons: this environment with its settings,
    # without the stack's own variables, run in the stack's directory.
    env = {k: v for k, v in {**os.environ, **STACK_SETTINGS}.items() if k not in NOT_CONFIG}
    with open(log_dir / f"valgrind-{daemon}.out", "wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=stack.stack_dir, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"{stack.admin_url(daemon)}/readyz"
            wait_until(f"{daemon} under valgrind ready at {url}", lambda: ready(url, proc),
                       timeout=READY_TIMEOUT, interval=0.5)
            assert proc.poll() is None, \
                f"{daemon} exited ({proc.returncode}) under valgrind before it was ready; see {report_path}"
            # The admin listener's other pages, so that their paths are checked too.
            metrics = requests.get(f"{stack.admin_url(daemon)}/metrics", timeout=30)
            assert metrics.status_code == 200, metrics.text
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{daemon} under valgrind still runs {EXIT_TIMEOUT} s after SIGTERM; "
                            f"see {report_path}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return status, report_path.read_text(errors="replace"), report_path


@pytest.mark.parametrize("daemon", DAEMONS)
def test_clean_start_and_stop_leaks_nothing(stack, valgrind, daemon):
    stopped = stack.stop_daemon(daemon)
    try:
        assert stopped.returncode == 0, f"stop-daemon {daemon}: {describe(stopped)}"
        status, report, where = run_under_valgrind(stack, valgrind, daemon)
    finally:
        start_daemon(stack, daemon)
    assert not leaks(report), f"{daemon} leaks under valgrind: {leaks(report)}; see {where}"
    assert status == 0, f"{daemon} exited {status} under valgrind (99: memcheck found errors); see {where}"
    assert "ERROR SUMMARY: 0 errors" in report, f"memcheck errors in {daemon}; see {where}"
