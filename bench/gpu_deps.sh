#!/usr/bin/env bash
# Prepares the dependencies that bench/gpu_check.sh carries to a GPU machine that has CUDA but
# none of Debian's C++ packages (no Abseil, toml++ or GoogleTest, and no internet): run it HERE,
# on the Debian 12 development machine. It downloads the Debian packages with apt-get download
# (no root, no install) and unpacks them with dpkg -x into <repo>/.gpu-deps (git-ignored):
#
#   .gpu-deps/usr/lib/x86_64-linux-gnu/cmake/absl           Abseil 20220623 (shared + static)
#   .gpu-deps/usr/lib/x86_64-linux-gnu/cmake/tomlplusplus   toml++ 3.3 (linkmodel's scenario parser)
#   .gpu-deps/usr/src/googletest                            GoogleTest 1.12 sources; gpu_check.sh
#                                                           builds them with the GPU machine's own
#                                                           compiler, so no libstdc++ mismatch
#
# Symbolic links are replaced by copies of their targets, so that the folder survives tools that
# copy only plain files (the runtime loader looks libraries up by their SONAME, a link here).
# Usage: bench/gpu_deps.sh [--out DIR]    (about 15 MB; prints the folder on success)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${repo}/.gpu-deps"
if [[ "${1:-}" == "--out" && -n "${2:-}" ]]; then out="$2"; fi

packages=(libabsl-dev libabsl20220623 libtomlplusplus-dev libtomlplusplus3 googletest)

debs="$(mktemp -d)"
trap 'rm -rf "${debs}"' EXIT
# apt-get download drops privileges to _apt, which cannot write to a private temp dir.
chmod 0777 "${debs}"
(cd "${debs}" && apt-get download "${packages[@]}" >/dev/null) || {
  echo "gpu_deps.sh: apt-get download ${packages[*]} failed (is apt reachable?)" >&2
  exit 1
}

rm -rf "${out}"
mkdir -p "${out}"
for deb in "${debs}"/*.deb; do
  dpkg -x "${deb}" "${out}"
done
find "${out}" -type l | while read -r link; do
  target="$(readlink -f "${link}")"
  if [[ -f "${target}" ]]; then
    rm "${link}"
    cp "${target}" "${link}"
  fi
done
# Documentation and man pages are not needed on the GPU machine.
rm -rf "${out}/usr/share/doc" "${out}/usr/share/man"

for need in usr/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake \
            usr/lib/x86_64-linux-gnu/cmake/tomlplusplus/tomlplusplusConfig.cmake \
            usr/src/googletest/CMakeLists.txt; do
  [[ -f "${out}/${need}" ]] || { echo "gpu_deps.sh: ${need} missing after unpacking" >&2; exit 1; }
done
echo "gpu_deps.sh: $(du -sh "${out}" | cut -f1) in ${out} ($(printf '%s ' "${packages[@]}"))"
