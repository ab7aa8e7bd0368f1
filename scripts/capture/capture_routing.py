#!/usr/bin/python3
"""Capture real MoE routing from a running vLLM or SGLang server and write a moesim trace.

Standard library + numpy only. Sends each prompt to the server's OpenAI-compatible
/v1/completions endpoint with routed-expert capture on, saves the raw responses as JSONL
(OUT.responses.jsonl, kept for provenance), checks the captures with numpy, then writes the
trace through `moesim import {vllm,sglang}-routed-experts` (one validated writer for all traces).

Server side (capture_formats.md s1.1, s1.4):
  vLLM:   vllm serve MODEL --enable-return-routed-experts          -> choices[i].routed_experts
          (base64 of a whole .npy, shape (tokens-1, num_hidden_layers, top_k))
  SGLang: python -m sglang.launch_server ... --enable-return-routed-experts, and per request
          "return_routed_experts": true                             -> sglext.routed_experts
          (base64 of raw int32, (tokens-1, num_hidden_layers, top_k) flattened)

  capture_routing.py --url http://127.0.0.1:8000 --engine vllm --config config.json --layer 3 \\
      --prompt "Hello" --prompt "..." [--prompts-file FILE] [--max-tokens 16] -o routing.h5
"""
import argparse
import base64
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np


def post(url, body, timeout):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


def model_id(base, timeout):
    with urllib.request.urlopen(base + "/v1/models", timeout=timeout) as r:
        data = json.loads(r.read().decode())["data"]
    if not data:
        sys.exit("capture_routing: the server lists no models")
    return data[0]["id"]


def decode(engine, resp, layers, top_k):
    """The capture arrays in one response, decoded exactly as moesim will (for the summary)."""
    out = []
    if engine == "vllm":
        for c in resp.get("choices", []):
            s = c.get("routed_experts")
            if s is not None:
                out.append(np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False))
    else:
        s = (resp.get("sglext") or {}).get("routed_experts")
        if s is None:
            for c in resp.get("choices", []):
                s = s or (c.get("sgl_ext") or c.get("sglext") or {}).get("routed_experts")
        if s is not None:
            out.append(np.frombuffer(base64.b64decode(s), dtype="<i4").reshape(-1, layers, top_k))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    ap.add_argument("--engine", required=True, choices=["vllm", "sglang"])
    ap.add_argument("--config", required=True, help="the served model's Hugging Face config.json")
    ap.add_argument("--layer", required=True, help="MoE layer to keep")
    ap.add_argument("--prompt", action="append", default=[])
    ap.add_argument("--prompts-file", help="one prompt per line")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--model", help="model id (default: the first of /v1/models)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("--tokens-per-call", type=int, default=0)
    ap.add_argument("--weights", default="uniform", choices=["uniform", "counts"])
    ap.add_argument("--framework", default="", help="recording context NAME@REVISION as moesim knows it (e.g. vllm@pr44220)")
    ap.add_argument("--moesim", default=os.environ.get("MOESIM", "moesim"), help="moesim binary")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    prompts = list(a.prompt)
    if a.prompts_file:
        with open(a.prompts_file) as f:
            prompts += [l.rstrip("\n") for l in f if l.strip()]
    if not prompts:
        sys.exit("capture_routing: no prompts (--prompt or --prompts-file)")
    with open(a.config) as f:
        cfg = json.load(f)
    layers = cfg["num_hidden_layers"]
    top_k = cfg.get("num_experts_per_tok") or cfg.get("top_k_experts") or cfg.get("experts_per_token")
    base = a.url.rstrip("/")
    model = a.model or model_id(base, a.timeout)
    jsonl = a.output + ".responses.jsonl"
    tmp = jsonl + ".tmp"
    n_tokens = 0
    with open(tmp, "w") as out:
        for i, p in enumerate(prompts):
            body = {"model": model, "prompt": p, "max_tokens": a.max_tokens, "temperature": 0.0}
            if a.engine == "sglang":
                body["return_routed_experts"] = True
            try:
                resp = post(base + "/v1/completions", body, a.timeout)
            except (urllib.error.URLError, OSError) as e:
                sys.exit(f"capture_routing: request {i} to {base}/v1/completions failed: {e}")
            caps = decode(a.engine, resp, layers, top_k)
            if not caps:
                sys.exit(f"capture_routing: response {i} carries no routed_experts (server flag --enable-return-routed-experts?)")
            for c in caps:
                if c.ndim != 3 or c.shape[1] != layers or c.shape[2] != top_k:
                    sys.exit(f"capture_routing: response {i}: routed_experts shape {c.shape}, config says (*, {layers}, {top_k})")
                n_tokens += c.shape[0]
            out.write(json.dumps(resp) + "\n")
    os.replace(tmp, jsonl)
    print(f"captured {len(prompts)} request(s), {n_tokens} routed tokens -> {jsonl}")
    cmd = [a.moesim, "import", a.engine + "-routed-experts", jsonl, "--config", a.config, "--layer", str(a.layer),
           "--tokens-per-call", str(a.tokens_per_call), "--weights", a.weights, "-o", a.output]
    if a.framework:
        cmd[-2:-2] = ["--framework", a.framework]
    sys.exit(subprocess.call(cmd))


if __name__ == "__main__":
    main()
