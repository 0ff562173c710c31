#!/usr/bin/env bash
# Crosslink's one entry point on a fresh Debian 12 machine:
#   ./crosslink.sh demo   install what is missing, build, run the main job on the default scenario
#   ./crosslink.sh test   install what is missing, build, run every test
#   ./crosslink.sh build  install what is missing and build
#   ./crosslink.sh fuzz [seconds]  build the libFuzzer targets (tests/fuzz) and run each for
#                         `seconds` (default 20) over its corpus; fails on any crash, leak or UB
#   ./crosslink.sh sanitize  the collectives and runtime suites under ASan+UBSan, the transport,
#                         executor and coordinator suites under TSan (build-asan/, build-tsan/)
#   ./crosslink.sh sanitize ci  only the collectives layer's TSan suites (what CI runs)
#   ./crosslink.sh sanitize asan-ci  the ASan+UBSan suites CI runs (ASAN_CI_RUNTIME_SUITES below)
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
# the suites of the threaded code (transports, executor, coordinator) under TSan. Suites run one
# at a time (their own tests start threads and processes); a report fails the suite.
TSAN_SUITES=(frame_test frame_matcher_test tcp_connection_test tcp_handshake_test tcp_tls_test
  shm_transport_test transport_conformance_test resumable_connection_test hostile_peer_test
  executor_test coordinator_test coordinator_restart_test coordinator_security_test
  communicator_coordinator_restart_test membership_test rank_admission_test data_transport_test
  partial_allreduce_test)
# What CI runs (`sanitize ci`): the TSan suites of the collectives layer (transports and executor),
# transport_conformance_test included (the longest, about 1.5 min under TSan: see README "Fuzzing
# and sanitizers" for the figures); a few minutes of mostly cached build on 2 cores. The runtime's
# in-process suites (coordinator_test and the others above; clean, about 1 min of test time, but a
# TSan build of the runtime with gRPC) and ASan stay out of CI for time.
TSAN_CI_SUITES=(frame_test frame_matcher_test tcp_connection_test tcp_handshake_test tcp_tls_test
  shm_transport_test transport_conformance_test resumable_connection_test hostile_peer_test
  executor_test)

# What CI runs under ASan+UBSan (`sanitize asan-ci`): every collectives suite and the runtime
# suites that run in one process: about 3.5 min of test time and 1.3 min of build with a warm
# ccache on 2 cores. Left out, for time: the multi-process suites (each rank an ASan process
# through crosslink-run, mpirun, Slurm or network namespaces), which add the launcher and test
# programs to the build and minutes of test time. README "Fuzzing and sanitizers".
# The collectives suites are every tests/collectives/*_test.cc (a new suite joins by itself);
# these are the runtime's in-process ones.
ASAN_CI_RUNTIME_SUITES=(
  coordinator_test coordinator_security_test coordinator_restart_test
  communicator_coordinator_restart_test rank_admission_test partial_allreduce_test
  data_transport_test membership_test launch_env_test node_layout_test slurm_nodelist_test)

# run_suites <build dir> <suite>...: runs each suite binary, logs to <dir>/sanitize/<suite>.log.
run_suites() {
  local dir="$1" failed=() t start
  shift
  mkdir -p "$dir/sanitize"
  for t in "$@"; do
    start=$SECONDS
    if timeout 1800 "$dir/bin/$t" --gtest_brief=1 >"$dir/sanitize/$t.log" 2>&1; then
      echo "sanitize $(basename "$dir") $t: ok ($((SECONDS - start)) s)"
    else
      echo "sanitize $(basename "$dir") $t: FAILED ($((SECONDS - start)) s, log: $dir/sanitize/$t.log)"
      grep -E "ERROR: |WARNING: ThreadSanitizer|runtime error|SUMMARY|\[  FAILED" \
        "$dir/sanitize/$t.log" | head -5
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

sanitize() {
  install_missing
  local jobs="${CROSSLINK_JOBS:-2}" asan=() status=0 f
  if [ "${1:-}" = asan-ci ]; then
    local suites=()
    for f in tests/collectives/*_test.cc; do suites+=("$(basename "$f" .cc)"); done
    suites+=("${ASAN_CI_RUNTIME_SUITES[@]}")
    asan_suites "${suites[@]}" -- "${suites[@]}"
    return
  fi
  if [ "${1:-}" = ci ]; then
    local ci=("${TSAN_CI_SUITES[@]}")
    [ -f build-tsan/CMakeCache.txt ] || cmake --preset tsan >/dev/null
    cmake --build build-tsan -j "$jobs" --target "${ci[@]}"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_suites build-tsan "${ci[@]}"
    return
  fi
  for f in tests/collectives/*_test.cc tests/runtime/*_test.cc; do asan+=("$(basename "$f" .cc)"); done
  # The runtime's multi-process tests start the launcher and the test programs.
  local programs=(crosslink-run)
  for f in tests/runtime/programs/*.cc; do
    f=$(basename "$f" .cc)
    programs+=("crosslink-test-${f//_/-}")
  done
  asan_suites "${asan[@]}" "${programs[@]}" -- "${asan[@]}" || status=1
  [ -f build-tsan/CMakeCache.txt ] || cmake --preset tsan >/dev/null
  cmake --build build-tsan -j "$jobs" --target "${TSAN_SUITES[@]}"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_suites build-tsan "${TSAN_SUITES[@]}" ||
    status=1
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
