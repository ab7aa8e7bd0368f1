#!/usr/bin/python3
"""Compares a trace's /calls topk_ids (h5py) with the canned ids a stand-in server sent
(NPZ r0, r1, ...: (tokens, layers, K)) for one layer; one call per request.
  check_routing.py TRACE NPZ LAYER   -> "ok CALLS TOKENS" or exit 1"""
import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
z = np.load(sys.argv[2])
layer = int(sys.argv[3])
calls = sorted(f["calls"].keys())
want = [z[f"r{i}"][:, layer, :] for i in range(len(z.files))]
if len(calls) != len(want):
    sys.exit(f"{len(calls)} calls, {len(want)} requests")
tokens = 0
for c, w in zip(calls, want):
    g = f["calls"][c]
    ids = g["topk_ids"][()]
    if ids.dtype != np.int32 or not np.array_equal(ids, w.astype(np.int32)):
        sys.exit(f"call {c}: ids differ")
    wts = g["topk_weights"][()]
    if not np.all(wts == np.float32(1.0 / w.shape[1])):
        sys.exit(f"call {c}: weights not uniform 1/K")
    if int(g.attrs["layer"]) != layer:
        sys.exit(f"call {c}: layer attr {g.attrs['layer']}")
    tokens += ids.shape[0]
print("ok", len(calls), tokens)
