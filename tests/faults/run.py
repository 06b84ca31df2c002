#!/usr/bin/env python3
"""`make test-faults`: every fault of tests/faults/harness.py, one at a time,
against a private stack with a 3-node Kafka cluster (replication factor 3,
min.insync.replicas=2), PostgreSQL, every daemon and the stand-ins.

For each fault a fresh load of RELEASES requests runs at RATE per second and
the fault strikes at 20 %, 50 % and 80 % of it; then the pipeline drains and
the invariants are checked. One table row per fault is printed and written
into docs/reliability.md (between its "fault table" markers).

    tests/faults/run.py [--releases N] [--rate R] [--only NAME,...] [--no-write]

Environment: ZWGK_BUILD_DIR (default build/), and the stack's own variables;
the stack lives in var/faults on port base 26500 unless ZWGK_STACK_DIR /
ZWGK_STACK_PORT_BASE say otherwise. Exits 1 when any invariant failed.
"""

import argparse
import datetime
import os
import pathlib
import socket
import subprocess
import sys
import time

import requests

import harness

ROOT = harness.ROOT
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- fault table: begin -->", "<!-- fault table: end -->"

# The stack of the fault suite: fast retries, so a stand-in's outage of a few
# seconds is ridden out well inside delivery.retry_limit; short adapter
# timeouts, so a slow answer is a timeout.
SETTINGS = {
    "ZWGK_STACK_DIR": os.environ.get("ZWGK_STACK_DIR") or str(ROOT / "var" / "faults"),
    "ZWGK_STACK_PORT_BASE": os.environ.get("ZWGK_STACK_PORT_BASE") or "26500",
    "ZWGK_KAFKA_NODES": "3",
    "ZWGK_DELIVERY_RETRY_BASE_MS": "200",
    "ZWGK_DELIVERY_RETRY_CAP_MS": "2000",
    "ZWGK_DELIVERY_RETRY_LIMIT": "40",
    "ZWGK_DELIVERY_SCHEDULE_INTERVAL_MS": "250",
    "ZWGK_WECHAT_TIMEOUT_MS": "2000",
    "ZWGK_BROADCAST_TIMEOUT_MS": "2000",
}


def fault_kinds():
    """name -> a function making a fresh instance (one per strike)."""
    kinds = {}
    for d in harness.DAEMONS:
        kinds[f"SIGKILL {d}"] = lambda d=d: harness.KillDaemon(d)
    kinds["kill partition leader"] = lambda: harness.KillBroker("leader")
    kinds["kill active controller"] = lambda: harness.KillBroker("controller")
    kinds["pg_ctl restart -m immediate"] = harness.PostgresRestart
    for fake in ("wechat", "broadcast"):
        for mode in ("5xx", "timeout", "quota"):
            kinds[f"{fake} {mode}"] = lambda f=fake, m=mode: harness.Standin(f, m)
    kinds["poison on every input topic"] = harness.InjectPoison
    kinds["two brokers down"] = harness.TwoBrokersDown
    return kinds


def reset_standins(stack):
    """Forgets what the stand-ins received; the WeChat one then publishes at
    the first poll (the adapter's waiting for a slow publish has tests of
    its own), so that a fault's load drains in minutes."""
    for url in (stack.wechat, stack.broadcast):
        if url:
            requests.post(f"{url}/_fake/reset", json={}, timeout=10).raise_for_status()
    if stack.wechat:
        requests.post(f"{stack.wechat}/_fake/config", json={"publishing_polls": 0}, timeout=10).raise_for_status()


def fmt(seconds):
    return "–" if seconds is None else f"{seconds:.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--releases", type=int, default=int(os.environ.get("ZWGK_FAULTS_RELEASES", "20000")))
    ap.add_argument("--rate", type=float, default=float(os.environ.get("ZWGK_FAULTS_RATE", "120")))
    ap.add_argument("--only", default="", help="comma-separated fault names (default: all)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/reliability.md")
    args = ap.parse_args(argv)

    kinds = fault_kinds()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(kinds)
    unknown = [n for n in names if n not in kinds]
    if unknown:
        ap.error(f"unknown fault(s) {unknown}; known: {list(kinds)}")

    os.environ.update(SETTINGS)
    print(f"faults: starting a fresh stack in {SETTINGS['ZWGK_STACK_DIR']} (3 Kafka nodes)", flush=True)
    # Work left over from an earlier run (say one cut short) would still be
    # in flight when the stand-ins are reset, and fail there.
    env = dict(os.environ)
    subprocess.run([str(harness.STACK_SCRIPT), "down", "--purge"], env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, timeout=300)
    stack = harness.Stack.__new__(harness.Stack)
    stack.settings = dict(SETTINGS)
    stack.run("up", timeout=900)
    stack = harness.Stack(SETTINGS)
    started = time.monotonic()

    rows, failed = [], False
    for name in names:
        reset_standins(stack)
        strikes = [(fraction, kinds[name]()) for fraction in (0.2, 0.5, 0.8)]
        print(f"\n== {name}", flush=True)
        run = harness.Harness(stack, args.releases, args.rate, strikes, log=lambda s: print(s, flush=True))
        t0 = time.monotonic()
        try:
            failures = run.run()
        except Exception as e:  # noqa: BLE001 - a harness error fails the row, not the table
            failures = [f"harness error: {e!r}"]
        table = run.table() if run.events else []
        recoveries = [r for _n, _a, _h, r in table]
        outage = ""
        if getattr(run, "outage_answers", None) is not None:
            outage = (f"requests sent while down answered {dict(run.outage_answers)}, slowest 503 after "
                      f"{fmt(run.outage_slowest)} s")
        row = {
            "fault": name,
            "accepted": run.load.accepted_count if run.load else 0,
            "deliveries": len(run.load.expected()) if run.load else 0,
            "recovery": recoveries,
            "struck": [a for _n, a, _h, _r in table],
            "healed": [h for _n, _a, h, _r in table],
            "drain": getattr(run, "drained_in", None),
            "minutes": (time.monotonic() - t0) / 60,
            "result": "pass" if not failures else "FAIL",
            "note": "; ".join(failures)[:300] if failures else outage,
        }
        failed |= bool(failures)
        rows.append(row)
        for f in failures:
            print(f"  FAIL: {f}", flush=True)
        if not args.no_write:  # row by row, so a run cut short still leaves its rows
            write_doc(rows, args, list(kinds))

    table = "\n".join(render_rows(rows, args))
    print("\n" + table)
    print(f"faults: {len(rows)} faults in {(time.monotonic() - started) / 60:.1f} min; "
          f"{'FAILED' if failed else 'all invariants held'}")
    if not args.no_write:
        print(f"faults: table written to {DOC.relative_to(ROOT)}")
    return 1 if failed else 0


def source_commit():
    """The commit the binaries were built from (make test-faults builds them
    right before), with -dirty when the work tree had changes."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "?"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


COMMIT = source_commit()  # taken at start: the tree may change during an hour's run

HEADER = ("| fault | result | 202s | deliveries | struck at (% of the load) | healed after (s) | "
          "moving again after (s) | drained in (s) | run | note |")


def render_rows(rows, args):
    """The table's lines for rows, header first."""
    build = pathlib.Path(os.environ.get("ZWGK_BUILD_DIR", ROOT / "build")).name
    run = f"{datetime.date.today().isoformat()}, {args.releases} at {args.rate:g}/s, {build} of {COMMIT}"
    lines = [HEADER, "| --- | --- | ---: | ---: | --- | --- | --- | ---: | --- | --- |"]
    for r in rows:
        rec = " / ".join(fmt(x) for x in r["recovery"]) or "–"
        struck = " / ".join(str(x) for x in r["struck"]) or "–"
        healed = " / ".join(fmt(x) for x in r["healed"]) or "–"
        note = r["note"].replace("|", "\\|")
        lines.append(f"| {r['fault']} | {r['result']} | {r['accepted']} | {r['deliveries']} | {struck} | {healed} | "
                     f"{rec} | {fmt(r['drain'])} | {run} | {note} |")
    return lines


def write_doc(rows, args, order):
    """Replaces, in docs/reliability.md's table, the rows of the faults run
    now; the other faults keep the row of their last run."""
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    kept = {}
    for line in old.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and line.strip() != HEADER and cells[0] in order:
            kept[cells[0]] = line
    new = render_rows(rows, args)
    for line in new[2:]:
        kept[line.split("|")[1].strip()] = line
    lines = new[:2] + [kept[name] for name in order if name in kept]
    intro = (f"{socket.gethostname() or 'This machine'}, {os.cpu_count()} cores; the faults struck under a load of "
             "the size and rate in the run column, with 3 Kafka nodes. Each row is the last run of that fault.")
    DOC.write_text(f"{head}{BEGIN}\n{intro}\n\n" + "\n".join(lines) + f"\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
