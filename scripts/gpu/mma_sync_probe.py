#!/usr/bin/env python3
"""Records Hopper mma.sync outputs (issue 16) for moesim's sim/mma tests. One run on an H200,
from the repository root:

    python3 scripts/gpu/mma_sync_probe.py OUTDIR

1. Builds scripts/gpu/mma_sync_probe.cu (nvcc -arch=sm_90a), records its SASS (HMMA lines),
   checks every instruction on exact small-integer data (fragment layout), then runs one
   instruction per 16x8 tile on batches cycling through uniform random bits, special-value-,
   cancellation-, tiny/zero-heavy, e4m3-image (fp16 values that are upcast e4m3 codes, as
   Triton feeds HMMA for fp8 at BLOCK_SIZE_M < 64), dominating-C and in-step-cancellation
   tiles: mma.sync.aligned.m16n8k16 / m16n8k8 .row.col.f32.{f16,bf16}.{f16,bf16}.f32.
   Files mma_sync_<f16|bf16>_k<16|8>.bin.
2. Triton tl.dot at BLOCK_SIZE_M = 16 with e4m3 operands laid out as vLLM's fused_moe_kernel
   loads them (A [M][K], B as [N][K], K contiguous; runtime K loop; acc = tl.dot(a, b, acc)):
   (a) a K-step membership probe (C = -2^16, one product +2^16 at k = i and one 2^-18 at
   k = j per output: the output is 2^-18 exactly when i's MMA step precedes j's step, which
   reveals how Triton splits a BLOCK_K into MMA steps); (b) long chains (K up to 7168) on
   random e4m3 codes, per BLOCK_N / BLOCK_K / num_warps; (c) bf16 at BLOCK_SIZE_M = 16.
   PTX, TTGIR and SASS of the fp8 kernels are written to OUTDIR/triton_fp8_bm16.{ptx,ttgir,sass}.
3. torch._scaled_grouped_mm (fp8 rowwise, CUTLASS SM90) if this torch exposes it.
Inputs are generated here from fixed seeds; files use the "MOESIMMA" layout of
scripts/gpu/mma_probe.py (version 1; b_layout 0 = B stored [N][K]).
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("mma_probe", os.path.join(HERE, "mma_probe.py"))
mp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mp)
mp.FMT["fp16"] = (16, 5, 10, 15, np.uint16)
mp.SPECIAL["fp16"] = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x0001, 0x03FF, 0x0400, 0x7BFF,
                      0xFBFF, 0x8001]
sh = mp.sh
header = mp.header

INSTS = {"f16_k16": ("fp16", 16), "bf16_k16": ("bf16", 16), "f16_k8": ("fp16", 8), "bf16_k8": ("bf16", 8)}


def e4m3_codes_to_fp16_bits(c):
    """Exact e4m3fn -> fp16 bit patterns (finite codes; NaN -> 0x7E00)."""
    c = np.asarray(c, dtype=np.uint16)
    s = (c >> 7) & 1
    e = (c >> 3) & 0xF
    m = c & 7
    # normal: value = 2^(e-7) * (1 + m/8) -> fp16 exp field e - 7 + 15, mantissa m << 7
    normal = (s << 15) | ((e + 8) << 10) | (m << 7)
    # subnormal: value = m * 2^-9 -> normalise
    sub = np.zeros_like(c)
    for mm in range(1, 8):
        p = int(np.floor(np.log2(mm)))  # leading bit
        frac = (mm - (1 << p)) << (10 - p)
        sub = np.where(m == mm, ((p - 9 + 15) << 10) | frac, sub)
    out = np.where(e == 0, (s << 15) | sub, normal)
    out = np.where((c & 0x7F) == 0x7F, 0x7E00 | (s << 15), out)
    return out.astype(np.uint16)


def extra_tile(rng, fmt, kind, M, N, K):
    """Kinds beyond mma_probe.gen_tile (5..7)."""
    bits, eb, mb, bias, dt = mp.FMT[fmt]
    if kind == 5:  # e4m3 images (fp16 only) or narrow bf16, C ~ a running chain
        if fmt == "fp16":
            ca = rng.integers(0, 256, size=(M, K))
            cb = rng.integers(0, 256, size=(N, K))
            ca = np.where((ca & 0x7F) == 0x7F, ca ^ 1, ca)
            cb = np.where((cb & 0x7F) == 0x7F, cb ^ 1, cb)
            A, Bt = e4m3_codes_to_fp16_bits(ca), e4m3_codes_to_fp16_bits(cb)
        else:
            A = mp.make_bits(rng, fmt, bias - 9, bias + 8, (M, K))
            Bt = mp.make_bits(rng, fmt, bias - 9, bias + 8, (N, K))
        C = mp.f32_bits(rng, 127 + 4, 127 + 22, (M, N), zero_p=0.1)
        return A, Bt, C
    if kind == 6:  # dominating C: products 0..40 binades below C
        A = mp.make_bits(rng, fmt, bias - 6, bias + 6, (M, K), zero_p=0.05)
        Bt = mp.make_bits(rng, fmt, bias - 6, bias + 6, (N, K), zero_p=0.05)
        C = mp.f32_bits(rng, 127 + 12, 127 + 40, (M, N))
        return A, Bt, C
    # kind 7: in-step cancellation with small survivors at varied distance (F, L, rounding)
    A = mp.make_bits(rng, fmt, bias - 2, bias + 2, (M, K))
    Bt = mp.make_bits(rng, fmt, bias - 2, bias + 2, (N, K))
    h = K // 2
    A[:, h] = A[:, 0] ^ dt(1 << (bits - 1))
    Bt[:, h] = Bt[:, 0]
    small = mp.make_bits(rng, fmt, max(1, bias - 14), bias - 4, (M, K))
    pick = rng.random((M, K)) < 0.5
    pick[:, 0] = False
    pick[:, h] = False
    A = np.where(pick, small, A).astype(dt)
    C = np.where(rng.random((M, N)) < 0.5, np.uint32(0),
                 mp.f32_bits(rng, 127 - 20, 127 - 4, (M, N))).astype(np.uint32)
    return A, Bt, C


def ptx_part(out, report, tmp):
    binary = f"{tmp}/mma_sync_probe"
    sh(["nvcc", "-O2", "-gencode", "arch=compute_90a,code=sm_90a", "-o", binary, f"{HERE}/mma_sync_probe.cu"])
    sass = sh(["cuobjdump", "-sass", binary])
    report["ptx_sass_hmma"] = sorted({l.strip().split(";")[0].split("*/")[-1].strip() for l in sass.splitlines() if "HMMA" in l})[:16]
    with open(f"{out}/mma_sync_probe.sass", "w") as f:
        f.write(sass)
    rng = np.random.default_rng(20261203)

    def run(inst, A, Bt, C):
        blob = b"".join(A[t].tobytes() + Bt[t].tobytes() + C[t].tobytes() for t in range(A.shape[0]))
        with open(f"{tmp}/in.bin", "wb") as f:
            f.write(blob)
        sh([binary, inst, str(A.shape[0]), f"{tmp}/in.bin", f"{tmp}/out.bin"])
        return np.fromfile(f"{tmp}/out.bin", dtype=np.uint32).reshape(A.shape[0], 16, 8)

    for inst, (fmt, K) in INSTS.items():
        # exact integer check of the fragment layout
        iv = rng.integers(-3, 4, size=(4, 16, K))
        bv = rng.integers(-3, 4, size=(4, 8, K))
        cv = rng.integers(-64, 65, size=(4, 16, 8)).astype(np.float32)
        want = (np.einsum("tmk,tnk->tmn", iv, bv) + cv).astype(np.float32).view(np.uint32)
        fv = iv.astype(np.float32)
        if fmt == "bf16":
            ab = (fv.view(np.uint32) >> 16).astype(np.uint16)
            bb = (bv.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        else:
            ab = iv.astype(np.float16).view(np.uint16)
            bb = bv.astype(np.float16).view(np.uint16)
        got = run(inst, ab, bb, cv.view(np.uint32))
        report.setdefault("layout_check", {})[inst] = int((got != want).sum())
        ntiles = 400
        tiles = []
        for t in range(ntiles):
            kind = t % 8
            if kind < 5:
                tiles.append(mp.gen_tile(rng, fmt, kind, 16, 8, K))
            else:
                tiles.append(extra_tile(rng, fmt, kind, 16, 8, K))
        A = np.stack([x[0] for x in tiles])
        Bt = np.stack([x[1] for x in tiles])
        C = np.stack([x[2] for x in tiles])
        D = run(inst, A, Bt, C)
        with open(f"{out}/mma_sync_{fmt.replace('fp16', 'f16')}_k{K}.bin", "wb") as f:
            f.write(header(ntiles, 16, 8, K, 2, 0, [0]))
            for arr in (A, Bt, C, D):
                f.write(np.ascontiguousarray(arr).tobytes())
        report.setdefault("ptx_tiles", {})[inst] = ntiles


def triton_part(out, report, tmp):
    import torch
    import triton
    import triton.language as tl

    report["versions"] = {"torch": torch.__version__, "triton": triton.__version__,
                          "device": torch.cuda.get_device_name(0), "cuda": str(torch.version.cuda)}

    @triton.jit
    def k_dot(A, B, C, D, K, M: tl.constexpr, N: tl.constexpr, BK: tl.constexpr):
        pid = tl.program_id(0).to(tl.int64)
        rm = tl.arange(0, M)
        rn = tl.arange(0, N)
        rk = tl.arange(0, BK)
        acc = tl.load(C + pid * M * N + rm[:, None] * N + rn[None, :])
        a_ptrs = A + pid * M * K + rm[:, None] * K + rk[None, :]
        b_ptrs = B + pid * N * K + rk[:, None] + rn[None, :] * K  # B stored [N][K] (K contiguous)
        for k in range(0, tl.cdiv(K, BK)):
            a = tl.load(a_ptrs)
            b = tl.load(b_ptrs)
            acc = tl.dot(a, b, acc=acc)
            a_ptrs += BK
            b_ptrs += BK
        tl.store(D + pid * M * N + rm[:, None] * N + rn[None, :], acc)

    dumped = set()

    def launch(fmt, A, Bt, C, M, N, K, BK, warps, stages, tag):
        tdt = torch.bfloat16 if fmt == "bf16" else torch.float8_e4m3fn
        it = np.int16 if fmt == "bf16" else np.int8
        ta = torch.from_numpy(np.ascontiguousarray(A).view(it)).cuda().view(tdt)
        tb = torch.from_numpy(np.ascontiguousarray(Bt).view(it)).cuda().view(tdt)
        tc = torch.from_numpy(np.ascontiguousarray(C).view(np.int32)).cuda().view(torch.float32)
        td = torch.empty_like(tc)
        ck = k_dot[(A.shape[0],)](ta, tb, tc, td, K, M, N, BK, num_warps=warps, num_stages=stages)
        torch.cuda.synchronize()
        key = f"{tag}_M{M}_N{N}_BK{BK}_w{warps}"
        try:
            sass = ck.asm.get("sass") if hasattr(ck.asm, "get") else None
            if not sass:
                with open(f"{tmp}/{key}.cubin", "wb") as f:
                    f.write(ck.asm["cubin"])
                sass = sh(["cuobjdump", "-sass", f"{tmp}/{key}.cubin"])
            mm = [l.strip() for l in sass.splitlines() if any(x in l for x in ("HMMA", "GMMA", "QMMA"))]
            cv = [l.strip() for l in sass.splitlines() if "F2FP" in l or "HADD2.F32" in l or "I2F" in l or "PRMT" in l]
            ptx = ck.asm["ptx"]
            report.setdefault("triton_inst", {})[key] = {
                "sass_mma": sorted({tok.rstrip(";,") for l in mm for tok in l.split()
                                    if tok.startswith(("HMMA", "HGMMA", "QGMMA", "QMMA"))}),
                "ttgir_dot_operands": sorted({seg.split(">")[0] for ln in ck.asm.get("ttgir", "").splitlines()
                                              for seg in ln.split("#ttg.dot_op<")[1:]})[:6],
                "n_mma": len(mm), "sass_mma_first": mm[:4], "sass_cvt_first": cv[:6],
                "ptx_mma": sorted({ln.strip().split()[0] for ln in ptx.splitlines() if ln.strip().startswith(("mma.", "wgmma.mma"))}),
                "ptx_cvt": sorted({ln.strip().split()[0] for ln in ptx.splitlines() if ln.strip().startswith("cvt.") and ("e4m3" in ln or "f16" in ln)}),
            }
            if tag not in dumped and fmt == "e4m3":
                dumped.add(tag)
                for ext, txt in (("ptx", ptx), ("ttgir", ck.asm.get("ttgir", "")), ("sass", sass)):
                    with open(f"{out}/triton_{tag}.{ext}", "w") as f:
                        f.write(txt)
        except Exception as e:  # noqa: BLE001 - provenance, not the data
            report.setdefault("triton_inst", {})[key] = f"failed: {e!r}"
        return td.view(torch.int32).cpu().numpy().view(np.uint32)

    rng = np.random.default_rng(16016)
    # (a) membership probe, fp8 BM=16, one K block of 128 (and 64, 32)
    for BK in (128, 64, 32):
        P, M, N, K = 8, 16, 64, BK
        A = np.zeros((P, M, K), np.uint8)
        Bt = np.zeros((P, N, K), np.uint8)
        for p in range(P):
            U = rng.random((N, K)) < 0.5
            Bt[p] = np.where(U, 0x78, 0x01)  # 256 or 2^-9
            for m in range(M):
                i, j = rng.choice(K, size=2, replace=False)
                A[p, m, i] = 0x78
                A[p, m, j] = 0x01
        C = np.full((P, M, N), np.float32(-65536.0)).view(np.uint32)
        D = launch("e4m3", A, Bt, C, M, N, K, BK, 4, 3, "fp8_member")
        with open(f"{out}/triton_fp8_bm16_member_bk{BK}.bin", "wb") as f:
            f.write(header(P, M, N, K, 1, 0, [BK]))
            for arr in (A, Bt, C, D):
                f.write(np.ascontiguousarray(arr).tobytes())

    # (b) chains: random e4m3 codes (no NaN), C = 0 as in fused_moe
    def e4m3_rand(shape, lo, hi, zero_p):
        e = rng.integers(lo, hi + 1, size=shape)
        m = rng.integers(0, 8, size=shape)
        s = rng.integers(0, 2, size=shape)
        c = (s << 7) | (e << 3) | m
        c = np.where((c & 0x7F) == 0x7F, c ^ 1, c)
        c = np.where(rng.random(shape) < zero_p, 0, c)
        return c.astype(np.uint8)

    chains = [  # (tag, P, N, K, BK, warps, stages, exp lo, hi)
        ("fp8_bm16", 4, 64, 2048, 128, 4, 3, 3, 10),
        ("fp8_bm16", 2, 128, 7168, 128, 4, 4, 3, 10),
        ("fp8_bm16", 4, 128, 2048, 256, 4, 3, 0, 15),
        ("fp8_bm16", 4, 64, 2048, 64, 8, 3, 3, 10),
        ("fp8_bm32", 4, 64, 2048, 128, 4, 3, 3, 10),
    ]
    for tag, P, N, K, BK, warps, stages, lo, hi in chains:
        M = 32 if tag.endswith("bm32") else 16
        A = e4m3_rand((P, M, K), lo, hi, 0.02)
        Bt = e4m3_rand((P, N, K), lo, hi, 0.02)
        C = np.zeros((P, M, N), np.uint32)
        D = launch("e4m3", A, Bt, C, M, N, K, BK, warps, stages, tag)
        name = f"triton_{tag}_chain_n{N}_k{K}_bk{BK}_w{warps}.bin"
        with open(f"{out}/{name}", "wb") as f:
            f.write(header(P, M, N, K, 1, 0, [BK]))
            for arr in (A, Bt, C, D):
                f.write(np.ascontiguousarray(arr).tobytes())
    # (c) bf16 at BM=16
    P, M, N, K, BK = 4, 16, 64, 1024, 64
    A = mp.make_bits(rng, "bf16", 127 - 8, 127 + 8, (P, M, K), zero_p=0.02)
    Bt = mp.make_bits(rng, "bf16", 127 - 8, 127 + 8, (P, N, K), zero_p=0.02)
    C = np.zeros((P, M, N), np.uint32)
    D = launch("bf16", A, Bt, C, M, N, K, BK, 4, 3, "bf16_bm16")
    with open(f"{out}/triton_bf16_bm16_chain_n{N}_k{K}_bk{BK}_w4.bin", "wb") as f:
        f.write(header(P, M, N, K, 2, 0, [BK]))
        for arr in (A, Bt, C, D):
            f.write(np.ascontiguousarray(arr).tobytes())


def scaled_grouped_part(out, report, tmp):
    import h5py
    import torch

    fn = getattr(torch, "_scaled_grouped_mm", None)
    report["torch_scaled_grouped_mm"] = "present" if fn is not None else "absent"
    if fn is None:
        return
    try:
        import inspect
        report["torch_scaled_grouped_mm_doc"] = str(getattr(fn, "__doc__", ""))[:1500]
    except Exception:  # noqa: BLE001
        pass
    rng = np.random.default_rng(99)
    G, K, N = 4, 256, 64
    rows = [16, 48, 16, 48]
    offs = np.cumsum(rows).astype(np.int32)
    M = int(offs[-1])

    def codes(shape, lo, hi):
        e = rng.integers(lo, hi + 1, size=shape)
        m = rng.integers(0, 8, size=shape)
        s = rng.integers(0, 2, size=shape)
        c = (s << 7) | (e << 3) | m
        c = np.where((c & 0x7F) == 0x7F, c ^ 1, c)
        return c.astype(np.uint8)

    a = codes((M, K), 1, 14)
    b = codes((G, K, N), 1, 14)  # [G][K][N]
    # cancelling pairs: a[m,48] = -a[m,80], b[:,48,:] = b[:,80,:], both large (448)
    b[:, 80, :] = b[:, 48, :]
    for m in range(0, M, 2):
        a[m, 48] = 0x7E if (m // 2) % 2 else 0x7D
        a[m, 80] = a[m, 48] ^ 0x80
    sa = np.exp2(rng.integers(-6, 3, size=M)).astype(np.float32) * np.float32(1.0 + 1 / 3)
    sb = np.exp2(rng.integers(-6, 3, size=(G, N))).astype(np.float32) * np.float32(0.7)
    dev = torch.device("cuda")
    ta = torch.from_numpy(a.view(np.int8)).to(dev).view(torch.float8_e4m3fn)
    bt = torch.from_numpy(np.ascontiguousarray(b.transpose(0, 2, 1)).view(np.int8)).to(dev).view(torch.float8_e4m3fn)
    tsa = torch.from_numpy(sa).to(dev)
    tsb = torch.from_numpy(sb).to(dev)
    toffs = torch.from_numpy(offs).to(dev)
    results = {}
    for fast in (False, True):
        try:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                o = fn(ta, bt.transpose(1, 2), tsa, tsb, offs=toffs, out_dtype=torch.bfloat16, use_fast_accum=fast)
                torch.cuda.synchronize()
            kern = sorted({e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA})
            results[fast] = (o.cpu().view(torch.int16).numpy().view(np.uint16), kern)
            report.setdefault("scaled_grouped_mm_kernels", {})[str(fast)] = kern
        except Exception:  # noqa: BLE001
            report.setdefault("scaled_grouped_mm_error", {})[str(fast)] = traceback.format_exc()[-1500:]
    if results:
        with h5py.File(f"{out}/torch_scaled_grouped_mm_fp8.h5", "w") as f:
            f["a"] = a
            f["b"] = b
            f["scale_a"] = sa
            f["scale_b"] = sb
            f["offs"] = offs
            for fast, (o, kern) in results.items():
                f[f"out_fast_accum_{int(fast)}"] = o
                f.attrs[f"kernels_fast_accum_{int(fast)}"] = "; ".join(kern)
            f.attrs["torch"] = str(torch.__version__)
            f.attrs["device"] = str(torch.cuda.get_device_name())
            f.attrs["op"] = ("torch._scaled_grouped_mm(a [M,K] e4m3, b [G,K,N] e4m3 (column-major), scale_a [M] f32, "
                             "scale_b [G,N] f32, offs, out_dtype=bf16, use_fast_accum)")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "out"
    parts = sys.argv[2].split(",") if len(sys.argv) > 2 else ["ptx", "triton", "scaled"]
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="mmasync_")
    report = {}
    for name, part in (("ptx", ptx_part), ("triton", triton_part), ("scaled", scaled_grouped_part)):
        if name not in parts:
            continue
        try:
            part(out, report, tmp)
        except Exception:  # noqa: BLE001 - one part failing must not lose the others
            report[name + "_error"] = traceback.format_exc()[-3000:]
    with open(f"{out}/report_sync.json", "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1)[:8000])


if __name__ == "__main__":
    main()
