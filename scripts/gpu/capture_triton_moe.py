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
    logits = torch.randn(T, E, generator=g)
    probs = torch.softmax(logits, dim=-1)
    topk_w, topk_ids = torch.topk(probs, K, dim=-1)
    topk_w = (topk_w / topk_w.sum(dim=-1, keepdim=True)).to(torch.float32).contiguous()
    topk_ids = topk_ids.to(torch.int32).contiguous()

    sorted_ids, expert_ids, post_pad = moe_align_block_size(topk_ids, BM, E)
    numel = T * K
    EM = sorted_ids.size
    if T < BM:
        EM = min(EM, T * K * BM)

    dev = torch.device(device)
    A = hidden.to(dev)
    W13 = w13.to(dev)
    W2 = w2.to(dev)
    TW = topk_w.to(dev)
    sid = torch.from_numpy(sorted_ids).to(dev)
    eid = torch.from_numpy(expert_ids).to(dev)
    npp = torch.tensor([post_pad], dtype=torch.int32, device=dev)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vllm-src", required=True, help="dir holding vLLM's fused_moe.py (not committed)")
    ap.add_argument("--vllm-rev", default="unknown")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--cpu-smoke", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    smoke = args.cpu_smoke
    device = "cpu" if smoke else "cuda"
    if smoke:
        kernel, tl = None, None
        device_name = "cpu-smoke"
    else:
        kernel, tl = load_kernels(args.vllm_src)
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
        r = run_case(name, CASES[name], kernel, tl, device, smoke)
        path = os.path.join(args.out, name + ".h5")
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


if __name__ == "__main__":
    main()
