#!/usr/bin/python3
"""flashinfer-bench (FIB) MoE definitions + workloads in the real formats, written with plain
Python + numpy (safetensors by hand: 8-byte LE header length, JSON header, byte buffer).

  fib_fixture.py CASE ROOT
CASE:
  fi-fp4     a definition as FlashInfer's fi_trace emits it (tests/trace/fi_trace_out/
             moe_fp4_block_scale_*.json): dtype "uint8" for packed FP4, "unknown" for optional
             tensors not passed, extra top-level keys check/init, no reference; renormalize
             routing from bf16 routing_logits; bare Workload lines; blobs beside the JSONL.
  fib-bf16   FIB canonical spellings (float32 logits, bfloat16 weights W31, reference with run()),
             default routing, the dataset-root layout (definitions/, workloads/, blob/) and
             workload-Trace lines ({definition, workload, solution: null, evaluation: null}).
  fib-random as fib-bf16 but routing_logits {"type": "random"}.
  fib-ds     fp8 block-scale, DeepSeekV3 routing (routing_bias, n_group/topk_group, routed_scaling_factor),
             FIB's older "float8_e4m3" spelling, fp8 activations, weights {"type": "random"}.
  bad-json | shape | escape | symlink | offsets | dtype | blob-dtype | op-type | missing-input | axis |
  unknown-type:
             fib-bf16 with one hostile change.
Writes ROOT/expected.npz (per call ids_<n>, weights_<n>, hidden_<n>; w13 [gate; up], w2) for
check_fib_import.py. Model: E=4, K=2, H=64, I=32; calls of T=3 and T=5 tokens."""
import json
import os
import struct
import sys

import numpy as np

E, K, H, I = 4, 2, 64, 32
TS = [3, 5]
rng = np.random.default_rng(15)


def bf16(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_val(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_st(path, tensors, break_offsets=False):
    header, off, blobs = {}, 0, []
    for name, (dt, a) in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if break_offsets:  # last tensor ends past the buffer
        last = list(header)[-1]
        header[last]["data_offsets"][1] += 64
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def softmax(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def route(logits, method):
    """fp64 routing as FI's references describe it (ties: lower id first, stable)."""
    ids, ws = [], []
    for row in logits.astype(np.float64):
        p = softmax(row) if method == 0 else row
        idx = np.argsort(-p, kind="stable")[:K]
        top = p[idx]
        if method == 1:
            top = softmax(top)
        ids.append(idx.astype(np.int32))
        ws.append(top.astype(np.float32))
    return np.array(ids), np.array(ws)


def axes_common(fp4):
    a = {
        "seq_len": {"type": "var", "description": "Number of tokens."},
        "num_experts": {"type": "const", "value": E, "description": "Total number of experts."},
        "top_k": {"type": "const", "value": K},
        "num_local_experts": {"type": "const", "value": E},
        "hidden_size": {"type": "const", "value": H},
        "intermediate_size": {"type": "const", "value": I},
        "gemm1_out_size": {"type": "const", "value": 2 * I},
    }
    if fp4:
        a.update({
            "num_packed_hidden": {"type": "const", "value": H // 2},
            "num_fp4_hidden_blocks": {"type": "const", "value": H // 16},
            "num_packed_intermediate": {"type": "const", "value": I // 2},
            "num_fp4_intermediate_blocks": {"type": "const", "value": I // 16},
        })
    return a


def fi_fp4(root):
    name = "moe_fp4_block_scale_renormalize_routing_topk2_e4_h64_i32"
    opt = lambda shape: {"shape": shape, "dtype": "unknown", "optional": True, "description": "Optional."}
    d = {
        "name": name,
        "description": "NvFP4 block-scale MoE with Renormalize routing (TopK -> Softmax).",
        "op_type": "moe",
        "tags": ["fi_api:flashinfer.fused_moe.core.trtllm_fp4_block_scale_moe", "status:experimental", "quantization:nvfp4"],
        "axes": axes_common(True),
        "inputs": {
            "routing_logits": {"shape": ["seq_len", "num_experts"], "dtype": "bfloat16"},
            "routing_bias": opt(["num_experts"]),
            "hidden_states": {"shape": ["seq_len", "num_packed_hidden"], "dtype": "uint8", "description": "NvFP4-packed (uint8, 2 fp4 per byte)."},
            "hidden_states_scale": {"shape": ["seq_len", "num_fp4_hidden_blocks"], "dtype": "float8_e4m3fn", "optional": True},
            "gemm1_weights": {"shape": ["num_local_experts", "gemm1_out_size", "num_packed_hidden"], "dtype": "uint8"},
            "gemm1_weights_scale": {"shape": ["num_local_experts", "gemm1_out_size", "num_fp4_hidden_blocks"], "dtype": "float8_e4m3fn"},
            "gemm1_bias": opt(["num_local_experts", "gemm1_out_size"]),
            "gemm1_alpha": opt(["num_local_experts"]),
            "gemm2_weights": {"shape": ["num_local_experts", "hidden_size", "num_packed_intermediate"], "dtype": "uint8"},
            "gemm2_weights_scale": {"shape": ["num_local_experts", "hidden_size", "num_fp4_intermediate_blocks"], "dtype": "float8_e4m3fn"},
            "output1_scale_scalar": {"shape": ["num_local_experts"], "dtype": "float32", "optional": True},
            "local_expert_offset": {"shape": None, "dtype": "int32"},
            "routed_scaling_factor": {"shape": None, "dtype": "float32", "optional": True},
        },
        "outputs": {"output": {"shape": ["seq_len", "hidden_size"], "dtype": "bfloat16"}},
        "check": "def check(outputs, reference):\n    return True\n",
        "init": "def init(seq_len):\n    return {}\n",
    }
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, name + ".json"), "w") as f:
        json.dump(d, f, indent=2)
    exp = {}
    w1 = rng.integers(0, 256, (E, 2 * I, H // 2), dtype=np.uint8)
    w1s = rng.integers(0x20, 0x48, (E, 2 * I, H // 16), dtype=np.uint8)
    w2 = rng.integers(0, 256, (E, H, I // 2), dtype=np.uint8)
    w2s = rng.integers(0x20, 0x48, (E, H, I // 16), dtype=np.uint8)
    lines = []
    for n, T in enumerate(TS):
        logits = bf16(rng.standard_normal((T, E)).astype(np.float32))
        hid = rng.integers(0, 256, (T, H // 2), dtype=np.uint8)
        hsc = rng.integers(0x20, 0x48, (T, H // 16), dtype=np.uint8)
        uuid = "f1f0%04d-0000-4000-8000-00000000000%d" % (n, n)
        blob = "blob_%d.safetensors" % n
        write_st(os.path.join(root, blob), {"routing_logits": ("BF16", logits), "hidden_states": ("U8", hid), "hidden_states_scale": ("F8_E4M3", hsc),
                                            "gemm1_weights": ("U8", w1), "gemm1_weights_scale": ("F8_E4M3", w1s),
                                            "gemm2_weights": ("U8", w2), "gemm2_weights_scale": ("F8_E4M3", w2s)})
        st = lambda k: {"type": "safetensors", "path": blob, "tensor_key": k}
        lines.append({"uuid": uuid, "axes": {"seq_len": T}, "inputs": {
            "routing_logits": st("routing_logits"), "hidden_states": st("hidden_states"), "hidden_states_scale": st("hidden_states_scale"),
            "gemm1_weights": st("gemm1_weights"), "gemm1_weights_scale": st("gemm1_weights_scale"),
            "gemm2_weights": st("gemm2_weights"), "gemm2_weights_scale": st("gemm2_weights_scale"),
            "local_expert_offset": {"type": "scalar", "value": 0}, "routed_scaling_factor": {"type": "scalar", "value": 1.0}}})
        ids, ws = route(bf16_val(logits), 1)
        exp["ids_%d" % n], exp["weights_%d" % n] = ids, ws
    with open(os.path.join(root, name + ".jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    np.savez(os.path.join(root, "expected.npz"), **exp)


def fib_bf16(root, case):
    name = "moe_bf16_default_routing_topk2_e4_h64_i32"
    d = {
        "name": name,
        "op_type": "moe",
        "description": "bf16 MoE, default routing (softmax -> top-k).",
        "tags": ["fi_api:flashinfer.fused_moe.core.trtllm_bf16_moe", "status:verified"],
        "axes": axes_common(False),
        "inputs": {
            "routing_logits": {"shape": ["seq_len", "num_experts"], "dtype": "float32"},
            "hidden_states": {"shape": ["seq_len", "hidden_size"], "dtype": "bfloat16"},
            "gemm1_weights": {"shape": ["num_experts", "gemm1_out_size", "hidden_size"], "dtype": "bfloat16"},
            "gemm2_weights": {"shape": ["num_experts", "hidden_size", "intermediate_size"], "dtype": "bfloat16"},
            "local_expert_offset": {"shape": None, "dtype": "int32"},
        },
        "outputs": {"output": {"shape": ["seq_len", "hidden_size"], "dtype": "bfloat16"}},
        "reference": "import torch\n\ndef run(routing_logits, hidden_states, gemm1_weights, gemm2_weights, local_expert_offset):\n    raise NotImplementedError\n",
    }
    if case == "dtype":
        d["inputs"]["hidden_states"]["dtype"] = "float8_e4m3fnuz"
    if case == "op-type":
        d["op_type"] = "gemm"
    if case == "axis":
        d["inputs"]["gemm2_weights"]["shape"][2] = "inter_size"
    os.makedirs(os.path.join(root, "definitions", "moe"), exist_ok=True)
    with open(os.path.join(root, "definitions", "moe", name + ".json"), "w") as f:
        json.dump(d, f, indent=1)
    w31 = bf16(rng.standard_normal((E, 2 * I, H)).astype(np.float32) * 0.1)
    w2 = bf16(rng.standard_normal((E, H, I)).astype(np.float32) * 0.1)
    exp = {"w13": np.concatenate([w31[:, I:], w31[:, :I]], axis=1), "w2": w2}
    lines = []
    for n, T in enumerate(TS):
        uuid = "b0b0%04d-1111-4111-8111-11111111111%d" % (n, n)
        rel = "blob/workloads/moe/%s/%s_%s.safetensors" % (name, name, uuid)
        logits = rng.standard_normal((T, E)).astype(np.float32)
        hid = bf16(rng.standard_normal((T, H)).astype(np.float32))
        tensors = {"routing_logits": ("F32", logits), "hidden_states": ("BF16", hid if not (case == "shape" and n == 1) else hid[:, : H // 2])}
        if case == "blob-dtype" and n == 1:
            tensors["hidden_states"] = ("F16", hid)
        if n == 0:
            tensors.update({"gemm1_weights": ("BF16", w31), "gemm2_weights": ("BF16", w2)})
        write_st(os.path.join(root, rel), tensors, break_offsets=(case == "offsets" and n == 1))
        st = lambda k, p=rel: {"type": "safetensors", "path": p, "tensor_key": k}
        w0 = "blob/workloads/moe/%s/%s_%s.safetensors" % (name, name, "b0b00000-1111-4111-8111-111111111110")
        inputs = {"routing_logits": st("routing_logits") if case != "fib-random" else {"type": "random"},
                  "hidden_states": st("hidden_states"),
                  "gemm1_weights": st("gemm1_weights", w0), "gemm2_weights": st("gemm2_weights", w0),
                  "local_expert_offset": {"type": "scalar", "value": 0}}
        if case == "escape" and n == 1:
            write_st(os.path.join(os.path.dirname(os.path.abspath(root)), "outside.safetensors"), {"hidden_states": ("BF16", hid)})
            inputs["hidden_states"] = st("hidden_states", "blob/../../outside.safetensors")
        if case == "symlink" and n == 1:
            out = os.path.join(os.path.dirname(os.path.abspath(root)), "outside_dir")
            write_st(os.path.join(out, "h.safetensors"), {"hidden_states": ("BF16", hid)})
            os.symlink(out, os.path.join(root, "blob", "link"))
            inputs["hidden_states"] = st("hidden_states", "blob/link/h.safetensors")
        if case == "missing-input" and n == 1:
            del inputs["hidden_states"]
        if case == "unknown-type" and n == 1:
            inputs["hidden_states"] = {"type": "npy", "path": rel}
        lines.append({"definition": name, "workload": {"uuid": uuid, "axes": {"seq_len": T}, "inputs": inputs}, "solution": None, "evaluation": None})
        ids, ws = route(logits, 0)
        exp["ids_%d" % n], exp["weights_%d" % n], exp["hidden_%d" % n] = ids, ws, hid
    os.makedirs(os.path.join(root, "workloads", "moe"), exist_ok=True)
    with open(os.path.join(root, "workloads", "moe", name + ".jsonl"), "w") as f:
        for i, l in enumerate(lines):
            s = json.dumps(l)
            if case == "bad-json" and i == 1:
                s = s[: len(s) // 2]
            f.write(s + "\n")
    np.savez(os.path.join(root, "expected.npz"), **exp)


def route_ds(logits, bias, k, ng, kg, rsf):
    """DeepSeekV3 routing as FI's reference describes it, in fp64; ties to the lower id."""
    ids, ws = [], []
    e = logits.shape[1]
    gs = e // ng
    for row in logits.astype(np.float64):
        sg = 1.0 / (1.0 + np.exp(-row))
        b = sg + bias
        gscore = np.sort(b.reshape(ng, gs), axis=1)[:, -2:].sum(axis=1)
        kept = np.sort(np.argsort(-gscore, kind="stable")[:kg])
        cand = np.concatenate([np.arange(g * gs, (g + 1) * gs) for g in kept])
        sel = cand[np.argsort(-b[cand], kind="stable")[:k]]
        ids.append(sel.astype(np.int32))
        ws.append((sg[sel] / (sg[sel].sum() + 1e-20) * rsf).astype(np.float32))
    return np.array(ids), np.array(ws)


def fib_ds(root):
    """FIB-canonical fp8 block-scale definition with DeepSeekV3 routing (as FIB's dataset names it),
    real logits and bias, fp8 activations, weights {"type": "random"} as FIB's collector stores them."""
    e, k, ng, kg, h, i, rsf = 16, 4, 4, 2, 128, 128, 2.5
    name = "moe_fp8_block_scale_ds_routing_topk4_ng4_kg2_e16_h128_i128"
    ax = {"seq_len": {"type": "var"}, "num_experts": {"type": "const", "value": e}, "top_k": {"type": "const", "value": k},
          "n_group": {"type": "const", "value": ng}, "topk_group": {"type": "const", "value": kg},
          "num_local_experts": {"type": "const", "value": e}, "hidden_size": {"type": "const", "value": h},
          "intermediate_size": {"type": "const", "value": i}, "gemm1_out_size": {"type": "const", "value": 2 * i},
          "num_hidden_blocks": {"type": "const", "value": h // 128}, "num_intermediate_blocks": {"type": "const", "value": i // 128},
          "num_gemm1_out_blocks": {"type": "const", "value": 2 * i // 128}}
    d = {"name": name, "op_type": "moe", "tags": ["fi_api:flashinfer.fused_moe.core.trtllm_fp8_block_scale_moe", "quantization:float8_e4m3fn"],
         "axes": ax,
         "inputs": {"routing_logits": {"shape": ["seq_len", "num_experts"], "dtype": "float32"},
                    "routing_bias": {"shape": ["num_experts"], "dtype": "bfloat16"},
                    "hidden_states": {"shape": ["seq_len", "hidden_size"], "dtype": "float8_e4m3"},
                    "hidden_states_scale": {"shape": ["num_hidden_blocks", "seq_len"], "dtype": "float32"},
                    "gemm1_weights": {"shape": ["num_local_experts", "gemm1_out_size", "hidden_size"], "dtype": "float8_e4m3fn"},
                    "gemm1_weights_scale": {"shape": ["num_local_experts", "num_gemm1_out_blocks", "num_hidden_blocks"], "dtype": "float32"},
                    "gemm2_weights": {"shape": ["num_local_experts", "hidden_size", "intermediate_size"], "dtype": "float8_e4m3fn"},
                    "gemm2_weights_scale": {"shape": ["num_local_experts", "num_hidden_blocks", "num_intermediate_blocks"], "dtype": "float32"},
                    "local_expert_offset": {"shape": None, "dtype": "int32"},
                    "routed_scaling_factor": {"shape": None, "dtype": "float32"}},
         "outputs": {"output": {"shape": ["seq_len", "hidden_size"], "dtype": "bfloat16"}},
         "reference": "def run(*args):\n    raise NotImplementedError\n"}
    os.makedirs(os.path.join(root, "definitions", "moe"), exist_ok=True)
    json.dump(d, open(os.path.join(root, "definitions", "moe", name + ".json"), "w"))
    exp, lines = {}, []
    bias_bits = bf16(rng.standard_normal(e).astype(np.float32) * 0.1)
    for n, t in enumerate(TS):
        uuid = "d5d5%04d-2222-4222-8222-22222222222%d" % (n, n)
        rel = "blob/workloads/moe/%s/%s_%s.safetensors" % (name, name, uuid)
        logits = rng.standard_normal((t, e)).astype(np.float32)
        write_st(os.path.join(root, rel), {"routing_logits": ("F32", logits), "routing_bias": ("BF16", bias_bits),
                                           "hidden_states": ("F8_E4M3", rng.integers(0, 0x70, (t, h), dtype=np.uint8)),
                                           "hidden_states_scale": ("F32", np.ones((h // 128, t), np.float32))})
        st = lambda key: {"type": "safetensors", "path": rel, "tensor_key": key}
        inputs = {"routing_logits": st("routing_logits"), "routing_bias": st("routing_bias"), "hidden_states": st("hidden_states"),
                  "hidden_states_scale": st("hidden_states_scale"), "local_expert_offset": {"type": "scalar", "value": 0},
                  "routed_scaling_factor": {"type": "scalar", "value": rsf}}
        for wn in ("gemm1_weights", "gemm1_weights_scale", "gemm2_weights", "gemm2_weights_scale"):
            inputs[wn] = {"type": "random"}
        lines.append({"uuid": uuid, "axes": {"seq_len": t}, "inputs": inputs})
        exp["ids_%d" % n], exp["weights_%d" % n] = route_ds(logits, bf16_val(bias_bits).astype(np.float64), k, ng, kg, rsf)
    os.makedirs(os.path.join(root, "workloads", "moe"), exist_ok=True)
    with open(os.path.join(root, "workloads", "moe", name + ".jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    np.savez(os.path.join(root, "expected.npz"), **exp)


def main():
    case, root = sys.argv[1], sys.argv[2]
    if case == "fi-fp4":
        fi_fp4(root)
    elif case == "fib-ds":
        fib_ds(root)
    else:
        fib_bf16(root, case)


if __name__ == "__main__":
    main()
