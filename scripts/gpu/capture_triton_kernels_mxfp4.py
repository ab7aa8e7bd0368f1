#!/usr/bin/env python3
"""Hardware goldens for moesim's `triton_kernels_mxfp4_sm90` variant (issue 16).

Runs Triton's own `triton_kernels` package (source NOT part of moesim: --tk-src DIR is the folder
holding the `triton_kernels` package, python/triton_kernels of a Triton checkout, loaded by path)
the way vLLM's gpt-oss path does on Hopper (vllm/model_executor/layers/fused_moe/experts/
gpt_oss_triton_kernels_moe.py make_routing_data + triton_kernel_fused_experts, the triton_kernels
v3.6.0+ branch; weights through vllm/model_executor/layers/quantization/utils/mxfp4_utils.py
_swizzle_mxfp4: HopperMXValueLayout / HopperMXScaleLayout(num_warps=8), split_k=1), on inputs from
moesim's counter-based generator (sim/core/counter_gen.hpp; numpy twin in capture_triton_prod.py
plus the MXFP4 streams below), and writes only hashes of every stage's output bits.

  capture_triton_kernels_mxfp4.py --tk-src DIR --tk-rev REV --out OUT.json [--debug OUT.npz]
                                  [--asm-dir DIR] [--cases a,b]
  capture_triton_kernels_mxfp4.py --gen-selftest     # generator values checked by the C++ test
  capture_triton_kernels_mxfp4.py --list

Canonical (trace) forms, which the replay uses and into which every stage is permuted back here
(pure permutations, no arithmetic): w13 rows [gate (I rows); up (I rows)], K = H along columns,
two e2m1 codes per byte (low nibble = even k), ue8m0 scales [rows, K/32] linear; stage rows in
slot order t*top_k + k; gemm1 columns [gate; up]. triton_kernels wants w13 columns interleaved
(gate j at 2j, up j at 2j+1: _swiglu_fn splits the last axis in pairs) and [E, K, N] with the
quantized axis K, so the script builds that from the canonical tensors.

Stages recorded per case:
  dispatch   i32 [T*K]   row_sorted_indx (slot -> dispatch row; SparseMatrix mask metadata)
  gemm1_acc  f32 [T*K, 2I] fp32 acc + bias (matmul_ogs with out_dtype=float32, no activation)
  act_out    bf16 [T*K, I] production GEMM1 with the fused swiglu (alpha 1.702, limit 7.0)
  gemm2_out  bf16 [T*K, H] GEMM2 rows * gate weight (matmul_ogs, gammas, no scatter)
  output     bf16 [T, H]   production GEMM2 (gammas + fused scatter + top-k reduce)
"""
import argparse
import glob
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("capture_triton_prod", os.path.join(HERE, "capture_triton_prod.py"))
prod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prod)
u64, gen_bf16, gen_routing, hash_words = prod.u64, prod.gen_bf16, prod.gen_routing, prod.hash_words

HIDDEN, W13, W2, W13_SCALE, W2_SCALE, ROUTE_IDS, ROUTE_W, B13, B2 = 1, 2, 3, 4, 5, 6, 7, 8, 9
# (lo, span) of exponent fields: hidden bf16, ue8m0 scale bytes, bias bf16 (as fp32)
RANGES = {
    "normal": {"hidden": (123, 6), "scale": (121, 6), "bias": (121, 6)},
    "wide": {"hidden": (115, 22), "scale": (112, 14), "bias": (112, 16)},
}
SWIGLU_ALPHA, SWIGLU_LIMIT = 1.702, 7.0


def gen_e2m1(z):
    """e2m1 code (0..15) of element i: bits 8..11 of z."""
    return ((z >> np.uint64(8)) & np.uint64(0xF)).astype(np.uint8)


def gen_ue8m0(z, lo, span):
    return (np.uint64(lo) + ((z >> np.uint64(32)) % np.uint64(span))).astype(np.uint8)


def gen_mxfp4(seed, stream, sstream, E, N, K, rng):
    """[E, N, K/2] packed codes (low nibble = even k; element index e*N*K + n*K + k) and
    [E, N, K/32] ue8m0 scale bytes (index e*N*(K/32) + n*(K/32) + g)."""
    lo, span = RANGES[rng]["scale"]
    q = np.empty((E, N, K // 2), np.uint8)
    for e in range(E):
        c = gen_e2m1(u64(seed, stream, np.arange(e * N * K, (e + 1) * N * K, dtype=np.uint64))).reshape(N, K)
        q[e] = c[:, 0::2] | (c[:, 1::2] << 4)
    G = K // 32
    s = gen_ue8m0(u64(seed, sstream, np.arange(E * N * G, dtype=np.uint64)), lo, span).reshape(E, N, G)
    return q, s


def gen_bias(seed, stream, E, N, rng):
    """fp32 [E, N] with bf16-representable values (bf16 bits << 16)."""
    b = gen_bf16(u64(seed, stream, np.arange(E * N, dtype=np.uint64)), *RANGES[rng]["bias"]).astype(np.uint32) << 16
    return b.view(np.float32).reshape(E, N)


E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)


def dequant(q, s):
    """fp32 [N, K] from canonical packed codes [N, K/2] and scales [N, K/32] (sanity check only)."""
    c = np.empty((q.shape[0], q.shape[1] * 2), np.uint8)
    c[:, 0::2], c[:, 1::2] = q & 0xF, q >> 4
    v = E2M1[c]
    sc = np.ldexp(np.float32(1), s.astype(np.int32) - 127).astype(np.float32)
    return v * np.repeat(sc, 32, axis=1)


# name, E, top_k, H, I, T, range, slow
CASES = [  # ordered so that a run cut short keeps the most useful cases
    ("s512_e8_t1", 8, 4, 512, 256, 1, "normal", False),
    ("s512_e8_t7", 8, 4, 512, 256, 7, "normal", False),
    ("gptoss_e8_t1", 8, 4, 2880, 2880, 1, "normal", False),
    ("gptoss_e8_t7", 8, 4, 2880, 2880, 7, "normal", False),
    ("s512_e8_t20", 8, 4, 512, 256, 20, "normal", False),
    ("s512_e8_t64", 8, 4, 512, 256, 64, "normal", False),
    ("s512_e8_t300", 8, 4, 512, 256, 300, "normal", False),
    ("s512_e32_t7", 32, 4, 512, 256, 7, "normal", False),
    ("s512_e8_t37_wide", 8, 4, 512, 256, 37, "wide", False),
    ("s512_e32_t64_wide", 32, 4, 512, 256, 64, "wide", False),
    ("gptoss_e8_t64", 8, 4, 2880, 2880, 64, "normal", True),
]


def case_list():
    out = []
    for i, (name, E, K, H, I, T, rng, slow) in enumerate(CASES):
        out.append(dict(name=name, variant="triton_kernels_mxfp4_sm90", E=E, K=K, H=H, I=I, T=T, range=rng, slow=slow,
                        seed=0x6D6F6573696D3136 + 1000 + i,
                        model="gpt-oss-120b shapes (H = I = 2880, top_k 4, swigluoai + biases; 8 experts)"
                        if H == 2880 else "gpt-oss-shaped small problem (swigluoai + biases)"))
    return out


def gen_selftest():
    z = u64(9, W13, np.arange(6, dtype=np.uint64))
    q, s = gen_mxfp4(5, W13, W13_SCALE, 1, 2, 64, "normal")
    vals = {"e2m1": [int(x) for x in gen_e2m1(z)], "ue8m0": [int(x) for x in gen_ue8m0(z, 119, 6)],
            "packed": [int(x) for x in q.reshape(-1)[:8]], "scales": [int(x) for x in s.reshape(-1)],
            "bias": [int(x) for x in gen_bias(5, B13, 1, 4, "normal").view(np.uint32).reshape(-1)]}
    print(json.dumps(vals))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tk-src")
    ap.add_argument("--tk-rev", default="unknown")
    ap.add_argument("--out")
    ap.add_argument("--debug")
    ap.add_argument("--debug-max-bytes", type=int, default=12 << 20)
    ap.add_argument("--asm-dir", help="write PTX/SASS instruction summaries of the compiled kernels here")
    ap.add_argument("--cases", default="")
    ap.add_argument("--gen-selftest", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--asm-only", action="store_true", help="only summarise the kernels already in the cache")
    ap.add_argument("--layout-vectors", help="write hashes of triton_kernels' Hopper swizzles of generated tensors here")
    args = ap.parse_args()
    if args.gen_selftest:
        return gen_selftest()
    if args.asm_only:
        return dump_asm(args.asm_dir)
    cases = case_list()
    if args.list:
        for c in cases:
            print(json.dumps(c))
        return
    if args.layout_vectors:
        return layout_vectors(args)
    if args.cases:
        want = set(args.cases.split(","))
        cases = [c for c in cases if c["name"] in want]
    sys.path.insert(0, os.path.abspath(args.tk_src))
    import torch
    import triton
    import triton_kernels
    import triton_kernels.swiglu
    import triton_kernels.matmul_ogs as mo
    import triton_kernels.matmul_ogs_details.opt_flags as opt_flags
    from triton_kernels.matmul_ogs import (FnSpecs, FusedActivation, GatherIndx, RoutingData, ScatterIndx,
                                           PrecisionConfig, FlexCtx, matmul_ogs)
    from triton_kernels.numerics import InFlexData
    from triton_kernels.tensor import (BIT, Bitmatrix, SparseMatrix, make_ragged_tensor_metadata, FP4,
                                       convert_layout, wrap_torch_tensor)
    from triton_kernels.tensor_details import layout

    assert os.path.abspath(triton_kernels.__file__).startswith(os.path.abspath(args.tk_src)), triton_kernels.__file__
    dev = torch.device("cuda")
    num_warps = 8  # vLLM mxfp4.py: _swizzle_mxfp4(..., num_warps=8) on Hopper
    opt_flags.update_opt_flags_constraints({"split_k": 1})  # _swizzle_mxfp4 on capability 9.0
    flags_log = []
    orig_make = mo.make_opt_flags

    def logged_make(*a, **kw):
        f = orig_make(*a, **kw)
        flags_log.append(dict(block_m=f.block_m, block_n=f.block_n, block_k=f.block_k, num_warps=f.num_warps,
                              num_stages=f.num_stages, group_m=f.group_m, xcd_swizzle=f.xcd_swizzle,
                              split_k=f.split_k, is_persistent=f.is_persistent, epilogue_subtile=f.epilogue_subtile,
                              w_cache_modifier=f.w_cache_modifier))
        return f
    mo.make_opt_flags = logged_make

    def swizzle(q, s):
        # q: [E, N, K/2] uint8 (rows = output features), s: [E, N, K/32] -> triton_kernels [E, K, N]
        vl, vo = layout.make_default_matmul_mxfp4_w_layout(mx_axis=1)
        sl, so = layout.make_default_matmul_mxfp4_w_scale_layout(mx_axis=1, num_warps=num_warps)
        qt = torch.from_numpy(q).to(dev).transpose(-2, -1)
        st = torch.from_numpy(s).to(dev).transpose(-2, -1)
        qt = convert_layout(wrap_torch_tensor(qt, dtype=FP4), vl, **vo)
        st = convert_layout(wrap_torch_tensor(st), sl, **so)
        return qt, st, f"{vl.__name__}{vo} / {sl.__name__}{so}"

    result = {"schema": "moesim.tk_mxfp4_goldens/1", "generator": "moesim.gen/1 (sim/core/counter_gen.hpp)",
              "created_by": "scripts/gpu/capture_triton_kernels_mxfp4.py", "device": torch.cuda.get_device_name(),
              "torch": torch.__version__, "triton": triton.__version__, "cuda": str(torch.version.cuda),
              "triton_kernels": f"{args.tk_rev} python/triton_kernels (loaded from --tk-src)",
              "ranges": RANGES, "swiglu": {"alpha": SWIGLU_ALPHA, "limit": SWIGLU_LIMIT}, "cases": []}
    debug, dbytes = {}, 0
    for c in cases:
        t0 = time.time()
        try:
            E, K, H, I, T, seed, rng = c["E"], c["K"], c["H"], c["I"], c["T"], c["seed"], c["range"]
            hidden = prod.gen_bf16(u64(seed, HIDDEN, np.arange(T * H, dtype=np.uint64)), *RANGES[rng]["hidden"]).reshape(T, H)
            ids, tw = gen_routing(seed, T, E, K)
            q13, s13 = gen_mxfp4(seed, W13, W13_SCALE, E, 2 * I, H, rng)
            q2, s2 = gen_mxfp4(seed, W2, W2_SCALE, E, H, I, rng)
            b13, b2 = gen_bias(seed, B13, E, 2 * I, rng), gen_bias(seed, B2, E, H, rng)
            inter = np.empty(2 * I, np.int64)
            inter[0::2], inter[1::2] = np.arange(I), I + np.arange(I)  # triton row n <- canonical row inter[n]
            w1, w1s, lay = swizzle(q13[:, inter], s13[:, inter])
            w2, w2s, _ = swizzle(q2, s2)
            B1 = torch.from_numpy(b13[:, inter].copy()).to(dev)
            Bb2 = torch.from_numpy(b2).to(dev)
            A = torch.from_numpy(hidden.view(np.int16)).to(dev).view(torch.bfloat16)
            # make_routing_data (vLLM, triton_kernels >= 3.6 branch) with a host-packed bitmatrix
            topk_ids = torch.from_numpy(ids.astype(np.int16)).to(dev)
            topk_w = torch.from_numpy(tw).to(dev).to(torch.bfloat16)
            bm_cols = triton.cdiv(E, 32)
            bits = np.zeros((T, bm_cols), np.uint32)
            for t in range(T):
                for k in range(K):
                    bits[t, ids[t, k] // 32] |= np.uint32(1) << np.uint32(ids[t, k] % 32)
            bitmatrix = Bitmatrix(torch.from_numpy(bits).to(dev), dtype=BIT, shape=[T, bm_cols * 32], shape_max=[T, None])
            topk_w = torch.where(topk_ids == -1, -1.0, topk_w)
            sparse = SparseMatrix(indx=topk_ids, vals=topk_w, mask=bitmatrix)
            dispatch_indx = sparse.mask_metadata.row_sorted_indx
            combine_indx = sparse.mask_metadata.col_sorted_indx
            ragged = make_ragged_tensor_metadata(sparse.mask_metadata.col_sum, dispatch_indx.shape[0])
            gate_scal = sparse.vals.flatten()[combine_indx]
            routing = RoutingData(gate_scal, ragged.block_sizes, E, K, ragged)
            gather = GatherIndx(combine_indx, dispatch_indx)
            scatter = ScatterIndx(dispatch_indx, combine_indx)
            pc1 = PrecisionConfig(weight_scale=w1s, flex_ctx=FlexCtx(rhs_data=InFlexData()))
            pc2 = PrecisionConfig(weight_scale=w2s, flex_ctx=FlexCtx(rhs_data=InFlexData()))
            act = FusedActivation(FnSpecs("swiglu", triton_kernels.swiglu.swiglu_fn, ("alpha", "limit"), reduction_n=2),
                                  (SWIGLU_ALPHA, SWIGLU_LIMIT))
            flags_log.clear()
            # production GEMM1 (fused swiglu) and GEMM2 (gammas, fused scatter, top-k reduce)
            inter_cache = torch.empty((1, T * K, I), device=dev, dtype=torch.bfloat16)
            matmul_ogs(A, w1, B1, routing, gather_indx=gather, precision_config=pc1, gammas=None,
                       fused_activation=act, y=inter_cache)
            out = torch.empty((1, T, H), device=dev, dtype=torch.bfloat16)
            matmul_ogs(inter_cache.view(T * K, I), w2, Bb2, routing, scatter_indx=scatter, precision_config=pc2,
                       gammas=gate_scal, y=out)
            prod_flags = list(flags_log)
            # diagnostics: GEMM1 fp32 acc+bias, GEMM2 rows before the reduce
            pc1f = PrecisionConfig(weight_scale=w1s, flex_ctx=FlexCtx(rhs_data=InFlexData()), out_dtype=torch.float32)
            g1 = matmul_ogs(A, w1, B1, routing, gather_indx=gather, precision_config=pc1f)
            g2 = matmul_ogs(inter_cache.view(T * K, I), w2, Bb2, routing, precision_config=pc2, gammas=gate_scal)
            torch.cuda.synchronize()
            diag_flags = list(flags_log[len(prod_flags):])
            disp = dispatch_indx.cpu().numpy().astype(np.int32)  # slot -> dispatch row
            g1 = g1.view(T * K, 2 * I)[torch.from_numpy(disp).to(dev).long()]
            canon_cols = np.empty(2 * I, np.int64)  # canonical column j <- triton column
            canon_cols[:I], canon_cols[I:] = 2 * np.arange(I), 2 * np.arange(I) + 1
            g1 = g1[:, torch.from_numpy(canon_cols).to(dev)]
            dl = torch.from_numpy(disp).to(dev).long()
            arrays = {
                "dispatch": disp.view(np.uint32),
                "gemm1_acc": g1.contiguous().view(torch.int32).cpu().numpy().view(np.uint32),
                "act_out": inter_cache.view(T * K, I)[dl].contiguous().view(torch.int16).cpu().numpy().view(np.uint16),
                "gemm2_out": g2.view(T * K, H)[dl].contiguous().view(torch.int16).cpu().numpy().view(np.uint16),
                "output": out.view(T, H).contiguous().view(torch.int16).cpu().numpy().view(np.uint16),
            }
            # sanity: fp32 reference of gemm1 from the canonical decode (catches a wrong nibble /
            # interleave convention; not a golden)
            x32 = torch.from_numpy(hidden.view(np.int16)).view(torch.bfloat16).float()
            g1h = arrays["gemm1_acc"].view(np.float32)
            err = 0.0
            for s in range(min(T * K, 8)):
                t, k = divmod(s, K)
                e = ids[t, k]
                w = dequant(q13[e], s13[e])
                ref = (x32[t].numpy().astype(np.float64) @ w.T.astype(np.float64)) + b13[e]
                err = max(err, float(np.max(np.abs(g1h[s] - ref)) / (np.max(np.abs(ref)) + 1e-30)))
            golden = {n: {"hash": hex(hash_words(a)), "count": int(a.size)} for n, a in arrays.items()}
            c = dict(c, golden=golden, opt_flags=prod_flags, diag_opt_flags=diag_flags, layouts=lay,
                     gemm1_ref_max_rel_err=err,
                     expert_hist=np.bincount(ids.reshape(-1), minlength=E).tolist(),
                     seconds=round(time.time() - t0, 2))
        except Exception:  # noqa: BLE001 - one failing case must not lose the others
            import traceback
            c = dict(c, error=traceback.format_exc()[-3000:])
            print(c["error"], file=sys.stderr, flush=True)
            result["cases"].append(c)
            continue
        result["cases"].append(c)
        print(c["name"], c["seconds"], "s err", err, json.dumps(prod_flags)[:400], flush=True)
        with open(args.out + ".tmp", "w") as f:
            json.dump(result, f, indent=1)
        os.replace(args.out + ".tmp", args.out)
        size = sum(a.nbytes for a in arrays.values())
        if args.debug and dbytes + size <= args.debug_max_bytes:
            for n, a in arrays.items():
                debug[f"{c['name']}/{n}"] = a
            dbytes += size
    with open(args.out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(args.out + ".tmp", args.out)
    if args.debug:
        np.savez_compressed(args.debug, **debug)


LAYOUT_CASES = [(512, 512, 11), (320, 192, 12), (2880, 2880, 13), (5760, 2880, 14)]  # (n, k, seed)


def layout_vectors(args):
    """Hashes of the physical (memory-order) bytes triton_kernels stores for canonical generated
    MXFP4 tensors [n, k/2] / [n, k/32] (seed, W13 streams, range normal), one expert; the C++
    test swizzles the same tensors with sim/quant/tk_hopper_layout and compares."""
    sys.path.insert(0, os.path.abspath(args.tk_src))
    import torch
    from triton_kernels.tensor import FP4, convert_layout, wrap_torch_tensor
    from triton_kernels.tensor_details import layout
    dev = torch.device("cuda")
    out = {"schema": "moesim.tk_layout_vectors/1", "triton_kernels": args.tk_rev, "cases": []}
    for n, k, seed in LAYOUT_CASES:
        q, s = gen_mxfp4(seed, W13, W13_SCALE, 1, n, k, "normal")
        vl, vo = layout.make_default_matmul_mxfp4_w_layout(mx_axis=1)
        sl, so = layout.make_default_matmul_mxfp4_w_scale_layout(mx_axis=1, num_warps=8)
        qt = convert_layout(wrap_torch_tensor(torch.from_numpy(q).to(dev).transpose(-2, -1), dtype=FP4), vl, **vo)
        st = convert_layout(wrap_torch_tensor(torch.from_numpy(s).to(dev).transpose(-2, -1)), sl, **so)
        ent = {"n": n, "k": k, "seed": seed}
        for name, t in (("values", qt), ("scales", st)):
            d = t.storage.data
            phys = d.mT  # swizzle_data returns the .mT view of a contiguous tensor
            assert phys.is_contiguous(), (name, d.shape, d.stride())
            a = phys.contiguous().cpu().numpy().reshape(-1)
            ent[name] = {"hash": hex(hash_words(a)), "count": int(a.size), "view_shape": list(d.shape),
                         "view_stride": list(d.stride())}
            # round trip through upstream's own inverse
            try:
                back = t.storage.layout.unswizzle_data(d)
                ref = torch.from_numpy(q if name == "values" else s).to(dev).transpose(-2, -1)
                back = back[..., :ref.shape[-2], :ref.shape[-1]]
                ent[name]["upstream_roundtrip_ok"] = bool(torch.equal(back.contiguous(), ref.contiguous()))
            except Exception as ex:  # noqa: BLE001 - informational only
                ent[name]["upstream_roundtrip_ok"] = f"error: {ex}"
        out["cases"].append(ent)
        print(json.dumps(ent), flush=True)
    with open(args.layout_vectors, "w") as f:
        json.dump(out, f, indent=1)


def dump_asm(out_dir):
    """Instruction summary of every compiled triton_kernels kernel in TRITON_CACHE_DIR."""
    cache = os.environ.get("TRITON_CACHE_DIR", os.path.expanduser("~/.triton/cache"))
    os.makedirs(out_dir, exist_ok=True)
    summary = {}
    keys = ["wgmma", "mma.sync", "ex2.approx", "div.full", "div.rn", "div.approx", "rcp.approx", "mul.bf16x2",
            "fma.rn.bf16x2", "cvt.rn.bf16.f32", "cvt.rn.bf16x2.f32", "min.f32", "max.f32", "fma.rn.f32", "lg2"]
    sass_keys = ["HGMMA", "HMMA", "MUFU.EX2", "MUFU.RCP", "HMUL2.BF16", "HFMA2.BF16", "F2FP.BF16", "FMNMX"]
    for ptx in sorted(glob.glob(os.path.join(cache, "*", "*.ptx"))):
        name = os.path.basename(ptx)[:-4]
        text = open(ptx).read()
        ent = {k: text.count(k) for k in keys}
        ent["wgmma_shapes"] = sorted(set(l.split()[0] for l in text.splitlines() if "wgmma.mma_async" in l))
        ent["div_lines"] = sorted(set(l.strip().split()[0] for l in text.splitlines() if "div." in l or "rcp." in l))
        ent["ex2_lines"] = sorted(set(l.strip().split()[0] for l in text.splitlines() if "ex2." in l))
        cubin = ptx[:-4] + ".cubin"
        if os.path.exists(cubin):
            try:
                sass = subprocess.run(["cuobjdump", "-sass", cubin], capture_output=True, text=True, timeout=120).stdout
                ent["sass"] = {k: sass.count(k) for k in sass_keys}
                ent["sass_hgmma"] = sorted(set(l.split("HGMMA")[1].split()[0] for l in sass.splitlines() if "HGMMA" in l))
                if name.startswith("_matmul_ogs") or "matmul" in name:
                    with open(os.path.join(out_dir, f"{name}_{os.path.basename(os.path.dirname(ptx))[:8]}.sass"), "w") as f:
                        f.write(sass)
            except Exception as ex:  # noqa: BLE001
                ent["sass_error"] = str(ex)
        ttgir = ptx[:-4] + ".ttgir"
        if os.path.exists(ttgir) and "matmul" in name:
            with open(os.path.join(out_dir, f"{name}_{os.path.basename(os.path.dirname(ptx))[:8]}.ttgir"), "w") as f:
                f.write(open(ttgir).read())
            with open(os.path.join(out_dir, f"{name}_{os.path.basename(os.path.dirname(ptx))[:8]}.ptx"), "w") as f:
                f.write(text)
        summary.setdefault(name, []).append(ent)
    with open(os.path.join(out_dir, "asm_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
