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
#   .gpu-deps/usr/lib/x86_64-linux-gnu/cmake/grpc           gRPC 1.51 with Protobuf 3.21, protoc,
#   .gpu-deps/usr/bin/{protoc,grpc_cpp_plugin}              the gRPC plugin, c-ares, RE2, OpenSSL
#                                                           and zlib headers (the runtime layer)
#
# Symbolic links are listed in links.txt and recreated by gpu_check.sh (see below).
# Usage: bench/gpu_deps.sh [--out DIR]    (about 45 MB; prints the folder on success)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${repo}/.gpu-deps"
if [[ "${1:-}" == "--out" && -n "${2:-}" ]]; then out="$2"; fi

packages=(libabsl-dev libabsl20220623 libtomlplusplus-dev libtomlplusplus3 googletest
          # The runtime layer (the Communicator on device buffers, the hierarchical allreduce):
          # gRPC, Protobuf with protoc and the gRPC plugin, and what gRPC's CMake config finds.
          libgrpc++-dev libgrpc++1.51 libgrpc-dev libgrpc29 protobuf-compiler-grpc
          libprotobuf-dev libprotobuf32 libprotobuf-lite32 protobuf-compiler libprotoc32
          libc-ares-dev libc-ares2 libre2-dev libre2-9 libssl-dev libssl3 zlib1g-dev)

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
# Symbolic links are recorded in .gpu-deps/links.txt ("<link> <target>", relative to the folder)
# and removed, so the folder is plain files that survive any copy tool, and a library is carried
# once rather than once per name (libgrpc.so, .so.29 and .so.29.0.0 would triple 7 MB).
# bench/gpu_check.sh recreates the links on the GPU machine before it configures.
: > "${out}/links.txt"
(cd "${out}" && find . -type l -printf '%P\n' | sort) | while read -r link; do
  printf '%s %s\n' "${link}" "$(readlink "${out}/${link}")" >> "${out}/links.txt"
  rm "${out}/${link}"
done
# Documentation and man pages are not needed on the GPU machine, nor static archives (every CMake
# config here names the shared libraries), which would double the folder that travels.
rm -rf "${out}/usr/share/doc" "${out}/usr/share/man"
find "${out}" -name '*.a' -delete

# Debian's RE2 has no CMake config, and gRPC's Findre2 then needs pkg-config, whose re2.pc names
# /usr; a GPU machine may have neither. A config relative to this folder serves instead.
mkdir -p "${out}/usr/lib/x86_64-linux-gnu/cmake/re2"
cat > "${out}/usr/lib/x86_64-linux-gnu/cmake/re2/re2Config.cmake" <<'CONFIG'
# Written by bench/gpu_deps.sh for Debian's libre2-dev, which ships no CMake config.
get_filename_component(_re2_prefix "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)
if(NOT TARGET re2::re2)
  add_library(re2::re2 SHARED IMPORTED)
  set_target_properties(re2::re2 PROPERTIES
    IMPORTED_LOCATION "${_re2_prefix}/lib/x86_64-linux-gnu/libre2.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_re2_prefix}/include")
endif()
set(re2_FOUND TRUE)
CONFIG

for need in usr/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake \
            usr/lib/x86_64-linux-gnu/cmake/tomlplusplus/tomlplusplusConfig.cmake \
            usr/src/googletest/CMakeLists.txt \
            usr/lib/x86_64-linux-gnu/cmake/grpc/gRPCConfig.cmake usr/bin/protoc \
            usr/bin/grpc_cpp_plugin; do
  [[ -f "${out}/${need}" ]] || grep -q "^${need} " "${out}/links.txt" ||
    { echo "gpu_deps.sh: ${need} missing after unpacking" >&2; exit 1; }
done
echo "gpu_deps.sh: $(du -sh "${out}" | cut -f1) in ${out} ($(printf '%s ' "${packages[@]}"))"
