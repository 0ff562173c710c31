#!/usr/bin/env bash
# The device check of Crosslink's GPU path, for a machine with an NVIDIA GPU and the CUDA Toolkit
# but without Debian's C++ packages, gRPC or internet (a bare H100 node): builds the collectives,
# the CUDA kernels and the runtime layer (gRPC, Protobuf and Abseil come from .gpu-deps; Gloo and
# Google Benchmark, which only crosslink-bench needs, are left out), runs the CUDA tests, the
# host int8 codec test and the runtime's GPU tests, the kernel bandwidth benchmark, and the
# Communicator's allreduce of 64 MiB on device buffers against host buffers (2 and 4 ranks as
# processes sharing the GPU) and the hierarchical allreduce, and writes everything to an output
# folder, the figures to gpu_figures.txt. Under 8 minutes on 16 cores: about 1 minute for
# GoogleTest, 3 for the build, 2 for tests and the benchmarks; every step has its own timeout.
#
# Needs: bench/gpu_deps.sh run beforehand on the development machine (Abseil, toml++, gRPC,
# Protobuf and the GoogleTest sources in <repo>/.gpu-deps, carried along with the tree), cmake
# >= 3.25, a C++20 compiler, nvcc (CUDA_HOME or /usr/local/cuda) and NCCL (under CUDA_HOME, or
# the nvidia-nccl pip package that PyTorch installs).
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
figures="${out}/gpu_figures.txt"
: > "${summary}"
: > "${figures}"
say() { echo "gpu_check: $*" | tee -a "${summary}"; }
figure() { echo "$*" | tee -a "${figures}"; }
die() { say "FAILED: $*"; exit 1; }
start_s=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start_s ))s"; }

# --- what this machine has -----------------------------------------------------------------
deps="${repo}/.gpu-deps"
libdir="${deps}/usr/lib/x86_64-linux-gnu"
[[ -f "${libdir}/cmake/absl/abslConfig.cmake" && -f "${libdir}/cmake/grpc/gRPCConfig.cmake" ]] ||
  die "no Abseil or gRPC under ${deps}: run bench/gpu_deps.sh on the development machine and carry .gpu-deps"
# gpu_deps.sh carries plain files and lists the symbolic links (libfoo.so -> libfoo.so.N) in
# links.txt; make them here. A link to a system file (libz.so -> /lib/.../libz.so.1.2.13) whose
# exact version this machine lacks points at the same library's SONAME here instead.
if [[ -f "${deps}/links.txt" ]]; then
  while read -r link target; do
    [[ -n "${link}" ]] || continue
    if [[ "${target}" == /* && ! -e "${target}" ]]; then
      alternative="$(ls "${target%%.so*}".so.[0-9] 2>/dev/null | head -1)"
      [[ -n "${alternative}" ]] && target="${alternative}"
    fi
    mkdir -p "$(dirname "${deps}/${link}")"
    ln -sfn "${target}" "${deps}/${link}"
  done < "${deps}/links.txt"
fi
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
# Only Crosslink's own programs see the carried libraries: the build links them with an RPATH
# (--disable-new-dtags, so it also serves their dependencies), and they run with this path. This
# machine's cmake, python3 and nvidia-smi keep their own (an older carried OpenSSL must not
# replace a newer system one under them).
run_library_path="${libdir}:${cuda_home}/lib64${nccl_libdir:+:${nccl_libdir}}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
ours() { LD_LIBRARY_PATH="${run_library_path}" "$@"; }

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

# --- Crosslink with the runtime layer, without torch and crosslink-bench ----------------------------
# protoc and its gRPC plugin are Debian's: they find their libraries through this wrapper.
mkdir -p "${build}/_deps"
protoc_wrapper="${build}/_deps/protoc"
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "${libdir}" "${deps}/usr/bin/protoc" \
    > "${protoc_wrapper}"
chmod +x "${protoc_wrapper}"
cmake -S "${repo}" -B "${build}" -G "${generator}" -DCMAKE_BUILD_TYPE=Release \
    -DCROSSLINK_WITH_RUNTIME=ON -DCROSSLINK_WITH_TORCH=OFF -DCROSSLINK_REQUIRE_BENCH_DEPS=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="${arch}" -DCROSSLINK_CUDA_ROOT="${cuda_home}" \
    -DCMAKE_PREFIX_PATH="${deps}/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu \
    -Dabsl_DIR="${libdir}/cmake/absl" -Dtomlplusplus_DIR="${libdir}/cmake/tomlplusplus" \
    -DgRPC_DIR="${libdir}/cmake/grpc" -Dre2_DIR="${libdir}/cmake/re2" \
    -DProtobuf_PROTOC_EXECUTABLE="${protoc_wrapper}" \
    -DProtobuf_INCLUDE_DIR="${deps}/usr/include" -DOPENSSL_ROOT_DIR="${deps}/usr" \
    -DZLIB_ROOT="${deps}/usr" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags" \
    -DGTest_DIR="${gtest_prefix}/lib/cmake/GTest" "${nccl_args[@]}" \
    > "${out}/configure.log" 2>&1 || die "configure failed (see configure.log)"
grep -q "Crosslink GPU parts: ON" "${out}/configure.log" ||
  die "configured without the GPU parts: $(grep 'Crosslink GPU parts' "${out}/configure.log")"
cuda_tests=(device_reduce_test device_cast_test int8_codec_test staged_allreduce_test
            device_collectives_test hierarchical_allreduce_test)
host_tests=(int8_blockwise_test node_layout_test)
cmake --build "${build}" -j "${jobs}" --target crosslink_cuda "${cuda_tests[@]}" "${host_tests[@]}" \
    crosslink-cuda-kernels-bench crosslink-run crosslink-device-allreduce-bench \
    < /dev/null > "${out}/build.log" 2>&1 || {
  tail -40 "${out}/build.log" >&2
  die "build failed (see build.log)"
}
say "built crosslink_cuda, the runtime, ${#cuda_tests[@]} CUDA tests, ${#host_tests[@]} host tests, benchmarks ($(elapsed))"
if [[ "${build_only}" == 1 ]]; then
  say "stopping after the build (--build-only)"
  exit 0
fi

# --- tests ----------------------------------------------------------------------------------
source "${repo}/bench/gpu_gtest.sh"
failed=0
for t in "${host_tests[@]}" "${cuda_tests[@]}"; do
  run_gtest "${build}/bin/${t}" "${run_library_path}" || failed=1
done
say "tests done ($(elapsed))"

# --- kernel bandwidth ------------------------------------------------------------------------
ours timeout 240 "${build}/bin/crosslink-cuda-kernels-bench" --sizes-mib 64,256 --iters 20 \
    --csv "${out}/cuda_kernels_bench.csv" > "${out}/cuda_kernels_bench.txt" 2>&1
rc=$?
cat "${out}/cuda_kernels_bench.txt" | tee -a "${summary}"
[[ ${rc} -eq 0 ]] || { failed=1; say "crosslink-cuda-kernels-bench exited ${rc}"; }
{ echo "== CUDA kernels against cudaMemcpy device-to-device"; cat "${out}/cuda_kernels_bench.txt"; } \
    >> "${figures}"

# --- the Communicator on device buffers, and the hierarchical allreduce ----------------------------
# Ranks are processes started by crosslink-run on loopback TCP, all on this machine's GPU(s).
# job NAME RANKS ARGS...: runs one job, keeps its log, copies rank 0's figures to gpu_figures.txt,
# returns the job's exit status.
job() {
  local name="$1" ranks="$2"
  shift 2
  ours timeout 100 "${build}/bin/crosslink-run" -n "${ranks}" --timeout 90 -- \
      "${build}/bin/crosslink-device-allreduce-bench" "$@" > "${out}/${name}.log" 2>&1
  local rc=$?
  figure "== ${name}: ${ranks} ranks, crosslink-device-allreduce-bench $* (exit ${rc})"
  grep '^\[rank 0\]' "${out}/${name}.log" | sed 's/^\[rank 0\] //' | tee -a "${figures}" >/dev/null
  [[ ${rc} -eq 0 ]] || grep -v '^\[rank 0\]' "${out}/${name}.log" | tail -5 | tee -a "${figures}"
  return ${rc}
}
for ranks in 2 4; do
  job "device_allreduce_${ranks}" "${ranks}" --mib 64 --iters 10 --mode flat || failed=1
done
# The staged pieces' size (CollectiveOptions::device_stage_bytes, default 16 MiB): fewer, larger
# pieces pay fewer collectives' fixed costs but expose a longer first and last PCIe copy.
for stage_mib in 8 32; do
  job "device_allreduce_4_stage${stage_mib}" 4 --mib 64 --iters 10 --mode flat \
      --stage-mib "${stage_mib}" || failed=1
done
# G = 2 on one GPU: NCCL 2.28 refuses two ranks of one communicator on the same device
# ("Duplicate GPU detected"); the job then exits 3 and G = 1 with the NCCL steps forced on is what
# this machine can run. With two or more GPUs G = 2 must work.
gpus="$(nvidia-smi --list-gpus 2>/dev/null | wc -l)"
job hierarchical_g2 4 --mib 64 --iters 10 --mode hierarchical --gpus-per-node 2
rc=$?
if [[ ${rc} -eq 3 && "${gpus}" -lt 2 ]]; then
  figure "hierarchical G=2: NCCL refused two ranks on the one GPU (expected); G=1 only"
elif [[ ${rc} -ne 0 ]]; then
  failed=1
fi
job hierarchical_g1_nccl 2 --mib 64 --iters 10 --mode hierarchical --gpus-per-node 1 \
    --nccl-one-gpu || failed=1
job hierarchical_g1 2 --mib 64 --iters 10 --mode hierarchical --gpus-per-node 1 || failed=1
say "allreduce jobs done ($(elapsed)); figures in ${figures}"
say "done in $(elapsed); results in ${out}"
exit ${failed}
