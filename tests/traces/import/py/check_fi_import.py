#!/usr/bin/python3
"""Checks a trace imported from a FlashInfer dump against the fixture's expected.npz (h5py).
  check_fi_import.py TRACE NPZ [--no-weights] [--no-hidden] [--no-golden]
Every call must carry the expected routing; hidden/golden/weights compared bit for bit."""
import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
z = np.load(sys.argv[2])
opts = set(sys.argv[3:])
for c in sorted(f["calls"]):
    g = f["calls"][c]
    if not np.array_equal(g["topk_ids"][()], z["ids"]):
        sys.exit(f"call {c}: topk_ids differ: {g['topk_ids'][()].tolist()} vs {z['ids'].tolist()}")
    if not np.array_equal(g["topk_weights"][()], z["weights"].astype(np.float32)):
        sys.exit(f"call {c}: topk_weights differ")
    if "--no-hidden" not in opts and not np.array_equal(g["hidden_states"][()], z["hidden"]):
        sys.exit(f"call {c}: hidden_states differ")
    if "--no-golden" not in opts and not np.array_equal(g["golden/output"][()], z["golden"]):
        sys.exit(f"call {c}: golden differs")
if "--no-weights" not in opts:
    if not np.array_equal(f["weights/w13"][()], z["w13"]) or not np.array_equal(f["weights/w2"][()], z["w2"]):
        sys.exit("weights differ (W31 -> [gate; up]?)")
print("ok", len(f["calls"]))
