#!/usr/bin/env bash
# The tuning table of docs/performance.md: the end-to-end benchmark (run.sh)
# once per setting below, shorter than `make bench` (BENCH_RELEASES 6000,
# BENCH_SECONDS 30, smaller baselines), each on a fresh stack, then one table
# of what each setting changed: the maximum sustained rate, the 50 % run's
# latencies and the CPU every process spent per release at 50 %.
#
#   tests/bench/e2e/tune.sh [NAME...]     the named settings only (default: all)
#
# Results in BENCH_TUNE_DIR (default var/bench-results/tune): one directory per
# setting with run.sh's outputs, and tune.txt. Takes about three minutes per
# setting. Exits 1 when a run fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
OUT=${BENCH_TUNE_DIR:-$ROOT/var/bench-results/tune}

# name | what it is | environment of run.sh
SETTINGS=(
    "default|defaults: a transaction per batch as soon as messages arrive|"
    "interval20|kafka.transaction_interval_ms 20|ZWGK_KAFKA_TRANSACTION_INTERVAL_MS=20"
    "interval50|kafka.transaction_interval_ms 50|ZWGK_KAFKA_TRANSACTION_INTERVAL_MS=50"
    "interval100|kafka.transaction_interval_ms 100|ZWGK_KAFKA_TRANSACTION_INTERVAL_MS=100"
    "2cl|two classifier processes|BENCH_CLASSIFIERS=2"
    "partitions3|3 partitions per topic (the stack creates them so)|ZWGK_KAFKA_PARTITIONS=3"
    "partitions12|12 partitions per topic|ZWGK_KAFKA_PARTITIONS=12"
    "batch100|kafka.batch_max 100|ZWGK_KAFKA_BATCH_MAX=100"
    "pg-per-message|pg.batch_transactions false: a PostgreSQL transaction per message|ZWGK_PG_BATCH_TRANSACTIONS=false"
    "rdk-linger20|librdkafka linger.ms 20 for every producer|BENCH_KAFKA_PROPS=linger.ms=20"
)

wanted=("$@")
selected() {
    [ ${#wanted[@]} -eq 0 ] && return 0
    local w
    for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}

mkdir -p "$OUT"
for entry in "${SETTINGS[@]}"; do
    IFS='|' read -r name what settings <<<"$entry"
    selected "$name" || continue
    echo "tune: $name ($what)"
    rm -rf "${OUT:?}/$name"
    # shellcheck disable=SC2086  # settings is a list of NAME=VALUE words
    env BENCH_RESULTS_DIR="$OUT/$name" BENCH_RELEASES="${BENCH_RELEASES:-6000}" \
        BENCH_SECONDS="${BENCH_SECONDS:-30}" BENCH_WARMUP_RELEASES="${BENCH_WARMUP_RELEASES:-500}" \
        BENCH_RAW_RECORDS="${BENCH_RAW_RECORDS:-50000}" BENCH_LATENCY_MESSAGES="${BENCH_LATENCY_MESSAGES:-2000}" \
        BENCH_NGINX_SECONDS="${BENCH_NGINX_SECONDS:-3}" $settings \
        "$HERE/run.sh" >"$OUT/$name.log" 2>&1 || {
        echo "tune: $name failed; see $OUT/$name.log" >&2
        exit 1
    }
    printf '%s\n' "$what" >"$OUT/$name/setting.txt"
done

"$ROOT/var/venv/bin/python" - "$OUT" <<'EOF' | tee "$OUT/tune.txt"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for d in sorted(p for p in out.iterdir() if (p / "load50.json").exists()):
    m, h = json.loads((d / "max.json").read_text()), json.loads((d / "load50.json").read_text())
    cpu = sum(v["per_1000"] for k, v in h["cpu"].items() if k != "load generator")
    lt, ld = h["latency_topic_ms"], h["latency_delivered_ms"]
    txn = h.get("transactions", {}).get("zwgk-classifier") or {}
    rows.append((d.name, (d / "setting.txt").read_text().strip(), m["sustained_rate"], h["offered_rate"],
                 h["sustained_rate"], lt.get("p50"), lt.get("p99"), ld.get("p50"), ld.get("p99"), cpu,
                 h["machine_busy_cores"], max(v for k, v in h["peak_rss_mib"].items() if k.startswith("zwgk")),
                 txn.get("per_s"), txn.get("messages_per_txn")))
def n(v, f):
    return format(v, f) if v is not None else "-"
print(f"{'setting':15} {'max/s':>7} {'50%/s':>7} {'kept':>6} {'ch p50':>7} {'ch p99':>7} {'dl p50':>7} {'dl p99':>7} "
      f"{'CPU ms':>7} {'busy':>5} {'RSS':>6} {'cl tx/s':>7} {'msg/tx':>6}")
for r in rows:
    print(f"{r[0]:15} {r[2]:7.1f} {r[3]:7.1f} {r[4]:6.1f} {r[5]:7.0f} {r[6]:7.0f} {r[7]:7.0f} {r[8]:7.0f} "
          f"{r[9]:7.2f} {r[10]:5.2f} {r[11]:6.1f} {n(r[12], '7.1f')} {n(r[13], '6.1f')}")
print("max/s: the maximum run's sustained releases/s; 50%: offered and delivered releases/s of the open-loop run "
      "at half of it; ch/dl: ingest -> channel topic / -> delivered, ms, at 50 %; CPU ms: every process but the "
      "load generator, per release at 50 %; busy: cores the machine used at 50 %; RSS: the largest daemon's "
      "peak, MiB; cl tx/s, msg/tx: the classifier's transactions per second and messages per transaction at 50 %.")
for r in rows:
    print(f"  {r[0]}: {r[1]}")
EOF
