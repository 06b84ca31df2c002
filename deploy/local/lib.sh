# shellcheck shell=bash disable=SC2034  # variables are used by the stack script
# Helpers of deploy/local/stack: paths and ports of one stack, the config file
# the daemons run with, and starting, watching and stopping the processes the
# stack owns. Sourced, never run; every function expects `set -euo pipefail`.

ZW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZW_KAFKA_VERSION=3.9.1

# The daemons `up` starts, in start order (and stop order: the producer stops
# taking releases first, then each later stage drains what reached it).
ZW_DAEMONS=(zwgk-producer zwgk-classifier zwgk-fanout zwgk-portal zwgk-bulletin zwgk-wechat zwgk-broadcast)

# Stand-ins for the services that only exist on the internet (tests/fakes/),
# started before the daemons unless the WeChat base URL or the broadcast
# endpoint is pointed elsewhere (ZWGK_WECHAT_BASE_URL, ZWGK_BROADCAST_ENDPOINT).
ZW_FAKES=(fake-wechat fake-broadcast)

# Variables that steer the stack itself or that `stack env` prints for
# clients. They are not config keys, so they are neither written into the
# config file nor passed on to the daemons and zwgkctl. (ZWGK_KAFKA_PARTITIONS
# is both: the stack creates the topics with it and the daemons know it as
# kafka.partitions.)
ZW_STACK_VARS=(
    ZWGK_STACK_DIR ZWGK_STACK_PORT_BASE ZWGK_STACK_NO_DAEMONS ZWGK_BUILD_DIR
    ZWGK_CACHE_DIR ZWGK_CONFIG ZWGK_BIN_DIR ZWGK_KAFKA_NODES
    ZWGK_INGEST_URL ZWGK_PORTAL_URL ZWGK_PRODUCER_ADMIN_URL
    ZWGK_CLASSIFIER_ADMIN_URL ZWGK_FANOUT_ADMIN_URL ZWGK_PORTAL_ADMIN_URL
    ZWGK_BULLETIN_ADMIN_URL ZWGK_WECHAT_ADMIN_URL ZWGK_BROADCAST_ADMIN_URL
    ZWGK_BULLETIN_URL ZWGK_FAKE_WECHAT_URL ZWGK_FAKE_BROADCAST_URL
)

# Config sections an environment variable ZWGK_<SECTION>_<KEY> may name.
ZW_SECTIONS=(log kafka pg daemon producer classifier fanout portal delivery wechat broadcast bulletin zwgkctl)

zw_say() { printf 'stack: %s\n' "$*" >&2; }

# Fails the command, naming the part of the stack that did not come up.
zw_fail() {
    local part=$1
    shift
    printf 'stack: %s: %s\n' "$part" "$*" >&2
    exit 1
}

# Prints the last lines of a log file, indented, to stderr; with an offset,
# only lines written after that byte (so an earlier run's lines stay out).
zw_log_tail() {
    local file=$1 lines=${2:-20} offset=${3:-0}
    if [ -r "$file" ]; then
        printf 'stack: last lines of %s:\n' "$file" >&2
        tail -c "+$((offset + 1))" "$file" | tail -n "$lines" | sed 's/^/    /' >&2
    fi
}

# A command prefix that runs a program without the stack's own variables in
# its environment (the daemons take ZWGK_* variables as config keys).
ZW_CLEAN_ENV=(env)
for _zw_var in "${ZW_STACK_VARS[@]}"; do
    ZW_CLEAN_ENV+=(-u "$_zw_var")
done
unset _zw_var

# Sets the stack's paths, its port base and its number of Kafka nodes from the
# environment. A stack dir remembers the port base and the node count of its
# last `up`, so `status`, `env` and `down` find them again without
# ZWGK_STACK_PORT_BASE and ZWGK_KAFKA_NODES.
zw_init() {
    ZW_STACK=$(realpath -m "${ZWGK_STACK_DIR:-$ZW_ROOT/var/demo}")
    ZW_RUN=$ZW_STACK/run
    ZW_LOG=$ZW_STACK/log
    ZW_KAFKA_DIR=$ZW_STACK/kafka
    ZW_CONF_FILE=$ZW_STACK/zwgk.conf
    ZW_BUILD=$(realpath -m "${ZWGK_BUILD_DIR:-$ZW_ROOT/build}")
    ZW_BIN=$ZW_BUILD/bin
    ZW_CACHE=${ZWGK_CACHE_DIR:-$HOME/.cache/zwgk}
    ZW_KAFKA_LIBS=$ZW_CACHE/kafka-$ZW_KAFKA_VERSION/libs
    ZW_PARTITIONS=${ZWGK_KAFKA_PARTITIONS:-6}
    ZW_PYTHON=$ZW_ROOT/var/venv/bin/python
    ZW_KAFKA_ADMIN=$ZW_ROOT/deploy/local/kafka_admin.py
    ZW_PG_BIN=$(zw_pg_bindir || true)

    ZW_RECORDED_BASE=""
    if [ -f "$ZW_STACK/port-base" ]; then
        ZW_RECORDED_BASE=$(<"$ZW_STACK/port-base")
    fi
    ZW_PORT_BASE=${ZWGK_STACK_PORT_BASE:-${ZW_RECORDED_BASE:-19000}}
    if ! [[ $ZW_PORT_BASE =~ ^[0-9]+$ ]] || [ "$ZW_PORT_BASE" -lt 1024 ] ||
        [ "$ZW_PORT_BASE" -gt 65500 ]; then
        zw_fail config "ZWGK_STACK_PORT_BASE must be a number from 1024 to 65500, not '$ZW_PORT_BASE'"
    fi
    if ! [[ $ZW_PARTITIONS =~ ^[1-9][0-9]*$ ]]; then
        zw_fail config "ZWGK_KAFKA_PARTITIONS must be a positive number, not '$ZW_PARTITIONS'"
    fi

    ZW_RECORDED_NODES=""
    if [ -f "$ZW_STACK/kafka-nodes" ]; then
        ZW_RECORDED_NODES=$(<"$ZW_STACK/kafka-nodes")
    fi
    ZW_KAFKA_NODES=${ZWGK_KAFKA_NODES:-${ZW_RECORDED_NODES:-1}}
    case "$ZW_KAFKA_NODES" in
    1) ZW_KAFKA_NODE_IDS=(1) ;;
    3) ZW_KAFKA_NODE_IDS=(1 2 3) ;;
    *) zw_fail config "ZWGK_KAFKA_NODES must be 1 or 3, not '$ZW_KAFKA_NODES'" ;;
    esac

    zw_kafka_ports
    if [ $((ZW_PORT_BASE + ZW_PORT_TOP)) -gt 65535 ]; then
        zw_fail config "ports $ZW_PORT_BASE-$((ZW_PORT_BASE + ZW_PORT_TOP)) do not fit below 65536; choose a lower ZWGK_STACK_PORT_BASE"
    fi
    zw_check_ephemeral_ports
    ZW_KAFKA_PORT=${ZW_KAFKA_PORTS[1]}
    ZW_CONTROLLER_PORT=${ZW_KAFKA_CONTROLLER_PORTS[1]}
    ZW_PG_PORT=$((ZW_PORT_BASE + 2))
    zw_pg_locate
    zw_conf_compute
}

# The broker (PLAINTEXT) and controller (KRaft) port of each Kafka node, by
# node id, ZW_PORT_TOP, the highest offset from the port base the stack uses,
# and the replication of the topics. Node 1 keeps B+0 and B+1 whatever the node count; nodes 2 and 3 of a
# three-node cluster take B+40/B+41 and B+42/B+43, clear of the daemons and
# the fakes.
zw_kafka_ports() {
    local b=$ZW_PORT_BASE
    ZW_KAFKA_PORTS=([1]=$((b + 0)))
    ZW_KAFKA_CONTROLLER_PORTS=([1]=$((b + 1)))
    # B+44..B+49: further classifier and fan-out instances (zw_admin_of).
    ZW_PORT_TOP=49
    # Replicas of every topic, and how many must have a write before
    # acks=all acknowledges it.
    ZW_KAFKA_REPLICATION=1
    ZW_KAFKA_MIN_ISR=1
    if [ "$ZW_KAFKA_NODES" -eq 3 ]; then
        ZW_KAFKA_PORTS+=([2]=$((b + 40)) [3]=$((b + 42)))
        ZW_KAFKA_CONTROLLER_PORTS+=([2]=$((b + 41)) [3]=$((b + 43)))
        ZW_KAFKA_REPLICATION=3
        ZW_KAFKA_MIN_ISR=2
    fi
}

# The bootstrap list of the stack's Kafka: every node's broker address.
zw_kafka_brokers() {
    local n list=""
    for n in "${ZW_KAFKA_NODE_IDS[@]}"; do
        list+="${list:+,}127.0.0.1:${ZW_KAFKA_PORTS[$n]}"
    done
    echo "$list"
}

# The name of Kafka node N in run/ and log/ (run/NAME.pid, log/NAME.log,
# log/NAME.out) and the folder with its configuration and data/. A single
# node keeps the layout stacks had before ZWGK_KAFKA_NODES: run/kafka.pid,
# log/kafka.log, kafka/server.properties, kafka/data.
zw_kafka_node_name() {
    if [ "$ZW_KAFKA_NODES" -eq 1 ]; then
        echo kafka
    else
        echo "kafka-$1"
    fi
}

zw_kafka_node_dir() {
    if [ "$ZW_KAFKA_NODES" -eq 1 ]; then
        echo "$ZW_KAFKA_DIR"
    else
        echo "$ZW_KAFKA_DIR/node$1"
    fi
}

# Warns when the stack's ports lie in the kernel's range for outgoing
# connections: a listener there can find its port taken by some connection's
# local end, and then fails to start now and then.
zw_check_ephemeral_ports() {
    local low high top=$((ZW_PORT_BASE + ZW_PORT_TOP))
    read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    if [ "$top" -ge "$low" ] && [ "$ZW_PORT_BASE" -le "$high" ]; then
        zw_say "warning: ports $ZW_PORT_BASE-$top overlap the ephemeral port range $low-$high; choose a ZWGK_STACK_PORT_BASE below $((low - ZW_PORT_TOP - 1))"
    fi
}

# --- config -----------------------------------------------------------------

declare -gA ZW_CONF=()
declare -ga ZW_CONF_KEYS=()

zw_conf_set() {
    local key=$1 value=$2
    if [ -z "${ZW_CONF[$key]+set}" ]; then
        ZW_CONF_KEYS+=("$key")
    fi
    ZW_CONF[$key]=$value
}

# Sets section.key to the value of ZWGK_<SECTION>_<KEY> if that is set and not
# empty, else to the given derived value.
zw_conf_derive() {
    local key=$1 value=$2 var
    var=ZWGK_${key%%.*}_${key#*.}
    var=${var^^}
    if [ -n "${!var:-}" ]; then
        value=${!var}
    fi
    zw_conf_set "$key" "$value"
}

zw_is_stack_var() {
    local v
    for v in "${ZW_STACK_VARS[@]}"; do
        if [ "$v" = "$1" ]; then
            return 0
        fi
    done
    return 1
}

# Computes every config key: values derived from the port base, overridden by
# ZWGK_<SECTION>_<KEY>; any other such variable of a known section is added.
zw_conf_compute() {
    local b=$ZW_PORT_BASE var section key sections
    ZW_CONF=()
    ZW_CONF_KEYS=()
    zw_conf_derive log.level info
    zw_conf_derive log.format kv
    zw_conf_derive kafka.brokers "$(zw_kafka_brokers)"
    zw_conf_derive kafka.topic_prefix zwgk.
    # librdkafka pass-through: a killed daemon's partitions go to its restarted
    # successor (or another member) after 6 s instead of the default 45 s.
    zw_conf_set kafka.session.timeout.ms 6000
    zw_conf_set kafka.heartbeat.interval.ms 1000
    zw_conf_derive pg.dsn "postgresql://zwgk@127.0.0.1:$((b + 2))/zwgk"
    zw_conf_derive producer.listen "127.0.0.1:$((b + 10))"
    zw_conf_derive producer.admin "127.0.0.1:$((b + 20))"
    zw_conf_derive classifier.admin "127.0.0.1:$((b + 21))"
    zw_conf_derive fanout.admin "127.0.0.1:$((b + 22))"
    zw_conf_derive portal.admin "127.0.0.1:$((b + 23))"
    zw_conf_derive portal.listen "127.0.0.1:$((b + 11))"
    zw_conf_derive portal.docroot "$ZW_STACK/portal"
    zw_conf_derive portal.base_url "http://${ZW_CONF[portal.listen]}"
    zw_conf_derive bulletin.admin "127.0.0.1:$((b + 24))"
    zw_conf_derive bulletin.listen "127.0.0.1:$((b + 12))"
    zw_conf_derive bulletin.docroot "$ZW_STACK/bulletin"
    zw_conf_derive bulletin.base_url "http://${ZW_CONF[bulletin.listen]}"
    zw_conf_derive wechat.admin "127.0.0.1:$((b + 25))"
    zw_conf_derive wechat.base_url "http://127.0.0.1:$((b + 30))"
    zw_conf_derive wechat.appid wxfake0000000001
    zw_conf_derive wechat.secret fake-app-secret
    zw_conf_derive wechat.thumb_media_id fake-thumb-media-id
    zw_conf_derive wechat.author 政务公开办
    # The fake publishes on the first poll: poll it often.
    zw_conf_derive wechat.poll_interval_ms 200
    zw_conf_derive broadcast.admin "127.0.0.1:$((b + 26))"
    zw_conf_derive broadcast.endpoint "http://127.0.0.1:$((b + 31))/cap"
    zw_conf_derive broadcast.sender "zwgk@stack.local"

    sections=$(IFS='|' && echo "${ZW_SECTIONS[*]^^}")
    for var in $(compgen -e | LC_ALL=C sort); do
        if ! [[ $var =~ ^ZWGK_($sections)_(.+)$ ]] || zw_is_stack_var "$var"; then
            continue
        fi
        if [ -z "${!var}" ]; then
            continue
        fi
        section=${var#ZWGK_}
        section=${section%%_*}
        section=${section,,}
        key=${var#ZWGK_*_}
        key=${key,,}
        if [ -z "${ZW_CONF[$section.$key]+set}" ]; then
            zw_conf_set "$section.$key" "${!var}"
        fi
    done
}

# Writes the config file atomically, one [section] per section in the order
# the keys were set.
zw_conf_write() {
    local file=$1 tmp key section sections=()
    for key in "${ZW_CONF_KEYS[@]}"; do
        section=${key%%.*}
        if [[ " ${sections[*]} " != *" $section "* ]]; then
            sections+=("$section")
        fi
    done
    tmp=$(mktemp "$file.XXXXXX")
    {
        echo "# zwgk configuration of the local stack in $ZW_STACK."
        echo "# Written by deploy/local/stack up; rewritten on every up."
        for section in "${sections[@]}"; do
            printf '\n[%s]\n' "$section"
            for key in "${ZW_CONF_KEYS[@]}"; do
                if [ "${key%%.*}" = "$section" ]; then
                    printf '%s = %s\n' "${key#*.}" "${ZW_CONF[$key]}"
                fi
            done
        done
    } >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$file"
}

# The admin address of a daemon (host:port). Further instances of the
# classifier (NAME@2..4) listen on B+44..B+46, of the fan-out on B+47..B+49.
zw_admin_of() {
    local section=${1#zwgk-}
    case "$section" in
    classifier@[2-4]) echo "127.0.0.1:$((ZW_PORT_BASE + 42 + ${section#*@}))" ;;
    fanout@[2-4]) echo "127.0.0.1:$((ZW_PORT_BASE + 45 + ${section#*@}))" ;;
    *) echo "${ZW_CONF[$section.admin]}" ;;
    esac
}

# --- processes --------------------------------------------------------------

# Prints the pid in a pid file and succeeds if that process is alive and its
# command line contains the given text (so a recycled pid is not mistaken
# for ours). An exited process not yet reaped counts as gone.
zw_pid_alive() {
    local file=$1 expect=$2 pid cmdline
    [ -f "$file" ] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
    # A zombie's command line reads empty, but so, for some milliseconds,
    # does that of a process in execve (the launch wrapper's child becomes
    # env, then the program): wait that out, up to two seconds.
    local stat tries=0
    while [ -z "$cmdline" ]; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ] && [ $tries -lt 40 ] || return 1
        tries=$((tries + 1))
        sleep 0.05
        cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
    done
    [[ $cmdline == *"$expect"* ]] || return 1
    echo "$pid"
}

# Starts a command in its own session, detached from ours, with output
# appended to a log file. A small sh wrapper records the command's pid in
# run/NAME.pid and, when it ends, its exit status in run/NAME.exit, which
# nobody else could learn since the process is not our child. Returns once
# the pid file exists.
zw_launch() {
    local name=$1 log=$2
    shift 2
    local pid_file=$ZW_RUN/$name.pid exit_file=$ZW_RUN/$name.exit deadline
    rm -f "$pid_file" "$exit_file"
    # fd 9 holds the stack's lock; a long-lived child must not inherit it.
    (
        cd "$ZW_STACK" || exit 1
        # shellcheck disable=SC2016  # expanded by the wrapper sh, not here
        exec setsid sh -c '
            pid_file=$1 exit_file=$2
            shift 2
            "$@" &
            echo $! >"$pid_file.tmp" && mv -f "$pid_file.tmp" "$pid_file"
            wait $!
            echo $? >"$exit_file.tmp" && mv -f "$exit_file.tmp" "$exit_file"
        ' zwgk-launch "$pid_file" "$exit_file" "$@" </dev/null >>"$log" 2>&1 9>&- &
    )
    deadline=$((SECONDS + 10))
    until [ -s "$pid_file" ]; do
        if [ $SECONDS -ge $deadline ]; then
            zw_fail "$name" "no pid file after 10 s"
        fi
        sleep 0.05
    done
}

# Sends SIGTERM to the process in run/NAME.pid and waits up to GRACE seconds
# for it to exit, then SIGKILLs it. Prints the exit status recorded by the
# launch wrapper ("?" if none). Removes the pid file.
zw_stop_process() {
    local name=$1 expect=$2 grace=$3
    local pid_file=$ZW_RUN/$name.pid exit_file=$ZW_RUN/$name.exit pid deadline
    if ! pid=$(zw_pid_alive "$pid_file" "$expect"); then
        rm -f "$pid_file"
        return 1
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while zw_pid_alive "$pid_file" "$expect" >/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            zw_say "$name: still running $grace s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 3600))
        fi
        sleep 0.1
    done
    deadline=$((SECONDS + 5))
    until [ -s "$exit_file" ] || [ $SECONDS -ge $deadline ]; do
        sleep 0.05
    done
    rm -f "$pid_file"
    if [ -s "$exit_file" ]; then
        cat "$exit_file"
    else
        echo "?"
    fi
}

# --- PostgreSQL ---------------------------------------------------------------

zw_pg_bindir() {
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    else
        return 1
    fi
}

# Sets where the cluster's data and log live. Run as root, the server runs as
# the OS user postgres, which must be able to reach the data directory; when
# the stack dir lies under a folder postgres cannot enter (a clone in a 0700
# home), the data lives under /tmp and $STACK/pg is a symlink to it.
zw_pg_locate() {
    ZW_PG_LINK=$ZW_STACK/pg
    ZW_PG_AS_POSTGRES=0
    if [ "$(id -u)" -eq 0 ]; then
        ZW_PG_AS_POSTGRES=1
    fi
    ZW_PG_TMP_DATA=/tmp/zwgk-pg-$(printf '%s' "$ZW_STACK" | sha256sum | cut -c1-12)
    if [ -L "$ZW_PG_LINK" ]; then
        ZW_PG_DATA=$(readlink "$ZW_PG_LINK")
    else
        ZW_PG_DATA=$ZW_PG_LINK
    fi
    if [ "$ZW_PG_DATA" = "$ZW_PG_LINK" ]; then
        ZW_PG_LOGFILE=$ZW_LOG/postgres.log
    else
        ZW_PG_LOGFILE=$ZW_PG_DATA/postgres.log
    fi
}

# Runs a PostgreSQL program as the user the cluster belongs to, from /, so
# that a working directory postgres cannot enter does not matter.
zw_pg_run() {
    if [ "$ZW_PG_AS_POSTGRES" -eq 1 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

zw_pg_running() {
    [ -f "$ZW_PG_DATA/postmaster.pid" ] || return 1
    zw_pg_run "$ZW_PG_BIN/pg_ctl" -D "$ZW_PG_DATA" status >/dev/null 2>&1
}

zw_pg_pid() {
    head -n 1 "$ZW_PG_DATA/postmaster.pid" 2>/dev/null || echo "-"
}

zw_pg_ready() {
    "$ZW_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$ZW_PG_PORT" -t 2 >/dev/null 2>&1
}

# --- fakes --------------------------------------------------------------------

# The port a fake listens on when the stack runs it, or nothing when the
# config points that channel elsewhere (then the stack leaves it alone).
zw_fake_port() {
    local b=$ZW_PORT_BASE
    case "$1" in
    fake-wechat)
        [ "${ZW_CONF[wechat.base_url]}" = "http://127.0.0.1:$((b + 30))" ] && echo $((b + 30))
        ;;
    fake-broadcast)
        [ "${ZW_CONF[broadcast.endpoint]}" = "http://127.0.0.1:$((b + 31))/cap" ] && echo $((b + 31))
        ;;
    esac
    return 0
}

# What a fake's command line contains (for zw_pid_alive).
zw_fake_expect() { echo "tests/fakes/${1//-/_}.py --port $2"; }
