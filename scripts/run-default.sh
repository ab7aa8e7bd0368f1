#!/usr/bin/env bash
# Sets up and builds moesim, then runs the main job on the bundled default traces:
#  1. shape hazards of a 400k-token Nemotron-3-Super NVFP4 layer on B200 as vLLM (before
#     the #43599 chunking) would run it: the backend the framework oracle picks, every finding
#     with its formula, limit and upstream source, and the exact first failing token count;
#  2. a numeric replay of an H100-recorded golden trace through the bit-accurate Triton
#     fused_moe emulation (must be 100% bit-identical), and of a small Qwen3-30B-A3B-shaped
#     bf16 layer against the fp64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >/dev/null
M=build/moesim
# check exits 1 when it reports error-severity findings, which this trace is meant to show.
expect_findings() { "$@" || { rc=$?; [ "$rc" -eq 1 ] || exit "$rc"; }; }

echo "== moesim inspect traces/default/nemotron-3-super-400k.h5"
$M inspect traces/default/nemotron-3-super-400k.h5
echo
echo "== moesim check traces/default/nemotron-3-super-400k.h5"
expect_findings $M check traces/default/nemotron-3-super-400k.h5
echo
echo "== moesim check --threshold (first failing token count)"
expect_findings $M check traces/default/nemotron-3-super-400k.h5 --threshold
echo
echo "== moesim replay tests/data/golden/triton_bf16_e8k2.h5 (H100 golden, vLLM Triton fused_moe)"
$M replay tests/data/golden/triton_bf16_e8k2.h5 --require-bit-identical
echo
echo "== moesim replay traces/default/qwen3-30b-a3b-mini-bf16.h5 --against reference"
$M replay traces/default/qwen3-30b-a3b-mini-bf16.h5 --against reference | head -20
