#!/usr/bin/env bash
# The ingest benchmark (docs/performance.md), end to end and bounded in time:
#
#   1. starts a private stack (PostgreSQL, Kafka, zwgk-producer) in var/bench on
#      port base 25000 and takes a token of department demo;
#   2. warms the producer and the broker up;
#   3. measures nginx answering a fixed 202 to the same requests (the HTTP
#      ceiling of this machine), zwgk-producer at its maximum, and
#      zwgk-producer at half that rate (open loop);
#   4. checks that every 202 of the zwgk runs is exactly one record on
#      zwgk.releases;
#   5. prints one table with the CPU each part used, the producer's Kafka
#      delivery times and jansson's cost per release (jansson_cost.c), and
#      stops nginx and the stack whatever happened.
#
# Exits 1 when a zwgk run got an answer other than 202 or 503 (a 429 too: the
# bench switches the rate limit off), or when the durability check fails.
# The performance targets are reported, not enforced.
#
# Environment (all optional):
#   BENCH_SECONDS         length of each measured run (default 20)
#   BENCH_WARMUP_SECONDS  warm-up against the producer (default 15: a fresh Kafka
#                         JVM needs 10-15 s of this load before its JIT settles)
#   BENCH_THREADS         wrk threads (default 2)
#   BENCH_CONNECTIONS     wrk connections (default 64)
#   BENCH_PORT_BASE       the stack's port base (default 25000; nginx on +90)
#   BENCH_STACK_DIR       the stack directory (default var/bench)
#   BENCH_NGINX_AUTO      1 (default): also measure nginx with worker_processes auto
#   BENCH_NGINX_DISCARD   1: also measure nginx answering without reading the body
#   BENCH_FULL_STACK      1: run every daemon (classifier, fan-out, portal consume
#                         what the producer writes) instead of the producer alone
#   BENCH_KEEP_STACK      1: start from the existing var/bench and keep its data
#                         (default: start from an empty stack and delete it after)
#   BENCH_RESULTS_DIR     where each run's output goes (default var/bench-results)
#   BENCH_PERF            1: record a perf profile (cpu-clock) of the producer
#                         during the maximum run, if perf works here
#   ZWGK_BUILD_DIR        build directory whose bin/ has the daemons (default build)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"

DURATION=${BENCH_SECONDS:-20}
WARMUP=${BENCH_WARMUP_SECONDS:-15}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
PORT_BASE=${BENCH_PORT_BASE:-25000}
NGINX_PORT=$((PORT_BASE + 90))
NGINX_AUTO=${BENCH_NGINX_AUTO:-1}
NGINX_DISCARD=${BENCH_NGINX_DISCARD:-0}
FULL_STACK=${BENCH_FULL_STACK:-0}
KEEP_STACK=${BENCH_KEEP_STACK:-0}
RESULTS=${BENCH_RESULTS_DIR:-$ROOT/var/bench-results}
PERF=${BENCH_PERF:-0}
WRK_TIMEOUT=10s # above producer.delivery_timeout_ms: wrk leaves slower answers out of its percentiles

STACK=deploy/local/stack
SCRIPT=$HERE/release.lua
PYTHON=$ROOT/var/venv/bin/python
TOPIC=zwgk.releases

# bench_init, say, die, stack_env, kv, cpu_ticks, CLK_TCK, bench_nginx_start/stop
# shellcheck source=tests/bench/common.sh
. "$HERE/../common.sh"
bench_init bench
export ZWGK_STACK_DIR=${BENCH_STACK_DIR:-$ROOT/var/bench}
export ZWGK_STACK_PORT_BASE=$PORT_BASE

for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian packages: wrk nginx curl)"
done
[ -x "$PYTHON" ] || die "$PYTHON not found; run 'make deps'"

# --- cleanup ------------------------------------------------------------------

STACK_STARTED=0

nginx_stop() { bench_nginx_stop; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    nginx_stop
    if [ "$STACK_STARTED" = 1 ]; then
        if [ "$KEEP_STACK" = 1 ]; then
            "$STACK" down || rc=1
        else
            "$STACK" down --purge || rc=1
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ------------------------------------------------------------------

children_of() {
    local parent=$1 f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line <"$f" 2>/dev/null || continue
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        if [ "$2" = "$parent" ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

# The machine's CPU counters from /proc/stat: "busy idle steal" in ticks
# (busy = user, nice, system, irq, softirq; idle includes iowait).
machine_ticks() {
    local _cpu user nice system idle iowait irq softirq steal _rest
    read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
    echo "$((user + nice + system + irq + softirq)) $((idle + iowait)) $steal"
}

metric() { # metric NAME [LABELS]: a value from the producer's /metrics (0 if absent)
    local name=$1 page
    [ -z "${2:-}" ] || name="$1{$2}"
    page=$(curl -fsS --max-time 5 "$ADMIN_URL/metrics") || return 1
    awk -v name="$name" '$1 == name { v = $2 } END { print v == "" ? 0 : v }' <<<"$page"
}

wait_drained() { # until no release waits for Kafka's acknowledgement
    local deadline=$((SECONDS + 15)) n
    while :; do
        n=$(metric zwgk_ingest_inflight || echo "?")
        if [ "$n" = 0 ]; then
            return 0
        fi
        [ $SECONDS -lt $deadline ] || die "the producer still waits for $n acknowledgement(s) after 15 s"
        sleep 0.2
    done
}

# run_wrk LABEL URL SECONDS [RATE]: one wrk run with release.lua; leaves
# LABEL.txt (wrk's output), LABEL.summary (release.lua's key=value summary,
# plus cpu_* in cores) and LABEL.ids (release_ids of the 202s) in $RESULTS.
run_wrk() {
    local label=$1 url=$2 seconds=$3 rate=${4:-0} before_srv after_srv srv_pids=() wrk_cpu
    srv_pids=("${SERVER_PIDS[@]}")
    local ids="" # the release_ids of the 202s, for the durability check of zwgk runs
    case $label in zwgk-*) ids=$RESULTS/$label.ids ;; esac
    before_srv=()
    local pid
    for pid in "${srv_pids[@]}"; do before_srv+=("$(cpu_ticks "$pid")"); done
    local machine_before
    machine_before=$(machine_ticks)
    (
        BENCH_LABEL=$label BENCH_RUN="$RUN_TAG-$label" BENCH_RATE=$rate BENCH_THREADS=$THREADS \
            BENCH_OUT="$RESULTS/$label.summary" BENCH_IDS=$ids \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout "$WRK_TIMEOUT" \
            -s "$SCRIPT" "$url" >"$RESULTS/$label.txt" 2>&1 || exit 1
        times >"$RESULTS/$label.wrkcpu" # second line: the children's (wrk's) user and system time
    ) || {
        cat "$RESULTS/$label.txt" >&2
        die "wrk failed in run '$label'"
    }
    [ -s "$RESULTS/$label.summary" ] || {
        cat "$RESULTS/$label.txt" >&2
        die "wrk wrote no summary in run '$label'"
    }
    local machine_after
    machine_after=$(machine_ticks)
    # children's user and system time, e.g. "0m3.210s 0m1.020s"
    wrk_cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } print n }' \
        "$RESULTS/$label.wrkcpu")
    local elapsed
    elapsed=$(kv "$RESULTS/$label.summary" seconds)
    {
        # shellcheck disable=SC2086
        awk -v t="$CLK_TCK" -v s="$elapsed" -v b="$machine_before" -v a="$machine_after" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf "cpu_machine_busy=%.2f\ncpu_machine_idle=%.2f\ncpu_machine_steal=%.2f\n",
                (y[1] - x[1]) / t / s, (y[2] - x[2]) / t / s, (y[3] - x[3]) / t / s }'
        echo "cpu_wrk=$(awk -v c="$wrk_cpu" -v s="$elapsed" 'BEGIN { printf "%.2f", c / s }')"
        local i=0 name
        for name in "${SERVER_NAMES[@]}"; do
            after_srv=$(cpu_ticks "${srv_pids[$i]}")
            echo "cpu_$name=$(awk -v a="$after_srv" -v b="${before_srv[$i]}" -v t="$CLK_TCK" -v s="$elapsed" \
                'BEGIN { printf "%.2f", (a - b) / t / s }')"
            i=$((i + 1))
        done
    } >>"$RESULTS/$label.summary"
    # What the machine did besides wrk and the measured servers: other
    # processes (other work on a shared machine) and kernel time not charged
    # to a process.
    awk -F= '$1 == "cpu_machine_busy" { busy = $2 } $1 ~ /^cpu_/ && $1 !~ /^cpu_machine|_loop$/ { ours += $2 }
        END { printf "cpu_rest=%.2f\n", busy - ours }' "$RESULTS/$label.summary" >>"$RESULTS/$label.summary"
}

# Processes whose CPU use each run reports (names and pids, in step).
SERVER_NAMES=()
SERVER_PIDS=()
set_servers() { # set_servers name pid name pid ...
    SERVER_NAMES=()
    SERVER_PIDS=()
    while [ $# -gt 0 ]; do
        SERVER_NAMES+=("$1")
        SERVER_PIDS+=("$2")
        shift 2
    done
}

nginx_start() { # nginx_start WORKERS
    bench_nginx_start "$NGINX_PORT" "$1" "$RESULTS/sample.json"
    local args=(nginx_master "$NGINX_PID") worker
    for worker in $(children_of "$NGINX_PID"); do
        args+=(nginx "$worker")
    done
    set_servers "${args[@]}"
}

# The CPU of nginx's workers, summed, for the table.
nginx_cpu() { # nginx_cpu SUMMARY
    awk -F= '$1 == "cpu_nginx" || $1 == "cpu_nginx_master" { n += $2 } END { printf "%.2f", n }' "$1"
}

# --- the stack ------------------------------------------------------------------

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.txt "$RESULTS"/*.summary "$RESULTS"/*.ids "$RESULTS"/*.wrkcpu "$RESULTS"/*.json \
    "$RESULTS"/*.verify "$RESULTS"/*.verify.err "$RESULTS"/*.metrics.* "$RESULTS"/perf.* \
    "$RESULTS"/shapes/* "$RESULTS"/jansson_cost 2>/dev/null || true
RUN_TAG=$(date -u +%Y%m%dT%H%M%SZ)
STARTED_AT=$SECONDS

BIN=${ZWGK_BUILD_DIR:-$ROOT/build}/bin
[ -x "$BIN/zwgk-producer" ] || die "$BIN/zwgk-producer not found; run 'make build'"

# The producer's per-department rate limit would answer most of the load with
# 429: switch it off (0 = no limit) when this build has it. Setting it for a
# build without the key would stop the producer (an unknown key is an error).
RATE_LIMIT_NOTE="this build has no producer rate limit"
# The key list is read whole before it is searched: grep -q would stop reading
# early, and the producer's write into the closed pipe would fail the pipeline.
config_keys=$("$BIN/zwgk-producer" --help-config 2>/dev/null || true)
if grep -q '^producer\.rate_limit_per_s ' <<<"$config_keys"; then
    export ZWGK_PRODUCER_RATE_LIMIT_PER_S=0
    RATE_LIMIT_NOTE="producer.rate_limit_per_s = 0 (no limit)"
fi

STACK_STARTED=1
if [ -e "$ZWGK_STACK_DIR/.zwgk-stack" ]; then
    if [ "$KEEP_STACK" = 1 ]; then
        "$STACK" down # a stack left running, e.g. by an interrupted run
    else
        "$STACK" down --purge
    fi
fi
if [ "$FULL_STACK" = 1 ]; then
    "$STACK" up
else
    # Only what ingest needs: no consumer competes for the two cores.
    ZWGK_STACK_NO_DAEMONS=1 "$STACK" up
    "$STACK" start-daemon zwgk-producer
fi

INGEST_URL=$(stack_env ZWGK_INGEST_URL)/v1/releases
ADMIN_URL=$(stack_env ZWGK_PRODUCER_ADMIN_URL)
BROKERS=$(stack_env ZWGK_KAFKA_BROKERS)
CONFIG=$(stack_env ZWGK_CONFIG)
PRODUCER_PID=$(cat "$ZWGK_STACK_DIR/run/zwgk-producer.pid")
KAFKA_PID=$(cat "$ZWGK_STACK_DIR/run/kafka.pid")

ZWGK_BENCH_TOKEN=$("$BIN/zwgkctl" --config "$CONFIG" --json department token demo |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
export ZWGK_BENCH_TOKEN

# One request of the benchmark's shape, for nginx's readiness check.
"$PYTHON" - "$RESULTS/sample.json" <<'EOF'
import sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write('{"source_id":"bench-sample","revision":1,"action":"publish","department":"demo",'
            '"title":"样例","body":"<p>预算</p><table><tr><td>合计</td></tr></table>","doc_type":"budget",'
            '"catalog_code":"czyjs-001","region_code":"370211","formed_at":"2025-01-20T09:00:00+08:00",'
            '"secrecy_review":{"reviewer":"王敏","reviewed_at":"2025-01-20T10:00:00+08:00"}}')
EOF

# What the machine is busy with while the stack idles: anything else running
# here competes with the benchmark for the same cores.
idle_before=$(machine_ticks)
sleep 3
BACKGROUND=$(awk -v b="$idle_before" -v a="$(machine_ticks)" -v t="$CLK_TCK" \
    'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.2f", (y[1] - x[1]) / t / 3 }')
say "background load: $BACKGROUND of $(nproc) cores busy while the stack idles"

# --- warm-up --------------------------------------------------------------------

set_servers producer "$PRODUCER_PID" kafka "$KAFKA_PID"
say "warm-up: ${WARMUP} s against $INGEST_URL ($RATE_LIMIT_NOTE)"
run_wrk warmup "$INGEST_URL" "$WARMUP"
if [ "$(kv "$RESULTS/warmup.summary" non_202)" != 0 ]; then
    die "warm-up got answers other than 202: $(kv "$RESULTS/warmup.summary" non_202_by_status) (see $RESULTS/warmup.txt)"
fi
wait_drained

# --- nginx ------------------------------------------------------------------------

say "nginx, 1 worker: ${DURATION} s"
nginx_start 1
mkdir -p "$RESULTS/shapes"
BENCH_DUMP_DIR=$RESULTS/shapes run_wrk nginx "http://127.0.0.1:$NGINX_PORT/v1/releases" "$DURATION"
if [ "$NGINX_DISCARD" = 1 ]; then
    say "nginx, 1 worker, body discarded: ${DURATION} s"
    run_wrk nginx-discard "http://127.0.0.1:$NGINX_PORT/discard/v1/releases" "$DURATION"
fi
nginx_stop
if [ "$NGINX_AUTO" = 1 ]; then
    say "nginx, worker_processes auto ($(nproc) workers): ${DURATION} s"
    nginx_start auto
    run_wrk nginx-auto "http://127.0.0.1:$NGINX_PORT/v1/releases" "$DURATION"
    nginx_stop
fi

# The JSON work of one release in isolation (parse, build and serialize the
# envelope with jansson), on the 16 request bodies: the largest item of the
# producer's profile (docs/performance.md). Needs a C compiler and jansson.h,
# which make deps installs; skipped without them.
JANSSON_NOTE="not measured (no C compiler or jansson.h)"
if command -v cc >/dev/null && cc -O2 -o "$RESULTS/jansson_cost" "$HERE/jansson_cost.c" -ljansson 2>/dev/null; then
    "$RESULTS/jansson_cost" "$RESULTS"/shapes/shape-*.json >"$RESULTS/jansson.summary"
    JANSSON_NOTE="json_loadb $(kv "$RESULTS/jansson.summary" jansson_parse_us) us +"
    JANSSON_NOTE+=" json_pack/json_dumps $(kv "$RESULTS/jansson.summary" jansson_dump_us) us per release"
    JANSSON_NOTE+=" of $(kv "$RESULTS/jansson.summary" jansson_body_bytes_mean) bytes on average"
fi

# --- zwgk ---------------------------------------------------------------------------

# delivery_stats BEFORE AFTER: the producer's zwgk_ingest_delivery_seconds
# histogram (produce -> Kafka's acknowledgement) over a run, from two /metrics
# pages: the mean, and the bucket bounds that hold the median and the 99th
# percentile.
delivery_stats() {
    awk '
        function le_of(name) { sub(/.*le="/, "", name); sub(/".*/, "", name); return name }
        FNR == NR { before[$1] = $2; next }
        $1 ~ /^zwgk_ingest_delivery_seconds_bucket/ { n++; le[n] = le_of($1); cum[n] = $2 - before[$1] }
        $1 == "zwgk_ingest_delivery_seconds_sum" { sum = $2 - before[$1] }
        $1 == "zwgk_ingest_delivery_seconds_count" { count = $2 - before[$1] }
        function bound(q,   i) {
            for (i = 1; i <= n; i++) if (cum[i] >= q * count) return le[i] == "+Inf" ? "inf" : sprintf("%g", le[i] * 1000)
            return "?"
        }
        END {
            if (count > 0) printf "delivery_mean_ms=%.2f\n", 1000 * sum / count
            printf "delivery_p50_le_ms=%s\ndelivery_p99_le_ms=%s\n", bound(0.5), bound(0.99)
        }' "$1" "$2"
}

FAILED=0

# zwgk_run LABEL [RATE]: a run against the producer with the durability check.
zwgk_run() {
    local label=$1 rate=${2:-0} s
    # producer_loop: the producer's main thread, its one event loop, within producer
    set_servers producer "$PRODUCER_PID" kafka "$KAFKA_PID" producer_loop "$PRODUCER_PID/task/$PRODUCER_PID"
    wait_drained
    curl -fsS --max-time 5 "$ADMIN_URL/metrics" >"$RESULTS/$label.metrics.before"
    "$PYTHON" "$HERE/kafka_records.py" offsets --brokers "$BROKERS" --topic "$TOPIC" >"$RESULTS/$label.before.json"
    local acked_before
    acked_before=$(metric zwgk_ingest_requests_total 'status="202"' || true)
    local perf_pid=""
    if [ "$PERF" = 1 ] && [ "$label" = zwgk-max ] && command -v perf >/dev/null; then
        perf record -q -e cpu-clock -F 499 -g -p "$PRODUCER_PID" -o "$RESULTS/perf.data" \
            -- sleep "$DURATION" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    run_wrk "$label" "$INGEST_URL" "$DURATION" "$rate"
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        {
            perf report -i "$RESULTS/perf.data" --stdio --no-children -g none --sort comm,dso
            perf report -i "$RESULTS/perf.data" --stdio --no-children -g none --sort dso,sym --percent-limit 0.5
        } >"$RESULTS/perf.txt" 2>/dev/null || true
    fi
    sleep 0.5 # requests wrk had sent when it stopped are still read and produced
    wait_drained
    "$PYTHON" "$HERE/kafka_records.py" offsets --brokers "$BROKERS" --topic "$TOPIC" >"$RESULTS/$label.after.json"
    local acked_after
    acked_after=$(metric zwgk_ingest_requests_total 'status="202"' || true)
    curl -fsS --max-time 5 "$ADMIN_URL/metrics" >"$RESULTS/$label.metrics.after"
    s=$RESULTS/$label.summary
    delivery_stats "$RESULTS/$label.metrics.before" "$RESULTS/$label.metrics.after" >>"$s"
    echo "producer_202=$(awk -v a="${acked_after:-0}" -v b="${acked_before:-0}" 'BEGIN { print a - b }')" >>"$s"

    local by_status refused=0 item
    by_status=$(kv "$s" non_202_by_status)
    if [ "$by_status" != - ]; then
        for item in ${by_status//,/ }; do
            case ${item%%:*} in
            503) refused=${item#*:} ;;
            *) FAILED=1 && say "FAIL: $label: $item (status:count) answers; only 202 and 503 are expected" ;;
            esac
        done
    fi
    if ! "$PYTHON" "$HERE/kafka_records.py" verify --brokers "$BROKERS" --topic "$TOPIC" \
        --before "$RESULTS/$label.before.json" --after "$RESULTS/$label.after.json" \
        --ids "$RESULTS/$label.ids" --unanswered "$(kv "$s" unanswered)" --refused "$refused" \
        >"$RESULTS/$label.verify" 2>"$RESULTS/$label.verify.err"; then
        FAILED=1
        say "FAIL: $label: durability check: $(tr '\n' ' ' <"$RESULTS/$label.verify") $(head -c 500 "$RESULTS/$label.verify.err")"
    fi
    cat "$RESULTS/$label.verify" >>"$s"
}

say "zwgk-producer at its maximum: ${DURATION} s, $CONNECTIONS connections"
zwgk_run zwgk-max
MAX_RPS=$(kv "$RESULTS/zwgk-max.summary" rps_202)
HALF_RATE=$(awk -v r="$MAX_RPS" 'BEGIN { printf "%d", r / 2 }')
[ "$HALF_RATE" -gt 0 ] || die "zwgk-producer accepted nothing in the maximum run (see $RESULTS/zwgk-max.txt)"

say "zwgk-producer at 50 % of its maximum: $HALF_RATE requests/s (open loop), ${DURATION} s"
zwgk_run zwgk-half "$HALF_RATE"

# --- report ---------------------------------------------------------------------------

NGINX_RPS=$(kv "$RESULTS/nginx.summary" rps)
FORMAT='%-24s %9s %7s %7s %8s %7s %8s %5s %5s %5s %5s\n'
row() { # row NAME LABEL RPS_KEY CPU_SERVER CPU_KAFKA
    local s=$RESULTS/$2.summary rps ratio
    rps=$(kv "$s" "$3")
    ratio=$(awk -v a="$rps" -v b="$NGINX_RPS" 'BEGIN { printf "%.1f %%", 100 * a / b }')
    # shellcheck disable=SC2059
    printf "$FORMAT" "$1" "$rps" "$(kv "$s" p50_ms)" "$(kv "$s" p99_ms)" "$(kv "$s" p999_ms)" \
        "$(kv "$s" non_202)" "$ratio" "$4" "$5" "$(kv "$s" cpu_wrk)" "$(kv "$s" cpu_rest)"
}
{
    echo
    echo "ingest benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ): ${DURATION} s per run after ${WARMUP} s of warm-up," \
        "wrk -t$THREADS -c$CONNECTIONS, release.lua (1-4 KiB), $(nproc) cores, $BIN"
    # shellcheck disable=SC2059
    printf "$FORMAT" run "req/s" "p50 ms" "p99 ms" "p99.9 ms" non-202 "vs nginx" srv kafka wrk rest
    row "nginx (1 worker)" nginx rps "$(nginx_cpu "$RESULTS/nginx.summary")" -
    [ "$NGINX_DISCARD" != 1 ] ||
        row "nginx (1 worker, discard)" nginx-discard rps "$(nginx_cpu "$RESULTS/nginx-discard.summary")" -
    [ "$NGINX_AUTO" != 1 ] ||
        row "nginx ($(nproc) workers)" nginx-auto rps "$(nginx_cpu "$RESULTS/nginx-auto.summary")" -
    row "zwgk max" zwgk-max rps_202 "$(kv "$RESULTS/zwgk-max.summary" cpu_producer)" \
        "$(kv "$RESULTS/zwgk-max.summary" cpu_kafka)"
    row "zwgk 50 % ($HALF_RATE/s)" zwgk-half rps_202 "$(kv "$RESULTS/zwgk-half.summary" cpu_producer)" \
        "$(kv "$RESULTS/zwgk-half.summary" cpu_kafka)"
    echo "req/s: 202 answers per second. vs nginx: against nginx with 1 worker. srv, kafka, wrk: CPU cores"
    echo "used on average by the server (nginx or zwgk-producer), the Kafka broker and wrk; rest: the"
    echo "machine's other busy time (other processes, kernel). Background load before the runs: $BACKGROUND cores."
    echo
    for label in zwgk-max zwgk-half; do
        s=$RESULTS/$label.summary
        echo "$label: sent $(kv "$s" sent), 202 $(kv "$s" accepted_202) (the producer counted $(kv "$s" producer_202))," \
            "other answers $(kv "$s" non_202_by_status), unanswered when wrk stopped $(kv "$s" unanswered);" \
            "records on $TOPIC $(kv "$s" records): 202s without a record $(kv "$s" acknowledged_missing)," \
            "duplicates $(kv "$s" records_duplicated), records without a 202 $(kv "$s" records_without_202)" \
            "(at most $(kv "$s" records_without_202_allowed) allowed) -> durable=$(kv "$s" durable)"
    done
    for label in zwgk-max zwgk-half; do
        s=$RESULTS/$label.summary
        echo "$label: the producer's event loop used $(kv "$s" cpu_producer_loop) cores;" \
            "produce -> Kafka acknowledgement (zwgk_ingest_delivery_seconds): mean $(kv "$s" delivery_mean_ms) ms," \
            "p50 <= $(kv "$s" delivery_p50_le_ms) ms, p99 <= $(kv "$s" delivery_p99_le_ms) ms"
    done
    s=$RESULTS/zwgk-max.summary
    echo "zwgk-max: CPU per request: producer $(awk -v c="$(kv "$s" cpu_producer)" -v r="$MAX_RPS" \
        'BEGIN { printf "%.0f", 1e6 * c / r }') us, Kafka broker $(awk -v c="$(kv "$s" cpu_kafka)" -v r="$MAX_RPS" \
        'BEGIN { printf "%.0f", 1e6 * c / r }') us; nginx (1 worker) $(awk -v c="$(nginx_cpu "$RESULTS/nginx.summary")" \
        -v r="$NGINX_RPS" 'BEGIN { printf "%.1f", 1e6 * c / r }') us. jansson alone: $JANSSON_NOTE"
    s=$RESULTS/zwgk-half.summary
    echo "zwgk-half: open loop at $(kv "$s" target_rps)/s; requests sent more than 1 ms after their slot:" \
        "$(kv "$s" late_over_1ms) of $(kv "$s" sent) (the latest $(kv "$s" late_max_ms) ms)"
    ratio=$(awk -v a="$MAX_RPS" -v b="$NGINX_RPS" 'BEGIN { printf "%.1f", 100 * a / b }')
    p99=$(kv "$s" p99_ms)
    echo "target: zwgk max >= 50 % of nginx (1 worker): ${ratio} % -> $(awk -v r="$ratio" 'BEGIN { print (r >= 50) ? "met" : "MISSED" }')"
    echo "target: p99 < 50 ms at 50 % of the maximum: ${p99} ms -> $(awk -v p="$p99" 'BEGIN { print (p < 50) ? "met" : "MISSED" }')"
    echo "results in $RESULTS; $((SECONDS - STARTED_AT)) s so far"
} | tee "$RESULTS/report.txt"

[ "$FAILED" = 0 ] || exit 1
