#!/usr/bin/python3
"""A stand-in for a vLLM or SGLang server on 127.0.0.1 (ephemeral port) answering
/v1/models and /v1/completions with canned routed_experts in the real encodings:
  vllm:   choices[0].routed_experts = base64(np.save(ids.astype(DTYPE)))   (V0 serving.py:544-569)
  sglang: sglext.routed_experts = base64(ids.astype('<i4').tobytes())      (S0 detokenizer_manager.py:413-425)
ids: (tokens-1, LAYERS, K); dense layer 0 is all zero (vLLM leaves unwritten layers 0).

  standin_server.py --engine vllm|sglang --layers 2 --experts 4 --top-k 2 [--dtype u1|u2|i4]
      [--zero] --expect NPZ --max-requests N -- CMD ...   ({port} in CMD is replaced)
Runs CMD against the server, serves at most N requests, stops when CMD exits or after 60 s,
saves the canned arrays to NPZ (request i -> r{i}) and exits with CMD's status.
"""
import argparse
import base64
import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--dtype", default="u1")
    ap.add_argument("--zero", action="store_true", help="all-zero ids (vLLM #44116 symptom)")
    ap.add_argument("--expect", required=True)
    ap.add_argument("--max-requests", type=int, default=8)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    canned = {}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, obj):
            b = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def do_GET(self):
            self.reply({"object": "list", "data": [{"id": "stand-in-moe", "object": "model"}]})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(min(n, 1 << 20)).decode())
            i = len(canned)
            prompt_tokens = len(body["prompt"].split()) + 1
            t = prompt_tokens + body.get("max_tokens", 16) - 1  # the last sampled token never runs
            ids = np.zeros((t, a.layers, a.top_k), dtype=np.int64)
            if not a.zero:
                for l in range(1, a.layers):
                    for tok in range(t):
                        ids[tok, l] = rng.permutation(a.experts)[: a.top_k]
            canned[f"r{i}"] = ids
            resp = {"id": f"cmpl-{i}", "object": "text_completion", "model": body.get("model"),
                    "choices": [{"index": 0, "text": " ok", "finish_reason": "length"}]}
            if a.engine == "vllm":
                buf = io.BytesIO()
                np.save(buf, ids.astype(np.dtype(a.dtype)))
                resp["choices"][0]["routed_experts"] = base64.b64encode(buf.getvalue()).decode()
            else:
                if not body.get("return_routed_experts"):
                    self.reply(resp)
                    return
                resp["sglext"] = {"routed_experts": base64.b64encode(ids.astype("<i4").tobytes()).decode()}
            self.reply(resp)

    srv = HTTPServer(("127.0.0.1", 0), H)
    srv.timeout = 1.0
    port = srv.server_address[1]
    stop = threading.Event()

    def serve():
        # handle_request() returns after srv.timeout without a request: count only requests
        # answered (canned POSTs), so a slow client start never finds the server gone.
        while not stop.is_set() and len(canned) < a.max_requests:
            srv.handle_request()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    cmd = [c.replace("{port}", str(port)) for c in a.cmd if c != "--"]
    try:
        rc = subprocess.call(cmd, timeout=60)
    except subprocess.TimeoutExpired:
        rc = 124
    stop.set()
    th.join(timeout=5)
    srv.server_close()
    np.savez(a.expect, **canned)
    sys.exit(rc)


if __name__ == "__main__":
    main()
