#!/usr/bin/env bash
# Every replay-speed figure in one script (docs/mma.md "Measured"): fp32 FMA peaks, the
# emulated GEMM paths, block-scaled instructions, PyTorch peers on OpenBLAS (GEMM and MoE, 1 and
# N threads), the Qwen3-shaped triton_bf16 replay at 1 and N threads with every ratio, and the
# 1M-token shape-only synth + inspect. Prints the load average before and after: on a shared
# machine read the CPU-time ratios, not the wall ones.
# Usage: bench/speed_all.sh [build_dir=build] [tokens=4096] [threads=2]
set -euo pipefail
B="${1:-build}"
T="${2:-4096}"
N="${3:-2}"
echo "== speed_all: $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS="$N" "$B/bench/bench_mma_gemm"
OMP_NUM_THREADS="$N" "$B/bench/bench_replay_qwen3" "$T" "$N" 1
"$B/bench/bench_synth_inspect" "$B/moesim" || true
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
