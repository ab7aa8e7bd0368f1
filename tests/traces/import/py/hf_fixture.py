#!/usr/bin/python3
"""Tiny sharded Hugging Face MoE checkpoints in the real on-disk formats, written with plain
Python + numpy (Debian has no python3-safetensors): safetensors = u64 LE header length, JSON
header padded with spaces to 8 bytes, raw little-endian C-order bytes (ST:README.md:74-105).

  hf_fixture.py FORMAT OUTDIR [--hostile CASE] [--moe-layers N]

FORMAT: bf16 (Qwen3-MoE names) | bf16-mixtral | fp8 (DeepSeek-V3, weight_scale_inv 128x128)
        | nvfp4 (ModelOpt, hf_quant_config.json) | nvfp4-mixed (ModelOpt MIXED_PRECISION map)
        | mxfp4 (gpt-oss _blocks/_scales, interleaved gate/up).
Writes OUTDIR/{config.json, model-0000N-of-00002.safetensors, model.safetensors.index.json} and
OUTDIR/expected/w13_eE.npy, w2_eE.npy (with --moe-layers N, bf16, fp8 and mxfp4: MoE layers
1..N, each with its own weights, expected in OUTDIR/expected/LAYER/): float64 values each expert's weights stand for, in
[gate; up] row order, computed here from the format definitions (never by moesim). mxfp4 also
writes non-zero expert biases (gate_up_proj_bias BF16 [E, 2I] interleaved like the rows,
down_proj_bias F32 [E, H]) and expected/w13_bias_eE.npy ([gate; up]), w2_bias_eE.npy.
--hostile (mxfp4): zero-bias (all biases zero), nonzero-bias (zero except one entry),
layer2-no-bias (with --moe-layers 2: layer 2 has no bias tensors).
  E2M1 LUT [0, .5, 1, 1.5, 2, 3, 4, 6] with sign bit 8 (low nibble = even element);
  E4M3FN: bias 7, subnormal m/8 * 2^-6; E8M0: 2^(b-127); ModelOpt NVFP4 = fp4 * e4m3 * scale_2
  (gate's scale_2 for both halves, as vLLM modelopt.py:1544-1552); DeepSeek fp8 = fp8 * scale_inv.
"""
import json
import os
import struct
import sys

import numpy as np

E, K, H, I, LAYERS, LAYER = 4, 2, 256, 128, 2, 1
FP4 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float64)


def e4m3(code):
    code = np.asarray(code, dtype=np.int64)
    s = np.where(code & 0x80, -1.0, 1.0)
    e = (code >> 3) & 0xF
    m = code & 7
    v = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * 2.0 ** (e - 7))
    return s * v


def bf16_bits(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def unpack_fp4(packed):  # [..., n/2] bytes -> [..., n] values, low nibble first
    lo, hi = packed & 0xF, packed >> 4
    return FP4[np.stack([lo, hi], axis=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)]


ST_DTYPE = {np.dtype(np.uint16): "BF16", np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}


def write_st(path, tensors):
    """tensors: list of (name, st_dtype or None, ndarray)."""
    header, off, blobs = {}, 0, []
    for name, dt, a in tensors:
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {"dtype": dt or ST_DTYPE[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    fmt, out = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    hostile = opts.get("--hostile", "")
    nmoe = int(opts.get("--moe-layers", 1))
    if nmoe > 1 and fmt not in ("bf16", "fp8", "mxfp4"):
        sys.exit("--moe-layers: bf16, fp8 and mxfp4 only")
    rng = np.random.default_rng(sum(map(ord, fmt)))
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    tensors, expected = [], {}
    cfg = {"hidden_size": H, "num_hidden_layers": LAYERS + nmoe - 1, "num_experts_per_tok": K, "hidden_act": "silu"}
    sub = [""]  # expected/<sub>: "" for layer 1 of a one-MoE-layer checkpoint, else the layer index
    hf_quant = None

    def per_expert(prefix, names):
        for e in range(E):
            parts = {}
            for proj, rows, cols in ((names[0], I, H), (names[1], I, H), (names[2], H, I)):
                p = f"{prefix}.{e}.{proj}"
                parts[proj] = yield_tensor(p, rows, cols, e)
            if fmt.startswith("nvfp4"):  # the gate's scale_2 for both halves (vLLM)
                g, u = parts[names[0]], parts[names[1]]
                expected[f"w13_e{e}"] = np.concatenate([g[1] * g[2], u[1] * g[2]])
                expected[f"w2_e{e}"] = parts[names[2]][1] * parts[names[2]][2]
            else:
                expected[sub[0] + f"w13_e{e}"] = np.concatenate([parts[names[0]][0], parts[names[1]][0]])
                expected[sub[0] + f"w2_e{e}"] = parts[names[2]][0]

    def yield_tensor(p, rows, cols, e):
        if fmt.startswith("bf16"):
            b = bf16_bits(rng.standard_normal((rows, cols)) / np.sqrt(cols))
            tensors.append((p + ".weight", "BF16", b))
            return (bf16_value(b),)
        if fmt == "fp8":
            code = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
            code[(code & 0x7F) == 0x7F] = 0x38  # no NaN codes
            sinv = (rng.uniform(0.5, 2.0, ((rows + 127) // 128, (cols + 127) // 128)) * 2.0 ** -6).astype(np.float32)
            tensors.append((p + ".weight", "F8_E4M3", code))
            tensors.append((p + ".weight_scale_inv", "F32", sinv))
            blk = np.repeat(np.repeat(sinv.astype(np.float64), 128, 0), 128, 1)[:rows, :cols]
            return (e4m3(code) * blk,)
        # ModelOpt NVFP4: packed e2m1 U8 [N, K/2], e4m3 block scales [N, K/16], f32 scale_2, input_scale
        q = rng.integers(0, 16, (rows, cols), dtype=np.uint8)
        packed = ((q[:, 1::2] << 4) | q[:, 0::2]).astype(np.uint8)
        sc = rng.integers(0x20, 0x60, (rows, cols // 16), dtype=np.uint8)  # positive e4m3 block scales
        s2 = np.float32(rng.uniform(0.5, 2.0) * 2.0 ** -10)
        if p.endswith("up_proj") and e == 3:
            s2 = np.float32(s2 * 1.25)  # differs from the gate's: vLLM keeps the gate's
        shape2 = () if e % 2 == 0 else (1,)  # ModelOpt's scalar shape is not pinned down: [] and [1]
        tensors.append((p + ".weight", "U8", packed))
        tensors.append((p + ".weight_scale", "F8_E4M3", sc))
        tensors.append((p + ".weight_scale_2", "F32", np.array(s2, dtype=np.float32).reshape(shape2)))
        tensors.append((p + ".input_scale", "F32", np.array(0.01, dtype=np.float32).reshape(shape2)))
        vals = FP4[q] * np.repeat(e4m3(sc), 16, axis=1)
        return (None, vals, np.float64(s2))

    if fmt in ("bf16", "nvfp4", "nvfp4-mixed"):
        cfg.update(model_type="qwen3_moe", num_experts=E, moe_intermediate_size=I, intermediate_size=4 * I,
                   mlp_only_layers=[0], decoder_sparse_step=1)
        tensors.append(("model.layers.0.mlp.down_proj.weight", "BF16", bf16_bits(np.zeros((H, 4 * I)))))
        for L in range(LAYER, LAYER + nmoe):
            sub[0] = f"{L}/" if nmoe > 1 else ""
            tensors.append((f"model.layers.{L}.mlp.gate.weight", "BF16", bf16_bits(rng.standard_normal((E, H)))))
            per_expert(f"model.layers.{L}.mlp.experts", ("gate_proj", "up_proj", "down_proj"))
        if fmt == "nvfp4":
            hf_quant = {"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "NVFP4", "group_size": 16,
                                                                              "exclude_modules": ["lm_head"]}}
        if fmt == "nvfp4-mixed":
            qmap = {f"model.layers.{LAYER}.mlp.experts.{e}.{p}": {"quant_algo": "NVFP4", "group_size": 16}
                    for e in range(E) for p in ("gate_proj", "up_proj", "down_proj")}
            cfg["quantization_config"] = {"quant_method": "modelopt", "quant_algo": "MIXED_PRECISION", "quantized_layers": qmap}
    elif fmt == "bf16-mixtral":
        cfg.update(model_type="mixtral", num_local_experts=E, intermediate_size=I)
        tensors.append((f"model.layers.{LAYER}.block_sparse_moe.gate.weight", "BF16", bf16_bits(rng.standard_normal((E, H)))))
        per_expert(f"model.layers.{LAYER}.block_sparse_moe.experts", ("w1", "w3", "w2"))
    elif fmt == "fp8":
        cfg.update(model_type="deepseek_v3", n_routed_experts=E, moe_intermediate_size=I, intermediate_size=4 * I,
                   first_k_dense_replace=1, n_shared_experts=1,
                   quantization_config={"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                        "weight_block_size": [128, 128]})
        for L in range(LAYER, LAYER + nmoe):
            sub[0] = f"{L}/" if nmoe > 1 else ""
            tensors.append((f"model.layers.{L}.mlp.gate.weight", "BF16", bf16_bits(rng.standard_normal((E, H)))))
            tensors.append((f"model.layers.{L}.mlp.gate.e_score_correction_bias", "F32", np.zeros(E, np.float32)))
            per_expert(f"model.layers.{L}.mlp.experts", ("gate_proj", "up_proj", "down_proj"))
    elif fmt == "mxfp4":
        cfg.update(model_type="gpt_oss", num_local_experts=E, intermediate_size=I, experts_per_token=K,
                   hidden_act="silu", swiglu_limit=7.0,
                   quantization_config={"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn",
                                                                                              "model.layers.*.mlp.router"]})
        cfg["num_hidden_layers"] = LAYER + nmoe  # every gpt-oss layer is MoE: layer 0 is written without experts
        for L in range(LAYER, LAYER + nmoe):
            sub[0] = f"{L}/" if nmoe > 1 else ""
            pre = f"model.layers.{L}.mlp"
            gub = rng.integers(0, 256, (E, 2 * I, H // 32, 16), dtype=np.uint8)
            # ue8m0 2^-6..2^-3: with |e2m1| <= 6 and H = 256 the GEMM outputs are O(1), around the clamp 7
            gus = rng.integers(121, 125, (E, 2 * I, H // 32), dtype=np.uint8)
            dnb = rng.integers(0, 256, (E, H, I // 32, 16), dtype=np.uint8)
            dns = rng.integers(121, 125, (E, H, I // 32), dtype=np.uint8)
            gub_bias = bf16_bits(rng.standard_normal((E, 2 * I)) * 0.5)  # BF16 on disk
            dn_bias = (rng.standard_normal((E, H)) * 0.25).astype(np.float32)  # F32 on disk (the dtype comes from the header)
            if hostile in ("zero-bias", "nonzero-bias"):
                gub_bias[:], dn_bias[:] = 0, 0
            if hostile == "nonzero-bias":
                gub_bias[1, 5] = bf16_bits(np.array([0.25], np.float32))[0]
            tensors += [(pre + ".router.weight", "BF16", bf16_bits(rng.standard_normal((E, H)))),
                        (pre + ".router.bias", "BF16", np.zeros(E, np.uint16)),
                        (pre + ".experts.gate_up_proj_blocks", "U8", gub), (pre + ".experts.gate_up_proj_scales", "U8", gus),
                        (pre + ".experts.down_proj_blocks", "U8", dnb), (pre + ".experts.down_proj_scales", "U8", dns)]
            if not (hostile == "layer2-no-bias" and L == 2):
                tensors += [(pre + ".experts.gate_up_proj_bias", "BF16", gub_bias), (pre + ".experts.down_proj_bias", "F32", dn_bias)]
            for e in range(E):
                v = unpack_fp4(gub[e].reshape(2 * I, H // 2)) * np.repeat(2.0 ** (gus[e].astype(np.float64) - 127), 32, axis=1)
                expected[sub[0] + f"w13_e{e}"] = np.concatenate([v[0::2], v[1::2]])  # gate rows are even, up rows odd
                expected[sub[0] + f"w2_e{e}"] = unpack_fp4(dnb[e].reshape(H, I // 2)) * np.repeat(2.0 ** (dns[e].astype(np.float64) - 127), 32, axis=1)
                if hostile == "zero-bias" or (hostile == "layer2-no-bias" and L == 2):
                    continue  # no biases in the trace: all-zero biases are not imported
                gb = bf16_value(gub_bias[e])
                expected[sub[0] + f"w13_bias_e{e}"] = np.concatenate([gb[0::2], gb[1::2]])  # interleaved like the rows
                expected[sub[0] + f"w2_bias_e{e}"] = dn_bias[e].astype(np.float64)
    else:
        sys.exit(f"unknown format {fmt}")

    # Two shards, split mid-expert so one expert's tensors live in both files.
    half = len(tensors) // 2 + 1
    shards = [tensors[:half], tensors[half:]]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_st(os.path.join(out, name), part)
        for t in part:
            weight_map[t[0]] = name
            total += t[2].nbytes
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if hf_quant:
        with open(os.path.join(out, "hf_quant_config.json"), "w") as f:
            json.dump(hf_quant, f, indent=2)
    for k, v in expected.items():
        os.makedirs(os.path.dirname(os.path.join(out, "expected", k)), exist_ok=True)
        np.save(os.path.join(out, "expected", k + ".npy"), v.astype(np.float64))


if __name__ == "__main__":
    main()
