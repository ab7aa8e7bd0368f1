#!/usr/bin/python3
"""Edge-case routed_experts response files in the real encodings (no server needed).
  routed_fixture.py CASE OUT      CASE: vllm-null | vllm-npy | vllm-badlayers | sglang-generate |
                                        sglang-choice | sglang-ragged | vllm-zero
Model: 2 hidden layers (layer 0 dense), 4 experts, top-2 (see config.json written by the test)."""
import base64
import io
import json
import sys

import numpy as np

case, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(3)


def ids(t, layers=2):
    a = np.zeros((t, layers, 2), np.int64)
    for tok in range(t):
        a[tok, 1] = rng.permutation(4)[:2]
    return a


def npy_b64(a, dt):
    b = io.BytesIO()
    np.save(b, a.astype(dt))
    return base64.b64encode(b.getvalue()).decode()


if case == "vllm-null":  # an aborted request (null) next to a real one, as JSONL
    with open(out, "w") as f:
        f.write(json.dumps({"choices": [{"index": 0, "routed_experts": None}]}) + "\n")
        f.write(json.dumps({"choices": [{"index": 0, "routed_experts": npy_b64(ids(5), "<u2")}]}) + "\n")
elif case == "vllm-npy":
    np.save(out, ids(6).astype("<i4"))
elif case == "vllm-badlayers":
    json.dump({"choices": [{"routed_experts": npy_b64(ids(4, layers=3), "|u1")}]}, open(out, "w"))
elif case == "vllm-zero":
    json.dump({"choices": [{"routed_experts": npy_b64(np.zeros((7, 2, 2)), "|u1")}]}, open(out, "w"))
elif case == "sglang-generate":  # /generate batch: a list of {text, meta_info}
    json.dump([{"text": "a", "meta_info": {"routed_experts": base64.b64encode(ids(3).astype("<i4").tobytes()).decode()}},
               {"text": "b", "meta_info": {"routed_experts": base64.b64encode(ids(4).astype("<i4").tobytes()).decode()}}],
              open(out, "w"))
elif case == "sglang-choice":  # third-party docs spelling: sgl_ext on each choice
    json.dump({"choices": [{"sgl_ext": {"routed_experts": base64.b64encode(ids(2).astype("<i4").tobytes()).decode()}}]},
              open(out, "w"))
elif case == "sglang-ragged":  # flat length not a multiple of layers*top_k
    raw = ids(3).astype("<i4").tobytes()[:-4]
    json.dump({"sglext": {"routed_experts": base64.b64encode(raw).decode()}}, open(out, "w"))
else:
    sys.exit("unknown case " + case)
