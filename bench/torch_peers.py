#!/usr/bin/env python3
"""PyTorch CPU peers for the moesim benches (same trace, same run, same machine).

Usage:
  torch_peers.py moe DIR THREADS [REPS]   MoE layer from the raw dumps bench_replay_* writes
  torch_peers.py gemm M N K THREADS [REPS] one fp32 / bf16 GEMM of that size

DIR holds meta.json, hidden.u16 [T,H] bf16 bits, ids.i32 [T,K], weights.f32 [T,K],
w13.u16 [E,N1,H], w2.u16 [E,H,I]. The MoE is the plain "sorted, one matmul per expert"
formulation: slots sorted by expert once, then per expert x[tok] @ w13^T, silu(gate) * up,
@ w2^T, weighted index_add. Timed twice per thread count (fp32 and bf16 weights/activations),
best of REPS, compute only (weights already widened / converted, routing sort included).

Prints machine-readable lines `key=value` (the C++ benches parse them):
  blas=..., blas_kernel=..., torch=..., mkldnn=...
  moe_fp32_t<threads>=<s>   moe_bf16_t<threads>=<s>   (for threads 1 and THREADS; wall)
  gemm_fp32_t<threads>=<s>  gemm_bf16_t<threads>=<s>
  and the same keys with a _cpu suffix: that run's process CPU seconds (all threads), which a
  loaded machine inflates far less than the wall time.
Which BLAS runs is reported from the libraries actually mapped into this process: the
threadpoolctl view if that module is present, and openblas_get_corename() through ctypes.
The caller is expected to have cleared OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for this process
(they force an older, slower kernel on some CPUs); both are printed as seen here.
"""
import ctypes
import json
import os
import sys
import time

import numpy as np
import torch


def blas_report():
    """Prints which BLAS library (and OpenBLAS kernel) this process has loaded."""
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        print(f"env_{var}={os.environ.get(var, '<unset>')}")
    print(f"torch={torch.__version__}")
    print(f"mkldnn={int(torch.backends.mkldnn.is_available())}")
    # Force the BLAS to load (torch loads libblas lazily on some builds).
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("blas" in parts[-1] or "lapack" in parts[-1]):
                if parts[-1] not in libs:
                    libs.append(parts[-1])
    print("blas_libs=" + ",".join(os.path.realpath(p) for p in libs))
    kernel = "unknown"
    for p in libs:
        try:
            lib = ctypes.CDLL(p)
            fn = lib.openblas_get_corename
            fn.restype = ctypes.c_char_p
            kernel = fn().decode()
            cfg = lib.openblas_get_config
            cfg.restype = ctypes.c_char_p
            print(f"openblas_config={cfg().decode()}")
            break
        except (OSError, AttributeError):
            continue
    if kernel == "unknown" and any("openblas" not in os.path.realpath(p) for p in libs):
        kernel = "netlib-reference"
    print(f"blas_kernel={kernel}")
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                print(f"threadpoolctl={info.get('internal_api')} {info.get('version')} "
                      f"arch={info.get('architecture')} threads={info.get('num_threads')}")
    except ImportError:
        print("threadpoolctl=<not installed>")


def bf16_to_f32(a):
    return torch.from_numpy((a.astype(np.uint32) << 16).view(np.float32))


def best_of(reps, fn):
    """(wall, process CPU) seconds of the fastest of `reps` runs (all threads' CPU time)."""
    best = (float("inf"), 0.0)
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        w, c = time.perf_counter() - t0, time.process_time() - c0
        if w < best[0]:
            best = (w, c)
    return best


def moe(d, threads, reps):
    m = json.load(open(os.path.join(d, "meta.json")))
    T, K, E, H, I = m["T"], m["K"], m["E"], m["H"], m["I"]
    x32 = bf16_to_f32(np.fromfile(os.path.join(d, "hidden.u16"), dtype=np.uint16)).view(T, H)
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "ids.i32"), dtype=np.int32)).view(T, K).long()
    w = torch.from_numpy(np.fromfile(os.path.join(d, "weights.f32"), dtype=np.float32)).view(T, K)
    w13_32 = bf16_to_f32(np.fromfile(os.path.join(d, "w13.u16"), dtype=np.uint16)).view(E, 2 * I, H)
    w2_32 = bf16_to_f32(np.fromfile(os.path.join(d, "w2.u16"), dtype=np.uint16)).view(E, H, I)
    # Transposed once (weights are static): each expert's matmul is x @ W^T with W^T contiguous.
    sets = {"fp32": (x32, w13_32.transpose(1, 2).contiguous(), w2_32.transpose(1, 2).contiguous(), torch.float32)}
    sets["bf16"] = (x32.bfloat16(), sets["fp32"][1].bfloat16(), sets["fp32"][2].bfloat16(), torch.bfloat16)
    outs = {}

    def run(x, w13t, w2t, dt):
        flat = ids.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=E).tolist()
        tok = order // K
        wts = w.reshape(-1)[order].to(dt).unsqueeze(1)
        out = torch.zeros(T, H, dtype=dt)
        xs = x[tok]
        start = 0
        for e in range(E):
            n = counts[e]
            if n == 0:
                continue
            sl = slice(start, start + n)
            h = xs[sl] @ w13t[e]
            a = torch.nn.functional.silu(h[:, :I]) * h[:, I:]
            y = (a @ w2t[e]) * wts[sl]
            out.index_add_(0, tok[sl], y)
            start += n
        return out

    for nt in sorted({1, threads}):
        torch.set_num_threads(nt)
        for name, (x, w13t, w2t, dt) in sets.items():
            w, c = best_of(reps, lambda: outs.__setitem__(name, run(x, w13t, w2t, dt)))
            print(f"moe_{name}_t{nt}={w:.6f}", flush=True)
            print(f"moe_{name}_t{nt}_cpu={c:.6f}", flush=True)
    outs["fp32"].numpy().astype(np.float32).tofile(os.path.join(d, "torch_out.f32"))


def gemm(M, N, K, threads, reps):
    g = torch.Generator().manual_seed(7)
    a = torch.randn(M, K, generator=g)
    b = torch.randn(K, N, generator=g)
    ab, bb = a.bfloat16(), b.bfloat16()
    for nt in sorted({1, threads}):
        torch.set_num_threads(nt)
        for name, (x, y) in (("fp32", (a, b)), ("bf16", (ab, bb))):
            w, c = best_of(reps, lambda: x @ y)
            print(f"gemm_{name}_t{nt}={w:.6f}", flush=True)
            print(f"gemm_{name}_t{nt}_cpu={c:.6f}", flush=True)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("moe", "gemm"):
        print(__doc__, file=sys.stderr)
        return 2
    blas_report()
    if sys.argv[1] == "moe":
        moe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3)
    else:
        M, N, K, nt = (int(v) for v in sys.argv[2:6])
        gemm(M, N, K, nt, int(sys.argv[6]) if len(sys.argv) > 6 else 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
