"""Reads a trace written by `moesim synth` with h5py and checks it against the spec: exit 0
and prints the checks, or exits 1 naming the first violation."""
import sys

import h5py
import numpy as np

path, T, K, E, H, I = sys.argv[1], *map(int, sys.argv[2:7])
with h5py.File(path, "r") as f:
    assert f.attrs["format"] == "moesim-trace", f.attrs["format"]
    assert int(f.attrs["format_version"]) == 1
    m = f["model"].attrs
    assert (int(m["num_experts"]), int(m["top_k"]), int(m["hidden"]), int(m["intermediate"])) == (E, K, H, I)
    c = f["calls/0000"]
    assert int(c.attrs["num_tokens"]) == T
    ids, w = c["topk_ids"][...], c["topk_weights"][...]
    assert ids.dtype == np.int32 and ids.shape == (T, K), (ids.dtype, ids.shape)
    assert w.dtype == np.float32 and w.shape == (T, K)
    assert ((ids >= 0) & (ids < E)).all()
    assert all(len(set(r)) == K for r in ids.tolist()), "duplicate expert in a token"
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-6)
    h = c["hidden_states"]
    assert h.attrs["dtype"] == "bf16" and h.dtype == np.uint16 and h.shape == (T, H)
    x = (h[...].astype(np.uint32) << 16).view(np.float32)
    assert np.isfinite(x).all() and 0.5 < x.std() < 1.5, x.std()
    w13 = f["weights/w13"]
    assert w13.shape == (E, 2 * I, H) and w13.chunks == (1, 2 * I, H), (w13.shape, w13.chunks)
    assert f["weights/w2"].shape == (E, H, I)
    print("ok", ids[:2].tolist(), float(x.std()))
