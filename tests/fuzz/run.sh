#!/usr/bin/env bash
# Builds the libFuzzer targets (build.sh) and runs each for SECONDS (default 60):
#
#   tests/fuzz/run.sh [SECONDS]
#
# Every target starts from its committed seeds, tests/fuzz/corpus/<target>/, and
# the inputs that once crashed it, tests/fuzz/regressions/<target>/ (ctest replays
# both); fuzz_release also from the release corpora (tests/schemas/release/valid
# and tests/conformance/cases), fuzz_config from deploy/zwgk.conf.example. What
# the fuzzer adds is kept in build-fuzz/corpus/<target>/ (not committed), crash
# inputs in build-fuzz/artifacts/, each run's log in build-fuzz/<target>.log.
# Exits non-zero when any target crashed, leaked, hit a sanitizer report or
# timed out.
set -euo pipefail

seconds=${1:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${ZWGK_FUZZ_DIR:-$repo/build-fuzz}
export ZWGK_FUZZ_DIR=$out
"$repo/tests/fuzz/build.sh"

seeds_release=("$repo/tests/schemas/release/valid" "$repo/tests/conformance/cases")
seeds_config=("$out/seeds/config")
mkdir -p "$out/seeds/config" "$out/artifacts"
cp "$repo/deploy/zwgk.conf.example" "$out/seeds/config/"

# Runs one target from its committed seeds and regressions and any further seed
# directories given; prints a summary line; returns libFuzzer's status.
run() {
  local target=$1 dict=$2 max_len=$3
  shift 3
  local corpus=$out/corpus/$target log=$out/$target.log
  local committed=("$repo/tests/fuzz/corpus/$target" "$repo/tests/fuzz/regressions/$target")
  mkdir -p "$corpus"
  local status=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$out/$target" "$corpus" "${committed[@]}" "$@" \
    -max_total_time="$seconds" -timeout=10 -max_len="$max_len" -dict="$dict" \
    -artifact_prefix="$out/artifacts/$target-" -print_final_stats=1 >"$log" 2>&1 || status=$?
  local runs execs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  if ((status == 0)); then
    echo "$target: ok, ${runs:-?} runs in ${seconds}s, ${execs:-?} exec/s, corpus $(find "$corpus" -type f | wc -l) files"
  else
    echo "$target: FAILED (status $status); see $log and $out/artifacts/" >&2
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*Test unit written to)" "$log" | head -5 >&2 || true
  fi
  return "$status"
}

failed=0
run fuzz_release "$repo/tests/fuzz/release.dict" 65536 "${seeds_release[@]}" || failed=1
run fuzz_config "$repo/tests/fuzz/config.dict" 4096 "${seeds_config[@]}" || failed=1
run fuzz_privacy "$repo/tests/fuzz/privacy.dict" 16384 || failed=1
run fuzz_html "$repo/tests/fuzz/html.dict" 16384 || failed=1
run fuzz_cap "$repo/tests/fuzz/cap.dict" 4096 || failed=1
exit "$failed"
