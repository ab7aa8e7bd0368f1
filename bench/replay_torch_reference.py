#!/usr/bin/env python3
"""PyTorch CPU fp32 reference MoE for bench_replay_qwen3 (same trace, same run).

Reads the raw little-endian dumps the bench writes (meta.json, hidden.u16 [T,H] bf16 bits,
ids.i32 [T,K], weights.f32 [T,K], w13.u16 [E,N1,H], w2.u16 [E,H,I]), computes the MoE in fp32
(grouped per expert: x @ w13^T, silu(gate) * up, @ w2^T, weighted index_add) and prints
`torch_fp32_seconds=<s>` (compute only, weights already widened) and the output checksum.
"""
import json
import os
import sys
import time

import numpy as np
import torch


def bf16_to_f32(a):
    return torch.from_numpy((a.astype(np.uint32) << 16).view(np.float32))


def main():
    d = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if threads > 0:
        torch.set_num_threads(threads)
    m = json.load(open(os.path.join(d, "meta.json")))
    T, K, E, H, I = m["T"], m["K"], m["E"], m["H"], m["I"]
    x = bf16_to_f32(np.fromfile(os.path.join(d, "hidden.u16"), dtype=np.uint16)).view(T, H)
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "ids.i32"), dtype=np.int32)).view(T, K).long()
    w = torch.from_numpy(np.fromfile(os.path.join(d, "weights.f32"), dtype=np.float32)).view(T, K)
    w13 = bf16_to_f32(np.fromfile(os.path.join(d, "w13.u16"), dtype=np.uint16)).view(E, 2 * I, H)
    w2 = bf16_to_f32(np.fromfile(os.path.join(d, "w2.u16"), dtype=np.uint16)).view(E, H, I)
    t0 = time.perf_counter()
    out = torch.zeros(T, H, dtype=torch.float32)
    for e in range(E):
        tok, kk = torch.nonzero(ids == e, as_tuple=True)
        if tok.numel() == 0:
            continue
        h = x[tok] @ w13[e].t()
        a = torch.nn.functional.silu(h[:, :I]) * h[:, I:]
        y = a @ w2[e].t()
        out.index_add_(0, tok, y * w[tok, kk].unsqueeze(1))
    dt = time.perf_counter() - t0
    print(f"torch_fp32_seconds={dt:.6f}")
    print(f"torch_threads={torch.get_num_threads()}")
    out.numpy().astype(np.float32).tofile(os.path.join(d, "torch_out.f32"))


if __name__ == "__main__":
    main()
