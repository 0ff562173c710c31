#!/usr/bin/env bash
# Builds the libtorch glue (runtime/torch: tensor collectives, the c10d backend, gradient buckets,
# DiLoCo) against the GPU machine's own PyTorch 2.x with CUDA, and runs its tests there, CUDA
# tensors included. Debian's libtorch is 1.13.1 without CUDA, so this is where the TORCH_VERSION
# guards (c10d::Backend in torch 2) and the CUDA-tensor path are compiled and run at all.
#
# Needs: bench/gpu_check.sh run first in the same tree on the same machine (it leaves build-gpu
# configured with the carried Abseil, gRPC and GoogleTest); python3 with torch (its CMake config
# comes from torch.utils.cmake_prefix_path).
#
# Usage: bench/gpu_torch_check.sh [--out DIR] [--jobs N]
# Exit status: 0 when every torch test passed or skipped, 1 otherwise.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-${repo}/build-gpu/out}"
jobs="$(nproc)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--jobs N]" >&2; exit 2 ;;
  esac
done
mkdir -p "${out}"
summary="${out}/gpu_torch_check_summary.txt"
: > "${summary}"
say() { echo "gpu_torch_check: $*" | tee -a "${summary}"; }
die() { say "FAILED: $*"; exit 1; }
start_s=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start_s ))s"; }

build="${repo}/build-gpu"
[[ -f "${build}/CMakeCache.txt" ]] || die "no ${build}: run bench/gpu_check.sh first"
torch_prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
[[ -d "${torch_prefix}/Torch" ]] || die "python3 has no torch with a CMake config"
torch_version="$(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"
say "PyTorch ${torch_version} from ${torch_prefix}"

# The same build folder with the torch glue switched on: only the torch targets are new, the
# runtime and the CUDA kernels built by gpu_check.sh are reused.
cmake -S "${repo}" -B "${build}" -DCROSSLINK_WITH_TORCH=ON -DTorch_DIR="${torch_prefix}/Torch" \
    > "${out}/torch_configure.log" 2>&1 || {
  tail -30 "${out}/torch_configure.log" >&2
  die "configure with torch failed (see torch_configure.log)"
}
torch_tests=(tensor_collectives_test process_group_crosslink_test gradient_bucketer_test
             diloco_test)
cmake --build "${build}" -j "${jobs}" --target crosslink_torch "${torch_tests[@]}" \
    < /dev/null > "${out}/torch_build.log" 2>&1 || {
  grep -m20 -B2 -A8 'error' "${out}/torch_build.log" >&2
  die "build of the torch glue failed (see torch_build.log)"
}
say "built crosslink_torch and ${#torch_tests[@]} tests ($(elapsed))"

# The torch libraries of the pip wheel (and the nvidia-* wheels it loads) are found through the
# RPATHs the wheel carries; the carried Debian libraries through the same path gpu_check.sh uses.
libdir="${repo}/.gpu-deps/usr/lib/x86_64-linux-gnu"
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
source "${repo}/bench/gpu_gtest.sh"
library_path="${libdir}:${torch_prefix}/../../lib:${cuda_home}/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
failed=0
for t in "${torch_tests[@]}"; do
  run_gtest "${build}/bin/${t}" "${library_path}" || failed=1
done
say "done in $(elapsed)"
exit ${failed}
