#!/usr/bin/env python3
"""Record torch's bf16 grouped GEMM (torch._grouped_mm, CUTLASS SM90 grouped kernel on H100)
on random operands spanning many binades, with the instruction the kernel ran (from the
profiler's kernel name), into one small HDF5 file for tests/sim/mma/torch_grouped_mm_test.cpp.

  python3 scripts/gpu/capture_torch_grouped_mm.py OUT.h5 [--seed S]

Datasets: a [M, K] bf16 bits (uint16), b [G, K, N] bf16 bits, offs [G] int32 (cumulative row
ends), out [M, N] bf16 bits; attributes: torch version, device name, kernel names.
"""
import argparse

import h5py
import numpy as np
import torch


def operands(rng, shape, spread):
    # Normal values times 2^U(-spread, spread), a few exact zeros and subnormal-range values.
    x = rng.standard_normal(shape).astype(np.float32)
    x *= np.exp2(rng.integers(-spread, spread + 1, size=shape)).astype(np.float32)
    x[rng.random(shape) < 0.02] = 0.0
    return torch.from_numpy(x).to(torch.bfloat16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    G, K, N = 4, 256, 64
    rows = [16, 48, 8, 56]  # M per group (multiples of 8; torch needs 16-byte aligned rows)
    offs = np.cumsum(rows).astype(np.int32)
    M = int(offs[-1])
    a = operands(rng, (M, K), 6)
    b = operands(rng, (G, K, N), 6)
    # Half the rows carry a cancelling pair a[m,48] = +2^24 u, a[m,80] = -2^24 u against equal
    # weights b[:,48,:] = b[:,80,:]: the exact products cancel, but the small terms fused with
    # them (and, in one chain, the k16 steps between them, where C ~ 2^24) are truncated away.
    # That separates one in-order chain from a per-64-K-tile restart and from an exact sum at
    # bf16 precision, which random data alone does not.
    b[:, 80, :] = b[:, 48, :]
    big = torch.from_numpy((np.exp2(24) * rng.choice([-1.5, -1.0, 1.0, 1.25], size=M)).astype(np.float32)).to(torch.bfloat16)
    for m in range(0, M, 2):
        a[m, 48] = big[m]
        a[m, 80] = -big[m]
    dev = torch.device("cuda")
    # torch._grouped_mm wants mat_b "transposed" (column-major K x N): pass b^T contiguous, viewed back.
    bt = b.transpose(1, 2).contiguous().to(dev)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        out = torch._grouped_mm(a.to(dev), bt.transpose(1, 2), offs=torch.from_numpy(offs).to(dev))
        torch.cuda.synchronize()
    kernels = sorted({e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA})
    out = out.cpu()
    with h5py.File(args.out, "w") as f:
        f["a"] = a.view(torch.int16).numpy().view(np.uint16)
        f["b"] = b.view(torch.int16).numpy().view(np.uint16)
        f["offs"] = offs
        f["out"] = out.view(torch.int16).numpy().view(np.uint16)
        f.attrs["torch"] = str(torch.__version__)
        f.attrs["device"] = str(torch.cuda.get_device_name())
        f.attrs["kernels"] = "; ".join(kernels)
        f.attrs["op"] = "torch._grouped_mm(a [M,K] bf16, b [G,K,N] bf16 (column-major), offs) -> bf16 [M,N]"
    print("kernels:", kernels)
    print("wrote", args.out, "M", M, "K", K, "N", N, "G", G)


if __name__ == "__main__":
    main()
