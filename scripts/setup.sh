#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks (Debian packages only), then configures and
# builds moesim into build/ (or $1; extra CMake arguments after it).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-graph1.81-dev
      libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin
      googletest libgtest-dev libgmock-dev
      python3 python3-h5py python3-numpy
      python3-torch  # reads/writes .pt files: scripts/capture/pt_to_safetensors.py, the importer tests' fixtures
      chromium  # headless: renders the bump HTML report in tests/reports/bump_html_test.cpp
      clang-14 libclang-rt-14-dev libomp-14-dev)  # clang build + libFuzzer harnesses (scripts/fuzz.sh)
# The benches' PyTorch peers (bench/torch_peers.py) also want, with MOESIM_WITH_TORCH=1:
# libopenblas0-pthread (the benches put it first on the library path; without it torch falls
# back to the reference netlib BLAS, ~50x slower) and python3-threadpoolctl (lets the peers
# print which OpenBLAS kernel runs).
if [ "${MOESIM_WITH_TORCH:-0}" = 1 ]; then PKGS+=(libopenblas0-pthread python3-threadpoolctl); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD="${1:-build}"
shift || true
# MPI scale-out on (docs/scale-out.md); -DMOESIM_MPI=OFF after the build dir turns it off.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOESIM_MPI=ON "$@" >/dev/null
# Two cores and 24 GiB here; -j2 keeps peak memory well inside that.
cmake --build "$BUILD" -j "${MOESIM_JOBS:-2}"
