#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite twice: an optimised build, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build (set MOESIM_SKIP_SANITIZE=1 to skip it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
(cd build && ctest --output-on-failure -j 2 --timeout 600)

if [ "${MOESIM_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/setup.sh build-asan -DMOESIM_SANITIZE=ON -DMOESIM_BUILD_BENCH=OFF
  # Leak checking is on; the OpenMP runtime's thread pool is a known one-time allocation.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j 2 --timeout 1200 -LE slow)
fi
