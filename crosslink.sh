#!/usr/bin/env bash
# Crosslink's one entry point on a fresh Debian 12 machine:
#   ./crosslink.sh demo   install what is missing, build, run the main job on the default scenario
#   ./crosslink.sh test   install what is missing, build, run every test
#   ./crosslink.sh build  install what is missing and build
#   ./crosslink.sh fuzz [seconds]  build the libFuzzer targets (tests/fuzz) and run each for
#                         `seconds` (default 20) over its corpus; fails on any crash, leak or UB
#   ./crosslink.sh sanitize  the collectives and runtime suites under ASan+UBSan, the transport,
#                         executor, coordinator and communicator suites under TSan (build-asan/,
#                         build-tsan/)
#   ./crosslink.sh sanitize ci  the TSan suites CI runs (TSAN_CI_SUITES below)
#   ./crosslink.sh sanitize asan-ci  the ASan+UBSan suites CI runs (below)
# A second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

# Debian packages the build and the tests need. gnuplot draws the plots; the Fashion-MNIST
# dataset package feeds the training example.
PACKAGES=(cmake ninja-build g++ pkg-config git ccache
  libgrpc++-dev libssl-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libtorch-dev libgloo-dev libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev
  gnuplot-nox dataset-fashion-mnist python3-torch python3-pybind11 pybind11-dev python3-pytest
  openssl clang-14 libfuzzer-14-dev openmpi-bin slurm-wlm munge)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "crosslink: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  install_missing
  if [ ! -f build/CMakeCache.txt ]; then
    cmake --preset default
  fi
  # Two cores and ~1.3 GB per torch translation unit: two jobs fit comfortably.
  cmake --build build -j "${CROSSLINK_JOBS:-2}"
}

# Runs every libFuzzer target for $1 seconds over its seed corpus (tests/fuzz/corpus/<target>)
# plus what earlier runs found (build-fuzz/corpus/<target>, kept between runs, not committed).
# A crash, leak, undefined behaviour, broken property or an input slower than 25 s fails; the
# input that did it is left in build-fuzz/artifacts/.
fuzz() {
  local seconds="${1:-20}"
  install_missing
  [ -f build-fuzz/CMakeCache.txt ] || cmake --preset fuzz >/dev/null
  cmake --build build-fuzz -j "${CROSSLINK_JOBS:-2}" --target crosslink_fuzzers
  mkdir -p build-fuzz/artifacts
  local failed=() src name target log
  for src in tests/fuzz/*_fuzzer.cc; do
    name=$(basename "$src" .cc)
    target=${name%_fuzzer}
    mkdir -p "build-fuzz/corpus/$target"
    log="build-fuzz/artifacts/$target.log"
    if build-fuzz/bin/"$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target-" \
        "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
      echo "fuzz $target: ok, $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$log" |
        grep -o '[0-9]*$') inputs in ${seconds} s, $(grep -o 'cov: [0-9]*' "$log" | tail -1)"
    else
      echo "fuzz $target: FAILED (log: $log)"
      grep -E "ERROR|SUMMARY|runtime error|property failed|Test unit written" "$log" | head -5
      failed+=("$target")
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    return 1
  fi
}

# What `sanitize` runs: every suite of tests/collectives and tests/runtime under ASan+UBSan, and
# the suites of the threaded code (transports, executor, coordinator, the communicator's
# multi-process jobs) under TSan. Suites run one at a time (their own tests start threads and
# processes); a report from any process, the suite's or a rank's, fails the suite.
TSAN_SUITES=(frame_test frame_matcher_test tcp_connection_test tcp_handshake_test tcp_tls_test
  shm_transport_test transport_conformance_test resumable_connection_test hostile_peer_test
  executor_test coordinator_test coordinator_restart_test coordinator_security_test
  communicator_coordinator_restart_test membership_test rank_admission_test data_transport_test
  partial_allreduce_test communicator_test resume_test elastic_test rejoin_test)
# What CI runs under TSan (`sanitize ci`): all of the above but rejoin_test (4 min under TSan on
# 2 cores; `sanitize` runs it). README "Fuzzing and sanitizers" has the times. The multi-process
# suites run every rank and the launcher instrumented.
TSAN_CI_SUITES=()
for _s in "${TSAN_SUITES[@]}"; do [ "$_s" = rejoin_test ] || TSAN_CI_SUITES+=("$_s"); done

# The runtime's suites that run one process; the others start ranks through crosslink-run (and
# mpirun, Slurm, network namespaces), so their programs are built with them.
RUNTIME_IN_PROCESS_SUITES=(
  coordinator_test coordinator_security_test coordinator_restart_test
  communicator_coordinator_restart_test rank_admission_test partial_allreduce_test
  data_transport_test membership_test launch_env_test node_layout_test slurm_nodelist_test)
# What CI runs under ASan+UBSan (`sanitize asan-ci`): every collectives suite and the runtime's
# in-process suites. The multi-process suites (ranks through crosslink-run, mpirun, Slurm,
# network namespaces) run under TSan in CI and under ASan in `sanitize`: under ASan they have
# passed with the ranks' own reports unchecked (before log_path), not yet with them checked, and
# they add a cold ASan build of the launcher and programs to CI (README "Fuzzing and sanitizers").
ASAN_CI_MULTI_PROCESS_SUITES=()

# The launcher and every test program the multi-process suites start.
runtime_programs() {
  local f
  echo crosslink-run
  for f in tests/runtime/programs/*.cc; do
    f=$(basename "$f" .cc)
    echo "crosslink-test-${f//_/-}"
  done
}

# run_suites <build dir> <suite>...: runs each suite binary, logs to <dir>/sanitize/<suite>.log.
# Every process the suite starts (ranks, launcher) inherits log_path, so a sanitizer report from
# any of them lands in <dir>/sanitize/<suite>.report.<pid> and fails the suite even when the test
# itself passes (a rank that dies of a report may look like the death an elastic test expects).
run_suites() {
  local dir="$1" failed=() t start reports status
  shift
  mkdir -p "$dir/sanitize"
  for t in "$@"; do
    start=$SECONDS
    rm -f "$dir/sanitize/$t.report".*
    local log_opt="log_path=$ROOT/$dir/sanitize/$t.report"
    status=0
    TSAN_OPTIONS="${TSAN_OPTIONS:-} $log_opt" ASAN_OPTIONS="${ASAN_OPTIONS:-}:$log_opt" \
      UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:$log_opt" \
      timeout 1800 "$dir/bin/$t" --gtest_brief=1 >"$dir/sanitize/$t.log" 2>&1 || status=$?
    reports=$(grep -lE "WARNING: ThreadSanitizer|ERROR: (Address|Leak|ThreadSanitizer)|runtime error|SUMMARY: " \
      "$dir/sanitize/$t.report".* 2>/dev/null || true)
    if [ "$status" -eq 0 ] && [ -z "$reports" ]; then
      echo "sanitize $(basename "$dir") $t: ok ($((SECONDS - start)) s)"
    else
      echo "sanitize $(basename "$dir") $t: FAILED (exit $status, $((SECONDS - start)) s, log: $dir/sanitize/$t.log${reports:+, reports: $(echo $reports)})"
      grep -hE "ERROR: |WARNING: ThreadSanitizer|runtime error|SUMMARY|\[  FAILED" \
        "$dir/sanitize/$t.log" $reports | head -8
      failed+=("$t")
    fi
  done
  [ ${#failed[@]} -eq 0 ]
}

# asan_suites <target>... -- <suite>...: builds the targets in build-asan/ (the `asan` preset)
# and runs the suites under ASan+UBSan: a heap error, a leak or undefined behaviour fails.
asan_suites() {
  local targets=()
  while [ "$1" != -- ]; do
    targets+=("$1")
    shift
  done
  shift
  [ -f build-asan/CMakeCache.txt ] || cmake --preset asan >/dev/null
  cmake --build build-asan -j "${CROSSLINK_JOBS:-2}" --target "${targets[@]}"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suites build-asan "$@"
}

# tsan_suites <suite>...: builds them, the launcher and the test programs in build-tsan/ (the
# `tsan` preset) and runs them under TSan: any data race or lock misuse fails.
tsan_suites() {
  local programs
  mapfile -t programs < <(runtime_programs)
  [ -f build-tsan/CMakeCache.txt ] || cmake --preset tsan >/dev/null
  cmake --build build-tsan -j "${CROSSLINK_JOBS:-2}" --target "$@" "${programs[@]}"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_suites build-tsan "$@"
}

sanitize() {
  install_missing
  local asan=() status=0 f programs
  mapfile -t programs < <(runtime_programs)
  case "${1:-}" in
    ci)
      tsan_suites "${TSAN_CI_SUITES[@]}"
      return
      ;;
    asan-ci)
      for f in tests/collectives/*_test.cc; do asan+=("$(basename "$f" .cc)"); done
      asan+=("${RUNTIME_IN_PROCESS_SUITES[@]}" "${ASAN_CI_MULTI_PROCESS_SUITES[@]}")
      [ ${#ASAN_CI_MULTI_PROCESS_SUITES[@]} -gt 0 ] || programs=()
      asan_suites "${asan[@]}" "${programs[@]}" -- "${asan[@]}"
      return
      ;;
  esac
  for f in tests/collectives/*_test.cc tests/runtime/*_test.cc; do asan+=("$(basename "$f" .cc)"); done
  asan_suites "${asan[@]}" "${programs[@]}" -- "${asan[@]}" || status=1
  tsan_suites "${TSAN_SUITES[@]}" || status=1
  return $status
}

case "${1:-}" in
  build)
    build
    ;;
  test)
    build
    ctest --test-dir build --output-on-failure -j 2 --timeout 300
    ;;
  demo)
    build
    shift
    exec "$ROOT/bench/demo.sh" "$@"
    ;;
  fuzz)
    shift
    fuzz "$@"
    ;;
  sanitize)
    shift
    sanitize "$@"
    ;;
  *)
    echo "usage: $0 demo|test|build|fuzz [seconds]|sanitize [ci|asan-ci]" >&2
    exit 2
    ;;
esac
