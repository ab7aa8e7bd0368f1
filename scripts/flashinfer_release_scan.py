#!/usr/bin/env python3
"""Scan every FlashInfer release tag for the source facts models/flashinfer/*.json encode.

Usage: scripts/flashinfer_release_scan.py GIT_DIR [--json]

For each release tag from the first one with fused MoE (v0.2.6) to the newest (rcs and post
releases included, PEP 440 order) prints the commit, the date, which fused-MoE families exist,
and a fingerprint of each fact group (tile ladders, arch gates, routing limits, CUTLASS
candidate generators and dispatch SHAPE_CASE lists, CuteDSL tactic tiles, API contracts).
A group whose fingerprint equals the previous release's did not change, so the release can
inherit it; a changed group is printed in full so the JSON delta can be written from it.
The facts are numbers and identifiers extracted with regular expressions; no upstream code is
copied. Needs only git and python3.
"""
import hashlib
import json
import re
import subprocess
import sys

LAUNCHER = "csrc/trtllm_fused_moe_kernel_launcher.cu"
HEUR = "csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/cutlass_heuristic.cpp"
DISPATCH = "csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/moe_gemm/moe_gemm_template_dispatch_tma_ws.h"
ROUTING = [
    "csrc/trtllm_fused_moe_routing_renormalize.cu",
    "csrc/trtllm_fused_moe_routing_deepseek.cu",
    "include/flashinfer/trtllm/fused_moe/RoutingKernel.cuh",
    "include/flashinfer/trtllm/fused_moe/RoutingKernel.h",
]
CUTE_TUNER = "flashinfer/fused_moe/cute_dsl/tuner.py"
CUTE_MOE = "flashinfer/fused_moe/cute_dsl/fused_moe.py"
FP4Q = "csrc/nv_internal/tensorrt_llm/thop/fp4Quantize.cpp"
CUTLASS_KERNELS = "csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh"


def pep440_key(tag):
    m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)(?:(rc)(\d+))?(?:\.post(\d+))?", tag)
    if not m:
        return None
    a, b, c, rc, rcn, post = m.groups()
    # rc < final < post
    pre = (0, int(rcn)) if rc else (1, 0)
    return (int(a), int(b), int(c), pre, int(post) if post else -1)


def git(gd, *args):
    return subprocess.run(["git", "--git-dir", gd, *args], capture_output=True, text=True).stdout


def show(gd, tag, path):
    r = subprocess.run(["git", "--git-dir", gd, "show", f"{tag}:{path}"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def func_body(src, name):
    """Text of the first definition of C++ function `name` (brace matched), or ''."""
    m = re.search(r"\b" + re.escape(name) + r"\s*\([^;{]*\)\s*\{", src)
    if not m:
        return ""
    i, depth = m.end() - 1, 0
    for j in range(i, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return src[i : j + 1]
    return src[i:]


def facts(gd, tag):
    f = {}
    files = set(git(gd, "ls-tree", "-r", "--name-only", tag).split("\n"))
    f["families"] = {
        "cutlass": CUTLASS_KERNELS in files or any(p.startswith("csrc/fused_moe/cutlass_backend/") for p in files),
        "trtllm_gen": LAUNCHER in files,
        "cute_dsl": CUTE_MOE in files,
    }
    src = show(gd, tag, LAUNCHER) or ""
    f["trtllm_tiles"] = re.findall(r"SupportedTileNums\s*=\s*\{([^}]*)\}", src) + re.findall(
        r"tiles\.push_back\((\d+)\)", src)
    f["trtllm_arch"] = sorted(set(re.findall(r"major\s*==\s*(\d+)", src)))
    f["trtllm_arch_msg"] = re.findall(r"\"(MoE kernel requires[^\"]*)\"", src)
    f["trtllm_center_check"] = "expected exact tile" in src
    rt = []
    for p in ROUTING:
        s = show(gd, tag, p) or ""
        rt += [f"{p.split('/')[-1]}:{a}={b}" for a, b in re.findall(
            r"\b(MaxSupported\w*|NumExpertsLimit|MaxNumTopExperts|MaxNumExperts|NumTopExpertsLimit)\s*=\s*(\d+)", s)]
        rt += [f"{p.split('/')[-1]}:{t}" for t in re.findall(r"(topK\s*<=\s*\d+|num_experts\s*<=\s*\d+)", s)]
    f["routing"] = rt
    h = show(gd, tag, HEUR) or ""
    for fn in ["get_candidate_configs_sm90", "get_candidate_configs_sm100", "get_candidate_configs_sm110",
               "get_candidate_configs_sm120", "get_candidate_tiles_sm90"]:
        body = func_body(h, fn)
        f["gen_" + fn.replace("get_candidate_", "")] = re.findall(r"CtaShape(\d+x\d+x\d+B?)", body) + re.findall(
            r"ClusterShape_(\dx\dx\d)", body)
    d = show(gd, tag, DISPATCH) or ""
    f["dispatch_shape_cases"] = re.findall(r"SHAPE_CASE\((\d+),\s*(\d+),\s*(\d+),\s*(\d+)\)", d)
    f["dispatch_predicates"] = re.findall(r"(TileM|TileN|TileK|cluster_\w+)\s*(==|%|<=|>=|<|>)\s*(\d+)", d)
    t = show(gd, tag, CUTE_TUNER) or ""
    f["cute_dsl_tiles"] = re.findall(r"for\s+tile_size\s+in\s+\[([^\]]*)\]", t)
    c = show(gd, tag, CUTE_MOE) or ""
    f["cute_dsl_cc"] = re.findall(r"supported_compute_capability\(\[([^\]]*)\]\)", c)
    q = show(gd, tag, FP4Q) or ""
    f["fp4_quantize_gs"] = re.findall(r"\"(globalScale[^\"]*)\"", q)
    k = show(gd, tag, CUTLASS_KERNELS) or ""
    f["cutlass_int_max"] = re.findall(r"(num_rows\s*\*\s*\w+\s*<=\s*\w+)", k)
    return f


def fp(v):
    return hashlib.sha1(json.dumps(v, sort_keys=True).encode()).hexdigest()[:8]


def main():
    gd = sys.argv[1]
    tags = [t for t in git(gd, "tag").split() if pep440_key(t) and pep440_key(t) >= (0, 2, 6, (1, 0), -1)]
    tags.sort(key=pep440_key)
    prev = None
    out = []
    for t in tags:
        commit = git(gd, "rev-list", "-n", "1", t).strip()
        date = git(gd, "log", "-1", "--format=%cs", t).strip()
        f = facts(gd, t)
        changed = {k: v for k, v in f.items() if prev is None or prev.get(k) != v}
        out.append({"tag": t, "commit": commit, "date": date, "facts": f, "changed": sorted(changed)})
        if "--json" not in sys.argv:
            print(f"{t:16} {commit[:10]} {date} fam={''.join(k[0] for k, v in f['families'].items() if v)} "
                  f"changed={','.join(sorted(changed)) if prev else 'base'}")
        prev = f
    if "--json" in sys.argv:
        json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
