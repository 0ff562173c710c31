#!/usr/bin/env bash
# The device check of Crosslink's GPU path, for a machine with an NVIDIA GPU and the CUDA Toolkit
# but without Debian's C++ packages, gRPC or internet (a bare H100 node): builds the collectives
# and the CUDA kernels WITHOUT the runtime layer (CROSSLINK_WITH_RUNTIME=OFF, so no gRPC,
# Protobuf, Gloo or Google Benchmark), runs the CUDA tests and the host int8 codec test, runs
# the kernel bandwidth benchmark, and writes everything to an output folder. Under 8 minutes on
# 16 cores: about 1 minute for GoogleTest, 2-3 for the build, 1-2 for tests and the benchmark.
#
# Needs: bench/gpu_deps.sh run beforehand on the development machine (Abseil, toml++ and the
# GoogleTest sources in <repo>/.gpu-deps, carried along with the tree), cmake >= 3.25, a C++20
# compiler, nvcc (CUDA_HOME or /usr/local/cuda) and NCCL (under CUDA_HOME, or the nvidia-nccl
# pip package that PyTorch installs).
#
# Usage: bench/gpu_check.sh [--out DIR] [--build-only] [--arch 90] [--jobs N]
#   --out DIR      where logs, test XML, the benchmark table and CSV go ($OUT if set, else
#                  <repo>/build-gpu/out)
#   --build-only   stop after building (to check the script on a machine without a GPU)
#   --arch A       CMAKE_CUDA_ARCHITECTURES (90: H100/H200; 80: A100)
# Exit status: 0 when every test passed or skipped, 1 when one failed or the build broke.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-${repo}/build-gpu/out}"
build_only=0
arch=90
jobs="$(nproc)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --arch) arch="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--build-only] [--arch 90] [--jobs N]" >&2; exit 2 ;;
  esac
done
mkdir -p "${out}"
summary="${out}/gpu_check_summary.txt"
: > "${summary}"
say() { echo "gpu_check: $*" | tee -a "${summary}"; }
die() { say "FAILED: $*"; exit 1; }
start_s=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start_s ))s"; }

# --- what this machine has -----------------------------------------------------------------
deps="${repo}/.gpu-deps"
libdir="${deps}/usr/lib/x86_64-linux-gnu"
[[ -f "${libdir}/cmake/absl/abslConfig.cmake" ]] ||
  die "no Abseil under ${deps}: run bench/gpu_deps.sh on the development machine and carry .gpu-deps"
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
[[ -x "${cuda_home}/bin/nvcc" ]] || die "no nvcc under ${cuda_home} (set CUDA_HOME)"
command -v cmake >/dev/null || die "cmake not found (3.25 or newer is needed)"
cmake_version="$(cmake --version | head -1 | awk '{print $3}')"
if [[ "$(printf '%s\n3.25\n' "${cmake_version}" | sort -V | head -1)" != "3.25" ]]; then
  die "cmake ${cmake_version} is older than 3.25"
fi
generator="Unix Makefiles"
command -v ninja >/dev/null && generator="Ninja"
say "cmake ${cmake_version} (${generator}), $("${cuda_home}/bin/nvcc" --version | tail -1), ${jobs} jobs"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 |
    sed 's/^/gpu_check: GPU /' | tee -a "${summary}"
fi

# NCCL: the toolkit's, else the one PyTorch's pip wheels bring (nvidia/nccl/{include,lib}).
nccl_args=()
nccl_libdir=""
if [[ ! -f "${cuda_home}/include/nccl.h" ]]; then
  nccl_root="$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) if nvidia.nccl.__file__ else list(nvidia.nccl.__path__)[0])' 2>/dev/null)"
  nccl_lib="$(ls "${nccl_root}"/lib/libnccl.so* 2>/dev/null | head -1)"
  [[ -f "${nccl_root}/include/nccl.h" && -n "${nccl_lib}" ]] ||
    die "no NCCL: neither ${cuda_home}/include/nccl.h nor the nvidia-nccl pip package"
  nccl_args=(-DCROSSLINK_NCCL_INCLUDE_DIR="${nccl_root}/include" -DCROSSLINK_NCCL_LIBRARY="${nccl_lib}")
  nccl_libdir="${nccl_root}/lib"
  say "NCCL from ${nccl_root}"
fi
export LD_LIBRARY_PATH="${libdir}:${cuda_home}/lib64${nccl_libdir:+:${nccl_libdir}}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"

# --- GoogleTest, built here with this machine's compiler --------------------------------------
build="${repo}/build-gpu"
gtest_prefix="${build}/_deps/googletest"
if [[ ! -f "${gtest_prefix}/lib/cmake/GTest/GTestConfig.cmake" ]]; then
  cmake -S "${deps}/usr/src/googletest" -B "${build}/_deps/googletest-build" -G "${generator}" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="${gtest_prefix}" \
      -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_GMOCK=ON > "${out}/googletest_build.log" 2>&1 &&
    cmake --build "${build}/_deps/googletest-build" -j "${jobs}" >> "${out}/googletest_build.log" 2>&1 &&
    cmake --install "${build}/_deps/googletest-build" >> "${out}/googletest_build.log" 2>&1 ||
    die "GoogleTest build failed (see googletest_build.log)"
fi
say "GoogleTest ready ($(elapsed))"

# --- Crosslink without the runtime layer -------------------------------------------------------
cmake -S "${repo}" -B "${build}" -G "${generator}" -DCMAKE_BUILD_TYPE=Release \
    -DCROSSLINK_WITH_RUNTIME=OFF -DCROSSLINK_WITH_TORCH=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="${arch}" -DCROSSLINK_CUDA_ROOT="${cuda_home}" \
    -Dabsl_DIR="${libdir}/cmake/absl" -Dtomlplusplus_DIR="${libdir}/cmake/tomlplusplus" \
    -DGTest_DIR="${gtest_prefix}/lib/cmake/GTest" "${nccl_args[@]}" \
    > "${out}/configure.log" 2>&1 || die "configure failed (see configure.log)"
grep -q "Crosslink GPU parts: ON" "${out}/configure.log" ||
  die "configured without the GPU parts: $(grep 'Crosslink GPU parts' "${out}/configure.log")"
cuda_tests=(device_reduce_test device_cast_test int8_codec_test staged_allreduce_test)
host_tests=(int8_blockwise_test)
cmake --build "${build}" -j "${jobs}" --target crosslink_cuda "${cuda_tests[@]}" "${host_tests[@]}" \
    crosslink-cuda-kernels-bench > "${out}/build.log" 2>&1 || {
  tail -40 "${out}/build.log" >&2
  die "build failed (see build.log)"
}
say "built crosslink_cuda, ${#cuda_tests[@]} CUDA tests, ${#host_tests[@]} host test, kernels bench ($(elapsed))"
if [[ "${build_only}" == 1 ]]; then
  say "stopping after the build (--build-only)"
  exit 0
fi

# --- tests ----------------------------------------------------------------------------------
failed=0
for t in "${host_tests[@]}" "${cuda_tests[@]}"; do
  timeout 240 "${build}/bin/${t}" --gtest_output="xml:${out}/${t}.xml" > "${out}/${t}.log" 2>&1
  rc=$?
  passed=$(grep -c '^\[       OK \]' "${out}/${t}.log")
  skipped=$(grep -c '^\[  SKIPPED \]' "${out}/${t}.log")
  failures=$(grep -c '^\[  FAILED  \] .*(' "${out}/${t}.log")
  if [[ ${rc} -ne 0 ]]; then
    failed=1
    say "${t}: FAILED (exit ${rc}): ${passed} passed, ${failures} failed, ${skipped} skipped"
    grep -B2 -A6 'Failure' "${out}/${t}.log" | head -40 | tee -a "${summary}"
  else
    say "${t}: ok: ${passed} passed, ${skipped} skipped"
  fi
  [[ ${skipped} -gt 0 ]] && grep -m1 -A1 'SKIPPED\|no CUDA device' "${out}/${t}.log" | tee -a "${summary}"
done
say "tests done ($(elapsed))"

# --- kernel bandwidth ------------------------------------------------------------------------
timeout 240 "${build}/bin/crosslink-cuda-kernels-bench" --sizes-mib 64,256 --iters 20 \
    --csv "${out}/cuda_kernels_bench.csv" > "${out}/cuda_kernels_bench.txt" 2>&1
rc=$?
cat "${out}/cuda_kernels_bench.txt" | tee -a "${summary}"
[[ ${rc} -eq 0 ]] || { failed=1; say "crosslink-cuda-kernels-bench exited ${rc}"; }
say "done in $(elapsed); results in ${out}"
exit ${failed}
