#!/usr/bin/python3
"""Runs the reference of a definition written by `moesim export flashinfer-bench` (python3-torch,
as flashinfer-bench would) on each exported workload's blobs and compares it with numpy's fp64
MoE of the source trace (w13 [gate; up], act silu(gate) * up): the reference must read fc1 as
W31. Exit 0 within bf16 rounding of the output (|d| <= 2^-7 |ref| + 2^-10).

  check_fib_reference.py ROOT TRACE.h5"""
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch

root, trace = sys.argv[1], h5py.File(sys.argv[2], "r")
d = json.load(open(os.path.join(root, "definitions", "moe", os.listdir(os.path.join(root, "definitions", "moe"))[0])))
ns = {}
exec(compile(d["reference"], "reference", "exec"), ns)
NP = {"BF16": np.uint16, "F32": np.float32, "I32": np.int32}


def load(path, key):
    with open(os.path.join(root, path), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        base = 8 + n
        i = h[key]
        f.seek(base + i["data_offsets"][0])
        a = np.frombuffer(f.read(i["data_offsets"][1] - i["data_offsets"][0]), dtype=NP[i["dtype"]]).reshape(i["shape"])
    t = torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16) if i["dtype"] == "BF16" else torch.from_numpy(a.copy())
    return t


def bf(x):
    return (x.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


w13, w2 = bf(trace["weights/w13"][()]), bf(trace["weights/w2"][()])
I = w2.shape[2]
lines = open(os.path.join(root, "workloads", "moe", d["name"] + ".jsonl")).read().splitlines()
for ci, line in enumerate(lines):
    w = json.loads(line)["workload"]
    args = [load(w["inputs"][n]["path"], w["inputs"][n]["tensor_key"]) for n in d["inputs"]]
    got = ns["run"](*args).to(torch.float32).numpy().astype(np.float64)
    c = trace["calls"]["%04d" % ci]
    x, ids, ws = bf(c["hidden_states"][()]), c["topk_ids"][()], c["topk_weights"][()].astype(np.float64)
    ref = np.zeros_like(x)
    for t in range(x.shape[0]):
        for k in range(ids.shape[1]):
            h = w13[ids[t, k]] @ x[t]
            g, u = h[:I], h[I:]
            ref[t] += ws[t, k] * (w2[ids[t, k]] @ (g / (1 + np.exp(-g)) * u))
    err = np.abs(got - ref)
    assert (err <= 2.0 ** -7 * np.abs(ref) + 2.0 ** -10).all(), (ci, err.max())
    print("call", ci, "max_abs", err.max())
print("ok reference")
