#!/usr/bin/env bash
# Installs what building zwgk and running its local stack need: Debian packages,
# the Kafka broker jars (resolved by Maven into a cache) and the Python venv the
# tests use. Every step checks first, so a second run returns in seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${ZWGK_CACHE_DIR:-$HOME/.cache/zwgk}
KAFKA_VERSION=3.9.1
KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION/libs
VENV=$ROOT/var/venv
REQUIREMENTS=$ROOT/tests/requirements.txt

PACKAGES=(
    build-essential cmake ninja-build pkg-config
    librdkafka-dev libpq-dev libjansson-dev libevent-dev libssl-dev
    libcurl4-openssl-dev libcmocka-dev libpcre2-dev libxml2-dev
    postgresql postgresql-client
    openjdk-17-jre-headless maven
    python3-venv python3-pip
    curl ca-certificates
)

# Pinned so that CI and developers test against the same client libraries.
# confluent-kafka 2.6.x ships manylinux wheels for CPython 3.11 (Debian 12).
REQUIRED_PYTHON=(
    "pytest==8.3.5"
    "jsonschema==4.23.0"
    "requests==2.32.3"
    "confluent-kafka==2.6.1"
    "rfc3339-validator==0.1.4"
)

say() { printf 'install-deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

install_debian_packages() {
    local missing=() pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

have_kafka_jars() {
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null
}

install_kafka_jars() {
    if have_kafka_jars; then
        return 0
    fi
    say "resolving Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
    mkdir -p "$(dirname "$KAFKA_LIBS")"
    local tmp
    tmp=$(mktemp -d "$(dirname "$KAFKA_LIBS")/libs.tmp.XXXXXX")
    # A half-finished download must never look like a cache: resolve into a
    # temporary folder and rename it into place only once Maven succeeded.
    if ! mvn -q -B -Dstyle.color=never -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp"; then
        rm -rf "$tmp"
        die "Maven could not resolve the Kafka jars (deploy/kafka/pom.xml)"
    fi
    if ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
        rm -rf "$tmp"
        die "Maven finished but no kafka_2.13 jar was copied"
    fi
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
}

# The tests' requirements file is shared with other work; only add what is
# missing, never rewrite lines someone else pinned.
ensure_requirements_file() {
    mkdir -p "$(dirname "$REQUIREMENTS")"
    [ -f "$REQUIREMENTS" ] || : >"$REQUIREMENTS"
    local line name
    for line in "${REQUIRED_PYTHON[@]}"; do
        name=${line%%==*}
        if ! grep -qiE "^[[:space:]]*${name//-/[-_]}([[:space:]]*[=<>!~;\[]|[[:space:]]*$)" "$REQUIREMENTS"; then
            # keep a trailing newline before appending
            if [ -s "$REQUIREMENTS" ] && [ -n "$(tail -c1 "$REQUIREMENTS")" ]; then
                printf '\n' >>"$REQUIREMENTS"
            fi
            printf '%s\n' "$line" >>"$REQUIREMENTS"
            say "added $line to tests/requirements.txt"
        fi
    done
}

install_python_venv() {
    ensure_requirements_file
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating Python venv at var/venv"
        python3 -m venv "$VENV"
    fi
    local stamp=$VENV/.requirements.sha256 want have=""
    want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    [ -f "$stamp" ] && have=$(cat "$stamp")
    if [ "$want" = "$have" ]; then
        return 0
    fi
    say "installing Python packages from tests/requirements.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$REQUIREMENTS"
    printf '%s\n' "$want" >"$stamp"
}

install_debian_packages
install_kafka_jars
install_python_venv
