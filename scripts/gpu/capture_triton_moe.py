#!/usr/bin/env python3
"""Record golden MoE traces from the real vLLM Triton fused_moe kernel on a GPU.

Runs on the device machine (torch + triton + h5py). The kernel source is NOT part of moesim:
pass a directory holding vLLM's `fused_moe.py` (e.g. `git show <rev>:vllm/model_executor/
layers/fused_moe/fused_moe.py` into an ignored dir). This script extracts only the
`@triton.jit` functions `fused_moe_kernel` and `write_zeros_to_output` from that file with
`ast`, execs them with triton imported, and launches them itself following vLLM's
`invoke_fused_moe_triton_kernel` (bf16, no quantization, no bias).

The rest of vLLM's Triton path runs as torch ops with the same arithmetic as vLLM's CUDA ops:
  * moe_align_block_size: stable order inside each expert (values do not depend on it);
  * silu_and_mul: F.silu(g.float()).to(bf16) * u  -- torch's CUDA silu computes
    x / (1 + expf(-x)) in fp32 (non-fast-math expf), the same formula as vLLM's silu_kernel,
    then the bf16 product is computed in fp32 and rounded, as vLLM's packed_mul;
  * moe_sum: top_k 2..4 = bf16 `+=` chain in k order (vLLM's template kernel), otherwise
    torch.sum(dim=1), which is exactly the at::sum_out vLLM calls.
Goldens written per call: golden/output, golden/gemm1_out, golden/act_out, golden/gemm2_out
(bf16) and golden/torch_fp32_output (f32, a torch fp32 grouped-GEMM reference).
Also writes silu_bf16_table.h5: F.silu over all 65536 bf16 inputs, rounded to bf16.

fp8 w8a8 cases (FP8_CASES, names triton_fp8_*): weights are quantized here (numpy, RNE to
e4m3fn; one fp32 scale per expert and matrix, or per 128x128 block); the activations are
quantized on the GPU by torch fp32 ops doing exactly what vLLM's CUDA ops do (vLLM's _C is not
built on the device machine):
  * per tensor (dynamic_scaled_fp8_quant, csrc/libtorch_stable/quantization/w8a8/fp8/common.cu):
    scale = max|x| / 448, inv = 1 / scale, q = e4m3(clamp(x * inv, -448, 448));
  * per token per 128-group (per_token_group_quant_fp8 -> CUDA per_token_group_fp8_quant):
    y_s = max(max|x|, 1e-10) / 448, q = e4m3(clamp(x / y_s, -448, 448)).
  Every divisor is a GPU tensor: torch turns division by a CPU scalar into a multiplication by
  its reciprocal, which is not what the CUDA ops do. When DIR also holds vLLM's fp8_utils.py,
  its Triton fallback kernel _per_token_group_quant_fp8 is run on the same inputs and the
  number of differing bytes is recorded (provenance only).
The fp8 fused_moe_kernel launch follows invoke_fused_moe_triton_kernel (use_fp8_w8a8, scale
strides, BLOCK_SIZE_K = min(BLOCK_SIZE_K, 128) for block quant). Goldens per call: golden/a1q,
a1q_scale, gemm1_out, act_out, a2q, a2q_scale, gemm2_out, output, torch_fp32_output. The PTX
and SASS MMA instructions each launch used are recorded in /calls/0000 capture.

Usage: capture_triton_moe.py --vllm-src DIR --out DIR [--cases name,...] [--cpu-smoke]
--cpu-smoke runs everything except the Triton launches on the CPU (for checking the script
without a GPU); its files are not goldens.
"""
import argparse
import ast
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

# name: (E, K, H, I, T, seed, BLOCK_SIZE_M, BLOCK_SIZE_N, BLOCK_SIZE_K, GROUP_SIZE_M, num_warps, num_stages)
CASES = {
    "triton_bf16_e8k2": (8, 2, 128, 64, 64, 1, 16, 64, 32, 1, 4, 3),
    "triton_bf16_odd_e7k3": (7, 3, 120, 40, 37, 2, 16, 64, 32, 8, 4, 3),
    "triton_bf16_e12k8": (12, 8, 64, 32, 48, 3, 32, 32, 64, 8, 4, 3),
    # Activations and weights spread over many binades: makes the tensor-core truncation
    # (F=25 below e_max, RZ) and the K chaining visible in bf16 outputs.
    "triton_bf16_wide_e8k2": (8, 2, 128, 64, 64, 4, 16, 64, 32, 1, 4, 3),
    # BLOCK_SIZE_M = 64 lets Triton on SM90 use wgmma (m64nNk16); the cases above (BM 16/32)
    # lower to mma.sync m16n8k16. The PTX instructions used are recorded in /calls/0000 capture.
    "triton_bf16_wgmma_e4k2": (4, 2, 128, 64, 128, 5, 64, 64, 32, 8, 4, 3),
    "triton_bf16_wide_wgmma_e4k2": (4, 2, 128, 64, 128, 6, 64, 64, 64, 8, 4, 3),
}
WIDE = {"triton_bf16_wide_e8k2", "triton_bf16_wide_wgmma_e4k2"}

# fp8 w8a8 cases. BLOCK_SIZE_M 16 lets Triton pick mma.sync, 64 wgmma; H/I not multiples of
# BLOCK_SIZE_K give K tails (per tensor only: block quant needs multiples of 128).
FP8_CASES = {
    "triton_fp8_pt_bm16_e4k2": dict(quant="fp8_per_tensor", E=4, K=2, H=120, I=40, T=48, seed=21,
                                    BM=16, BN=32, BK=64, GM=1, warps=4, stages=3, wide=True),
    "triton_fp8_pt_bm64_e10k8": dict(quant="fp8_per_tensor", E=10, K=8, H=96, I=48, T=24, seed=22,
                                    BM=64, BN=64, BK=64, GM=8, warps=4, stages=3, wide=False),
    "triton_fp8_blk_bm64_e3k2": dict(quant="fp8_block128", E=3, K=2, H=128, I=128, T=32, seed=23,
                                     BM=64, BN=64, BK=128, GM=8, warps=4, stages=3, wide=True),
    "triton_fp8_blk_bm16_e2k2": dict(quant="fp8_block128", E=2, K=2, H=256, I=128, T=16, seed=24,
                                     BM=16, BN=64, BK=64, GM=1, warps=4, stages=3, wide=True),
}


def load_kernels(vllm_src):
    """Extract fused_moe_kernel + write_zeros_to_output (decorators included) from vLLM's
    fused_moe.py and import them from a temporary module (triton.jit needs real source)."""
    import importlib.util
    import tempfile

    path = os.path.join(vllm_src, "fused_moe.py")
    src = open(path).read()
    lines = src.splitlines()
    wanted = ["write_zeros_to_output", "fused_moe_kernel"]
    funcs = {n.name: n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name in wanted}
    if set(funcs) != set(wanted):
        sys.exit(f"{path}: did not find {wanted}")
    tmp = tempfile.mkdtemp(prefix="vllm_kernels_")
    gen = os.path.join(tmp, "vllm_fused_moe_kernels.py")
    with open(gen, "w") as f:
        f.write("import triton\nimport triton.language as tl\n\n\n")
        for name in wanted:
            fn = funcs[name]
            first = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
            f.write("\n".join(lines[first - 1: fn.end_lineno]) + "\n\n\n")
    spec = importlib.util.spec_from_file_location("vllm_fused_moe_kernels", gen)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    import triton.language as tl

    return m.fused_moe_kernel, tl


def load_group_quant_fallback(vllm_src):
    """vLLM's Triton fallback _per_token_group_quant_fp8 from fp8_utils.py, or None."""
    import importlib.util
    import tempfile

    path = os.path.join(vllm_src, "fp8_utils.py")
    if not os.path.exists(path):
        return None
    src = open(path).read()
    lines = src.splitlines()
    fn = [n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == "_per_token_group_quant_fp8"]
    if not fn:
        return None
    fn = fn[0]
    first = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
    tmp = tempfile.mkdtemp(prefix="vllm_fp8_utils_")
    gen = os.path.join(tmp, "vllm_group_quant.py")
    with open(gen, "w") as f:
        f.write("import triton\nimport triton.language as tl\n\n\n")
        f.write("\n".join(lines[first - 1: fn.end_lineno]) + "\n")
    spec = importlib.util.spec_from_file_location("vllm_group_quant", gen)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m._per_token_group_quant_fp8


def moe_align_block_size(topk_ids, block_m, num_experts):
    """vLLM moe_align_block_size with a stable order inside each expert (CPU, numpy)."""
    ids = topk_ids.reshape(-1).cpu().numpy()
    numel = ids.size
    max_padded = numel + num_experts * (block_m - 1)
    if numel < num_experts:
        max_padded = min(numel * block_m, max_padded)
    sorted_ids = np.full(max_padded, numel, dtype=np.int32)
    expert_ids = np.full((max_padded + block_m - 1) // block_m, -1, dtype=np.int32)
    pos = 0
    for e in range(num_experts):
        idx = np.nonzero(ids == e)[0]
        padded = (len(idx) + block_m - 1) // block_m * block_m
        sorted_ids[pos: pos + len(idx)] = idx
        expert_ids[pos // block_m: (pos + padded) // block_m] = e
        pos += padded
    return sorted_ids, expert_ids, pos


def route_and_align(g, T, E, K, BM):
    """Renormalised softmax top-k routing drawn from generator g, then moe_align_block_size and
    the EM the vLLM launcher passes (shrunk for small batches)."""
    logits = torch.randn(T, E, generator=g)
    probs = torch.softmax(logits, dim=-1)
    topk_w, topk_ids = torch.topk(probs, K, dim=-1)
    topk_w = (topk_w / topk_w.sum(dim=-1, keepdim=True)).to(torch.float32).contiguous()
    topk_ids = topk_ids.to(torch.int32).contiguous()
    sorted_ids, expert_ids, post_pad = moe_align_block_size(topk_ids, BM, E)
    EM = sorted_ids.size
    if T < BM:
        EM = min(EM, T * K * BM)
    return topk_w, topk_ids, sorted_ids, expert_ids, post_pad, EM


def align_to_device(sorted_ids, expert_ids, post_pad, dev):
    return (torch.from_numpy(sorted_ids).to(dev), torch.from_numpy(expert_ids).to(dev),
            torch.tensor([post_pad], dtype=torch.int32, device=dev))


def bf16_bits(t):
    return t.detach().to(torch.bfloat16).cpu().view(torch.int16).numpy().view(np.uint16)


def run_case(name, cfg, kernel, tl, device, smoke):
    E, K, H, I, T, seed, BM, BN, BK, GM, warps, stages = cfg
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(T, H, generator=g)
    w13 = torch.randn(E, 2 * I, H, generator=g) / H ** 0.5
    w2 = torch.randn(E, H, I, generator=g) / I ** 0.5
    if name in WIDE:
        hidden = hidden * torch.exp2(torch.randint(-12, 13, hidden.shape, generator=g).float())
        w13 = w13 * torch.exp2(torch.randint(-6, 7, w13.shape, generator=g).float())
        w2 = w2 * torch.exp2(torch.randint(-6, 7, w2.shape, generator=g).float())
    hidden, w13, w2 = hidden.to(torch.bfloat16), w13.to(torch.bfloat16), w2.to(torch.bfloat16)
    topk_w, topk_ids, sorted_ids, expert_ids, post_pad, EM = route_and_align(g, T, E, K, BM)
    numel = T * K

    dev = torch.device(device)
    A = hidden.to(dev)
    W13 = w13.to(dev)
    W2 = w2.to(dev)
    TW = topk_w.to(dev)
    sid, eid, npp = align_to_device(sorted_ids, expert_ids, post_pad, dev)
    info = {}

    def gemm(a, b, c, mul_routed_weight, top_k):
        N, Kd = b.size(1), b.size(2)
        if smoke:  # CPU stand-in: same shapes, torch fp32 math (not a golden)
            rows = torch.arange(numel)
            ex = topk_ids.reshape(-1).long()
            out = torch.einsum("rk,rnk->rn", a.float()[rows // top_k], b.float()[ex])
            if mul_routed_weight:
                out = out * TW.reshape(-1, 1)
            c.view(numel, N).copy_(out.to(torch.bfloat16))
            return
        grid = (triton_cdiv(EM, BM) * triton_cdiv(N, BN),)
        k = kernel[grid](
            a, b, c, None, None, None, TW, sid, eid, npp,
            N, Kd, EM, numel,
            a.stride(0), a.stride(1), b.stride(0), b.stride(2), b.stride(1),
            c.stride(1), c.stride(2), 0, 0, 0, 0, 0, 0, 0,
            0, 0,
            naive_block_assignment=False,
            BLOCK_SIZE_M=BM, BLOCK_SIZE_N=BN, BLOCK_SIZE_K=BK, GROUP_SIZE_M=GM, SPLIT_K=1,
            MUL_ROUTED_WEIGHT=mul_routed_weight, top_k=top_k, compute_type=tl.bfloat16,
            use_fp8_w8a8=False, use_int8_w8a8=False, use_int8_w8a16=False,
            per_channel_quant=False, HAS_BIAS=False,
            num_warps=warps, num_stages=stages,
        )
        try:
            ptx = k.asm["ptx"]
            info.setdefault("ptx_wgmma", []).append(sorted({ln.split()[0] for ln in ptx.splitlines() if "wgmma.mma_async" in ln}))
            info.setdefault("ptx_mma", []).append(sorted({ln.split()[0] for ln in ptx.splitlines() if ln.strip().startswith("mma.")}))
        except Exception as exc:  # noqa: BLE001 - provenance only
            info["ptx_error"] = repr(exc)

    c1 = torch.full((T, K, 2 * I), float("nan"), dtype=torch.bfloat16, device=dev)
    gemm(A, W13, c1, False, K)
    c1f = c1.view(numel, 2 * I)
    gate, up = c1f[:, :I], c1f[:, I:]
    act = (F.silu(gate.float()).to(torch.bfloat16) * up).contiguous()
    c3 = torch.full((T, K, H), float("nan"), dtype=torch.bfloat16, device=dev)
    gemm(act, W2, c3, True, 1)
    if 2 <= K <= 4:
        out = torch.zeros(T, H, dtype=torch.bfloat16, device=dev)
        for k in range(K):
            out = out + c3[:, k, :]
    else:
        out = torch.sum(c3, dim=1)

    # torch fp32 grouped-GEMM reference (same routing and weights, fp32 everywhere).
    ref = torch.zeros(T, H, dtype=torch.float32, device=dev)
    Af = A.float()
    for e in range(E):
        tok, kk = torch.nonzero(topk_ids.to(dev) == e, as_tuple=True)
        if tok.numel() == 0:
            continue
        h1 = Af[tok] @ W13[e].float().t()
        a1 = F.silu(h1[:, :I]) * h1[:, I:]
        y = a1 @ W2[e].float().t()
        ref.index_add_(0, tok, y * TW[tok, kk].unsqueeze(1))
    if device == "cuda":
        torch.cuda.synchronize()
    return dict(E=E, K=K, H=H, I=I, T=T, BM=BM, BN=BN, BK=BK, GM=GM, warps=warps, stages=stages,
                hidden=hidden, w13=w13, w2=w2, topk_ids=topk_ids, topk_w=topk_w,
                gemm1=c1f.cpu(), act=act.cpu(), gemm2=c3.view(numel, H).cpu(), out=out.cpu(),
                ref=ref.cpu(), info=info)


def triton_cdiv(a, b):
    return (a + b - 1) // b


def write_trace(path, name, r, device_name, provenance):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "moesim-trace"
        f.attrs["format_version"] = 1
        f.attrs["created_by"] = "scripts/gpu/capture_triton_moe.py"
        f.attrs["description"] = f"golden trace {name}: vLLM Triton fused_moe_kernel (bf16) on {device_name}"
        m = f.create_group("model")
        for k, v in dict(num_experts=r["E"], top_k=r["K"], hidden=r["H"], intermediate=r["I"],
                         gated=1, num_shared_experts=0).items():
            m.attrs[k] = np.int64(v)
        m.attrs["name"] = name
        m.attrs["activation"] = "silu"
        m.attrs["quant"] = "bf16"
        m.attrs["weight_layout"] = "linear"
        m.attrs["scale_layout"] = "linear"
        cx = f.create_group("context")
        cx.attrs["device"] = device_name
        cx.attrs["framework"] = provenance["framework"]
        cx.attrs["backend"] = "triton_bf16"
        cx.attrs["tactic"] = (f"BLOCK_SIZE_M={r['BM']},BLOCK_SIZE_N={r['BN']},BLOCK_SIZE_K={r['BK']},"
                              f"GROUP_SIZE_M={r['GM']},num_warps={r['warps']},num_stages={r['stages']}")
        for k in ("tp", "ep", "dp"):
            cx.attrs[k] = np.int64(1)
        cx.attrs["max_num_batched_tokens"] = np.int64(0)
        env = cx.create_group("env")
        for k, v in provenance["env"].items():
            env.attrs[k] = str(v)
        c = f.create_group("calls/0000")
        c.attrs["num_tokens"] = np.int64(r["T"])
        c.attrs["kernel"] = "vllm fused_moe_kernel (Triton) + torch silu/moe_sum"
        c.attrs["capture"] = json.dumps(r["info"])
        c.attrs["source"] = provenance["source"]
        c["topk_ids"] = r["topk_ids"].numpy().astype(np.int32)
        c["topk_weights"] = r["topk_w"].numpy().astype(np.float32)
        d = c.create_dataset("hidden_states", data=bf16_bits(r["hidden"]))
        d.attrs["dtype"] = "bf16"
        gg = c.create_group("golden")
        for key, ds in (("out", "output"), ("gemm1", "gemm1_out"), ("act", "act_out"), ("gemm2", "gemm2_out")):
            d = gg.create_dataset(ds, data=bf16_bits(r[key]))
            d.attrs["dtype"] = "bf16"
        d = gg.create_dataset("torch_fp32_output", data=r["ref"].numpy().astype(np.float32))
        d.attrs["dtype"] = "f32"
        w = f.create_group("weights")
        for key, shape in (("w13", (r["E"], 2 * r["I"], r["H"])), ("w2", (r["E"], r["H"], r["I"]))):
            d = w.create_dataset(key, data=bf16_bits(r[key]), chunks=(1,) + shape[1:])
            d.attrs["dtype"] = "bf16"


# ----------------------------------------------------------------------------- fp8 w8a8

E4M3_MAX = 448.0


def e4m3_table():
    """The 127 non-negative finite e4m3fn values, ascending (code = index)."""
    codes = np.arange(127)
    e, m = codes >> 3, codes & 7
    return np.where(e == 0, m * 2.0 ** -9, (1 + m / 8.0) * 2.0 ** (e - 7.0))


def np_e4m3_rne(x):
    """float array -> e4m3fn codes (uint8), round to nearest even, saturating at 448, NaN -> 0x7F.
    Used for the weights (any fixed rule will do: the trace stores the bytes) and, in
    --cpu-smoke only, in place of torch's float8 cast."""
    x = np.asarray(x, dtype=np.float64)
    vals = e4m3_table()
    a = np.minimum(np.abs(x), E4M3_MAX)
    hi = np.clip(np.searchsorted(vals, a), 0, 126)
    lo = np.clip(hi - 1, 0, 126)
    dlo, dhi = a - vals[lo], vals[hi] - a
    pick = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = pick.astype(np.uint8) | np.where(np.signbit(x), 0x80, 0).astype(np.uint8)
    return np.where(np.isnan(x), np.uint8(0x7F), code).astype(np.uint8)


def e4m3_decode(codes):
    c = np.asarray(codes, dtype=np.int64)
    v = e4m3_table()[np.minimum(c & 0x7F, 126)]
    v = np.where((c & 0x7F) == 0x7F, np.nan, v)
    return np.where(c & 0x80, -v, v)


def quantize_weights(w, quant):
    """w: float32 numpy [E, N, K] -> (codes uint8 [E, N, K], scales f32 [E] or [E, N/128, K/128])."""
    E, N, K = w.shape
    if quant == "fp8_per_tensor":
        s = (np.abs(w).reshape(E, -1).max(axis=1) / np.float32(E4M3_MAX)).astype(np.float32)
        q = np_e4m3_rne(w / s[:, None, None].astype(np.float64))
        return q, s
    nb, kb = -(-N // 128), -(-K // 128)
    s = np.zeros((E, nb, kb), dtype=np.float32)
    q = np.zeros((E, N, K), dtype=np.uint8)
    for e in range(E):
        for i in range(nb):
            for j in range(kb):
                blk = w[e, i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
                s[e, i, j] = np.float32(np.abs(blk).max()) / np.float32(E4M3_MAX)
                q[e, i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = np_e4m3_rne(blk / np.float64(s[e, i, j]))
    return q, s


def dequant_weights(q, s, quant):
    v = e4m3_decode(q).astype(np.float32)
    if quant == "fp8_per_tensor":
        return v * s[:, None, None]
    full = np.repeat(np.repeat(s, 128, axis=1), 128, axis=2)[:, : q.shape[1], : q.shape[2]]
    return v * full


def to_e4m3_bits(q, smoke):
    """fp32 tensor already clamped to [-448, 448] -> uint8 e4m3fn codes (c10 RNE cast)."""
    if smoke:
        return torch.from_numpy(np_e4m3_rne(q.cpu().numpy()))
    return q.to(torch.float8_e4m3fn).view(torch.uint8)


def quant_act_per_tensor(x, smoke):
    """vLLM dynamic_scaled_fp8_quant on bf16 x [R, C]: returns (codes u8, scale f32 [1])."""
    xf = x.float()
    amax = xf.abs().amax().reshape(1)
    scale = amax / torch.full((1,), E4M3_MAX, dtype=torch.float32, device=x.device)
    inv = torch.full((1,), 1.0, dtype=torch.float32, device=x.device) / scale
    q = torch.clamp(xf * inv, -E4M3_MAX, E4M3_MAX)
    return to_e4m3_bits(q, smoke), scale


def quant_act_group(x, group, smoke):
    """vLLM per_token_group_fp8_quant (CUDA op) on bf16 x [R, C]: (codes u8 [R, C], scales [R, C/g])."""
    R, C = x.shape
    xf = x.float().reshape(R, C // group, group)
    amax = torch.clamp(xf.abs().amax(dim=-1, keepdim=True), min=1e-10)
    ys = amax / torch.full_like(amax, E4M3_MAX)
    q = torch.clamp(xf / ys, -E4M3_MAX, E4M3_MAX)
    return to_e4m3_bits(q, smoke).reshape(R, C), ys.reshape(R, C // group)


def mma_instructions(k):
    """PTX and SASS MMA instructions of a compiled Triton kernel (provenance)."""
    out = {}
    try:
        ptx = k.asm["ptx"]
        out["ptx"] = sorted({ln.split()[0] for ln in ptx.splitlines()
                             if "wgmma.mma_async" in ln or ln.strip().startswith("mma.")})
        out["ptx_fma_f32"] = sum(1 for ln in ptx.splitlines() if ln.strip().startswith("fma.rn.f32"))
    except Exception as exc:  # noqa: BLE001 - provenance only
        out["ptx_error"] = repr(exc)
    try:
        sass = k.asm["sass"]
        out["sass"] = sorted({tok.rstrip(";,") for ln in sass.splitlines() for tok in ln.split()
                              if any(tok.startswith(p) for p in ("HGMMA", "QGMMA", "HMMA", "QMMA", "IMMA"))})
    except Exception as exc:  # noqa: BLE001
        out["sass_error"] = repr(exc)
    return out


def run_fp8_case(name, c, kernel, tl, device, smoke, fallback):
    E, K, H, I, T, quant = c["E"], c["K"], c["H"], c["I"], c["T"], c["quant"]
    BM, BN, BK, GM = c["BM"], c["BN"], c["BK"], c["GM"]
    block = quant == "fp8_block128"
    BKeff = min(BK, 128) if block else BK
    g = torch.Generator().manual_seed(c["seed"])
    hidden = torch.randn(T, H, generator=g)
    w13 = torch.randn(E, 2 * I, H, generator=g) / H ** 0.5
    w2 = torch.randn(E, H, I, generator=g) / I ** 0.5
    if c["wide"]:
        # Tokens, 128-column groups and elements over many binades: scales differ per group,
        # and the fp8 grid (and the tensor core's F=13 truncation) is exercised at every scale.
        hidden = hidden * torch.exp2(torch.randint(-6, 7, (T, 1), generator=g).float())
        hidden = hidden * torch.exp2(torch.randint(-4, 5, hidden.shape, generator=g).float())
        w13 = w13 * torch.exp2(torch.randint(-3, 4, w13.shape, generator=g).float())
        w2 = w2 * torch.exp2(torch.randint(-3, 4, w2.shape, generator=g).float())
    w13 = w13 * torch.exp2(torch.arange(E).float() - E // 2).reshape(E, 1, 1)  # experts in different binades
    hidden = hidden.to(torch.bfloat16)
    q13, s13 = quantize_weights(w13.numpy().astype(np.float32), quant)
    q2, s2 = quantize_weights(w2.numpy().astype(np.float32), quant)
    topk_w, topk_ids, sorted_ids, expert_ids, post_pad, EM = route_and_align(g, T, E, K, BM)
    numel = T * K

    dev = torch.device(device)
    A = hidden.to(dev)
    TW = topk_w.to(dev)
    sid, eid, npp = align_to_device(sorted_ids, expert_ids, post_pad, dev)
    info = {"launches": []}

    def quant_act(x):
        return quant_act_group(x, 128, smoke) if block else quant_act_per_tensor(x, smoke)

    def as_fp8(codes):
        return codes.to(dev).view(torch.float8_e4m3fn)

    def gemm(aq, a_scale, wq, w_scale, c_out, mul_routed_weight, top_k):
        """aq: u8 codes [M, Kd]; wq: u8 [E, N, Kd]; a_scale/w_scale f32 tensors."""
        N, Kd = wq.shape[1], wq.shape[2]
        if smoke:  # CPU stand-in: dequantized fp32 math (not a golden)
            rows = torch.arange(numel)
            ex = topk_ids.reshape(-1).long()
            a_deq = torch.from_numpy(e4m3_decode(aq.numpy()).astype(np.float32))
            if block:
                a_deq = a_deq * torch.repeat_interleave(a_scale, 128, dim=1)
            else:
                a_deq = a_deq * a_scale
            b_deq = torch.from_numpy(dequant_weights(wq.numpy(), w_scale.numpy(), quant))
            out = torch.einsum("rk,rnk->rn", a_deq[rows // top_k], b_deq[ex])
            if mul_routed_weight:
                out = out * TW.reshape(-1, 1)
            c_out.view(numel, N).copy_(out.to(torch.bfloat16))
            return
        A8, B8 = as_fp8(aq), as_fp8(wq)
        As, Bs = a_scale.to(dev).contiguous(), w_scale.to(dev).contiguous()
        grid = (triton_cdiv(EM, BM) * triton_cdiv(N, BN),)
        k = kernel[grid](
            A8, B8, c_out, None, As, Bs, TW, sid, eid, npp,
            N, Kd, EM, numel,
            A8.stride(0), A8.stride(1), B8.stride(0), B8.stride(2), B8.stride(1),
            c_out.stride(1), c_out.stride(2),
            As.stride(0) if As.ndim == 2 else 0, As.stride(1) if As.ndim == 2 else 0,
            Bs.stride(0) if Bs.ndim >= 2 else 0, Bs.stride(2) if Bs.ndim == 3 else 0,
            Bs.stride(1) if Bs.ndim >= 2 else 0,
            0, 0,
            128 if block else 0, 128 if block else 0,
            naive_block_assignment=False,
            BLOCK_SIZE_M=BM, BLOCK_SIZE_N=BN, BLOCK_SIZE_K=BKeff, GROUP_SIZE_M=GM, SPLIT_K=1,
            MUL_ROUTED_WEIGHT=mul_routed_weight, top_k=top_k, compute_type=tl.bfloat16,
            use_fp8_w8a8=True, use_int8_w8a8=False, use_int8_w8a16=False,
            per_channel_quant=False, HAS_BIAS=False,
            num_warps=c["warps"], num_stages=c["stages"],
        )
        info["launches"].append(mma_instructions(k))

    a1q, a1s = quant_act(A)
    c1 = torch.full((T, K, 2 * I), float("nan"), dtype=torch.bfloat16, device=dev)
    gemm(a1q.cpu() if smoke else a1q, a1s, torch.from_numpy(q13), torch.from_numpy(s13), c1, False, K)
    c1f = c1.view(numel, 2 * I)
    gate, up = c1f[:, :I], c1f[:, I:]
    act = (F.silu(gate.float()).to(torch.bfloat16) * up).contiguous()
    a2q, a2s = quant_act(act)
    c3 = torch.full((T, K, H), float("nan"), dtype=torch.bfloat16, device=dev)
    gemm(a2q.cpu() if smoke else a2q, a2s, torch.from_numpy(q2), torch.from_numpy(s2), c3, True, 1)
    if 2 <= K <= 4:
        out = torch.zeros(T, H, dtype=torch.bfloat16, device=dev)
        for k in range(K):
            out = out + c3[:, k, :]
    else:
        out = torch.sum(c3, dim=1)

    if fallback is not None and block and not smoke:
        # vLLM's Triton fallback (used only off CUDA or for non-contiguous inputs) vs the CUDA op.
        for tag, x, q_ref, s_ref in (("a1", A, a1q, a1s), ("a2", act, a2q, a2s)):
            xq = torch.empty(x.shape, dtype=torch.float8_e4m3fn, device=dev)
            xs = torch.empty((x.shape[0], x.shape[1] // 128), dtype=torch.float32, device=dev)
            fallback[(x.numel() // 128,)](x, xq, xs, 128, x.shape[1], x.stride(0), 1e-10,
                                          fp8_min=-E4M3_MAX, fp8_max=E4M3_MAX, use_ue8m0=False, BLOCK=128,
                                          num_warps=1, num_stages=1)
            info[f"triton_fallback_{tag}q_bytes_differing"] = int((xq.view(torch.uint8) != q_ref).sum())
            info[f"triton_fallback_{tag}_scales_differing"] = int((xs != s_ref).sum())

    # torch fp32 reference: dequantized weights, unquantized bf16 activations.
    ref = torch.zeros(T, H, dtype=torch.float32)
    W13d = torch.from_numpy(dequant_weights(q13, s13, quant))
    W2d = torch.from_numpy(dequant_weights(q2, s2, quant))
    Af = hidden.float()
    for e in range(E):
        tok, kk = torch.nonzero(topk_ids == e, as_tuple=True)
        if tok.numel() == 0:
            continue
        h1 = Af[tok] @ W13d[e].t()
        a1 = F.silu(h1[:, :I]) * h1[:, I:]
        y = a1 @ W2d[e].t()
        ref.index_add_(0, tok, y * topk_w[tok, kk].unsqueeze(1))
    if device == "cuda":
        torch.cuda.synchronize()
    return dict(c, BKeff=BKeff, hidden=hidden, q13=q13, s13=s13, q2=q2, s2=s2, topk_ids=topk_ids, topk_w=topk_w,
                a1q=a1q.cpu().numpy(), a1s=a1s.cpu().numpy(), a2q=a2q.cpu().numpy(), a2s=a2s.cpu().numpy(),
                gemm1=c1f.cpu(), act=act.cpu(), gemm2=c3.view(numel, H).cpu(), out=out.cpu(), ref=ref, info=info)


def write_fp8_trace(path, name, r, device_name, provenance):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "moesim-trace"
        f.attrs["format_version"] = 1
        f.attrs["created_by"] = "scripts/gpu/capture_triton_moe.py"
        f.attrs["description"] = f"golden trace {name}: vLLM Triton fused_moe_kernel ({r['quant']}) on {device_name}"
        m = f.create_group("model")
        for k, v in dict(num_experts=r["E"], top_k=r["K"], hidden=r["H"], intermediate=r["I"],
                         gated=1, num_shared_experts=0).items():
            m.attrs[k] = np.int64(v)
        m.attrs["name"] = name
        m.attrs["activation"] = "silu"
        m.attrs["quant"] = r["quant"]
        m.attrs["weight_layout"] = "linear"
        m.attrs["scale_layout"] = "linear"
        cx = f.create_group("context")
        cx.attrs["device"] = device_name
        cx.attrs["framework"] = provenance["framework"]
        cx.attrs["backend"] = "triton_fp8_per_tensor" if r["quant"] == "fp8_per_tensor" else "triton_fp8_block128"
        cx.attrs["tactic"] = (f"BLOCK_SIZE_M={r['BM']},BLOCK_SIZE_N={r['BN']},BLOCK_SIZE_K={r['BK']},"
                              f"GROUP_SIZE_M={r['GM']},num_warps={r['warps']},num_stages={r['stages']}")
        for k in ("tp", "ep", "dp"):
            cx.attrs[k] = np.int64(1)
        cx.attrs["max_num_batched_tokens"] = np.int64(0)
        env = cx.create_group("env")
        for k, v in provenance["env"].items():
            env.attrs[k] = str(v)
        c = f.create_group("calls/0000")
        c.attrs["num_tokens"] = np.int64(r["T"])
        c.attrs["kernel"] = ("vllm fused_moe_kernel (Triton, use_fp8_w8a8) + torch ops with the arithmetic of vLLM's "
                             "CUDA fp8 activation quant, silu_and_mul and moe_sum")
        c.attrs["capture"] = json.dumps(r["info"])
        c.attrs["source"] = provenance["source"]
        c["topk_ids"] = r["topk_ids"].numpy().astype(np.int32)
        c["topk_weights"] = r["topk_w"].numpy().astype(np.float32)
        d = c.create_dataset("hidden_states", data=bf16_bits(r["hidden"]))
        d.attrs["dtype"] = "bf16"
        gg = c.create_group("golden")
        for key, ds in (("out", "output"), ("gemm1", "gemm1_out"), ("act", "act_out"), ("gemm2", "gemm2_out")):
            d = gg.create_dataset(ds, data=bf16_bits(r[key]))
            d.attrs["dtype"] = "bf16"
        for key, ds in (("a1q", "a1q"), ("a2q", "a2q")):
            d = gg.create_dataset(ds, data=np.ascontiguousarray(r[key]).astype(np.uint8))
            d.attrs["dtype"] = "fp8_e4m3fn"
        for key, ds in (("a1s", "a1q_scale"), ("a2s", "a2q_scale")):
            d = gg.create_dataset(ds, data=np.ascontiguousarray(r[key]).astype(np.float32))
            d.attrs["dtype"] = "f32"
            d.attrs["layout"] = "per_tensor" if r["quant"] == "fp8_per_tensor" else "per_token_group128"
        d = gg.create_dataset("torch_fp32_output", data=r["ref"].numpy().astype(np.float32))
        d.attrs["dtype"] = "f32"
        w = f.create_group("weights")
        for key, skey, shape in (("q13", "s13", (r["E"], 2 * r["I"], r["H"])), ("q2", "s2", (r["E"], r["H"], r["I"]))):
            ds = "w13" if key == "q13" else "w2"
            d = w.create_dataset(ds, data=r[key], chunks=(1,) + shape[1:])
            d.attrs["dtype"] = "fp8_e4m3fn"
            sc = r[skey]
            d = w.create_dataset(ds + "_scale", data=sc, chunks=(1,) + sc.shape[1:])
            d.attrs["dtype"] = "f32"
            d.attrs["layout"] = "per_tensor" if r["quant"] == "fp8_per_tensor" else "block128x128"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vllm-src", required=True, help="dir holding vLLM's fused_moe.py (not committed)")
    ap.add_argument("--vllm-rev", default="unknown")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default=",".join(list(CASES) + list(FP8_CASES)))
    ap.add_argument("--cpu-smoke", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    smoke = args.cpu_smoke
    device = "cpu" if smoke else "cuda"
    fallback = None
    if smoke:
        kernel, tl = None, None
        device_name = "cpu-smoke"
    else:
        kernel, tl = load_kernels(args.vllm_src)
        fallback = load_group_quant_fallback(args.vllm_src)
        device_name = torch.cuda.get_device_name().replace(" ", "_")
        import triton
        provenance_triton = triton.__version__
    prov = {
        "framework": f"vllm@{args.vllm_rev}",
        "source": f"vllm {args.vllm_rev} vllm/model_executor/layers/fused_moe/fused_moe.py fused_moe_kernel",
        "env": {"torch": torch.__version__, "triton": "" if smoke else provenance_triton,
                "cuda": str(torch.version.cuda), "device_name": device_name},
    }
    summary = {}
    for name in args.cases.split(","):
        t0 = time.time()
        path = os.path.join(args.out, name + ".h5")
        if name in FP8_CASES:
            try:
                r = run_fp8_case(name, FP8_CASES[name], kernel, tl, device, smoke, fallback)
            except Exception:  # noqa: BLE001 - one failing case must not lose the others
                import traceback
                summary[name] = {"error": traceback.format_exc()}
                print(summary[name]["error"], file=sys.stderr)
                continue
            write_fp8_trace(path, name, r, device_name, prov)
        else:
            r = run_case(name, CASES[name], kernel, tl, device, smoke)
            write_trace(path, name, r, device_name, prov)
        summary[name] = {"seconds": round(time.time() - t0, 3), "bytes": os.path.getsize(path), **r["info"],
                         "max_abs_vs_fp32": float((r["out"].float() - r["ref"]).abs().max())}
    # SiLU over every bf16 input (the activation's first rounding), as torch's CUDA silu does it.
    allb = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).to(device)
    silu = F.silu(allb.float()).to(torch.bfloat16)
    with h5py.File(os.path.join(args.out, "silu_bf16_table.h5"), "w") as f:
        d = f.create_dataset("silu", data=bf16_bits(silu))
        d.attrs["dtype"] = "bf16"
        f.attrs["formula"] = "bf16_rn(x / (1 + expf(-x))) via torch.nn.functional.silu(x.float()) on CUDA"
        f.attrs["device"] = device_name
        f.attrs["torch"] = str(torch.__version__)
    print(json.dumps(summary, indent=1))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
