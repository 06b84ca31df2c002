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
    # xmllint: the broadcast platform's stand-in validates every CAP document
    # against the OASIS schema with it.
    libxml2-utils
    # The portal page tests: headless Chromium screenshots, and a CJK font so
    # that the Chinese text in them shows as text, not as empty boxes.
    chromium fonts-wqy-microhei
    # tests/e2e/test_valgrind.py: every daemon starts and stops under memcheck
    # without a leak.
    valgrind
    # promtool, for deploy/monitoring and its tests; policy-rc.d (below) keeps the bundled server from starting.
    prometheus
    # sd_notify: the daemons tell systemd (deploy/systemd, Type=notify) when they are ready.
    libsystemd-dev
    # tests/cli/test_man_pages.py renders man/ with groff and man (priority standard, so absent from minimal images).
    groff-base man-db
)

# Optional sets: --fuzz for the libFuzzer targets (make fuzz), --bench for the
# benchmarks (make bench, bench-ingest, bench-classifier; gnuplot draws the
# plots of make bench, perf records BENCH_PROFILE and BENCH_PERF profiles),
# --deb for the Debian packages (make deb: debhelper and dpkg-buildpackage,
# lintian; tests/deb of make test builds them too). Not needed by make demo.
FUZZ_PACKAGES=(clang libclang-rt-14-dev libfuzzer-14-dev)
BENCH_PACKAGES=(wrk nginx gnuplot-nox linux-perf)
DEB_PACKAGES=(debhelper dpkg-dev fakeroot lintian)
for arg in "$@"; do
    case "$arg" in
    --fuzz) PACKAGES+=("${FUZZ_PACKAGES[@]}") ;;
    --bench) PACKAGES+=("${BENCH_PACKAGES[@]}") ;;
    --deb) PACKAGES+=("${DEB_PACKAGES[@]}") ;;
    *) printf 'usage: deploy/install-deps.sh [--fuzz] [--bench] [--deb]\n' >&2; exit 2 ;;
    esac
done

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
    # Installing a server package (postgresql, nginx) must not start its system
    # service: the project runs private instances on its own ports. Debian's
    # policy-rc.d hook (exit 101) tells maintainer scripts not to start services.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        own_policy=1
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
    if [ $own_policy -eq 1 ]; then as_root rm -f "$policy"; fi
    [ $rc -eq 0 ] || die "apt-get install failed"
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

install_python_venv() {
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
