#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz into build-fuzz/ with clang: the
# libzwgk sources they exercise with coverage instrumentation, ASan and UBSan,
# each fuzz_<name>.c linked against them with libFuzzer's main.
#
#   tests/fuzz/build.sh        (needs clang and libclang-rt-14-dev; see deploy/install-deps.sh --fuzz)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${ZWGK_FUZZ_DIR:-$repo/build-fuzz}
lib=$repo/daemons/lib
cc=${CC_FUZZ:-clang}

# The libzwgk modules the targets call; add one here when a target needs it.
lib_sources=(zw_release.c zw_config.c zw_privacy.c zw_html.c zw_cap.c zw_text.c)
targets=(fuzz_release fuzz_config fuzz_privacy fuzz_html fuzz_cap)

command -v "$cc" >/dev/null || { echo "build.sh: $cc not found (deploy/install-deps.sh --fuzz)" >&2; exit 1; }
pkgs=(jansson rdkafka libpq libevent libcrypto libxml-2.0)
pkg_cflags=$(pkg-config --cflags "${pkgs[@]}")
pkg_libs=$(pkg-config --libs "${pkgs[@]}")

common=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer
        -fno-sanitize-recover=undefined -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
        -I"$lib" -DZW_SOURCE_DIR="\"$repo\"")

mkdir -p "$out/obj"
objects=()
for src in "${lib_sources[@]}"; do
  obj=$out/obj/${src%.c}.o
  # shellcheck disable=SC2086
  "$cc" "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined $pkg_cflags -c "$lib/$src" -o "$obj"
  objects+=("$obj")
done
rm -f "$out/libzwgk-fuzz.a"
ar rcs "$out/libzwgk-fuzz.a" "${objects[@]}"

for target in "${targets[@]}"; do
  # shellcheck disable=SC2086
  "$cc" "${common[@]}" -fsanitize=fuzzer,address,undefined $pkg_cflags \
    "$repo/tests/fuzz/$target.c" "$out/libzwgk-fuzz.a" $pkg_libs -o "$out/$target"
  echo "built $out/$target"
done
