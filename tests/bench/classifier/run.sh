#!/usr/bin/env bash
# The classifier benchmark (docs/performance.md, "The classifier benchmark"),
# end to end and bounded in time:
#
#   1. starts a private stack (PostgreSQL, Kafka, zwgk-producer only) in
#      var/bench-classifier on port base 25500, with the producer's rate limit
#      off and its body limit at 4 MiB (a batch of 500 of these releases is
#      about 1.5 MiB), and takes a token of department demo;
#   2. POSTs BENCH_RELEASES realistic releases (classifier_bench.py load: mostly
#      explicit catalog_code czyjs-001, some classified by rule or held as
#      unclassified, some with a mobile number to mask, policy/interpretation
#      pairs, revision-2 updates; 1-4 KiB bodies) to /v1/releases/batch in
#      batches of 500, then stops the producer, so zwgk.releases holds a fixed
#      backlog; measures its record count and mean record size;
#   3. measures the raw broker rate with Kafka's own tools from the broker's
#      jars: ProducerPerformance (same record count and size, acks=all,
#      idempotent, linger.ms=5) then ConsumerPerformance on a topic bench.raw
#      with the partitions of zwgk.releases. The raw consume+produce rate is
#      N / (produce seconds + consume seconds): one process that must both
#      read and write each record, as a stage does;
#   4. for each commit interval (BENCH_INTERVALS, default "100 500"): empties
#      PostgreSQL's per-release tables, starts zwgk-classifier alone with a
#      fresh consumer group and kafka.commit_interval_ms set, and times it from
#      `stack start-daemon` until the group's committed offsets reach the high
#      watermarks of zwgk.releases (polled every BENCH_POLL_SECONDS); then reads
#      its /metrics, CPU time and peak RSS, and PostgreSQL's commits, WAL syncs
#      and per-table scans, and stops it. (The classifier answers /readyz from
#      the event loop that runs its batches; when start-daemon gives up waiting
#      for it, the run goes on as long as the daemon's process lives, and the
#      report says so);
#   5. prints one table and writes it, with every raw output, to
#      var/bench-results/classifier/report.txt; stops the stack on any exit.
#
# The config of the classifier: `stack start-daemon` does not rewrite zwgk.conf
# (only `up` does), but it starts the daemon with the caller's environment minus
# the stack's own variables, and every daemon reads ZWGK_<SECTION>_<KEY> from its
# environment over the file (daemons/lib/zw_config.c, zw_config_load_env). So
# ZWGK_KAFKA_COMMIT_INTERVAL_MS and ZWGK_CLASSIFIER_GROUP_ID are set in the
# environment of start-daemon; each run checks them in /proc/<pid>/environ and
# in the group label of the daemon's zwgk_consumer_lag, and keeps the
# effective config (--dump-config with the same environment) in its results.
#
# Exits 1 when any step fails (a release not accepted, a daemon that does not
# start or stop cleanly, a dead letter, a run that does not finish within
# BENCH_RUN_TIMEOUT). The target (classifier >= 50 % of the raw consume+produce
# rate at 500 ms) is reported, not enforced.
#
# Environment (all optional):
#   BENCH_RELEASES       releases loaded and classified per run (default 20000)
#   BENCH_INTERVALS      commit intervals in ms, measured in this order (default "100 500")
#   BENCH_RUNS           rounds over BENCH_INTERVALS (default 1)
#   BENCH_CLASSIFIERS    classifier processes per run, measured in this order
#                        (default "1"; "1 2": each interval with one, then with two
#                        in the same fresh group, started together by
#                        `stack start-daemon zwgk-classifier@2`)
#   BENCH_WARMUP         1 (default): one unreported classifier pass and one
#                        unreported raw pass first, so the broker's JIT has
#                        settled before anything is measured; 0: none
#   BENCH_POLL_SECONDS   how often the committed offsets are polled (default 0.2)
#   BENCH_RUN_TIMEOUT    longest classifier run, seconds (default 300)
#   BENCH_PERF           1: one more (unreported) run at the last interval with
#                        `perf record -g` on the classifier, in perf.txt
#   BENCH_PORT_BASE      the stack's port base (default 25500)
#   BENCH_STACK_DIR      the stack directory (default var/bench-classifier)
#   BENCH_KEEP_STACK     1: leave the stack running at the end (default: stop it
#                        and delete its directory)
#   BENCH_RESULTS_DIR    where the outputs go (default var/bench-results/classifier)
#   ZWGK_BUILD_DIR       build directory whose bin/ has the daemons (default build-release)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"

# Starts zwgk-classifier, then N-1 further instances (classifier@2.., admin
# ports B+44..), all with the caller's environment and so in the same group.
# The stack starts one daemon at a time (its lock), so each further member
# joins a group that already works: one rebalance per member, inside the
# measured time.
start_classifiers() { # start_classifiers N
    local i
    deploy/local/stack start-daemon zwgk-classifier || return
    for i in $(seq 2 "$1"); do
        deploy/local/stack start-daemon "zwgk-classifier@$i" || return
    done
}

# The command classifier_bench.py measure times (see classifier_run).
if [ "${1:-}" = --start-classifiers ]; then
    start_classifiers "$2"
    exit
fi

RELEASES=${BENCH_RELEASES:-20000}
INTERVALS=${BENCH_INTERVALS:-"100 500"}
COUNTS=${BENCH_CLASSIFIERS:-1}
RUNS=${BENCH_RUNS:-1}
WARMUP=${BENCH_WARMUP:-1}
POLL=${BENCH_POLL_SECONDS:-0.2}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
PERF=${BENCH_PERF:-0}
PORT_BASE=${BENCH_PORT_BASE:-25500}
KEEP_STACK=${BENCH_KEEP_STACK:-0}
RESULTS=${BENCH_RESULTS_DIR:-$ROOT/var/bench-results/classifier}

STACK=deploy/local/stack
HELPER=$HERE/classifier_bench.py
PYTHON=$ROOT/var/venv/bin/python
TOPIC=zwgk.releases
RAW_TOPIC=bench.raw
WARM_TOPIC=bench.warmup

# bench_init, say, die, stack_env, kv, cpu_ticks, machine_busy_ticks, secs, cores,
# now, since, kafka_tool
# shellcheck source=tests/bench/common.sh
. "$HERE/../common.sh"
bench_init bench-classifier
# Nor may a caller's classifier settings leak in: each run sets its own.
unset ZWGK_KAFKA_COMMIT_INTERVAL_MS ZWGK_CLASSIFIER_GROUP_ID
export ZWGK_STACK_DIR=${BENCH_STACK_DIR:-$ROOT/var/bench-classifier}
export ZWGK_STACK_PORT_BASE=$PORT_BASE
export ZWGK_BUILD_DIR=${ZWGK_BUILD_DIR:-$ROOT/build-release}

[[ $RELEASES =~ ^[1-9][0-9]*$ ]] || die "BENCH_RELEASES must be a positive number, not '$RELEASES'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$RUNS'"
for count in $COUNTS; do
    [[ $count =~ ^[1-4]$ ]] || die "BENCH_CLASSIFIERS must be counts from 1 to 4, not '$count'"
done
for interval in $INTERVALS; do
    [[ $interval =~ ^[1-9][0-9]*$ ]] || die "BENCH_INTERVALS must be numbers of milliseconds, not '$interval'"
done
for tool in java curl psql; do
    command -v "$tool" >/dev/null || die "$tool is not installed; run 'make deps'"
done
[ -x "$PYTHON" ] || die "$PYTHON not found; run 'make deps'"
BIN=$ZWGK_BUILD_DIR/bin
for name in zwgk-producer zwgk-classifier zwgkctl; do
    [ -x "$BIN/$name" ] || die "$BIN/$name not found; run 'make release'"
done
# The broker's jars, where deploy/install-deps.sh puts them (ZW_KAFKA_LIBS of deploy/local/lib.sh).
KAFKA_VERSION=$(sed -n 's/^ZW_KAFKA_VERSION=//p' deploy/local/lib.sh)
KAFKA_LIBS=${ZWGK_CACHE_DIR:-$HOME/.cache/zwgk}/kafka-$KAFKA_VERSION/libs
compgen -G "$KAFKA_LIBS/kafka-tools-*.jar" >/dev/null ||
    die "Kafka $KAFKA_VERSION tools jar not found in $KAFKA_LIBS; run 'make deps'"
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
    die "BENCH_PERF=1 but perf is not installed"
fi

# --- cleanup ------------------------------------------------------------------

STACK_STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$STACK_STARTED" = 1 ]; then
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

# --- helpers ------------------------------------------------------------------

# CPU time of PostgreSQL: the postmaster, its children, and what its children
# that have exited used (reaped, so counted in the postmaster's cutime/cstime).
pg_ticks() {
    local pm=$1 f line rest total=0
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue # gone meanwhile
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        if [ "$2" = "$pm" ]; then
            total=$((total + ${12} + ${13}))
        fi
    done
    read -r line <"/proc/$pm/stat"
    rest=${line##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $((total + ${12} + ${13} + ${14} + ${15}))
}

metric_sum() { # metric_sum FILE NAME-PREFIX [LABEL-TEXT]: sum of matching samples
    awk -v n="$2" -v l="${3:-}" 'index($1, n) == 1 && (substr($1, length(n) + 1, 1) == "{" || length($1) == length(n)) &&
        (l == "" || index($1, l) > 0) { s += $2 } END { printf "%.6g", s }' "$1"
}

psql_bench() { psql "$PG_DSN" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The per-release state the stages keep in PostgreSQL (sql/0004..0007): emptied
# before each classifier run so every run does the same work (the same INSERTs
# into empty tables, the same audit chain from its start). The catalog,
# calendar, departments and tokens stay.
STATE_TABLES="releases release_revisions review_queue audit_log deliveries delivery_attempts
    delivery_retries embargoes portal_articles"
reset_pg() {
    local list="" t
    for t in $STATE_TABLES; do
        if [ "$(psql_bench -c "SELECT to_regclass('public.$t') IS NOT NULL")" = t ]; then
            list+="${list:+, }$t"
        fi
    done
    psql_bench -c "TRUNCATE $list RESTART IDENTITY" -c "CHECKPOINT" ||
        die "cannot empty the per-release tables ($list) of $PG_DSN"
    local left
    left=$(psql_bench -c "SELECT (SELECT count(*) FROM releases) + (SELECT count(*) FROM release_revisions)
        + (SELECT count(*) FROM review_queue) + (SELECT count(*) FROM audit_log)")
    [ "$left" = 0 ] || die "the per-release tables still hold $left rows after TRUNCATE"
}

pg_stats() { # commits of database zwgk; WAL records, bytes, syncs and sync time in ms (pg_stat_wal)
    psql_bench -F ' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
        wal_records, wal_bytes, wal_sync, round(wal_sync_time) FROM pg_stat_wal"
}

pg_table_stats() { # per table: sequential scans, rows they read, index scans, rows written
    psql_bench -F ' ' -c "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0),
        n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables ORDER BY relname"
}

# pg_table_delta BEFORE AFTER: the change per table, most rows read by
# sequential scans first.
pg_table_delta() {
    awk 'FNR == NR { s[$1] = $2; r[$1] = $3; i[$1] = $4; w[$1] = $5; next }
        { printf "%s seq_scan=%d seq_tup_read=%d idx_scan=%d rows_written=%d\n", $1, $2 - s[$1], $3 - r[$1], $4 - i[$1], $5 - w[$1] }' \
        "$1" "$2" | sort -t= -k3,3nr
}

# --- the stack ------------------------------------------------------------------

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.txt "$RESULTS"/*.err "$RESULTS"/*.json "$RESULTS"/*.summary "$RESULTS"/*.metrics \
    "$RESULTS"/*.log "$RESULTS"/*.cpu "$RESULTS"/*.conf "$RESULTS"/*.environ "$RESULTS"/perf.* \
    "$RESULTS"/*.properties "$RESULTS"/*.tables* 2>/dev/null || true
RUN_TAG=$(date -u +%Y%m%dT%H%M%SZ)
STARTED_AT=$SECONDS

# The producer's per-department rate limit would refuse most of the load with
# 429: switch it off (0 = no limit) when this build has it. Setting it for a
# build without the key would stop the producer (an unknown key is an error).
# A batch of 500 releases of up to 4 KiB of body is about 1.5 MiB of JSON,
# above the default producer.body_limit of 1 MiB: the bench allows 4 MiB.
# (The key list is read whole first: `... | grep -q` under pipefail fails when
# grep's early exit makes the writer die of SIGPIPE.)
KEYS=$("$BIN/zwgk-producer" --help-config 2>/dev/null) || die "$BIN/zwgk-producer --help-config failed"
RATE_LIMIT_NOTE="this build has no producer rate limit"
if grep -q '^producer\.rate_limit_per_s ' <<<"$KEYS"; then
    export ZWGK_PRODUCER_RATE_LIMIT_PER_S=0
    RATE_LIMIT_NOTE="producer.rate_limit_per_s = 0 (no limit)"
fi
grep -q '^producer\.body_limit ' <<<"$KEYS" || die "$BIN/zwgk-producer has no producer.body_limit"
export ZWGK_PRODUCER_BODY_LIMIT=$((4 * 1024 * 1024))

STACK_STARTED=1
if [ -e "$ZWGK_STACK_DIR/.zwgk-stack" ]; then
    "$STACK" down --purge # left by an interrupted run, or kept with BENCH_KEEP_STACK=1
fi
# PostgreSQL, Kafka, topics, migrations and seed, then only the producer: no
# other stage may consume zwgk.releases or compete for the two cores.
ZWGK_STACK_NO_DAEMONS=1 "$STACK" up
"$STACK" start-daemon zwgk-producer
for name in $("$STACK" status 2>/dev/null | awk '$1 ~ /^zwgk-/ && $1 != "zwgk-producer" && $2 == "running" { print $1 }'); do
    "$STACK" stop-daemon "$name" || die "cannot stop $name"
done

INGEST_URL=$(stack_env ZWGK_INGEST_URL)
BROKERS=$(stack_env ZWGK_KAFKA_BROKERS)
PG_DSN=$(stack_env ZWGK_PG_DSN)
CONFIG=$(stack_env ZWGK_CONFIG)
CLASSIFIER_ADMIN=$(stack_env ZWGK_CLASSIFIER_ADMIN_URL)
KAFKA_PID=$(cat "$ZWGK_STACK_DIR/run/kafka.pid")
PG_PID=$(head -n 1 "$ZWGK_STACK_DIR/pg/postmaster.pid")
[[ $PG_PID =~ ^[0-9]+$ ]] || die "no PostgreSQL pid in $ZWGK_STACK_DIR/pg/postmaster.pid"

# Time spent in WAL fsyncs (pg_stat_wal.wal_sync_time): the classifier commits
# one PostgreSQL transaction per release. Only this private cluster is changed.
psql_bench -c "ALTER SYSTEM SET track_wal_io_timing = on" -c "SELECT pg_reload_conf()" >/dev/null ||
    die "cannot switch on track_wal_io_timing in $PG_DSN"

TOKEN=$("$BIN/zwgkctl" --config "$CONFIG" --json department token demo |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["token"])') ||
    die "zwgkctl department token demo failed"

busy_before=$(machine_busy_ticks)
t=$(now)
sleep 3 # a sample of the machine's load, not a wait for anything
BACKGROUND=$(cores $(($(machine_busy_ticks) - busy_before)) "$(since "$t")")
say "background load: $BACKGROUND of $(nproc) cores busy while the stack idles"

# --- the load -----------------------------------------------------------------------

say "loading $RELEASES releases into $TOPIC through $INGEST_URL/v1/releases/batch ($RATE_LIMIT_NOTE)"
"$PYTHON" "$HELPER" load --url "$INGEST_URL" --token "$TOKEN" --count "$RELEASES" --run "$RUN_TAG" \
    >"$RESULTS/load.summary" || die "loading the releases failed"
"$STACK" stop-daemon zwgk-producer || die "zwgk-producer did not stop cleanly"
"$PYTHON" "$HELPER" topic-stats --brokers "$BROKERS" --topic "$TOPIC" >"$RESULTS/topic.summary" ||
    die "cannot read $TOPIC"
RECORDS=$(kv "$RESULTS/topic.summary" records)
RECORD_SIZE=$(kv "$RESULTS/topic.summary" value_bytes_mean)
PARTITIONS=$(kv "$RESULTS/topic.summary" partitions)
if [ "$RECORDS" != "$RELEASES" ] || [ "$(kv "$RESULTS/topic.summary" records_read)" != "$RELEASES" ]; then
    die "$TOPIC holds $RECORDS records (read $(kv "$RESULTS/topic.summary" records_read)), not the $RELEASES accepted"
fi
say "$TOPIC: $RECORDS records in $PARTITIONS partitions, mean value $RECORD_SIZE bytes" \
    "(loaded at $(kv "$RESULTS/load.summary" load_rate) releases/s; mix $(kv "$RESULTS/load.summary" mix))"

# --- Kafka's own tools: the raw rate ---------------------------------------------------

# Warnings of Kafka's tools go to $RESULTS/tools.log (kafka_tool, common.sh).
kafka_tools_log4j

# raw_pass LABEL TOPIC: ProducerPerformance then ConsumerPerformance, N records of S bytes.
raw_pass() {
    local label=$1 topic=$2
    "$PYTHON" "$HELPER" create-topic --brokers "$BROKERS" --topic "$topic" --like "$TOPIC" \
        >"$RESULTS/$label-topic.summary" || die "cannot create $topic"
    kafka_tool "$label-produce" ProducerPerformance --topic "$topic" --num-records "$RECORDS" \
        --record-size "$RECORD_SIZE" --throughput -1 \
        --producer-props "bootstrap.servers=$BROKERS" acks=all enable.idempotence=true linger.ms=5
    kafka_tool "$label-consume" ConsumerPerformance --bootstrap-server "$BROKERS" --topic "$topic" \
        --messages "$RECORDS" --timeout 60000
    "$PYTHON" "$HELPER" raw-rate --producer-out "$RESULTS/$label-produce.txt" \
        --consumer-out "$RESULTS/$label-consume.txt" --records "$RECORDS" >"$RESULTS/$label.summary" ||
        die "cannot read the results of ProducerPerformance/ConsumerPerformance ($RESULTS/$label-*.txt)"
}

# --- the classifier ---------------------------------------------------------------------

FAILED=0

# classifier_run LABEL INTERVAL [perf]: one run of zwgk-classifier over the whole
# backlog with a fresh group; LABEL.summary and LABEL.json hold the figures.
classifier_run() {
    local label=$1 interval=$2 with_perf=${3:-} count=${4:-1} group s pid
    group=bench-$interval-$RUN_TAG-$label
    s=$RESULTS/$label.summary
    reset_pg
    # The effective config of this run: the same environment as start-daemon's.
    ZWGK_KAFKA_COMMIT_INTERVAL_MS=$interval ZWGK_CLASSIFIER_GROUP_ID=$group \
        env -u ZWGK_STACK_DIR -u ZWGK_STACK_PORT_BASE -u ZWGK_BUILD_DIR \
        "$BIN/zwgk-classifier" --config "$CONFIG" --dump-config >"$RESULTS/$label.conf" ||
        die "zwgk-classifier --dump-config failed"
    if ! grep -qx "commit_interval_ms = $interval" "$RESULTS/$label.conf" ||
        ! grep -qx "group_id = $group" "$RESULTS/$label.conf"; then
        die "the classifier's config does not take kafka.commit_interval_ms/classifier.group_id from the environment (see $RESULTS/$label.conf)"
    fi

    local perf_args=()
    # The classifier and its PostgreSQL backend (the only client of database zwgk
    # while it runs: the producer is stopped).
    [ -z "$with_perf" ] || perf_args=(--perf-out "$RESULTS/perf.data"
        --perf-also "postgres: zwgk zwgk " --perf-also-parent "$PG_PID")
    local pg_before kafka_before busy_before stats_before
    stats_before=$(pg_stats)
    pg_table_stats >"$RESULTS/$label.tables.before"
    pg_before=$(pg_ticks "$PG_PID")
    kafka_before=$(cpu_ticks "$KAFKA_PID")
    busy_before=$(machine_busy_ticks)
    ZWGK_KAFKA_COMMIT_INTERVAL_MS=$interval ZWGK_CLASSIFIER_GROUP_ID=$group \
        "$PYTHON" "$HELPER" measure --brokers "$BROKERS" --topic "$TOPIC" --group "$group" \
        --out "$RESULTS/$label.json" --interval "$POLL" --timeout "$RUN_TIMEOUT" \
        --command-log "$RESULTS/$label.start.log" --pid-file "$ZWGK_STACK_DIR/run/zwgk-classifier.pid" "${perf_args[@]}" \
        -- "$HERE/run.sh" --start-classifiers "$count" >"$s" || {
        tail -n 20 "$RESULTS/$label.start.log" >&2 || true
        die "run $label: zwgk-classifier did not get through $TOPIC (see $RESULTS/$label.start.log, $ZWGK_STACK_DIR/log/zwgk-classifier.log)"
    }
    local pg_after kafka_after busy_after elapsed
    pg_after=$(pg_ticks "$PG_PID")
    kafka_after=$(cpu_ticks "$KAFKA_PID")
    busy_after=$(machine_busy_ticks)
    pid=$(cat "$ZWGK_STACK_DIR/run/zwgk-classifier.pid")
    local ticks hwm i ipid instances=()
    ticks=$(cpu_ticks "$pid")
    hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
    for i in $(seq 2 "$count"); do # the further instances: CPU summed, the largest RSS
        instances+=("zwgk-classifier@$i")
        ipid=$(cat "$ZWGK_STACK_DIR/run/zwgk-classifier@$i.pid")
        ticks=$((ticks + $(cpu_ticks "$ipid")))
        hwm=$(awk -v h="$hwm" '$1 == "VmHWM:" { print ($2 > h) ? $2 : h }' "/proc/$ipid/status")
        curl -fsS --max-time 5 "http://127.0.0.1:$((PORT_BASE + 42 + i))/metrics" >"$RESULTS/$label.metrics@$i" ||
            die "run $label: cannot read the metrics of zwgk-classifier@$i"
    done
    tr '\0' '\n' <"/proc/$pid/environ" | grep -E '^ZWGK_' >"$RESULTS/$label.environ" || true
    if ! grep -qx "ZWGK_KAFKA_COMMIT_INTERVAL_MS=$interval" "$RESULTS/$label.environ" ||
        ! grep -qx "ZWGK_CLASSIFIER_GROUP_ID=$group" "$RESULTS/$label.environ"; then
        die "run $label: the classifier (pid $pid) did not get the run's settings (see $RESULTS/$label.environ)"
    fi
    curl -fsS --max-time 5 "$CLASSIFIER_ADMIN/metrics" >"$RESULTS/$label.metrics" ||
        die "run $label: cannot read $CLASSIFIER_ADMIN/metrics"
    grep -q "group=\"$group\"" "$RESULTS/$label.metrics" ||
        die "run $label: the classifier's metrics do not name group $group"
    "$STACK" stop-daemon zwgk-classifier || die "run $label: zwgk-classifier did not stop with status 0"
    for i in "${instances[@]}"; do
        "$STACK" stop-daemon "$i" || die "run $label: $i did not stop with status 0"
    done
    local stats_after
    stats_after=$(pg_stats) # after the daemon's backend exited and flushed its statistics
    pg_table_stats >"$RESULTS/$label.tables.after"
    pg_table_delta "$RESULTS/$label.tables.before" "$RESULTS/$label.tables.after" >"$RESULTS/$label.tables"

    elapsed=$(kv "$s" elapsed_s)
    local m=$RESULTS/$label.metrics
    cat "$RESULTS/$label.metrics@"* >>"$m" 2>/dev/null || true # the instances' counters, summed below
    {
        echo "interval_ms=$interval"
        echo "classifiers=$count"
        echo "group=$group"
        echo "cpu_s=$(secs "$ticks")"
        echo "cpu_s_per_1000=$(awk -v t="$ticks" -v c="$CLK_TCK" -v n="$RECORDS" 'BEGIN { printf "%.3f", 1000 * t / c / n }')"
        echo "cpu_cores=$(cores "$ticks" "$elapsed")"
        echo "peak_rss_mib=$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
        echo "kafka_cores=$(cores $((kafka_after - kafka_before)) "$elapsed")"
        echo "pg_cores=$(cores $((pg_after - pg_before)) "$elapsed")"
        echo "pg_cpu_s=$(secs $((pg_after - pg_before)))"
        echo "machine_busy_cores=$(cores $((busy_after - busy_before)) "$elapsed")"
        echo "messages_in=$(metric_sum "$m" zwgk_messages_in_total)"
        echo "out_tagged=$(metric_sum "$m" zwgk_messages_out_total 'topic="zwgk.tagged"')"
        echo "out_review=$(metric_sum "$m" zwgk_messages_out_total 'topic="zwgk.review"')"
        echo "out_dlq=$(metric_sum "$m" zwgk_messages_out_total 'topic="zwgk.dlq"')"
        echo "errors=$(metric_sum "$m" zwgk_errors_total)"
        echo "stage_seconds_sum=$(metric_sum "$m" zwgk_stage_seconds_sum)"
        echo "stage_seconds_count=$(metric_sum "$m" zwgk_stage_seconds_count)"
        # shellcheck disable=SC2086
        set -- $stats_before $stats_after
        echo "pg_commits=$(($6 - $1))"
        echo "pg_wal_records=$(($7 - $2))"
        echo "pg_wal_bytes=$(($8 - $3))"
        echo "pg_wal_syncs=$(($9 - $4))"
        echo "pg_wal_sync_s=$(awk -v a="${10}" -v b="$5" 'BEGIN { printf "%.3f", (a - b) / 1000 }')"
    } >>"$s"
    local stage
    stage=$(awk -F= '$1 == "stage_seconds_sum" { sum = $2 } $1 == "stage_seconds_count" { n = $2 } $1 == "elapsed_s" { e = $2 }
        END { printf "stage_ms_mean=%.3f\nstage_share=%.2f\n", n ? 1000 * sum / n : 0, e ? sum / e : 0 }' "$s")
    echo "$stage" >>"$s"
    if [ "$(kv "$s" out_dlq)" != 0 ] || [ "$(kv "$s" errors)" != 0 ]; then
        FAILED=1
        say "FAIL: run $label: $(kv "$s" out_dlq) dead letter(s), $(kv "$s" errors) error(s) counted (see $ZWGK_STACK_DIR/log/zwgk-classifier.log)"
    fi
    say "$label: $(kv "$s" rate) releases/s ($RECORDS in $elapsed s; $(kv "$s" rate_after_first_commit)/s after the first commit)," \
        "classifier $(kv "$s" cpu_cores) cores, Kafka $(kv "$s" kafka_cores), PostgreSQL $(kv "$s" pg_cores)"
}

if [ "$WARMUP" = 1 ]; then
    say "warm-up (not reported): a raw pass on $WARM_TOPIC and a classifier pass"
    raw_pass warmup-raw "$WARM_TOPIC"
    classifier_run warmup-classifier "${INTERVALS%% *}"
fi

say "raw rate: ProducerPerformance then ConsumerPerformance, $RECORDS records of $RECORD_SIZE bytes on $RAW_TOPIC"
raw_pass raw "$RAW_TOPIC"
RAW_RATE=$(kv "$RESULTS/raw.summary" raw_rate)
say "raw: produce $(kv "$RESULTS/raw.summary" raw_produce_rate)/s, consume $(kv "$RESULTS/raw.summary" raw_consume_rate)/s," \
    "consume+produce $RAW_RATE/s"

LABELS=()
for round in $(seq 1 "$RUNS"); do
    for interval in $INTERVALS; do
        for count in $COUNTS; do
            label=cls-$interval-$round
            [ "$count" = 1 ] || label=cls${count}x-$interval-$round
            say "zwgk-classifier x $count, kafka.commit_interval_ms = $interval (round $round of $RUNS)"
            classifier_run "$label" "$interval" "" "$count"
            LABELS+=("$label")
        done
    done
done

PERF_NOTE=""
if [ "$PERF" = 1 ]; then
    last=${INTERVALS##* }
    say "perf: one more run at $last ms with perf record -g on the classifier (not reported)"
    classifier_run "perf-$last" "$last" perf
    read -r classifier_pid _ <"$RESULTS/perf.data.pids"
    {
        echo "# perf record -e cpu-clock -F 499 -g -p $(tr ' ' ',' <"$RESULTS/perf.data.pids") (the classifier first," \
            "then its PostgreSQL backend), from start-daemon's return to the last commit"
        perf report -i "$RESULTS/perf.data" --stdio --no-children -g none --sort pid,comm,dso
        echo "# the classifier"
        perf report -i "$RESULTS/perf.data" --stdio --no-children -g none --pid "$classifier_pid" \
            --percentage relative --sort dso,sym --percent-limit 0.5
        echo "# PostgreSQL"
        perf report -i "$RESULTS/perf.data" --stdio --no-children -g none --comms postgres \
            --percentage relative --sort dso,sym --percent-limit 0.5
        echo "# PostgreSQL, inclusive (children) share of the main phases of a statement"
        perf report -i "$RESULTS/perf.data" --stdio --children -g none --comms postgres \
            --percentage relative --sort sym |
            grep -E '\] (PostgresMain|pg_parse_query|pg_analyze_and_rewrite_varparams|pg_plan_queries|GetCachedPlan|standard_ExecutorRun|plpgsql_exec_function|ExecInsertIndexTuples|CommitTransactionCommand|XLogFlush|secure_read|__send)$' || true
    } >"$RESULTS/perf.txt" 2>"$RESULTS/perf.err" || say "perf report failed (see $RESULTS/perf.err)"
    PERF_NOTE="perf profile of run perf-$last in $RESULTS/perf.txt"
fi

# --- report -----------------------------------------------------------------------------

FORMAT='%-26s %10s %7s %12s %9s %10s %8s %6s %6s\n'
{
    echo
    echo "classifier benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ): $RECORDS releases on $TOPIC ($PARTITIONS partitions," \
        "mean record $RECORD_SIZE bytes), zwgk-classifier alone, $(nproc) cores, $BIN"
    echo "mix: $(kv "$RESULTS/load.summary" mix); background load before the runs: $BACKGROUND cores"
    # shellcheck disable=SC2059
    printf "$FORMAT" run "records/s" "vs raw" "after 1st/s" "elapsed s" "CPU s/1000" "RSS MiB" kafka pg
    r=$RESULTS/raw.summary
    # shellcheck disable=SC2059
    printf "$FORMAT" "raw produce (acks=all)" "$(kv "$r" raw_produce_rate)" - - "$(kv "$r" raw_produce_s)" - - - -
    # shellcheck disable=SC2059
    printf "$FORMAT" "raw consume" "$(kv "$r" raw_consume_rate)" - - "$(kv "$r" raw_consume_s)" - - - -
    # shellcheck disable=SC2059
    printf "$FORMAT" "raw consume+produce" "$RAW_RATE" "100 %" - \
        "$(awk -v a="$(kv "$r" raw_produce_s)" -v b="$(kv "$r" raw_consume_s)" 'BEGIN { printf "%.3f", a + b }')" - - - -
    for label in "${LABELS[@]}"; do
        s=$RESULTS/$label.summary
        round=""
        [ "$RUNS" = 1 ] || round=" #${label##*-}"
        # shellcheck disable=SC2059
        procs=""
        [ "$(kv "$s" classifiers)" = 1 ] || procs=" x$(kv "$s" classifiers)"
        printf "$FORMAT" "classifier$procs $(kv "$s" interval_ms) ms$round" "$(kv "$s" rate)" \
            "$(awk -v a="$(kv "$s" rate)" -v b="$RAW_RATE" 'BEGIN { printf "%.1f %%", 100 * a / b }')" \
            "$(kv "$s" rate_after_first_commit)" "$(kv "$s" elapsed_s)" "$(kv "$s" cpu_s_per_1000)" \
            "$(kv "$s" peak_rss_mib)" "$(kv "$s" kafka_cores)" "$(kv "$s" pg_cores)"
    done
    echo "records/s: releases per second from 'stack start-daemon zwgk-classifier' until the group's committed"
    echo "offsets reached the high watermarks (polled every $POLL s); after 1st/s: from the first commit seen."
    echo "raw consume+produce = N / (produce s + consume s) (ConsumerPerformance's fetch time, without its"
    echo "group join). CPU s/1000: the classifier's CPU (user+system, whole process) per 1000 releases;"
    echo "RSS: its peak (VmHWM); kafka, pg: cores the broker and PostgreSQL used during the run."
    echo
    echo "raw: ProducerPerformance latency avg $(kv "$r" raw_produce_latency_avg_ms) ms, p99 $(kv "$r" raw_produce_latency_p99_ms) ms;" \
        "ConsumerPerformance group join $(kv "$r" raw_consume_rebalance_s) s (not counted);" \
        "wall time of the JVMs: produce $(kv "$RESULTS/raw-produce.summary" wall_s) s, consume $(kv "$RESULTS/raw-consume.summary" wall_s) s;" \
        "broker CPU: produce $(kv "$RESULTS/raw-produce.summary" kafka_cpu_s) s, consume $(kv "$RESULTS/raw-consume.summary" kafka_cpu_s) s"
    for label in "${LABELS[@]}"; do
        s=$RESULTS/$label.summary
        ready="start-daemon returned ready at $(kv "$s" ready_s) s"
        [ "$(kv "$s" start_daemon_status)" = 0 ] ||
            ready="start-daemon gave up waiting for /readyz at $(kv "$s" ready_s) s (status $(kv "$s" start_daemon_status); the daemon ran on)"
        echo "$label: $ready, first commit seen at $(kv "$s" first_commit_s) s" \
            "with $(kv "$s" first_commit_records) records; in $(kv "$s" messages_in), out tagged $(kv "$s" out_tagged)," \
            "review $(kv "$s" out_review), dlq $(kv "$s" out_dlq); handler $(kv "$s" stage_ms_mean) ms per release" \
            "($(kv "$s" stage_share) of the elapsed time); classifier $(kv "$s" cpu_cores) cores, machine busy" \
            "$(kv "$s" machine_busy_cores); PostgreSQL: $(kv "$s" pg_commits) commits, $(kv "$s" pg_wal_syncs) WAL syncs" \
            "taking $(kv "$s" pg_wal_sync_s) s," \
            "$(awk -v b="$(kv "$s" pg_wal_bytes)" -v n="$RECORDS" 'BEGIN { printf "%.0f", b / n }') WAL bytes per release"
    done
    for label in "${LABELS[@]}"; do
        s=$RESULTS/$label.summary
        awk -F= -v n="$RECORDS" '{ v[$1] = $2 } END {
            printf "%s: per release %.2f ms of wall time, of which the handler %.2f ms; CPU: classifier %.2f ms,", L,
                1000 * v["elapsed_s"] / n, v["stage_ms_mean"], 1000 * v["cpu_s"] / n
            printf " PostgreSQL %.2f ms; WAL fsync %.2f ms\n", 1000 * v["pg_cpu_s"] / n, 1000 * v["pg_wal_sync_s"] / n
        }' L="$label" "$s"
        echo "$label: PostgreSQL tables, most rows read by sequential scans first (per release):" \
            "$(head -n 3 "$RESULTS/$label.tables" | awk -v n="$RECORDS" '{ split($2, a, "="); split($3, b, "=")
                printf "%s%s %.1f scans %.0f rows", sep, $1, a[2] / n, b[2] / n; sep = "; " }')"
    done
    [ -z "$PERF_NOTE" ] || echo "$PERF_NOTE"
    last=${INTERVALS##* }
    target_label=""
    for label in "${LABELS[@]}"; do
        [ "$(kv "$RESULTS/$label.summary" interval_ms)" = "$last" ] &&
            [ "$(kv "$RESULTS/$label.summary" classifiers)" = 1 ] && target_label=$label
    done
    if [ -n "$target_label" ]; then
        ratio=$(awk -v a="$(kv "$RESULTS/$target_label.summary" rate)" -v b="$RAW_RATE" 'BEGIN { printf "%.1f", 100 * a / b }')
        echo "target: classifier at $last ms >= 50 % of the raw consume+produce rate: ${ratio} % ($target_label)" \
            "-> $(awk -v r="$ratio" 'BEGIN { print (r >= 50) ? "met" : "MISSED" }')"
    fi
    echo "results in $RESULTS; $((SECONDS - STARTED_AT)) s in all"
} | tee "$RESULTS/report.txt"

[ "$FAILED" = 0 ] || exit 1
