#!/usr/bin/env bash
# Issue 16: can FlashInfer's SM90 CUTLASS fused MoE be built on the H200 device machine inside a
# session's device budget? Bounded probe (ours; FlashInfer's code is NOT part of moesim): TARBALL
# holds a FlashInfer checkout (csrc, include, flashinfer/) with 3rdparty/cutlass at the pinned
# submodule commit. Steps: the Python-side prerequisites of FlashInfer's JIT (tvm_ffi, ninja),
# then one translation unit of the fused_moe_90 JIT module (the bf16 x bf16 grouped GEMM
# instantiations) compiled with FlashInfer's sm90a flags, under a time limit.
#   flashinfer_cutlass_build_probe.sh TARBALL OUTDIR [SECONDS]
set -uo pipefail
tarball=$1 out=$2 limit=${3:-240}
src=/tmp/fi_probe
rm -rf "$src" && mkdir -p "$src" && tar xzf "$tarball" -C "$src"
{
  echo "== nvcc"; nvcc --version | tail -2
  echo "== ninja: $(command -v ninja || echo missing)"
  echo "== python3 -c 'import tvm_ffi'"; python3 -c "import tvm_ffi; print(tvm_ffi.__file__)" 2>&1 | tail -1
  echo "== import flashinfer (source tree)"; (cd "$src" && PYTHONPATH=$src python3 -c "import flashinfer" 2>&1 | tail -2)
  echo "== nproc $(nproc)"
} > "$out/probe.txt" 2>&1
tu=csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/moe_gemm/moe_gemm_kernels_bf16_bf16.cu
flags=(-std=c++17 -O3 -use_fast_math -gencode=arch=compute_90a,code=sm_90a -DCUTE_SM90_EXTENDED_MMA_SHAPES_ENABLED
       -DCOMPILE_HOPPER_TMA_GEMMS -DCOMPILE_HOPPER_TMA_GROUPED_GEMMS -DENABLE_BF16 -DENABLE_FP8 -DENABLE_FP8_BLOCK_SCALE
       -DENABLE_FP4 -DUSING_OSS_CUTLASS_MOE_GEMM -DCUTLASS_ENABLE_GDC_FOR_SM90=1 -DFLASHINFER_ENABLE_BF16
       --expt-relaxed-constexpr --expt-extended-lambda
       -I"$src/csrc/nv_internal" -I"$src/csrc/nv_internal/include" -I"$src/csrc/nv_internal/tensorrt_llm/cutlass_extensions/include"
       -I"$src/csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/include" -I"$src/csrc/nv_internal/tensorrt_llm/kernels/internal_cutlass_kernels/include"
       -I"$src/include" -I"$src/csrc" -isystem "$src/3rdparty/cutlass/include" -isystem "$src/3rdparty/cutlass/tools/util/include")
echo "== nvcc ${flags[*]} -c $tu (timeout ${limit}s)" >> "$out/probe.txt"
start=$(date +%s)
(cd "$src" && timeout "$limit" nvcc "${flags[@]}" -c "$tu" -o /tmp/fi_probe_tu.o) > "$out/nvcc_tu.log" 2>&1
rc=$?
echo "== rc $rc after $(( $(date +%s) - start )) s; object $(stat -c %s /tmp/fi_probe_tu.o 2>/dev/null || echo none) bytes" >> "$out/probe.txt"
grep -m5 -E "error|fatal" "$out/nvcc_tu.log" >> "$out/probe.txt"
tail -c 20000 "$out/nvcc_tu.log" > "$out/nvcc_tu_tail.log"; rm -f "$out/nvcc_tu.log"
