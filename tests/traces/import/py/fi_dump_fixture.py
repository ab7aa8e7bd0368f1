#!/usr/bin/python3
"""FlashInfer API-logging level-10 dumps in the real layout (flashinfer/api_logging.py @fb28d72:
_dump_function_inputs / _dump_function_outputs), written with plain Python + numpy (safetensors
by hand: Debian has no python3-safetensors) or python3-torch (torch.save .pt dumps).

  fi_dump_fixture.py CASE DUMP_ROOT
CASE: cutlass-positional | cutlass-crash | fp4-routed-kwargs | bf16-logits-pt | graph
Writes DUMP_ROOT/session.jsonl, DUMP_ROOT/<ts>_pid<P>_<func>_call0001/{metadata.jsonl, inputs.*,
outputs.*} and DUMP_ROOT/expected.npz (ids, weights, hidden, w13 [gate; up], w2, golden) for the
checker. Model: T=5 tokens, E=4 experts, K=2, H=64, I=32."""
import json
import os
import struct
import sys

import numpy as np

T, E, K, H, I = 5, 4, 2, 64, 32
rng = np.random.default_rng(11)
SIG = {
    "cutlass_fused_moe": "(input: torch.Tensor, token_selected_experts: torch.Tensor, token_final_scales: torch.Tensor, "
    "fc1_expert_weights: torch.Tensor, fc2_expert_weights: torch.Tensor, output_dtype: torch.dtype, quant_scales: List[torch.Tensor], "
    "fc1_expert_biases: Optional[torch.Tensor] = None, fc2_expert_biases: Optional[torch.Tensor] = None, input_sf: Optional[torch.Tensor] = None, "
    "swiglu_alpha: Optional[torch.Tensor] = None, swiglu_beta: Optional[torch.Tensor] = None, swiglu_limit: Optional[torch.Tensor] = None, "
    "tp_size: int = 1, tp_rank: int = 0, ep_size: int = 1, ep_rank: int = 0, cluster_size: int = 1, cluster_rank: int = 0, "
    "output: Optional[torch.Tensor] = None, enable_alltoall: bool = False, use_deepseek_fp8_block_scale: bool = False, "
    "use_w4_group_scaling: bool = False, use_mxfp8_act_scaling: bool = False, min_latency_mode: bool = False, use_packed_weights: bool = False, "
    "use_wfp4afp8_humming: bool = False, tune_max_num_tokens: int = 8192, enable_pdl: Optional[bool] = None, "
    "activation_type: flashinfer.tllm_enums.ActivationType = <ActivationType.Swiglu: 3>, swizzled_input_sf: bool = True, use_fused_finalize: bool = True, "
    "profile_ids: Optional[List[int]] = None, workspace_buffer: Optional[torch.Tensor] = None, *, situ_beta: Optional[torch.Tensor] = None, "
    "situ_linear_beta: Optional[torch.Tensor] = None) -> torch.Tensor",
    "trtllm_fp4_block_scale_routed_moe": "(topk_ids: Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]], routing_bias: Optional[torch.Tensor], "
    "hidden_states: torch.Tensor, hidden_states_scale: Optional[torch.Tensor], gemm1_weights: torch.Tensor, gemm1_weights_scale: torch.Tensor, "
    "gemm1_bias: Optional[torch.Tensor], gemm1_alpha: Optional[torch.Tensor], gemm1_beta: Optional[torch.Tensor], gemm1_clamp_limit: Optional[torch.Tensor], "
    "gemm2_weights: torch.Tensor, gemm2_weights_scale: torch.Tensor, gemm2_bias: Optional[torch.Tensor], output1_scale_scalar: Optional[torch.Tensor], "
    "output1_scale_gate_scalar: Optional[torch.Tensor], output2_scale_scalar: Optional[torch.Tensor], num_experts: int, top_k: int, "
    "n_group: Optional[int], topk_group: Optional[int], intermediate_size: int, local_expert_offset: int, local_num_experts: int, "
    "routed_scaling_factor: Optional[float], routing_method_type: int = 0, do_finalize: bool = True, enable_pdl: Optional[bool] = None, "
    "activation_type: int = 3, per_token_scale: Optional[torch.Tensor] = None, output: Optional[torch.Tensor] = None, "
    "tune_max_num_tokens: int = 8192, gemm1_lora_delta: Optional[torch.Tensor] = None) -> List[torch.Tensor]",
    "trtllm_bf16_moe": "(routing_logits: torch.Tensor, routing_bias: Optional[torch.Tensor], hidden_states: torch.Tensor, gemm1_weights: torch.Tensor, "
    "gemm2_weights: torch.Tensor, num_experts: int, top_k: int, n_group: Optional[int], topk_group: Optional[int], intermediate_size: int, "
    "local_expert_offset: int, local_num_experts: int, routed_scaling_factor: Optional[float] = None, routing_method_type: int = 0, "
    "use_shuffled_weight: bool = True, weight_layout: int = <WeightLayout.BlockMajorK: 2>, do_finalize: bool = True, enable_pdl: bool = True, "
    "tune_max_num_tokens: int = 8192, activation_type: int = 3, norm_topk_prob: bool = True, routing_replay_out: Optional[torch.Tensor] = None, "
    "gemm1_alpha: Optional[torch.Tensor] = None, gemm1_beta: Optional[torch.Tensor] = None, gemm1_clamp_limit: Optional[torch.Tensor] = None, "
    "output: Optional[torch.Tensor] = None) -> Union[List[torch.Tensor], torch.Tensor]",
}
TORCH_DT = {"BF16": "torch.bfloat16", "F32": "torch.float32", "I32": "torch.int32", "U8": "torch.uint8", "F8_E4M3": "torch.float8_e4m3fn"}


def bf16(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_val(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_st(path, tensors):
    header, off, blobs = {}, 0, []
    for name, (dt, a) in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def details(tensors):
    out = {}
    for k, (dt, a) in tensors.items():
        st = [int(np.prod(a.shape[i + 1:])) for i in range(a.ndim)]
        out[k] = {"shape": list(a.shape), "dtype": TORCH_DT[dt], "stride": st, "device": "cuda:0"}
    return out


def call(root, func, inputs, meta, outputs=None, fmt="safetensors", seq=1, crash=False, sub=None, status=None):
    name = f"20261203_101500_{123 + seq:03d}_pid4242_{func}_call{seq:04d}"
    d = os.path.join(root, name) if sub is None else sub
    os.makedirs(d, exist_ok=True)
    if inputs is not None:
        if fmt == "safetensors":
            write_st(os.path.join(d, "inputs.safetensors"), inputs)
        else:
            import torch
            td = {}
            for k, (dt, a) in inputs.items():
                a = np.ascontiguousarray(a)
                t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16) if dt == "BF16" else torch.from_numpy(a)
                td[k] = t
            # keep one tensor strided, as torch.save does (FlashInfer's default format keeps strides)
            if "kwarg_hidden_states" in td:
                td["kwarg_hidden_states"] = td["kwarg_hidden_states"].t().contiguous().t()
            torch.save(td, os.path.join(d, "inputs.pt"))
    rec = {"function_name": func, "module": "flashinfer.fused_moe.core", "call_sequence": seq, "timestamp": name[:19],
           "process_id": 4242, "input_metadata": meta, "output_metadata": {},
           "tensor_info": {"input_tensor_keys": list((inputs or {}).keys()), "output_tensor_keys": [],
                           "input_size_bytes": 0, "input_size_mb": 0.0},
           "tensor_details": details(inputs or {}), "tensor_format": "safetensors" if fmt == "safetensors" else "torch",
           "function_signature": SIG[func],
           "versions": {"torch": "2.9.0+cu130", "python": "3.12.3", "flashinfer": "0.6.11.post2"},
           "execution_status": status or "inputs_saved", "graph_capture": status == "graph_capture_pending_flush",
           "dump_dir": "/scratch/run7/flashinfer_dumps/" + name}
    lines = [rec]
    if outputs is not None and not crash:
        write_st(os.path.join(d, "outputs.safetensors"), outputs)
        done = json.loads(json.dumps(rec))
        done["execution_status"] = "completed"
        done["tensor_info"]["output_tensor_keys"] = list(outputs.keys())
        done["tensor_details"].update(details(outputs))
        lines.append(done)
    with open(os.path.join(d, "metadata.jsonl"), "w") as f:
        for r in lines:
            f.write(json.dumps(r) + "\n")
    if sub is None:
        with open(os.path.join(root, "session.jsonl"), "a") as f:
            for r in lines:
                f.write(json.dumps(r) + "\n")
    return d


def routing():
    ids = np.stack([rng.permutation(E)[:K] for _ in range(T)]).astype(np.int32)
    w = rng.uniform(0.1, 1.0, (T, K)).astype(np.float32)
    return ids, w


def main():
    case, root = sys.argv[1], sys.argv[2]
    os.makedirs(root, exist_ok=True)
    hidden = bf16(rng.standard_normal((T, H)))
    gate = bf16(rng.standard_normal((E, I, H)) * 0.1)
    up = bf16(rng.standard_normal((E, I, H)) * 0.1)
    w2 = bf16(rng.standard_normal((E, H, I)) * 0.1)
    fc1 = np.concatenate([up, gate], axis=1)  # W31: FlashInfer takes [up; gate]
    golden = bf16(rng.standard_normal((T, H)))
    exp = {"hidden": hidden, "w13": np.concatenate([gate, up], axis=1), "w2": w2, "golden": golden}
    if case in ("cutlass-positional", "cutlass-crash"):
        ids, w = routing()
        exp.update(ids=ids, weights=w)
        inputs = {"arg_0": ("BF16", hidden), "arg_1": ("I32", ids), "arg_2": ("F32", w), "arg_3": ("BF16", fc1), "arg_4": ("BF16", w2)}
        meta = {"arg_5": {"type": "torch.dtype", "value": "torch.bfloat16"},
                "arg_6": {"type": "list", "length": 0, "items": [], "truncated": False},
                "kwarg_enable_pdl": True, "kwarg_tune_max_num_tokens": 8192}
        call(root, "cutlass_fused_moe", inputs, meta, {"result": ("BF16", golden)}, crash=case == "cutlass-crash")
    elif case == "fp4-routed-kwargs":
        ids, w = routing()
        wb = bf16(w)
        packed = ((ids.astype(np.uint32) << 16) | wb.astype(np.uint32)).view(np.int32)
        exp.update(ids=ids, weights=bf16_val(wb))
        inputs = {"kwarg_topk_ids": ("I32", packed),
                  "kwarg_hidden_states": ("U8", rng.integers(0, 256, (T, H // 2), dtype=np.uint8)),
                  "kwarg_hidden_states_scale": ("F8_E4M3", rng.integers(0x30, 0x40, (T, H // 16), dtype=np.uint8)),
                  "kwarg_gemm1_weights": ("U8", rng.integers(0, 256, (E, 2 * I, H // 2), dtype=np.uint8)),
                  "kwarg_gemm1_weights_scale": ("F8_E4M3", rng.integers(0x30, 0x40, (E, 2 * I, H // 16), dtype=np.uint8)),
                  "kwarg_gemm2_weights": ("U8", rng.integers(0, 256, (E, H, I // 2), dtype=np.uint8)),
                  "kwarg_gemm2_weights_scale": ("F8_E4M3", rng.integers(0x30, 0x40, (E, H, I // 16), dtype=np.uint8)),
                  "kwarg_output1_scale_scalar": ("F32", np.ones(E, np.float32)),
                  "kwarg_output1_scale_gate_scalar": ("F32", np.ones(E, np.float32)),
                  "kwarg_output2_scale_scalar": ("F32", np.ones(E, np.float32))}
        meta = {"kwarg_routing_bias": None, "kwarg_gemm1_bias": None, "kwarg_gemm1_alpha": None, "kwarg_gemm1_beta": None,
                "kwarg_gemm1_clamp_limit": None, "kwarg_gemm2_bias": None, "kwarg_num_experts": E, "kwarg_top_k": K,
                "kwarg_n_group": None, "kwarg_topk_group": None, "kwarg_intermediate_size": I, "kwarg_local_expert_offset": 0,
                "kwarg_local_num_experts": E, "kwarg_routed_scaling_factor": None, "kwarg_routing_method_type": 1,
                "kwarg_do_finalize": True, "kwarg_activation_type": 3, "kwarg_tune_max_num_tokens": 8192}
        # A list return value is not a tuple: FlashInfer stores it as nested result__0.
        call(root, "trtllm_fp4_block_scale_routed_moe", inputs, meta, {"result__0": ("BF16", golden)})
    elif case == "bf16-logits-pt":
        logits = rng.standard_normal((T, E)).astype(np.float32)
        top = np.argsort(-logits, axis=1, kind="stable")[:, :K].astype(np.int32)
        tl = np.take_along_axis(logits, top, 1).astype(np.float64)
        sm = np.exp(tl - tl.max(1, keepdims=True))
        exp.update(ids=top, weights=(sm / sm.sum(1, keepdims=True)).astype(np.float32))  # Renormalize: TopK -> Softmax
        inputs = {"kwarg_routing_logits": ("F32", logits), "kwarg_hidden_states": ("BF16", hidden),
                  "kwarg_gemm1_weights": ("BF16", fc1), "kwarg_gemm2_weights": ("BF16", w2)}
        meta = {"kwarg_routing_bias": None, "kwarg_num_experts": E, "kwarg_top_k": K, "kwarg_n_group": None, "kwarg_topk_group": None,
                "kwarg_intermediate_size": I, "kwarg_local_expert_offset": 0, "kwarg_local_num_experts": E,
                "kwarg_routing_method_type": {"type": "enum", "name": "RoutingMethodType.Renormalize", "value": 1},
                "kwarg_use_shuffled_weight": False, "kwarg_weight_layout": 0}
        call(root, "trtllm_bf16_moe", inputs, meta, {"result": ("BF16", golden)}, fmt="pt")
    elif case == "graph":
        ids, w = routing()
        exp.update(ids=ids, weights=w)
        inputs = {"kwarg_input": ("BF16", hidden), "kwarg_token_selected_experts": ("I32", ids), "kwarg_token_final_scales": ("F32", w),
                  "kwarg_fc1_expert_weights": ("BF16", fc1), "kwarg_fc2_expert_weights": ("BF16", w2)}
        meta = {"kwarg_output_dtype": {"type": "torch.dtype", "value": "torch.bfloat16"},
                "kwarg_quant_scales": {"type": "list", "length": 0, "items": [], "truncated": False}}
        base = call(root, "cutlass_fused_moe", None, meta, status="graph_capture_pending_flush")
        for n in range(2):
            call(root, "cutlass_fused_moe", inputs, meta, {"result": ("BF16", golden)},
                 sub=os.path.join(base, "graph_flushes", f"flush_{n:04d}"))
    else:
        sys.exit("unknown case " + case)
    np.savez(os.path.join(root, "expected.npz"), **exp)


if __name__ == "__main__":
    main()
