#!/usr/bin/env bash
# Builds the libtorch glue (runtime/torch: tensor collectives, the c10d backend, gradient buckets,
# DiLoCo) against the GPU machine's own PyTorch 2.x with CUDA, and runs its tests there, CUDA
# tensors included. Then the Python package (python/: the "crosslink" torch.distributed backend)
# against the same torch: its pytest suite with CUDA tensors (tests/python), and
# examples/python/train_fashion_mnist.py under torchrun (`python3 -m torch.distributed.run
# --nproc-per-node 4`) on CUDA with --backend crosslink and then gloo, for the step-time ratio. Debian's libtorch is 1.13.1 without CUDA, so this is where the TORCH_VERSION
# guards (c10d::Backend in torch 2) and the CUDA-tensor path are compiled and run at all.
#
# Needs: bench/gpu_check.sh run first in the same tree on the same machine (it leaves build-gpu
# configured with the carried Abseil, gRPC and GoogleTest); python3 with torch (its CMake config
# comes from torch.utils.cmake_prefix_path) and pytest; for the example, the small Fashion-MNIST
# copy that bench/gpu_data.sh writes to <repo>/.gpu-data (carry ".gpu-data" with ".gpu-deps").
# The Python part adds about 2 minutes on 16 cores (build 1, tests 1, torchrun 2 x 20 s).
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

# --- The Python package against this torch (python/CMakeLists.txt checks version and C++ ABI:
# pip torch >= 2.7 uses _GLIBCXX_USE_CXX11_ABI=1, and so must the extension).
python_bin="$(command -v python3)"
torch_abi="$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
say "Python package for ${python_bin} (torch C++11 ABI ${torch_abi})"
cmake -S "${repo}" -B "${build}" -DCROSSLINK_PYTHON="${python_bin}" \
    > "${out}/python_configure.log" 2>&1 || die "configure of the Python package failed"
if ! grep -q "Crosslink Python package:" "${out}/python_configure.log"; then
  grep -A4 "Python package skipped" "${out}/python_configure.log" | tee -a "${summary}"
  die "the Python package was skipped (see python_configure.log)"
fi
cmake --build "${build}" -j "${jobs}" --target crosslink_python crosslink-run \
    < /dev/null > "${out}/python_build.log" 2>&1 || {
  grep -m20 -B2 -A8 'error' "${out}/python_build.log" >&2
  die "build of the Python package failed (see python_build.log)"
}
say "built the Python package ($(elapsed))"

data="${repo}/.gpu-data/fashion-mnist"
[[ -f "${data}/t10k-labels-idx1-ubyte.gz" ]] || say "no ${data}: the example tests skip"
py_env=(env PYTHONPATH="${build}/python" LD_LIBRARY_PATH="${library_path}"
        CROSSLINK_TEST_DEVICE=cuda CROSSLINK_RUN="${build}/bin/crosslink-run"
        CROSSLINK_FASHION_MNIST="${data}")
(cd "${repo}/tests/python" && timeout 420 "${py_env[@]}" python3 -m pytest -q -p no:cacheprovider \
    --junitxml="${out}/python_tests.xml" . > "${out}/python_tests.log" 2>&1)
py_rc=$?
if [[ ${py_rc} -ne 0 ]]; then
  grep -E '^(FAILED|ERROR)|Error|assert' "${out}/python_tests.log" | head -30 | tee -a "${summary}"
  say "python tests (CUDA tensors): FAILED (exit ${py_rc}): $(tail -1 "${out}/python_tests.log")"
  failed=1
else
  say "python tests (CUDA tensors): ok: $(tail -1 "${out}/python_tests.log")"
fi

# torchrun, 4 ranks sharing the GPU: crosslink, then gloo on the same run, for the step time.
declare -A step_s
for backend in crosslink gloo; do
  (cd "${repo}" && timeout 240 "${py_env[@]}" python3 -m torch.distributed.run --nproc-per-node 4 \
      examples/python/train_fashion_mnist.py --backend "${backend}" --device cuda --epochs 1 \
      --train-limit 12000 --data "${data}" > "${out}/torchrun_${backend}.log" 2>&1)
  rc=$?
  final="$(grep '^final test_accuracy=' "${out}/torchrun_${backend}.log" | tail -1)"
  step_s[${backend}]="$(grep -o '^step_time_s=[0-9.]*' "${out}/torchrun_${backend}.log" | tail -1 | cut -d= -f2)"
  if [[ ${rc} -ne 0 || -z "${final}" ]]; then
    tail -25 "${out}/torchrun_${backend}.log" | tee -a "${summary}"
    say "torchrun --nproc-per-node 4 --backend ${backend}: FAILED (exit ${rc})"
    failed=1
  else
    say "torchrun --nproc-per-node 4 --backend ${backend} (CUDA): ${final} step_time_s=${step_s[${backend}]}"
  fi
done
if [[ -n "${step_s[crosslink]:-}" && -n "${step_s[gloo]:-}" ]]; then
  say "python DDP step time crosslink/gloo (4 ranks, 1 GPU, CUDA tensors): $(python3 -c \
      "print(f'{${step_s[crosslink]}/${step_s[gloo]}:.3f}x')")"
fi
say "done in $(elapsed)"
exit ${failed}
