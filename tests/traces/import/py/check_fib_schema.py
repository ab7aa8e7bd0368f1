#!/usr/bin/python3
"""Checks a dataset written by `moesim export flashinfer-bench` against flashinfer-bench's schema
rules (flashinfer_bench/data/definition.py, workload.py, trace.py @40e6ca7) without FIB itself:
Definition required keys, axis kinds, the DType enum, shapes naming defined axes, reference a
module with a top-level run(), input/output names disjoint; workload Traces (solution and
evaluation null), every var axis bound, descriptors random|scalar|safetensors with relative
paths inside the root, blobs that parse as safetensors with the declared shape and dtype.
With --traces FILE, also FIB Trace lines: the workload as exported, Evaluation status enum and
the status -> correctness/performance rule of trace.py's validator.

  check_fib_schema.py ROOT [--traces FILE]"""
import ast
import json
import math
import os
import struct
import sys

DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
          "float4_e2m1": "U8", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "bool": "BOOL"}
STATUS = {"PASSED", "INCORRECT_SHAPE", "INCORRECT_NUMERICAL", "INCORRECT_DTYPE", "RUNTIME_ERROR", "COMPILE_ERROR", "TIMEOUT"}


def st_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        size = os.fstat(f.fileno()).st_size - 8 - n
    end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
    assert end == size, (path, end, size)
    return h


root = sys.argv[1]
defs = os.listdir(os.path.join(root, "definitions", "moe"))
assert len(defs) == 1, defs
d = json.load(open(os.path.join(root, "definitions", "moe", defs[0])))
for k in ("name", "op_type", "axes", "inputs", "outputs", "reference"):
    assert k in d and d[k], "definition lacks " + k
assert set(d) <= {"name", "op_type", "axes", "inputs", "outputs", "reference", "tags", "description", "constraints"}, set(d)
assert defs[0] == d["name"] + ".json" and d["op_type"] == "moe"
for a, v in d["axes"].items():
    assert v["type"] in ("const", "var"), a
    if v["type"] == "const":
        assert isinstance(v["value"], int) and v["value"] >= 0, a
for io in ("inputs", "outputs"):
    for n, s in d[io].items():
        assert s["dtype"] in DTYPES, (n, s["dtype"])
        assert s["shape"] is None or all(x in d["axes"] for x in s["shape"]), n
assert not set(d["inputs"]) & set(d["outputs"])
mod = ast.parse(d["reference"])
assert any(isinstance(x, ast.FunctionDef) and x.name == "run" for x in mod.body), "no run()"
for t in d.get("tags", []):
    assert isinstance(t, str) and t.strip()
var = [a for a, v in d["axes"].items() if v["type"] == "var"]
workloads = {}
for line in open(os.path.join(root, "workloads", "moe", d["name"] + ".jsonl")):
    t = json.loads(line)
    assert set(t) == {"definition", "workload", "solution", "evaluation"}, set(t)
    assert t["definition"] == d["name"] and t["solution"] is None and t["evaluation"] is None
    w = t["workload"]
    assert set(w) == {"uuid", "axes", "inputs"} and w["uuid"]
    assert sorted(w["axes"]) == sorted(var) and all(isinstance(x, int) and x >= 0 for x in w["axes"].values())
    for n, desc in w["inputs"].items():
        spec = d["inputs"][n]
        assert desc["type"] in ("random", "scalar", "safetensors"), desc
        if desc["type"] == "safetensors":
            p = desc["path"]
            assert p and desc["tensor_key"] and not os.path.isabs(p) and ".." not in p.split("/"), p
            h = st_header(os.path.join(root, p))
            info = h[desc["tensor_key"]]
            shape = [d["axes"][a]["value"] if d["axes"][a]["type"] == "const" else w["axes"][a] for a in spec["shape"]]
            assert info["shape"] == shape and info["dtype"] == DTYPES[spec["dtype"]], (n, info, shape)
    assert set(w["inputs"]) == set(d["inputs"]), "every input described"
    workloads[w["uuid"]] = w
if "--traces" in sys.argv:
    lines = open(sys.argv[sys.argv.index("--traces") + 1]).read().splitlines()
    assert len(lines) == len(workloads), (len(lines), len(workloads))
    for line in lines:
        t = json.loads(line)
        assert t["definition"] == d["name"] and isinstance(t["solution"], str) and t["solution"]
        assert t["workload"] == workloads[t["workload"]["uuid"]], "workload as exported"
        e = t["evaluation"]
        assert e["status"] in STATUS and e["environment"]["hardware"] and e["timestamp"]
        assert all(isinstance(v, str) for v in e["environment"]["libs"].values())
        c, p = e.get("correctness"), e.get("performance")
        if e["status"] == "PASSED":
            assert c is not None and p is not None
        elif e["status"] == "INCORRECT_NUMERICAL":
            assert c is not None and p is None
        else:
            assert c is None and p is None
        if c is not None:
            for k in ("max_relative_error", "max_absolute_error"):
                v = c[k]
                assert v in ("NaN", "Infinity") or (isinstance(v, (int, float)) and v >= 0 and not math.isnan(v)), (k, v)
        if p is not None:
            assert all(p[k] >= 0 for k in ("latency_ms", "reference_latency_ms", "speedup_factor"))
        print(e["status"], c["max_absolute_error"] if c else "-")
print("ok", len(workloads), "workloads")
