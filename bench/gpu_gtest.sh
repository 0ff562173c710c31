# shellcheck shell=bash disable=SC2154  # sourced: `out` and `summary` are the caller's (below)
# Sourced by bench/gpu_check.sh and bench/gpu_torch_check.sh: runs one GoogleTest program on the
# GPU machine and reports it the same way in both. Needs the caller's `out` (the output folder),
# `summary` (the summary file) and `say` (prints and appends to the summary).
#
# run_gtest BINARY LIBRARY_PATH: runs BINARY (240 s limit) with LD_LIBRARY_PATH=LIBRARY_PATH,
# keeps its log and XML as <out>/<name>.{log,xml}, says how many tests passed, failed and
# skipped (quoting the failures and the first skip reason), and returns 1 when it failed.
run_gtest() {
  local binary="$1" library_path="$2"
  local name
  name="$(basename "${binary}")"
  LD_LIBRARY_PATH="${library_path}" timeout 240 "${binary}" \
      --gtest_output="xml:${out}/${name}.xml" > "${out}/${name}.log" 2>&1
  local rc=$?
  local passed skipped failures
  passed=$(grep -c '^\[       OK \]' "${out}/${name}.log")
  skipped=$(grep -c '^\[  SKIPPED \]' "${out}/${name}.log")
  failures=$(grep -c '^\[  FAILED  \] .*(' "${out}/${name}.log")
  if [[ ${skipped} -gt 0 ]]; then
    grep -m1 -A1 'SKIPPED\|no CUDA device' "${out}/${name}.log" | tee -a "${summary}"
  fi
  if [[ ${rc} -ne 0 ]]; then
    say "${name}: FAILED (exit ${rc}): ${passed} passed, ${failures} failed, ${skipped} skipped"
    grep -B2 -A6 'Failure\|error' "${out}/${name}.log" | head -40 | tee -a "${summary}"
    return 1
  fi
  say "${name}: ok: ${passed} passed, ${skipped} skipped"
  return 0
}
