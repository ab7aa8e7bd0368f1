#!/usr/bin/python3
"""Compares a trace imported by `moesim import flashinfer-bench` with fib_fixture.py's numpy
values: routing ids exactly, weights to 1e-6 (both sides fp64 softmax cast to f32), hidden
states and weights bit for bit (w13 [gate; up] from the W31 blob).

  check_fib_import.py TRACE.h5 EXPECTED.npz [--no-hidden] [--no-weights]"""
import sys

import h5py
import numpy as np

tr, exp = h5py.File(sys.argv[1], "r"), np.load(sys.argv[2])
flags = sys.argv[3:]
calls = sorted(tr["calls"])
n = len([k for k in exp.files if k.startswith("ids_")])
assert len(calls) == n, (calls, n)
for i, c in enumerate(calls):
    g = tr["calls"][c]
    ids = g["topk_ids"][()]
    assert (ids == exp["ids_%d" % i]).all(), ("ids", i, ids, exp["ids_%d" % i])
    w = g["topk_weights"][()]
    assert np.allclose(w, exp["weights_%d" % i], rtol=1e-6, atol=0), ("weights", i, w, exp["weights_%d" % i])
    assert g.attrs["num_tokens"] == ids.shape[0]
    if "--no-hidden" not in flags:
        assert (g["hidden_states"][()] == exp["hidden_%d" % i]).all(), ("hidden", i)
    else:
        assert "hidden_states" not in g
if "--no-weights" not in flags:
    assert (tr["weights/w13"][()] == exp["w13"]).all(), "w13"
    assert (tr["weights/w2"][()] == exp["w2"]).all(), "w2"
else:
    assert "weights" not in tr
print("ok", len(calls), "calls")
