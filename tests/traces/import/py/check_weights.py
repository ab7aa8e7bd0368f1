#!/usr/bin/python3
"""Decodes a moesim trace's /weights with h5py + numpy from the trace-format definitions
(docs/trace-format.md: e2m1x2 low nibble first, ue4m3 / ue8m0 / f32 block scales, per-expert
global scales) and compares every expert with EXPECTED_DIR/{w13,w2}_eE.npy exactly; expert
biases (f32 GROUP/{w13,w2}_bias [E, N]) with EXPECTED_DIR/{w13,w2}_bias_eE.npy when either side
has them (one side only is a mismatch).
  check_weights.py TRACE EXPECTED_DIR [GROUP]   -> prints "ok N [biases M]" or the first mismatch, exit 1
GROUP: the weights group (default "weights"; a multi-layer trace's "layers/0003/weights").
"""
import os
import sys

import h5py
import numpy as np

FP4 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6])


def e4m3(code):
    code = code.astype(np.int64)
    s = np.where(code & 0x80, -1.0, 1.0)
    e, m = (code >> 3) & 0xF, code & 7
    return s * np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * 2.0 ** (e - 7))


def decode(ds, sc, gs, e):
    dt = ds.attrs["dtype"]
    dt = dt.decode() if isinstance(dt, bytes) else dt
    w = ds[e]
    if dt == "bf16":
        return (w.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if dt == "fp8_e4m3fn":
        v = e4m3(w)
        s = sc[e].astype(np.float64)
        if s.ndim == 0:
            return v * s
        return v * np.repeat(np.repeat(s, 128, 0), 128, 1)[: v.shape[0], : v.shape[1]]
    if dt == "e2m1x2":
        v = FP4[np.stack([w & 0xF, w >> 4], -1).reshape(w.shape[0], -1)]
        sdt = sc.attrs["dtype"]
        sdt = sdt.decode() if isinstance(sdt, bytes) else sdt
        s = e4m3(sc[e]) if sdt == "ue4m3" else 2.0 ** (sc[e].astype(np.float64) - 127)
        blk = v.shape[1] // s.shape[1]
        v = v * np.repeat(s, blk, 1)
        return v * float(gs[e]) if gs is not None else v
    raise SystemExit(f"unknown dtype {dt}")


def main():
    f = h5py.File(sys.argv[1], "r")
    g = sys.argv[3] if len(sys.argv) > 3 else "weights"
    n = 0
    for which in ("w13", "w2"):
        ds = f[g + "/" + which]
        sc = f.get(f"{g}/{which}_scale")
        gs = f.get(f"{g}/{which}_global_scale")
        for e in range(ds.shape[0]):
            want = np.load(f"{sys.argv[2]}/{which}_e{e}.npy")
            got = decode(ds, sc, gs[()] if gs is not None else None, e)
            if got.shape != want.shape or not np.array_equal(got, want):
                bad = np.argwhere(got != want)[0] if got.shape == want.shape else "shape"
                print(f"mismatch {which} expert {e}: got shape {got.shape} want {want.shape}, first at {bad}")
                sys.exit(1)
            n += 1
    nb = 0
    for which in ("w13", "w2"):
        ds = f.get(f"{g}/{which}_bias")
        want0 = f"{sys.argv[2]}/{which}_bias_e0.npy"
        if ds is None and not os.path.exists(want0):
            continue
        if ds is None or not os.path.exists(want0):
            print(f"mismatch {which}_bias: in the trace {ds is not None}, expected {os.path.exists(want0)}")
            sys.exit(1)
        if ds.dtype != np.float32:
            print(f"mismatch {which}_bias: stored as {ds.dtype}, expected float32")
            sys.exit(1)
        for e in range(ds.shape[0]):
            want = np.load(f"{sys.argv[2]}/{which}_bias_e{e}.npy")
            got = ds[e].astype(np.float64)
            if got.shape != want.shape or not np.array_equal(got, want):
                bad = np.argwhere(got != want)[0] if got.shape == want.shape else "shape"
                print(f"mismatch {which}_bias expert {e}: got shape {got.shape} want {want.shape}, first at {bad}")
                sys.exit(1)
            nb += 1
    print("ok", n, f"biases {nb}" if nb else "")


if __name__ == "__main__":
    main()
