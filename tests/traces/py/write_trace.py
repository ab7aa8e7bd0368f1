"""Writes a trace with h5py exactly as docs/trace-format.md describes (independent of moesim's
C++ writer), with deterministic content the C++ test checks value by value."""
import sys

import h5py
import numpy as np

path = sys.argv[1]
T, K, E, H, I = 5, 2, 4, 8, 6
with h5py.File(path, "w") as f:
    f.attrs["format"] = "moesim-trace"
    f.attrs["format_version"] = 1
    f.attrs["created_by"] = "h5py"
    m = f.create_group("model")
    for k, v in dict(num_experts=E, top_k=K, hidden=H, intermediate=I, num_shared_experts=0).items():
        m.attrs[k] = v
    m.attrs["activation"] = "silu"
    m.attrs["gated"] = np.bool_(True)  # numpy bool (an HDF5 enum) must be accepted too
    m.attrs["quant"] = "bf16"
    m.attrs["name"] = "h5py-made"
    ctx = f.create_group("context")
    ctx.attrs["device"] = "sm90"
    ctx.attrs["ep"] = 2
    ctx.create_group("env").attrs["VLLM_FUSED_MOE_CHUNK_SIZE"] = "32768"
    c = f.create_group("calls/0000")
    c.attrs["num_tokens"] = T
    c["topk_ids"] = (np.arange(T * K, dtype=np.int32).reshape(T, K) % E)
    c["topk_weights"] = np.linspace(0.1, 1.0, T * K, dtype=np.float32).reshape(T, K)
    x = np.linspace(-2, 2, T * H, dtype=np.float32).reshape(T, H)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # truncation is fine: any bf16 bits do
    d = c.create_dataset("hidden_states", data=bits)
    d.attrs["dtype"] = "bf16"
    w = f.create_group("weights")
    w13 = np.arange(E * 2 * I * H, dtype=np.uint16).reshape(E, 2 * I, H) & 0x3FFF  # finite bf16
    w2 = (np.arange(E * H * I, dtype=np.uint16).reshape(E, H, I) + 7) & 0x3FFF
    w.create_dataset("w13", data=w13, chunks=(1, 2 * I, H)).attrs["dtype"] = "bf16"
    w.create_dataset("w2", data=w2, chunks=(1, H, I)).attrs["dtype"] = "bf16"
