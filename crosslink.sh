#!/usr/bin/env bash
# Crosslink's one entry point on a fresh Debian 12 machine:
#   ./crosslink.sh demo   install what is missing, build, run the main job on the default scenario
#   ./crosslink.sh test   install what is missing, build, run every test
#   ./crosslink.sh build  install what is missing and build
# A second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

# Debian packages the build and the tests need. gnuplot draws the plots; the Fashion-MNIST
# dataset package feeds the training example.
PACKAGES=(cmake ninja-build g++ pkg-config git ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libtorch-dev libgloo-dev libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev
  gnuplot-nox dataset-fashion-mnist
  openmpi-bin slurm-wlm munge)

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
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
