#!/usr/bin/env bash
# Sets up and builds moesim, then runs the main job on the bundled default traces:
#  1. shape hazards of a 400k-token Nemotron-3-Super NVFP4 layer on B200 as vLLM (before
#     the #43599 chunking) would run it: the backend the framework oracle picks, every finding
#     with its formula, limit and upstream source, and the exact first failing token count;
#  2. a numeric replay of an H100-recorded golden trace through the bit-accurate Triton
#     fused_moe emulation (bf16 and fp8; must be 100% bit-identical), the same golden through
#     the FlashInfer CUTLASS model diffed against it, and a small Qwen3-30B-A3B-shaped bf16
#     layer against the fp64 reference.
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
echo "== moesim replay tests/data/golden/triton_fp8_blk_bm64_e3k2.h5 (H100 golden, vLLM Triton fp8 w8a8 128x128 blocks)"
$M replay tests/data/golden/triton_fp8_blk_bm64_e3k2.h5 --require-bit-identical
echo
echo "== the same bf16 golden through FlashInfer CUTLASS (modelled), diffed against the Triton emulation"
$M replay tests/data/golden/triton_bf16_e8k2.h5 --variant flashinfer_cutlass_bf16 --against triton_bf16 | head -12
echo
echo "== moesim replay traces/default/qwen3-30b-a3b-mini-bf16.h5 --against reference"
$M replay traces/default/qwen3-30b-a3b-mini-bf16.h5 --against reference | head -20
