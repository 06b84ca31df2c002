# shellcheck shell=bash
# Helpers shared by the benchmarks' run.sh scripts (tests/bench/*/run.sh):
# key=value files, CPU time from /proc, Kafka's own tools on the broker's jars,
# and nginx answering a fixed 202 (tests/bench/ingest/nginx.conf.in), and each
# benchmark's messages and clean environment (bench_init). Sourced, never run;
# the caller sets `set -euo pipefail` and calls bench_init first.
#
# Globals the functions use, set by the caller:
#   RESULTS      the results directory (kafka_tool, kafka_tools_log4j)
#   KAFKA_PID    the broker's pid (kafka_tool counts its CPU)
#   KAFKA_LIBS   the broker's jars (~/.cache/zwgk/kafka-<version>/libs)

BENCH_COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What `stack env` prints for clients: from the caller's shell they would point
# a benchmark's stack elsewhere (ZWGK_KAFKA_BROKERS, ZWGK_PG_DSN above all).
BENCH_CLIENT_VARS=(ZWGK_INGEST_URL ZWGK_KAFKA_BROKERS ZWGK_PG_DSN ZWGK_PORTAL_URL ZWGK_CONFIG
    ZWGK_PRODUCER_ADMIN_URL ZWGK_CLASSIFIER_ADMIN_URL ZWGK_FANOUT_ADMIN_URL ZWGK_PORTAL_ADMIN_URL
    ZWGK_BULLETIN_ADMIN_URL ZWGK_WECHAT_ADMIN_URL ZWGK_BROADCAST_ADMIN_URL ZWGK_BULLETIN_URL
    ZWGK_FAKE_WECHAT_URL ZWGK_FAKE_BROADCAST_URL ZWGK_BIN_DIR)

# bench_init NAME: say and die speak as NAME; the client variables are unset.
bench_init() {
    BENCH_NAME=$1
    unset "${BENCH_CLIENT_VARS[@]}"
}
say() { printf '%s: %s\n' "$BENCH_NAME" "$*"; }
die() {
    printf '%s: %s\n' "$BENCH_NAME" "$*" >&2
    exit 1
}

# stack_env NAME: a variable of what `$STACK env` prints (STACK set by the caller).
stack_env() { "$STACK" env | sed -n "s/^$1=//p"; }

# kv FILE KEY: the value of KEY in a key=value file.
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }

CLK_TCK=$(getconf CLK_TCK)

# CPU time (clock ticks, user + system, all threads) of the given pids.
cpu_ticks() {
    local pid line rest total=0
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        read -r line <"/proc/$pid/stat" || continue
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# Busy ticks of the whole machine (user, nice, system, irq, softirq).
machine_busy_ticks() {
    local _cpu user nice system _idle _iowait irq softirq _rest
    read -r _cpu user nice system _idle _iowait irq softirq _rest </proc/stat
    echo $((user + nice + system + irq + softirq))
}

# seconds from ticks; cores from ticks over seconds
secs() { awk -v t="$1" -v c="$CLK_TCK" 'BEGIN { printf "%.2f", t / c }'; }
cores() { awk -v t="$1" -v c="$CLK_TCK" -v s="$2" 'BEGIN { printf "%.2f", (s > 0) ? t / c / s : 0 }'; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# --- Kafka's own tools ---------------------------------------------------------

# Like the broker's log4j config (deploy/local/stack), but warnings only, to
# $RESULTS/tools.log; kafka_tool runs the tools with it.
kafka_tools_log4j() {
    cat >"$RESULTS/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$RESULTS/tools.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# kafka_tool LABEL CLASS ARGS...: one run of org.apache.kafka.tools.CLASS with the
# java and jars of the broker (heap as Kafka's own scripts give their tools);
# LABEL.txt its output, LABEL.summary wall time, its CPU and the broker's.
kafka_tool() {
    local label=$1 class=$2 t kafka_before
    shift 2
    kafka_before=$(cpu_ticks "$KAFKA_PID")
    t=$(now)
    (
        java -Xmx256m -XX:+UseG1GC -Dlog4j.configuration="file:$RESULTS/tools-log4j.properties" \
            -cp "$KAFKA_LIBS/*" "org.apache.kafka.tools.$class" "$@" >"$RESULTS/$label.txt" 2>"$RESULTS/$label.err" ||
            exit 1
        times >"$RESULTS/$label.cpu" # second line: the children's (java's) user and system time
    ) || {
        tail -n 20 "$RESULTS/$label.err" >&2
        die "$class failed (output in $RESULTS/$label.txt, errors in $RESULTS/$label.err)"
    }
    local wall
    wall=$(since "$t")
    {
        echo "wall_s=$wall"
        awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "tool_cpu_s=%.2f\n", n }' \
            "$RESULTS/$label.cpu"
        echo "kafka_cpu_s=$(secs $(($(cpu_ticks "$KAFKA_PID") - kafka_before)))"
    } >"$RESULTS/$label.summary"
}

# --- nginx answering a fixed 202 ---------------------------------------------------

NGINX_PID=""
NGINX_DIR=""

# bench_nginx_start PORT WORKERS SAMPLE: runs nginx with
# tests/bench/ingest/nginx.conf.in on 127.0.0.1:PORT in the background
# (NGINX_PID, its files in NGINX_DIR) and returns once its /echo answers with
# the request body SAMPLE (a file) it was sent: the body is read, as the
# producer reads it.
bench_nginx_start() {
    local port=$1 workers=$2 sample=$3 deadline
    NGINX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zwgk-bench-nginx.XXXXXX")
    chmod 755 "$NGINX_DIR"
    sed -e "s|@PREFIX@|$NGINX_DIR|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
        "$BENCH_COMMON_DIR/ingest/nginx.conf.in" >"$NGINX_DIR/nginx.conf"
    local rc=0
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || rc=$?
    [ $rc -eq 7 ] || die "port $port is in use by something else (BENCH_PORT_BASE moves it)"
    nginx -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" 2>>"$NGINX_DIR/stderr" &
    NGINX_PID=$!
    deadline=$((SECONDS + 10))
    # Ready when it answers; the answer is the body it read, which must be ours.
    until curl -fsS --max-time 2 -H 'Content-Type: application/json' \
        --data-binary "@$sample" "http://127.0.0.1:$port/echo" 2>/dev/null |
        cmp -s - "$sample"; do
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            cat "$NGINX_DIR/stderr" "$NGINX_DIR/error.log" >&2 2>/dev/null || true
            die "nginx exited"
        fi
        [ $SECONDS -lt $deadline ] || die "nginx did not answer on 127.0.0.1:$port/echo with the request body"
        sleep 0.1
    done
}

# Stops the nginx of bench_nginx_start (if any) and removes its files.
bench_nginx_stop() {
    if [ -n "$NGINX_PID" ]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
    fi
    if [ -n "$NGINX_DIR" ]; then
        rm -rf "$NGINX_DIR"
        NGINX_DIR=""
    fi
}
