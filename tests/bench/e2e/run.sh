#!/usr/bin/env bash
# The end-to-end benchmark (docs/performance.md, "End-to-end benchmark"):
# releases through the whole pipeline, ingest -> Kafka -> classifier -> fan-out
# -> the adapters -> their receipts, on the local stack with one broker and the
# stand-ins as channel endpoints, and the same machine's baselines:
#
#   1. starts a private stack in var/bench-e2e on port base 24000 with every
#      daemon and both stand-ins (the producer's rate limit off); with
#      BENCH_KAFKA_PROPS, writes those librdkafka properties into zwgk.conf and
#      restarts the daemons; with BENCH_CLASSIFIERS or BENCH_FANOUTS > 1, starts
#      further instances of those (stack start-daemon zwgk-classifier@N); resets
#      the stand-ins, the WeChat one publishing at the first poll;
#   2. warm-up (not reported): BENCH_WARMUP_RELEASES requests as a backlog;
#   3. the maximum: BENCH_RELEASES requests posted at once to
#      /v1/releases/batch (a backlog the pipeline works through); the sustained
#      rate is the requests fully delivered per second between 10 % and 90 % of
#      them;
#   4. open loop at 50 % and then 80 % of that rate for BENCH_SECONDS each
#      (tests/faults/harness.py Load: every request at its slot);
#      each run: latency ingest -> channel topic and ingest -> delivered per
#      delivery, deliveries per second, CPU per daemon, peak RSS
#      (e2e_bench.py run);
#   5. the baselines on the same broker: ProducerPerformance (acks=all,
#      idempotent) and ConsumerPerformance at the mean record size of
#      zwgk.releases, EndToEndLatency (acks=all) at the same size, and nginx
#      answering a fixed 202 to the ingest benchmark's requests under wrk;
#   6. one table (report.txt) and the plots latency.png and throughput.png
#      (gnuplot), in BENCH_RESULTS_DIR; stops the stack on any exit.
#
# Exits 1 when a step fails: a request refused, a delivery missing, a
# duplicate, a dead letter, a daemon that ended. The targets are reported, not
# enforced.
#
# Environment (all optional):
#   BENCH_RELEASES          requests of the maximum run (default 15000)
#   BENCH_SECONDS           length of each open-loop run (default 60)
#   BENCH_WARMUP_RELEASES   requests of the unreported warm-up (default 1500; 0: none)
#   BENCH_RAW_RECORDS       records of ProducerPerformance/ConsumerPerformance (default 200000)
#   BENCH_LATENCY_MESSAGES  messages of EndToEndLatency (default 10000)
#   BENCH_NGINX_SECONDS     length of the nginx run (default 10)
#   BENCH_STALL_SECONDS     a run fails when no receipt came for this long while
#                           some are missing (default 90)
#   BENCH_CLASSIFIERS       zwgk-classifier instances in its consumer group (default 1;
#                           up to 4: stack start-daemon zwgk-classifier@2 ...)
#   BENCH_FANOUTS           zwgk-fanout instances, the same way (default 1; up to 4)
#   BENCH_KAFKA_PROPS       librdkafka properties for every daemon, e.g.
#                           "linger.ms=5 batch.num.messages=2000" (kafka.<property>
#                           keys of zwgk.conf, which an environment variable cannot
#                           name because of the dots)
#   ZWGK_<SECTION>_<KEY>    any other daemon setting, e.g. ZWGK_KAFKA_COMMIT_INTERVAL_MS=200,
#                           ZWGK_KAFKA_BATCH_MAX=1000 (the stack writes them into zwgk.conf)
#   BENCH_PORT_BASE         the stack's port base (default 24000; nginx on +90)
#   BENCH_STACK_DIR         the stack directory (default var/bench-e2e)
#   BENCH_PROFILE           1: record a system-wide CPU profile (perf record -a, cpu-clock,
#                           499 Hz) during the 50 % run: profile.txt by process and
#                           thread, profile-<process>.txt by function (needs perf)
#   BENCH_KEEP_STACK        1: leave the stack running at the end (default: stop it
#                           and delete its directory)
#   BENCH_RESULTS_DIR       where the outputs go (default var/bench-results/e2e)
#   ZWGK_BUILD_DIR          build directory whose bin/ has the daemons (default build-release)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"

RELEASES=${BENCH_RELEASES:-15000}
DURATION=${BENCH_SECONDS:-60}
WARMUP=${BENCH_WARMUP_RELEASES:-1500}
RAW_RECORDS=${BENCH_RAW_RECORDS:-200000}
LATENCY_MESSAGES=${BENCH_LATENCY_MESSAGES:-10000}
NGINX_SECONDS=${BENCH_NGINX_SECONDS:-10}
STALL_SECONDS=${BENCH_STALL_SECONDS:-90}
CLASSIFIERS=${BENCH_CLASSIFIERS:-1}
FANOUTS=${BENCH_FANOUTS:-1}
KAFKA_PROPS=${BENCH_KAFKA_PROPS:-}
PORT_BASE=${BENCH_PORT_BASE:-24000}
NGINX_PORT=$((PORT_BASE + 90))
KEEP_STACK=${BENCH_KEEP_STACK:-0}
PROFILE=${BENCH_PROFILE:-0}
RESULTS=${BENCH_RESULTS_DIR:-$ROOT/var/bench-results/e2e}

STACK=deploy/local/stack
HELPER=$HERE/e2e_bench.py
CLASSIFIER_HELPER=$ROOT/tests/bench/classifier/classifier_bench.py
PYTHON=$ROOT/var/venv/bin/python

# bench_init, say, die, stack_env, kv, cpu_ticks, machine_busy_ticks, cores, now,
# since, kafka_tool, bench_nginx_*
# shellcheck source=tests/bench/common.sh
. "$HERE/../common.sh"
bench_init bench-e2e
export ZWGK_STACK_DIR=${BENCH_STACK_DIR:-$ROOT/var/bench-e2e}
export ZWGK_STACK_PORT_BASE=$PORT_BASE
export ZWGK_BUILD_DIR=${ZWGK_BUILD_DIR:-$ROOT/build-release}

for n in "$RELEASES" "$DURATION" "$RAW_RECORDS" "$LATENCY_MESSAGES" "$NGINX_SECONDS" "$CLASSIFIERS" "$FANOUTS" "$STALL_SECONDS"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_RELEASES, BENCH_SECONDS, BENCH_RAW_RECORDS, BENCH_LATENCY_MESSAGES," \
        "BENCH_NGINX_SECONDS, BENCH_CLASSIFIERS, BENCH_FANOUTS and BENCH_STALL_SECONDS must be positive numbers, not '$n'"
done
[ "$CLASSIFIERS" -le 4 ] || die "BENCH_CLASSIFIERS goes up to 4"
[ "$FANOUTS" -le 4 ] || die "BENCH_FANOUTS goes up to 4"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP_RELEASES must be a number, not '$WARMUP'"
for prop in $KAFKA_PROPS; do
    [[ $prop =~ ^[a-z][a-z0-9.]*=[^[:space:]]+$ ]] || die "BENCH_KAFKA_PROPS: '$prop' is not property=value"
done
for tool in java curl wrk nginx gnuplot; do
    command -v "$tool" >/dev/null || die "$tool is not installed; run 'deploy/install-deps.sh --bench'"
done
[ -x "$PYTHON" ] || die "$PYTHON not found; run 'make deps'"
if [ "$PROFILE" = 1 ]; then
    command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (Debian package linux-perf)"
fi
BIN=$ZWGK_BUILD_DIR/bin
for name in zwgk-producer zwgk-classifier zwgk-fanout zwgk-portal zwgk-bulletin zwgk-wechat zwgk-broadcast zwgkctl; do
    [ -x "$BIN/$name" ] || die "$BIN/$name not found; run 'make release'"
done
# The broker's jars, where deploy/install-deps.sh puts them (ZW_KAFKA_LIBS of deploy/local/lib.sh).
KAFKA_VERSION=$(sed -n 's/^ZW_KAFKA_VERSION=//p' deploy/local/lib.sh)
KAFKA_LIBS=${ZWGK_CACHE_DIR:-$HOME/.cache/zwgk}/kafka-$KAFKA_VERSION/libs
compgen -G "$KAFKA_LIBS/kafka-tools-*.jar" >/dev/null ||
    die "Kafka $KAFKA_VERSION tools jar not found in $KAFKA_LIBS; run 'make deps'"

# --- cleanup ------------------------------------------------------------------

STACK_STARTED=0
STARTED_INSTANCES=() # further daemon instances (NAME@N) started here
PERF_PID=""          # perf record during the 50 % run (BENCH_PROFILE=1)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_nginx_stop
    if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
    if [ "$STACK_STARTED" = 1 ]; then
        if [ "$KEEP_STACK" != 1 ]; then
            local name
            for name in "${STARTED_INSTANCES[@]}"; do
                "$STACK" stop-daemon "$name" || rc=1
            done
        fi
        if [ "$KEEP_STACK" = 1 ]; then
            say "the stack in $ZWGK_STACK_DIR is left running (BENCH_KEEP_STACK=1); stop it with" \
                "ZWGK_STACK_DIR=$ZWGK_STACK_DIR $STACK down"
        else
            "$STACK" down --purge || rc=1
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the stack ----------------------------------------------------------------

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.txt "$RESULTS"/*.err "$RESULTS"/*.json "$RESULTS"/*.summary "$RESULTS"/*.dat \
    "$RESULTS"/*.png "$RESULTS"/*.conf "$RESULTS"/*.cpu "$RESULTS"/*.log "$RESULTS"/*.properties \
    "$RESULTS"/bench.info "$RESULTS"/sample.json "$RESULTS"/perf.data 2>/dev/null || true
STARTED_AT=$SECONDS

# The producer's per-department rate limit would refuse most of the load with
# 429: switch it off (0 = no limit) when this build has it (an unknown key
# would stop the producer). The key list is read whole before it is searched.
KEYS=$("$BIN/zwgk-producer" --help-config 2>/dev/null) || die "$BIN/zwgk-producer --help-config failed"
if grep -q '^producer\.rate_limit_per_s ' <<<"$KEYS"; then
    export ZWGK_PRODUCER_RATE_LIMIT_PER_S=0
fi

STACK_STARTED=1
if [ -e "$ZWGK_STACK_DIR/.zwgk-stack" ]; then
    "$STACK" down --purge # left by an interrupted run, or kept with BENCH_KEEP_STACK=1
fi
"$STACK" up
BROKERS=$(stack_env ZWGK_KAFKA_BROKERS)
CONFIG=$(stack_env ZWGK_CONFIG)
KAFKA_PID=$(cat "$ZWGK_STACK_DIR/run/kafka.pid")
DAEMONS=$(sed -n 's/^ZW_DAEMONS=(\(.*\))$/\1/p' deploy/local/lib.sh)
[ -n "$DAEMONS" ] || die "cannot read ZW_DAEMONS from deploy/local/lib.sh"

# librdkafka properties (kafka.<property> keys, which ZWGK_<SECTION>_<KEY>
# cannot name) go into the [kafka] section of zwgk.conf, which `up` wrote and
# `start-daemon` reads again; then every daemon is restarted with them.
if [ -n "$KAFKA_PROPS" ]; then
    lines=""
    for prop in $KAFKA_PROPS; do
        lines+="${prop%%=*} = ${prop#*=}"$'\n'
    done
    grep -qx '\[kafka\]' "$CONFIG" || die "$CONFIG has no [kafka] section"
    awk -v add="$lines" '{ print } $0 == "[kafka]" { printf "%s", add }' "$CONFIG" >"$CONFIG.bench"
    mv -f "$CONFIG.bench" "$CONFIG"
    say "BENCH_KAFKA_PROPS: $KAFKA_PROPS written into $CONFIG; restarting the daemons"
    for name in $DAEMONS; do
        "$STACK" restart-daemon "$name" || die "$name did not restart with BENCH_KAFKA_PROPS"
    done
fi

# The effective configuration of every daemon (what --dump-config gives with
# the file and the environment the stack starts it with).
CLEAN_ENV=(env -u ZWGK_STACK_DIR -u ZWGK_STACK_PORT_BASE -u ZWGK_BUILD_DIR)
for name in $DAEMONS; do
    "${CLEAN_ENV[@]}" "$BIN/$name" --config "$CONFIG" --dump-config >"$RESULTS/$name.conf" ||
        die "$name --dump-config failed"
done
COMMIT_INTERVAL=$(awk -F' = ' '/^\[/ { s = $0 } s == "[kafka]" && $1 == "commit_interval_ms" { print $2 }' \
    "$RESULTS/zwgk-classifier.conf")
[ -n "$COMMIT_INTERVAL" ] || die "no kafka.commit_interval_ms in $RESULTS/zwgk-classifier.conf"

# Further classifier and fan-out instances, in the same consumer groups
# (stack start-daemon NAME@N: their own daemon.instance, so their own
# transactional.id, and admin port).
INSTANCES=()
for i in $(seq 2 "$CLASSIFIERS"); do INSTANCES+=("zwgk-classifier@$i"); done
for i in $(seq 2 "$FANOUTS"); do INSTANCES+=("zwgk-fanout@$i"); done
if [ ${#INSTANCES[@]} -gt 0 ]; then
    grep -q 'zwgk-classifier@N' "$STACK" ||
        die "BENCH_CLASSIFIERS/BENCH_FANOUTS: this deploy/local/stack cannot start further instances (start-daemon zwgk-classifier@N)"
    for name in "${INSTANCES[@]}"; do
        STARTED_INSTANCES+=("$name")
        "$STACK" start-daemon "$name" || die "$name did not start"
    done
fi

FAKES=$("$PYTHON" "$HELPER" prepare-fakes) || die "cannot reset the stand-ins"
FAKES_NOTE="WeChat publishes at the first freepublish/get (publishing_polls 0), wechat.poll_interval_ms"
FAKES_NOTE+=" $(awk -F' = ' '/^\[/ { s = $0 } s == "[wechat]" && $1 == "poll_interval_ms" { print $2 }' \
    "$RESULTS/zwgk-wechat.conf"); broadcast answers at once, every CAP checked against the XSD"

busy_before=$(machine_busy_ticks)
t=$(now)
sleep 3 # a sample of the machine's load, not a wait for anything
BACKGROUND=$(cores $(($(machine_busy_ticks) - busy_before)) "$(since "$t")")
say "background load: $BACKGROUND of $(nproc) cores busy while the stack idles"

# --- the pipeline ----------------------------------------------------------------

e2e_run() { # e2e_run LABEL ARGS...: one e2e_bench.py run; its output in LABEL.log
    local label=$1
    shift
    "$PYTHON" "$HELPER" run --label "$label" --results "$RESULTS" --stall-seconds "$STALL_SECONDS" "$@" 2> >(tee "$RESULTS/$label.log" >&2) ||
        die "run $label failed (see $RESULTS/$label.log and the daemons' logs in $ZWGK_STACK_DIR/log)"
}

if [ "$WARMUP" -gt 0 ]; then
    say "warm-up (not reported): $WARMUP requests as a backlog"
    e2e_run warmup --mode backlog --requests "$WARMUP"
fi
say "maximum: $RELEASES requests as a backlog through /v1/releases/batch"
e2e_run max --mode backlog --requests "$RELEASES"
MAX_RATE=$(kv "$RESULTS/max.summary" sustained_rate)
awk -v r="$MAX_RATE" 'BEGIN { exit !(r > 0) }' || die "no sustained rate from the maximum run"
# Where the CPU went during the 50 % run, by process and thread (librdkafka's
# threads are named rdk:*), then by function within each process. The broker's
# JIT-compiled Java shows as unresolved addresses: only its share is told.
profile_start() {
    perf record -a -e cpu-clock -F 499 -o "$RESULTS/perf.data" >"$RESULTS/perf-record.log" 2>&1 &
    PERF_PID=$!
}
profile_stop() {
    kill -INT "$PERF_PID"
    wait "$PERF_PID" || true # perf exits non-zero when interrupted, its way of stopping
    grep -q 'Captured and wrote' "$RESULTS/perf-record.log" || die "perf record failed (see $RESULTS/perf-record.log)"
    PERF_PID=""
    perf report -i "$RESULTS/perf.data" --stdio --sort comm,pid --percent-limit 0.5 >"$RESULTS/profile.txt" 2>/dev/null ||
        die "perf report failed"
    local name pidfile pid
    for name in $DAEMONS kafka; do
        pidfile="$ZWGK_STACK_DIR/run/$name.pid"
        [ -f "$pidfile" ] || continue
        pid=$(<"$pidfile")
        perf report -i "$RESULTS/perf.data" --stdio --pid "$pid" --percentage relative --sort dso,sym \
            --percent-limit 0.5 >"$RESULTS/profile-$name.txt" 2>/dev/null || die "perf report for $name failed"
    done
    perf report -i "$RESULTS/perf.data" --stdio --comm postgres --percentage relative --sort dso,sym \
        --percent-limit 0.5 >"$RESULTS/profile-postgresql.txt" 2>/dev/null || die "perf report for PostgreSQL failed"
    say "profile of the 50 % run: $RESULTS/profile.txt, profile-<process>.txt"
}

for pct in 50 80; do
    rate=$(awk -v r="$MAX_RATE" -v p="$pct" 'BEGIN { printf "%.1f", r * p / 100 }')
    say "open loop at $pct % of $MAX_RATE/s: $rate requests/s for $DURATION s"
    if [ "$PROFILE" = 1 ] && [ "$pct" = 50 ]; then profile_start; fi
    e2e_run "load$pct" --mode open --rate "$rate" --seconds "$DURATION"
    if [ -n "$PERF_PID" ]; then profile_stop; fi
done

# --- the baselines ------------------------------------------------------------------

RECORD_SIZE=$(kv "$RESULTS/max.summary" releases_value_bytes_mean)
PARTITIONS=$(awk -F' = ' '/^\[/ { s = $0 } s == "[kafka]" && $1 == "partitions" { print $2 }' "$RESULTS/zwgk-classifier.conf")
kafka_tools_log4j
say "raw Kafka: ProducerPerformance then ConsumerPerformance, $RAW_RECORDS records of $RECORD_SIZE bytes, acks=all"
"$PYTHON" "$CLASSIFIER_HELPER" create-topic --brokers "$BROKERS" --topic bench.raw --like zwgk.releases \
    >"$RESULTS/raw-topic.summary" || die "cannot create bench.raw"
# As in the classifier benchmark; linger.ms 5 against the daemons' 2.
kafka_tool raw-produce ProducerPerformance --topic bench.raw --num-records "$RAW_RECORDS" \
    --record-size "$RECORD_SIZE" --throughput -1 \
    --producer-props "bootstrap.servers=$BROKERS" acks=all enable.idempotence=true linger.ms=5
kafka_tool raw-consume ConsumerPerformance --bootstrap-server "$BROKERS" --topic bench.raw \
    --messages "$RAW_RECORDS" --timeout 60000
"$PYTHON" "$CLASSIFIER_HELPER" raw-rate --producer-out "$RESULTS/raw-produce.txt" \
    --consumer-out "$RESULTS/raw-consume.txt" --records "$RAW_RECORDS" >"$RESULTS/raw.summary" ||
    die "cannot read the results of ProducerPerformance/ConsumerPerformance ($RESULTS/raw-*.txt)"
say "raw: produce $(kv "$RESULTS/raw.summary" raw_produce_rate)/s, consume $(kv "$RESULTS/raw.summary" raw_consume_rate)/s"

say "raw Kafka: EndToEndLatency, $LATENCY_MESSAGES messages of $RECORD_SIZE bytes, acks=all"
"$PYTHON" "$CLASSIFIER_HELPER" create-topic --brokers "$BROKERS" --topic bench.e2e --like zwgk.releases \
    >"$RESULTS/raw-e2e-topic.summary" || die "cannot create bench.e2e"
# EndToEndLatency's own arguments: brokers topic messages acks size.
kafka_tool raw-latency EndToEndLatency "$BROKERS" bench.e2e "$LATENCY_MESSAGES" all "$RECORD_SIZE"
"$PYTHON" "$HELPER" raw-latency --out "$RESULTS/raw-latency.txt" >"$RESULTS/raw-e2e.summary" ||
    die "cannot read the result of EndToEndLatency ($RESULTS/raw-latency.txt)"
say "raw end-to-end latency p50/p99/p99.9: $(kv "$RESULTS/raw-e2e.summary" raw_e2e_p50_ms)/$(kv \
    "$RESULTS/raw-e2e.summary" raw_e2e_p99_ms)/$(kv "$RESULTS/raw-e2e.summary" raw_e2e_p999_ms) ms"

say "nginx, 1 worker, answering a fixed 202: $NGINX_SECONDS s of wrk -t2 -c64 with the ingest benchmark's requests"
"$PYTHON" - "$RESULTS/sample.json" <<'EOF'
import sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write('{"source_id":"bench-sample","revision":1,"action":"publish","department":"demo",'
            '"title":"样例","body":"<p>预算</p>","doc_type":"budget","catalog_code":"czyjs-001",'
            '"region_code":"370211","formed_at":"2025-01-20T09:00:00+08:00",'
            '"secrecy_review":{"reviewer":"王敏","reviewed_at":"2025-01-20T10:00:00+08:00"}}')
EOF
bench_nginx_start "$NGINX_PORT" 1 "$RESULTS/sample.json"
ZWGK_BENCH_TOKEN=nginx BENCH_LABEL=nginx BENCH_RUN="e2e-nginx" BENCH_OUT="$RESULTS/nginx.summary" \
    wrk -t2 -c64 -d"${NGINX_SECONDS}s" --timeout 10s -s "$ROOT/tests/bench/ingest/release.lua" \
    "http://127.0.0.1:$NGINX_PORT/v1/releases" >"$RESULTS/nginx.txt" 2>&1 || {
    cat "$RESULTS/nginx.txt" >&2
    die "wrk failed against nginx"
}
bench_nginx_stop
say "nginx: $(kv "$RESULTS/nginx.summary" rps) requests/s"

# --- report -------------------------------------------------------------------------

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cores=$(nproc)"
    echo "bin=$BIN"
    echo "commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "partitions=$PARTITIONS"
    echo "background=$BACKGROUND"
    echo "classifiers=$CLASSIFIERS"
    echo "fanouts=$FANOUTS"
    echo "kafka_props=$KAFKA_PROPS"
    echo "commit_interval_ms=$COMMIT_INTERVAL"
    echo "record_size=$RECORD_SIZE"
    echo "fakes=$FAKES_NOTE"
    echo "$FAKES"
    env | grep -E '^ZWGK_[A-Z]+_' | grep -vE '^ZWGK_(STACK|BUILD|CACHE)_' | sort | sed 's/^/setting_/' || true
} >"$RESULTS/bench.info"
"$PYTHON" "$HELPER" report --results "$RESULTS" || die "the report failed"
say "$((SECONDS - STARTED_AT)) s in all"
