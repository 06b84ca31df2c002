"""The fault suite's subset for `make test` (docs/reliability.md): on the
single-broker test stack, 2,000 requests through zwgk-producer at 100 per
second while each of the seven daemons is SIGKILLed once (and restarted, as
systemd would), PostgreSQL crashes and restarts (`pg_ctl restart -m
immediate`, in the middle of the stages' batch transactions), and poison is
written straight to every input topic. Then the
harness's invariants (tests/faults/harness.py): every 202 reached each of its
channels exactly once and in revision order, the DLQ holds exactly the
poison, and no daemon ended that was not killed.

ZWGK_FAULTS_CI_RELEASES and ZWGK_FAULTS_CI_RATE change the size and the pace.
"""

import os

import harness  # on sys.path through conftest
from conftest import STACK_SETTINGS

TOTAL = int(os.environ.get("ZWGK_FAULTS_CI_RELEASES", "2000"))
RATE = float(os.environ.get("ZWGK_FAULTS_CI_RATE", "100"))


def test_every_daemon_killed_and_postgres_crashed_loses_and_duplicates_nothing(stack, wechat_drained):
    slots = len(harness.DAEMONS) + 2
    faults = [((i + 1) / slots, harness.KillDaemon(d)) for i, d in enumerate(harness.DAEMONS)]
    faults.append((0.5 / slots, harness.InjectPoison()))
    faults.append(((slots - 1) / slots, harness.PostgresRestart()))
    run = harness.Harness(harness.Stack(STACK_SETTINGS), TOTAL, RATE, faults, shared=True,
                          log=lambda line: print(line, flush=True))
    failures = run.run()
    for name, at, healed, recovery in run.table():
        print(f"{name:28} at {at:3}%  back in {healed:5.1f} s  moving again after "
              f"{'-' if recovery is None else f'{recovery:.1f} s'}")
    assert run.drained_in is not None, f"not drained: {failures}"
    assert not failures, "\n".join(failures)
