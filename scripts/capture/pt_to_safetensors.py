#!/usr/bin/python3
"""Converts a torch.save dict of tensors (FlashInfer dumps' inputs.pt / outputs.pt) into a
safetensors file, with Debian's python3-torch and nothing else (no python3-safetensors).
moesim's importers call it so that only one tensor reader (safetensors, C++) exists.

  pt_to_safetensors.py IN.pt OUT.safetensors [--tree OUT.json]

With --tree, IN.pt may hold any tree of dicts, lists, ints, floats, strings, None and tensors
(SGLang's expert-distribution recorder dumps): tensors go to OUT.safetensors under their
dotted path ("records.0.topk_ids_of_layer") and OUT.json mirrors the tree with each tensor
replaced by {"__tensor__": path}.

torch.load(weights_only) refuses pickled code; anything but a dict of tensors (values nested in
lists are flattened by FlashInfer into <key>__<i> already) is an error naming the key.
Strided tensors are made contiguous (values kept, strides dropped, as FlashInfer's own
safetensors dumps do). Errors: one line on stderr, exit 2."""
import json
import os
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    try:
        import torch
    except ImportError:
        print(f"{src}: python3-torch is not installed (scripts/setup.sh with MOESIM_WITH_TORCH=1)", file=sys.stderr)
        return 2
    try:
        try:
            d = torch.load(src, map_location="cpu", weights_only=True)
        except TypeError:  # torch < 1.13 has no weights_only
            d = torch.load(src, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling failure is bad input
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "Float8" in msg or "float8" in msg:
            msg += " (this torch has no float8 dtypes; re-dump with FLASHINFER_DUMP_SAFETENSORS=1)"
        print(f"{src}: cannot load: {msg}", file=sys.stderr)
        return 2
    tree = None
    if len(sys.argv) > 4 and sys.argv[3] == "--tree":
        flat = {}

        def walk(v, path):
            if isinstance(v, torch.Tensor):
                flat[path] = v
                return {"__tensor__": path}
            if isinstance(v, dict):
                return {str(k): walk(x, f"{path}.{k}" if path else str(k)) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [walk(x, f"{path}.{i}") for i, x in enumerate(v)]
            if v is None or isinstance(v, (bool, int, float, str)):
                return v
            raise TypeError(f"{path}: unsupported value of type {type(v).__name__}")

        try:
            tree = walk(d, "")
        except TypeError as e:
            print(f"{src}: {e}", file=sys.stderr)
            return 2
        d = flat
    if not isinstance(d, dict):
        print(f"{src}: expected a dict of tensors, got {type(d).__name__}", file=sys.stderr)
        return 2
    names = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16", torch.int32: "I32", torch.int64: "I64",
             torch.int16: "I16", torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL", torch.float64: "F64"}
    for n in ("float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu"):
        if hasattr(torch, n):
            names[getattr(torch, n)] = {"float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "float8_e8m0fnu": "F8_E8M0"}[n]
    header, blobs, off = {}, [], 0
    for k, t in d.items():
        if not isinstance(t, torch.Tensor):
            print(f"{src}:{k}: not a tensor ({type(t).__name__})", file=sys.stderr)
            return 2
        if t.dtype not in names:
            print(f"{src}:{k}: dtype {t.dtype} not supported", file=sys.stderr)
            return 2
        t = t.detach().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.element_size() == 1 else t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, dst)
    if tree is not None:
        with open(sys.argv[4] + ".tmp", "w") as f:
            json.dump(tree, f)
        os.replace(sys.argv[4] + ".tmp", sys.argv[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
