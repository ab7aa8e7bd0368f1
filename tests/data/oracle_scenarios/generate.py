#!/usr/bin/env python3
"""Writes the oracle scenario corpus (tests/data/oracle_scenarios/*.json) from upstream source.

Every expected answer below is derived from a rule read in vLLM / SGLang source at a pinned
commit, re-implemented here independently of moesim (this script never runs moesim and never
reads models/frameworks/). Before a scenario is written, each rule it depends on is checked
against the upstream text at that commit (`Src.cite` finds the line or fails), and the
scenario records that file:line@commit and a derivation note.

Needs git snapshots that keep upstream commits:
  VLLM_REPO   (default /work/.mirror/neuralmagic+vllm/repo: fork neuralmagic/vllm, main to 2026-08-17)
  SGLANG_REPO (default /work/.mirror/bytedance-iaas+sglang/repo: fork bytedance-iaas/sglang, main to 2026-08-18)
Run from the repository root: python3 tests/data/oracle_scenarios/generate.py
"""
import json
import os
import re
import subprocess
import sys

VLLM = os.environ.get("VLLM_REPO", "/work/.mirror/neuralmagic+vllm/repo")
SGL = os.environ.get("SGLANG_REPO", "/work/.mirror/bytedance-iaas+sglang/repo")
OUT = os.path.dirname(os.path.abspath(__file__))
FM = "vllm/model_executor/layers/fused_moe/"


class Src:
    """Upstream text at one commit; cite() returns 'path:line@commit12' of a matching line."""

    def __init__(self, repo, commit):
        self.repo, self.commit = repo, commit
        self._cache = {}

    def text(self, path):
        if path not in self._cache:
            self._cache[path] = subprocess.check_output(
                ["git", "-C", self.repo, "show", f"{self.commit}:{path}"], stderr=subprocess.DEVNULL).decode().split("\n")
        return self._cache[path]

    def find(self, *names):
        """Path of the file named one of `names` under fused_moe/ (files moved and were renamed)."""
        out = subprocess.check_output(["git", "-C", self.repo, "ls-tree", "-r", "--name-only", self.commit]).decode().split("\n")
        hits = []
        for name in names:
            hits = [p for p in out if p.endswith("/" + name) and (p.startswith(FM) or "sglang" in p)]
            if hits:
                break
        name = names
        if len(hits) != 1:
            sys.exit(f"{name} at {self.commit}: {hits}")
        return hits[0]

    def cite(self, path, pattern, after=None):
        lines = self.text(path)
        start = 0
        if after:
            start = next((i for i, l in enumerate(lines) if re.search(after, l)), None)
            if start is None:
                sys.exit(f"anchor {after!r} not in {path}@{self.commit[:12]}")
        for i in range(start, len(lines)):
            if re.search(pattern, lines[i]):
                return f"{path}:{i + 1}@{self.commit[:12]}"
        sys.exit(f"rule {pattern!r} not found in {path}@{self.commit[:12]} (after {after!r})")

    def absent(self, path, pattern):
        if any(re.search(pattern, l) for l in self.text(path)):
            sys.exit(f"{pattern!r} unexpectedly present in {path}@{self.commit[:12]}")

    def block(self, path, start_pat, n=40, after=None):
        lines = self.text(path)
        a = next(i for i, l in enumerate(lines) if re.search(after, l)) if after else 0
        i = next(i for i, l in enumerate(lines) if i >= a and re.search(start_pat, l))
        return "\n".join(lines[i:i + n])


def scen(out, sid, fw, device, quant, expected, source, derivation, env=None, traits=None, flashinfer=""):
    s = {"id": sid, "framework": fw, "device": device, "quant": quant}
    if flashinfer:
        s["flashinfer"] = flashinfer
    if env:
        s["env"] = env
    if traits:
        s["traits"] = traits
    s["expected"] = expected
    s["source"] = source
    s["derivation"] = derivation
    out.append(s)


DEVICES = {"sm90": 90, "sm100": 100, "sm103": 103, "sm110": 110, "sm120": 120, "sm121": 121}


def fam(sm):  # vLLM is_device_capability_family(x): to_int() // 10 == x // 10
    return sm // 10


# ---------------------------------------------------------------- vLLM unquantized (bf16)
# Revisions as a user names them -> the upstream commit whose tree decides (a tag's branch
# point, a PR marker's merge commit).
VLLM_UNQ_POST = [  # after #36286 (oracle flow)
    ("pr36286", "d9b90a07aced1789998f97f14e5e1456d4e671f1"),
    ("pr38859", "a5a623d9616337ed53e8fa0e1376e2d17b505e38"),
    ("pr39825", "65b9808960d7f25a018c525d2aca3dba7c411cfb"),
    ("pr39959", "191e3fdaa1fd3dd09441e7b22d4f2ddef51c012c"),
    ("pr40808", "b542bdf7fb3611879b30917e03bef62963496e83"),
    ("main-52a31cc", "52a31ccecca203effd490a5b496dc5f8d9496654"),
    ("v0.23.0", "967c5c3bc38891f4465d3f4e99917ed837bb3833"),
    ("pr43853", "8b2b566ea710e48149886aecf2e17a2c78d55c11"),
]
VLLM_UNQ_PRE = [  # before #36286: the old select_unquantized_moe_backend
    ("v0.16.0", "22b64948f6f4381bce7ac8ec0487020f0129e1cb"),
    ("v0.19.0", "d816834c1aa61da8e8703c6e8c368ad22fe76e13"),
]


def fi_cutlass_device(src):
    """FlashInferExperts._supports_current_device at that commit: returns (predicate, cite)."""
    f = src.find("flashinfer_cutlass_moe.py")
    blk = src.block(f, r"def _supports_current_device", 16)
    has110 = "is_device_capability_family(110)" in blk
    fam120 = "is_device_capability_family(120)" in blk
    exact120 = re.search(r"is_device_capability\(120\)", blk) is not None
    assert "is_device_capability(90)" in blk and "is_device_capability_family(100)" in blk, blk
    assert fam120 or exact120, blk

    def pred(sm):
        return sm == 90 or fam(sm) == 10 or (has110 and fam(sm) == 11) or (fam120 and fam(sm) == 12) or (exact120 and sm == 120)

    desc = "SM90 exact, SM10x family" + (", SM110 family" if has110 else "") + (", SM12x family" if fam120 else ", SM120 exact")
    return pred, src.cite(f, r"is_device_capability_family\(100\)", after=r"def _supports_current_device"), desc


def trtllm_bf16(src):
    f = src.find("trtllm_bf16_moe.py")
    blk = src.block(f, r"def _supports_routing_method", 16)
    routes = re.findall(r"^\s+RoutingMethodType\.(\w+),", blk, re.M)
    act = src.block(f, r"def _supports_activation", 4)
    acts = re.findall(r"MoEActivation\.(\w+)", act)
    nonmul = "return True" in src.block(f, r"def _supports_no_act_and_mul", 4)
    assert "is_device_capability_family(100)" in src.block(f, r"def _supports_current_device", 10)
    return {"routes": routes, "acts": acts, "non_gated": nonmul,
            "dev_cite": src.cite(f, r"is_device_capability_family\(100\)", after=r"def _supports_current_device"),
            "route_cite": src.cite(f, r"def _supports_routing_method"),
            "act_cite": src.cite(f, r"def _supports_activation")}


ROUTE = {"renormalize": "Renormalize", "deepseek_v3": "DeepSeekV3", "llama4": "Llama4", "default": "Default"}
ACT = {"silu": ("SILU", True), "relu2_no_mul": ("RELU2_NO_MUL", False), "swigluoai": ("SWIGLUOAI", True)}


def vllm_unquantized(out):
    for rev, commit in VLLM_UNQ_POST:
        src = Src(VLLM, commit)
        oracle = FM + "oracle/unquantized.py"
        order_cite = src.cite(oracle, r"UnquantizedMoeBackend\.FLASHINFER_TRTLLM,", after=r"elif current_platform\.is_cuda\(\)")
        hopper = any("is_device_capability_family(90)" in l for l in src.text(oracle))
        hopper_cite = src.cite(oracle, r"is_device_capability_family\(90\)") if hopper else ""
        dp_cite = src.cite(oracle, r"dp_size > 1")
        cut_pred, cut_cite, cut_desc = fi_cutlass_device(src)
        cutf = src.find("flashinfer_cutlass_moe.py")
        cut_scheme = src.cite(cutf, r"has_device_capability\(90\)", after=r"def _supports_quant_scheme")
        cut_acts = re.findall(r"MoEActivation\.(\w+)", src.block(cutf, r"def _supports_activation", 8))
        tr = trtllm_bf16(src)
        trif = src.find("triton_moe.py", "fused_moe.py")
        tri_acts = re.findall(r"MoEActivation\.(\w+)", src.block(trif, r"def _supports_activation", 24, after=r"^class TritonExperts").split("]")[0])
        tri_cite = src.cite(trif, r"def _supports_activation", after=r"^class TritonExperts")
        for dp in (1, 2):
            for act in ("silu", "relu2_no_mul"):
                for dev, sm in DEVICES.items():
                    if act == "relu2_no_mul" and dp == 2:
                        continue
                    if dp == 2 and dev not in ("sm90", "sm100", "sm120"):
                        continue
                    if act == "relu2_no_mul" and dev not in ("sm90", "sm100", "sm110", "sm120"):
                        continue
                    enum, gated = ACT[act]
                    order = ["FLASHINFER_TRTLLM", "FLASHINFER_CUTLASS", "TRITON"]
                    notes = []
                    if hopper and fam(sm) == 9:
                        order = ["TRITON", "FLASHINFER_TRTLLM", "FLASHINFER_CUTLASS"]
                        notes.append("SM90 family moves both FlashInfer backends behind TRITON (" + hopper_cite + ")")
                    if dp > 1:
                        order.remove("FLASHINFER_CUTLASS")
                        order.append("FLASHINFER_CUTLASS")
                        notes.append("dp_size>1 moves FLASHINFER_CUTLASS to the back (" + dp_cite + ")")
                    why = {}
                    ok_tr = fam(sm) == 10 and ROUTE["renormalize"] in tr["routes"] and enum in tr["acts"] and (gated or tr["non_gated"])
                    why["FLASHINFER_TRTLLM"] = (ok_tr, f"TrtLlmBf16Experts: SM10x family? {fam(sm) == 10}; Renormalize routing in {tr['routes']}? {ROUTE['renormalize'] in tr['routes']}; {enum} in {tr['acts']}{'' if gated else ' and non-gated supported? ' + str(tr['non_gated'])} ({tr['dev_cite']}, {tr['route_cite']})")
                    ok_cu = cut_pred(sm) and sm >= 90 and enum in cut_acts
                    why["FLASHINFER_CUTLASS"] = (ok_cu, f"FlashInferExperts device gate [{cut_desc}] holds for sm{sm}? {cut_pred(sm)}; (None,None) needs has_device_capability(90); {enum} in {cut_acts} ({cut_cite}, {cut_scheme})")
                    why["TRITON"] = (enum in tri_acts, f"TritonExperts supports {enum} ({tri_cite})")
                    pick = next(b for b in order if why[b][0])
                    backend = {"FLASHINFER_TRTLLM": "flashinfer_trtllm", "FLASHINFER_CUTLASS": "flashinfer_cutlass", "TRITON": "triton"}[pick]
                    walked = [f"{b}: {'yes' if why[b][0] else 'no'} - {why[b][1]}" for b in order[:order.index(pick) + 1]]
                    traits = {"dp_size": str(dp)} if dp > 1 else {}
                    if act != "silu":
                        traits["activation"] = act
                    sid = f"vllm_{rev}_bf16_{dev}" + (f"_dp{dp}" if dp > 1 else "") + ("" if act == "silu" else "_" + act)
                    scen(out, sid, f"vllm@{rev}", dev, "bf16", {"exit": 0, "backend": backend},
                         order_cite,
                         f"auto selection walks {order} (routing Renormalize, flashinfer at the pin); " + "; ".join(notes + walked),
                         traits=traits or None)
    # Before #36286: TRITON unless VLLM_USE_FLASHINFER_MOE_FP16=1.
    for rev, commit in VLLM_UNQ_PRE:
        src = Src(VLLM, commit)
        oracle = FM + "oracle/unquantized.py"
        tri = src.cite(oracle, r"backend = UnquantizedMoeBackend\.TRITON", after=r"if current_platform\.is_cuda\(\)")
        ep = src.cite(oracle, r"and use_ep")
        cap = src.cite(oracle, r"has_device_capability\(90\)")
        tr_env = src.cite(oracle, r"and envs\.VLLM_USE_FLASHINFER_MOE_FP16", after=r"flashinfer_trtllm_moe_enabled = ")
        tf = FM + "flashinfer_trtllm_moe.py"
        trdev = src.cite(tf, r"is_device_capability_family\(100\)")
        for dev, sm in DEVICES.items():
            scen(out, f"vllm_{rev}_bf16_{dev}_default", f"vllm@{rev}", dev, "bf16", {"exit": 0, "backend": "triton"}, tri,
                 f"release {rev}: old select_unquantized_moe_backend; VLLM_USE_FLASHINFER_MOE_FP16 unset (default 0) so neither FlashInfer path is enabled and CUDA takes TRITON")
        for dev, sm in (("sm90", 90), ("sm110", 110), ("sm120", 120), ("sm121", 121)):
            # FP16=1: TRTLLM needs SM10x family (is_supported_config_trtllm_bf16), so CUTLASS is
            # tried: has_flashinfer_cutlass_fused_moe() and use_ep and not use_dp and cap >= 9.0.
            scen(out, f"vllm_{rev}_bf16_{dev}_fp16env_noep", f"vllm@{rev}", dev, "bf16", {"exit": 0, "backend": "triton"}, ep,
                 f"FP16=1 but ep_size=1: flashinfer_cutlass_moe_enabled needs use_ep ({ep}); TRTLLM bf16 needs SM10x family ({trdev}); so TRITON",
                 env={"VLLM_USE_FLASHINFER_MOE_FP16": "1"})
            scen(out, f"vllm_{rev}_bf16_{dev}_fp16env_ep2", f"vllm@{rev}", dev, "bf16", {"exit": 0, "backend": "flashinfer_cutlass"}, cap,
                 f"FP16=1, ep_size=2, dp_size=1, sm{sm} >= 90: flashinfer_cutlass_moe_enabled (use_ep {ep}, has_device_capability(90) {cap}); no per-family device whitelist on this path; TRTLLM needs SM10x family ({trdev})",
                 env={"VLLM_USE_FLASHINFER_MOE_FP16": "1"}, traits={"ep_size": "2"})
        scen(out, f"vllm_{rev}_bf16_sm90_fp16env_ep2_dp2", f"vllm@{rev}", "sm90", "bf16", {"exit": 0, "backend": "triton"},
             src.cite(oracle, r"and \(not use_dp\)"),
             "FP16=1, ep 2 but dp 2: flashinfer_cutlass_moe_enabled requires not use_dp, so TRITON",
             env={"VLLM_USE_FLASHINFER_MOE_FP16": "1"}, traits={"ep_size": "2", "dp_size": "2"})


# ------------------------------------------------------- vLLM env semantics (unquantized)
def vllm_unquantized_env(out):
    fiu_path = "vllm/model_executor/layers/quantization/utils/flashinfer_utils.py"
    for rev, commit in (("pr40808", "b542bdf7fb3611879b30917e03bef62963496e83"),
                        ("main-52a31cc", "52a31ccecca203effd490a5b496dc5f8d9496654"),
                        ("v0.23.0", "967c5c3bc38891f4465d3f4e99917ed837bb3833")):
        src = Src(VLLM, commit)
        oracle = FM + "oracle/unquantized.py"
        fiu = src.cite(fiu_path, r'flashinfer_moe_backend == "latency"')
        fiu_fb = src.cite(fiu_path, r"return FlashinferMoeBackend\.CUTLASS", after=r"def get_flashinfer_moe_backend")
        isset = src.cite(oracle, r'envs\.is_set\("VLLM_FLASHINFER_MOE_BACKEND"\)')
        off = src.cite(oracle, r"if not envs\.VLLM_USE_FLASHINFER_MOE_FP16")
        raise_ni = src.cite(oracle, r"Found VLLM_USE_FLASHINFER_MOE_FP16=1, but no")
        raise_v = src.cite(oracle, r"does not support unquantized MoE")
        cut_pred, cut_cite, cut_desc = fi_cutlass_device(src)
        E = "VLLM_USE_FLASHINFER_MOE_FP16"
        B = "VLLM_FLASHINFER_MOE_BACKEND"
        for dev, sm in (("sm90", 90), ("sm100", 100), ("sm110", 110), ("sm120", 120)):
            # latency: TENSORRT_LLM on SM10x family, else CUTLASS (with an info log).
            if fam(sm) == 10:
                exp = {"exit": 0, "backend": "flashinfer_trtllm"}
                d = f"latency on the SM10x family -> TENSORRT_LLM ({fiu}); TrtLlmBf16Experts supports SM10x with Renormalize routing; no fallback"
            elif cut_pred(sm):
                exp = {"exit": 0, "backend": "flashinfer_cutlass"}
                d = f"latency off the SM10x family -> CUTLASS ({fiu_fb}); FlashInferExperts supports sm{sm} ({cut_cite})"
            else:
                exp = {"exit": 1, "error_contains": "does not support"}
                d = f"latency off SM10x -> CUTLASS ({fiu_fb}); FlashInferExperts device gate [{cut_desc}] rejects sm{sm} ({cut_cite}); explicit env choice has no fallback: _return_or_raise raises ValueError"
            scen(out, f"vllm_{rev}_bf16_{dev}_env_latency", f"vllm@{rev}", dev, "bf16", exp, isset, d, env={E: "1", B: "latency"})
            if cut_pred(sm):
                exp = {"exit": 0, "backend": "flashinfer_cutlass"}
                d = f"throughput -> CUTLASS ({fiu_path} backend_map); FlashInferExperts supports sm{sm} ({cut_cite})"
            else:
                exp = {"exit": 1, "error_contains": "does not support"}
                d = f"throughput -> CUTLASS; FlashInferExperts rejects sm{sm} ({cut_cite}); raises"
            scen(out, f"vllm_{rev}_bf16_{dev}_env_throughput", f"vllm@{rev}", dev, "bf16", exp, isset, d, env={E: "1", B: "throughput"})
            scen(out, f"vllm_{rev}_bf16_{dev}_env_masked_gemm", f"vllm@{rev}", dev, "bf16",
                 {"exit": 1, "error_contains": "CUTEDSL does not support unquantized MoE"}, raise_v,
                 "masked_gemm -> CUTEDSL, which the unquantized oracle rejects with ValueError", env={E: "1", B: "masked_gemm"})
            scen(out, f"vllm_{rev}_bf16_{dev}_env_fp16_off", f"vllm@{rev}", dev, "bf16", {"exit": 0, "backend": "triton"}, off,
                 "VLLM_USE_FLASHINFER_MOE_FP16=0 removes FLASHINFER_TRTLLM and FLASHINFER_CUTLASS; TRITON is next", env={E: "0"})
            if fam(sm) == 10:
                exp, d = {"exit": 0, "backend": "flashinfer_trtllm"}, "FP16=1 with VLLM_FLASHINFER_MOE_BACKEND unset tries TRTLLM then CUTLASS: TRTLLM supports SM10x"
            elif cut_pred(sm):
                exp, d = {"exit": 0, "backend": "flashinfer_cutlass"}, f"FP16=1, backend unset: TRTLLM needs SM10x; CUTLASS supports sm{sm} ({cut_cite})"
            else:
                exp, d = {"exit": 1, "error_contains": "VLLM_USE_FLASHINFER_MOE_FP16=1"}, f"FP16=1, backend unset: neither TRTLLM (SM10x only) nor CUTLASS ({cut_cite}) supports sm{sm}: NotImplementedError ({raise_ni})"
            scen(out, f"vllm_{rev}_bf16_{dev}_env_fp16_on", f"vllm@{rev}", dev, "bf16", exp, isset, d, env={E: "1"})
        envs_src = src.cite("vllm/envs.py", r'"VLLM_FLASHINFER_MOE_BACKEND",')
        scen(out, f"vllm_{rev}_env_backend_bad_case", f"vllm@{rev}", "sm100", "bf16", {"exit": 2, "message_contains": "rejected upstream"}, envs_src,
             "env_with_choices is case-sensitive by default: 'LATENCY' is not among throughput/latency/masked_gemm, so vLLM raises at access",
             env={E: "1", B: "LATENCY"})
        scen(out, f"vllm_{rev}_env_fp16_not_int", f"vllm@{rev}", "sm100", "bf16", {"exit": 2, "message_contains": "bool(int("}, src.cite("vllm/envs.py", r'int\(os\.getenv\("VLLM_USE_FLASHINFER_MOE_FP16"'),
             "VLLM_USE_FLASHINFER_MOE_FP16 is parsed with bool(int(...)): 'true' raises ValueError", env={E: "true"})
        scen(out, f"vllm_{rev}_env_fp16_two", f"vllm@{rev}", "sm100", "bf16", {"exit": 0, "backend": "flashinfer_trtllm"}, src.cite("vllm/envs.py", r'int\(os\.getenv\("VLLM_USE_FLASHINFER_MOE_FP16"'),
             "bool(int('2')) is True: same as FP16=1 with the backend unset on SM10x -> TRTLLM", env={E: "2"})
    # #44992 removed these variables; passing one is an input the revision does not read.
    src = Src(VLLM, "8b2b566ea710e48149886aecf2e17a2c78d55c11")
    src.absent(FM + "oracle/unquantized.py", r"VLLM_USE_FLASHINFER_MOE_FP16")
    src.absent("vllm/envs.py", r'"VLLM_FLASHINFER_MOE_BACKEND"')
    for name, val in (("VLLM_USE_FLASHINFER_MOE_FP16", "1"), ("VLLM_FLASHINFER_MOE_BACKEND", "latency"), ("VLLM_USE_FLASHINFER_MOE_FP8", "1")):
        scen(out, f"vllm_pr43853_env_{name.lower()}_not_read", "vllm@pr43853", "sm100", "bf16", {"exit": 2, "message_contains": "does not read " + name},
             FM + "oracle/unquantized.py:1@8b2b566ea710 (no reference to " + name + "); vllm/envs.py@8b2b566ea710",
             f"#44992 (03878d1c221b) deleted {name} from vllm/envs.py and the oracles; at pr43853 it is not read", env={name: val})


# ---------------------------------------------------------------- vLLM NVFP4 (non-SM10x)
VLLM_NVFP4 = [
    ("v0.16.0", "22b64948f6f4381bce7ac8ec0487020f0129e1cb"),
    ("v0.19.0", "d816834c1aa61da8e8703c6e8c368ad22fe76e13"),
    ("pr38251", "e8ebbdde8304a8cf89bbd4e101ebdfc25118b125"),
    ("pr39825", "65b9808960d7f25a018c525d2aca3dba7c411cfb"),
    ("pr39959", "191e3fdaa1fd3dd09441e7b22d4f2ddef51c012c"),
    ("pr40808", "b542bdf7fb3611879b30917e03bef62963496e83"),
    ("main-52a31cc", "52a31ccecca203effd490a5b496dc5f8d9496654"),
    ("v0.23.0", "967c5c3bc38891f4465d3f4e99917ed837bb3833"),
]


def vllm_nvfp4(out):
    for rev, commit in VLLM_NVFP4:
        src = Src(VLLM, commit)
        oracle = FM + "oracle/nvfp4.py"
        text = "\n".join(src.text(oracle))
        m = re.search(r"_AVAILABLE_BACKENDS = \[(.*?)\]", text, re.S) or re.search(r"AVAILABLE_BACKENDS = \[(.*?)\]", text, re.S)
        order = re.findall(r"NvFp4MoeBackend\.(\w+)", m.group(1))
        assert order[0] == "FLASHINFER_TRTLLM", order
        order_cite = src.cite(oracle, r"NvFp4MoeBackend\.FLASHINFER_TRTLLM,")
        cut_pred, cut_cite, cut_desc = fi_cutlass_device(src)
        cutf = src.find("flashinfer_cutlass_moe.py")
        nv_scheme = src.cite(cutf, r"has_device_capability\(100\)", after=r"kNvfp4Static, kNvfp4Dynamic")
        cf = src.find("cutlass_moe.py")
        blk = src.block(cf, r"class CutlassExpertsFp4", 40)
        assert all(f"is_device_capability_family({x})" in blk for x in (100, 110, 120)), blk
        vc_cite = src.cite(cf, r"is_device_capability_family\(110\)", after=r"class CutlassExpertsFp4")
        mf = src.find("marlin_moe.py", "fused_marlin_moe.py")
        mar = src.cite(mf, r"kNvfp4Static", after=r"def _supports_quant_scheme")
        # TRTLLM and CuteDSL NVFP4 need the SM10x family at every revision here.
        tr_dev = src.cite(src.find("trtllm_nvfp4_moe.py") if rev not in ("v0.16.0",) else FM + "flashinfer_trtllm_moe.py", r"is_device_capability_family\(100\)")
        cd_dev = src.cite(src.find("flashinfer_cutedsl_moe.py"), r"is_device_capability_family\(100\)")
        for dev, sm in (("sm90", 90), ("sm110", 110), ("sm120", 120), ("sm121", 121)):
            cand = [b for b in order if b not in ("FLASHINFER_TRTLLM", "FLASHINFER_CUTEDSL", "FLASHINFER_CUTEDSL_BATCHED")]
            ok = {"FLASHINFER_CUTLASS": cut_pred(sm) and sm >= 100, "VLLM_CUTLASS": fam(sm) in (10, 11, 12), "MARLIN": sm >= 75, "EMULATION": True}
            pick = next(b for b in cand if ok[b])
            backend = {"FLASHINFER_CUTLASS": "flashinfer_cutlass", "VLLM_CUTLASS": "vllm_cutlass", "MARLIN": "marlin"}[pick]
            d = (f"nvfp4 order {order}; TRTLLM ({tr_dev}) and CuteDSL ({cd_dev}) need the SM10x family; "
                 f"FLASHINFER_CUTLASS device gate [{cut_desc}] holds for sm{sm}? {cut_pred(sm)} ({cut_cite}) and (nvfp4,nvfp4) needs has_device_capability(100) ({nv_scheme}); "
                 f"VLLM_CUTLASS (CutlassExpertsFp4) needs family 100/110/120 ({vc_cite}); MARLIN takes kNvfp4Static weights on cap >= 7.5 ({mar}) -> {pick}")
            scen(out, f"vllm_{rev}_nvfp4_{dev}", f"vllm@{rev}", dev, "nvfp4", {"exit": 0, "backend": backend}, order_cite, d)


def vllm_nvfp4_sm100(out):
    """NVFP4 on the SM10x family, standard format, SILU: TRTLLM NVFP4 first; its
    _supports_shape reads hidden_dim (% 512 from #32564 until #39510)."""
    for rev, commit in (("v0.19.0", "d816834c1aa61da8e8703c6e8c368ad22fe76e13"),
                        ("pr39825", "65b9808960d7f25a018c525d2aca3dba7c411cfb"),
                        ("pr40808", "b542bdf7fb3611879b30917e03bef62963496e83"),
                        ("main-52a31cc", "52a31ccecca203effd490a5b496dc5f8d9496654")):
        src = Src(VLLM, commit)
        f = src.find("trtllm_nvfp4_moe.py")
        lines = src.text(f)
        mono = next(i for i, l in enumerate(lines) if l.startswith("class TrtLlmNvFp4ExpertsMonolithic"))
        modular = next(i for i, l in enumerate(lines) if l.startswith("class TrtLlmNvFp4ExpertsModular"))
        # the modular class (and the base) put no routing restriction: the override is the monolithic one
        assert all(i > mono for i, l in enumerate(lines) if "def _supports_routing_method" in l), f
        assert "return True" in src.block(f, r"def _supports_parallel_config", 4, after=r"^class TrtLlmNvFp4ExpertsModular")
        shape = src.block(f, r"def _supports_shape", 8)
        needs512 = "% 512 == 0" in shape
        shape_cite = src.cite(f, r"def _supports_shape")
        acts = re.findall(r"MoEActivation\.(\w+)", src.block(f, r"def _supports_activation", 8).split("]")[0])
        assert "SILU" in acts
        dev = src.cite(f, r"is_device_capability_family\(100\)")
        cutf = src.find("flashinfer_cutlass_moe.py")
        cut_scheme = src.cite(cutf, r"has_device_capability\(100\)", after=r"kNvfp4Static, kNvfp4Dynamic")
        cd = src.find("flashinfer_cutedsl_moe.py")
        cd_batched = "FusedMoEActivationFormat.BatchedExperts" in src.block(cd, r"def activation_format", 4)
        order_cite = src.cite(FM + "oracle/nvfp4.py", r"NvFp4MoeBackend\.FLASHINFER_TRTLLM,")
        for d in ("sm100", "sm103"):
            if needs512:
                scen(out, f"vllm_{rev}_nvfp4_{d}_hidden7168", f"vllm@{rev}", d, "nvfp4", {"exit": 0, "backend": "flashinfer_trtllm"}, shape_cite,
                     f"TRTLLM NVFP4 first ({order_cite}); SM10x family ({dev}); SILU in {acts}; hidden 7168 % 512 == 0; the modular class has no routing restriction",
                     traits={"hidden_dim": "7168"})
                if cd_batched:
                    scen(out, f"vllm_{rev}_nvfp4_{d}_hidden2880", f"vllm@{rev}", d, "nvfp4", {"exit": 0, "backend": "flashinfer_cutlass"}, shape_cite,
                         f"hidden 2880 % 512 != 0 rejects TRTLLM NVFP4; FlashInferCuteDSLExperts is batched-format only here ({src.cite(cd, r'FusedMoEActivationFormat.BatchedExperts')}); FlashInferExperts takes nvfp4 on has_device_capability(100) ({cut_scheme})",
                         traits={"hidden_dim": "2880"})
                scen(out, f"vllm_{rev}_nvfp4_{d}_hidden_unknown", f"vllm@{rev}", d, "nvfp4", {"exit": 2, "message_contains": "hidden_dim"}, shape_cite,
                     "TRTLLM NVFP4 passes every other check, and its _supports_shape reads hidden_dim: without it the answer is not determined, so moesim refuses")
            else:
                scen(out, f"vllm_{rev}_nvfp4_{d}", f"vllm@{rev}", d, "nvfp4", {"exit": 0, "backend": "flashinfer_trtllm"}, shape_cite,
                     f"TRTLLM NVFP4 first ({order_cite}); SM10x family ({dev}); SILU in {acts}; _supports_shape accepts any hidden_dim (#39510); modular class has no routing restriction")


def vllm_nvfp4_cutedsl(out):
    """Seed PRs #38050 (FlashInfer CuteDSL NVFP4: FlashInferCuteDSLExperts becomes standard-format,
    FLASHINFER_CUTEDSL_BATCHED added) and #38169 (its revert), both sides, with #38251 (re-land):
    SM100, hidden 2880 (TRTLLM NVFP4 _supports_shape needs % 512 here), SILU."""
    for rev, commit in (("pr36728", "e85f8f0932f6"), ("pr38050", "678b3c99e82e"), ("pr38169", "be1a85b7a292"), ("pr38251", "e8ebbdde8304")):
        commit = subprocess.check_output(["git", "-C", VLLM, "rev-parse", commit]).decode().strip()
        src = Src(VLLM, commit)
        oracle = FM + "oracle/nvfp4.py"
        text = "\n".join(src.text(oracle))
        m = re.search(r"\n    AVAILABLE_BACKENDS = \[(.*?)\]", text, re.S)
        order = re.findall(r"NvFp4MoeBackend\.(\w+)", m.group(1))
        order_cite = src.cite(oracle, r"^    AVAILABLE_BACKENDS = \[")
        tf = src.find("trtllm_nvfp4_moe.py")
        assert "% 512 == 0" in src.block(tf, r"def _supports_shape", 8)
        shape_cite = src.cite(tf, r"% 512 == 0")
        cd = src.find("flashinfer_cutedsl_moe.py")
        cd_fmt = "Batched" if "FusedMoEActivationFormat.BatchedExperts" in src.block(cd, r"def activation_format", 4) else "Standard"
        cd_cite = src.cite(cd, r"return mk\.FusedMoEActivationFormat\.", after=r"def activation_format")
        cd_dev = src.cite(cd, r"is_device_capability_family\(100\)")
        has_cd_api = "has_flashinfer_cutedsl_moe_nvfp4()" in src.block(cd, r"def _supports_current_device", 10)
        cdb = None
        if "FLASHINFER_CUTEDSL_BATCHED" in order:
            bf = src.find("flashinfer_cutedsl_batched_moe.py")
            assert "FusedMoEActivationFormat.BatchedExperts" in src.block(bf, r"def activation_format", 4)
            assert "is_device_capability_family(100)" in src.block(bf, r"def _supports_current_device", 10)
            cdb = src.cite(bf, r"return mk\.FusedMoEActivationFormat\.BatchedExperts")
        cutf = src.find("flashinfer_cutlass_moe.py")
        cut_scheme = src.cite(cutf, r"has_device_capability\(100\)", after=r"kNvfp4Static, kNvfp4Dynamic")
        assert "FusedMoEActivationFormat.Standard" in src.block(cutf, r"def activation_format", 4)
        fi = "flashinfer/__init__.py:95@v0.6.6 exports cute_dsl_fused_moe_nvfp4 when the CuTe DSL imports" if has_cd_api else "grouped_gemm_nt_masked (FlashInfer at the pin)"
        for fmt in ("Standard", "Batched"):
            ok = {"FLASHINFER_TRTLLM": (False, f"hidden 2880 % 512 != 0 ({shape_cite})" + ("" if fmt == "Standard" else "; and standard format only")),
                  "FLASHINFER_CUTEDSL": (cd_fmt == fmt, f"FlashInferCuteDSLExperts is {cd_fmt}-format ({cd_cite}); SM10x family ({cd_dev}); {fi}"),
                  "FLASHINFER_CUTEDSL_BATCHED": (fmt == "Batched", f"FlashInferCuteDSLBatchedExperts is batched-format ({cdb})"),
                  "FLASHINFER_CUTLASS": (fmt == "Standard", f"FlashInferExperts: standard format, nvfp4 on has_device_capability(100) ({cut_scheme})")}
            walk = [b for b in order if b in ok]
            pick = next((b for b in walk if ok[b][0]), None)
            if pick is None:
                continue
            backend = {"FLASHINFER_CUTEDSL": "flashinfer_cutedsl", "FLASHINFER_CUTEDSL_BATCHED": "flashinfer_cutedsl_batched", "FLASHINFER_CUTLASS": "flashinfer_cutlass"}[pick]
            walked = [f"{b}: {'yes' if ok[b][0] else 'no'} - {ok[b][1]}" for b in walk[:walk.index(pick) + 1]]
            traits = {"hidden_dim": "2880"}
            if fmt == "Batched":
                traits["batched_format"] = "1"
            scen(out, f"vllm_{rev}_nvfp4_sm100_hidden2880_{fmt.lower()}", f"vllm@{rev}", "sm100", "nvfp4", {"exit": 0, "backend": backend}, order_cite,
                 f"select_nvfp4_moe_backend auto, {fmt} activation format; order {order}; " + "; ".join(walked), traits=traits)


# ---------------------------------------------------------------- vLLM FP8 (per-tensor, block)
VLLM_FP8_AT = [  # after #36286: TrtLlmFp8ExpertsMonolithic/Modular classes in experts/trtllm_fp8_moe.py
    ("pr36286", "d9b90a07aced1789998f97f14e5e1456d4e671f1"),
    ("pr38859", "a5a623d9616337ed53e8fa0e1376e2d17b505e38"),
    ("pr40808", "b542bdf7fb3611879b30917e03bef62963496e83"),
    ("v0.23.0", "967c5c3bc38891f4465d3f4e99917ed837bb3833"),
    ("pr43853", "8b2b566ea710e48149886aecf2e17a2c78d55c11"),
]
TRAIT_OF_ROUTE = {"Renormalize": "renormalize", "RenormalizeNaive": "renormalize_naive", "DeepSeekV3": "deepseek_v3", "Llama4": "llama4",
                  "SigmoidRenorm": "sigmoid_renorm", "Sigmoid": "sigmoid"}


def trtllm_fp8(src):
    """TrtLlmFp8ExpertsMonolithic routing lists per scheme, and the Modular class's scheme list."""
    f = src.find("trtllm_fp8_moe.py")
    lines = src.text(f)
    mono = src.block(f, r"def _supports_routing_method", 40, after=r"^class TrtLlmFp8ExpertsMonolithic")
    mono = mono.split("\n    def _apply", 1)[0].split("\n    @staticmethod\n    def _supports_router", 1)[0]
    parts = re.split(r"elif \(weight_key, activation_key\) == \(kFp8StaticTensorSym, kFp8StaticTensorSym\)", mono)
    assert len(parts) == 2 and "kFp8Static128BlockSym" in parts[0], mono
    block = re.findall(r"RoutingMethodType\.(\w+),", parts[0])
    tensor = re.findall(r"RoutingMethodType\.(\w+),", parts[1].split("return False", 1)[0] if "return False" in parts[1] else parts[1])
    modular = src.block(f, r"SUPPORTED_W_A = \[", 4, after=r"^class TrtLlmFp8ExpertsModular")
    assert "kFp8Static128BlockSym, kFp8Dynamic128Sym" in modular and "kFp8StaticTensorSym" not in modular, modular
    assert not re.search(r"def _supports_routing_method", src.block(f, r"^class TrtLlmFp8ExpertsModular", 40).split("\nclass ", 1)[0]), "Modular routing check"
    dev = src.block(f, r"def _supports_current_device", 10, after=r"^class TrtLlmFp8ExpertsBase")
    assert "is_device_capability_family(100)" in dev and "has_flashinfer_trtllm_fused_moe()" in dev, dev
    rl = src.block(f, r"def _supports_router_logits_dtype", 24, after=r"^class TrtLlmFp8ExpertsMonolithic").split("\n    @staticmethod", 1)[0]
    if "if router_logits_dtype == torch.float32" in rl:
        fp32_routes = re.findall(r"RoutingMethodType\.(\w+)", rl.split("if router_logits_dtype == torch.float32", 1)[1].split(")", 1)[0])
        rl_cite = src.cite(f, r"if router_logits_dtype == torch\.float32", after=r"^class TrtLlmFp8ExpertsMonolithic")
    else:
        assert re.search(r"return True|return router_logits_dtype in \[torch\.bfloat16, torch\.float32\]", rl), rl
        fp32_routes = None
        rl_cite = src.cite(f, r"def _supports_router_logits_dtype", after=r"^class TrtLlmFp8ExpertsMonolithic")
    return {"block": block, "tensor": tensor, "fp32_routes": fp32_routes, "rl_cite": rl_cite,
            "block_cite": src.cite(f, r"kFp8Static128BlockSym, kFp8Dynamic128Sym", after=r"def _supports_routing_method"),
            "tensor_cite": src.cite(f, r"== \(kFp8StaticTensorSym, kFp8StaticTensorSym\)", after=r"def _supports_routing_method"),
            "modular_cite": src.cite(f, r"SUPPORTED_W_A = \[", after=r"^class TrtLlmFp8ExpertsModular"),
            "dev_cite": src.cite(f, r"is_device_capability_family\(100\)", after=r"^class TrtLlmFp8ExpertsBase")}


def vllm_fp8(out):
    for rev, commit in VLLM_FP8_AT:
        src = Src(VLLM, commit)
        oracle = FM + "oracle/fp8.py"
        prio = src.block(oracle, r"_AVAILABLE_BACKENDS = \[", 16)
        order = re.findall(r"Fp8MoeBackend\.(\w+),", prio.split("]", 1)[0])
        assert order[:7] == ["AITER", "FLASHINFER_TRTLLM", "FLASHINFER_CUTLASS", "DEEPGEMM", "VLLM_CUTLASS", "TRITON", "MARLIN"], order
        order_cite = src.cite(oracle, r"_AVAILABLE_BACKENDS = \[")
        hop = src.cite(oracle, r"and current_platform\.is_device_capability\(90\)", after=r"def _get_priority_backends")
        hop_ep = src.cite(oracle, r"_move_to_front\(_AVAILABLE_BACKENDS, Fp8MoeBackend\.FLASHINFER_CUTLASS\)")
        hop_tp = src.cite(oracle, r"_move_to_front\(_AVAILABLE_BACKENDS, Fp8MoeBackend\.TRITON\)")
        no_cut = src.cite(oracle, r"AVAILABLE_BACKENDS\.remove\(Fp8MoeBackend\.VLLM_CUTLASS\)", after=r"if not allow_vllm_cutlass")
        tr = trtllm_fp8(src)
        cut_pred, cut_cite, cut_desc = fi_cutlass_device(src)
        cutf = src.find("flashinfer_cutlass_moe.py")
        qs = src.block(cutf, r"def _supports_quant_scheme", 40)
        assert re.search(r"\(kFp8StaticTensorSym, kFp8StaticTensorSym\),\s*\]\s*and p\.has_device_capability\(90\)", qs), qs
        assert re.search(r"\(kFp8Static128BlockSym, kFp8Dynamic128Sym\),\s*\]\s*and p\.is_device_capability\(90\)", qs), qs
        cut_pt = src.cite(cutf, r"and p\.has_device_capability\(90\)", after=r"def _supports_quant_scheme")
        cut_bl = src.cite(cutf, r"and p\.is_device_capability\(90\)", after=r"def _supports_quant_scheme")
        par = src.block(cutf, r"def _supports_parallel_config", 8)
        cut_par_any = re.search(r"^\s+return True$", par.split("\n    @", 1)[0], re.M) is not None
        trif = src.find("triton_moe.py", "fused_moe.py")
        tq = src.block(trif, r"def _supports_quant_scheme", 44, after=r"^class TritonExperts")
        tq = tq.split("\n    @staticmethod", 1)[0]
        fp8_gate = r"supports_fp8\(\)" if "supports_fp8()" in tq else r"has_device_capability\(\(8, 9\)\)"
        assert re.search(fp8_gate, tq) and "(kFp8Static128BlockSym, kFp8Dynamic128Sym)" in tq and "(kFp8StaticTensorSym, kFp8StaticTensorSym)" in tq, tq
        tri_cite = src.cite(trif, fp8_gate, after=r"^class TritonExperts")
        for quant in ("fp8", "fp8_block"):
            for dev, sm in DEVICES.items():
                for route, rdt in (("renormalize", "bfloat16"), ("deepseek_v3", "bfloat16"), ("llama4", "bfloat16"),
                                   ("renormalize", "float32"), ("deepseek_v3", "float32")):
                    if (route == "llama4" or rdt == "float32") and fam(sm) != 10:
                        continue
                    if rdt == "float32" and dev != "sm100":
                        continue
                    for ep in (1, 2):
                        if ep == 2 and not (sm == 90 and quant == "fp8_block" and route == "renormalize" and cut_par_any):
                            continue
                        lst = order[1:]  # AITER is ROCm only
                        lst.remove("VLLM_CUTLASS")  # allow_vllm_cutlass False
                        notes = [f"allow_vllm_cutlass=False removes VLLM_CUTLASS ({no_cut})", "AITER is ROCm only"]
                        if sm == 90 and quant == "fp8_block":
                            front = "FLASHINFER_CUTLASS" if ep > 1 else "TRITON"
                            lst.remove(front)
                            lst.insert(0, front)
                            notes.append(f"SM90 block fp8 with ep_size {ep} moves {front} to the front ({hop}; {hop_ep if ep > 1 else hop_tp})")
                        enum = next(k for k, v in TRAIT_OF_ROUTE.items() if v == route)
                        routes = tr["block"] if quant == "fp8_block" else tr["tensor"]
                        rl_ok = rdt == "bfloat16" or tr["fp32_routes"] is None or enum in tr["fp32_routes"]
                        mono = fam(sm) == 10 and enum in routes and rl_ok
                        modular = fam(sm) == 10 and quant == "fp8_block"
                        why = {
                            "FLASHINFER_TRTLLM": (mono or modular, f"TrtLlmFp8Experts: SM10x family? {fam(sm) == 10} ({tr['dev_cite']}); Monolithic {quant} routing {routes} has {enum}? {enum in routes} ({tr['block_cite'] if quant == 'fp8_block' else tr['tensor_cite']}); {rdt} router logits accepted? {rl_ok} ({tr['rl_cite']}); Modular takes 128-block only ({tr['modular_cite']})"),
                            "FLASHINFER_CUTLASS": (cut_pred(sm) and (sm >= 90 if quant == "fp8" else sm == 90), f"FlashInferExperts device gate [{cut_desc}] holds for sm{sm}? {cut_pred(sm)} ({cut_cite}); {'per-tensor needs has_device_capability(90) (' + cut_pt + ')' if quant == 'fp8' else '128-block needs is_device_capability(90) (' + cut_bl + ')'}"),
                            "DEEPGEMM": (False, "deep_gemm not installed (trait deep_gemm_installed=0): is_deep_gemm_supported() is False"),
                            "TRITON": (sm >= 89, f"TritonExperts fp8 keys need supports_fp8() ({tri_cite})"),
                        }
                        walk = [b for b in lst if b in why]
                        pick = next(b for b in walk if why[b][0])
                        backend = {"FLASHINFER_TRTLLM": "flashinfer_trtllm", "FLASHINFER_CUTLASS": "flashinfer_cutlass", "TRITON": "triton"}[pick]
                        exp = {"exit": 0, "backend": backend}
                        if pick == "FLASHINFER_TRTLLM":
                            exp["properties"] = {"kernel_class": "TrtLlmFp8ExpertsMonolithic" if mono else "TrtLlmFp8ExpertsModular"}
                        walked = [f"{b}: {'yes' if why[b][0] else 'no'} - {why[b][1]}" for b in walk[:walk.index(pick) + 1]]
                        traits = {"deep_gemm_installed": "0"}
                        if route != "renormalize":
                            traits["routing_method"] = route
                        if ep > 1:
                            traits["ep_size"] = str(ep)
                        if rdt != "bfloat16":
                            traits["router_logits_dtype"] = rdt
                        sid = f"vllm_{rev}_{quant}_{dev}" + ("" if route == "renormalize" else "_" + route) + (f"_ep{ep}" if ep > 1 else "") + ("_fp32logits" if rdt != "bfloat16" else "")
                        scen(out, sid, f"vllm@{rev}", dev, quant, exp, order_cite,
                             f"select_fp8_moe_backend auto, no env; priority {walk}; " + "; ".join(notes + walked), traits=traits)


# ---------------------------------------------------------------- vLLM MXFP4 (gpt-oss list)
def vllm_mxfp4(out):
    """select_mxfp4_moe_backend auto, no activation key (BF16 activations), standard format."""
    for rev, commit in (("main-52a31cc", "52a31ccecca203effd490a5b496dc5f8d9496654"), ("v0.23.0", "967c5c3bc38891f4465d3f4e99917ed837bb3833"),
                        ("pr43853", "8b2b566ea710e48149886aecf2e17a2c78d55c11")):
        src = Src(VLLM, commit)
        oracle = FM + "oracle/mxfp4.py"
        prio = src.block(oracle, r"_AVAILABLE_BACKENDS = \[", 18, after=r"def _get_priority_backends_for_gpt_oss")
        order = re.findall(r"^\s+Mxfp4MoeBackend\.(\w+),", prio.split("]", 1)[0], re.M)
        order_cite = src.cite(oracle, r"_AVAILABLE_BACKENDS = \[", after=r"def _get_priority_backends_for_gpt_oss")
        sel_cite = src.cite(oracle, r"_get_priority_backends_for_gpt_oss\(\), requested_activation_key")
        filt = src.cite(oracle, r"bf16 = \[b for b in backends if _backend_activation_key\(b\) is None\]")
        order = [b for b in order if b not in ("FLASHINFER_TRTLLM_MXFP4_MXFP8", "FLASHINFER_CUTLASS_MXFP4_MXFP8", "AITER_MXFP4_FP8", "AITER_MXFP4_MXFP4")]
        tf = src.find("trtllm_mxfp4_moe.py")
        tb = src.block(tf, r"^class TrtLlmMxfp4ExpertsBase", 100)
        assert "is_device_capability_family(100) and has_flashinfer()" in tb and "(kMxfp4Static, None)," in tb, tb
        t_acts = re.findall(r"MoEActivation\.(\w+)", src.block(tf, r"def _supports_activation", 3, after=r"^class TrtLlmMxfp4ExpertsBase"))
        t_cite = src.cite(tf, r"is_device_capability_family\(100\) and has_flashinfer\(\)")
        of = src.find("gpt_oss_triton_kernels_moe.py")
        ob = "\n".join(src.text(of))
        assert "(9, 0) <= (cap.major, cap.minor) < (11, 0)" in ob, of
        o_dev = src.cite(of, r"\(9, 0\) <= \(cap\.major, cap\.minor\) < \(11, 0\)")
        o_act_m = src.block(of, r"def _supports_activation", 3, after=r"^class OAITritonMxfp4ExpertsMonolithic")
        o_act = src.block(of, r"def _supports_activation", 3, after=r"^class OAITritonExperts")
        assert "activation == MoEActivation.SWIGLUOAI" in o_act_m and "activation == MoEActivation.SWIGLUOAI" in o_act
        o_act_cite = src.cite(of, r"return activation == MoEActivation\.SWIGLUOAI", after=r"^class OAITritonExperts")
        cut_pred, cut_cite, cut_desc = fi_cutlass_device(src)
        cutf = src.find("flashinfer_cutlass_moe.py")
        qs = src.block(cutf, r"def _supports_quant_scheme", 40)
        assert re.search(r"\(kMxfp4Static, None\),\s*\(kFp8Static128BlockSym, kFp8Dynamic128Sym\),\s*\]\s*and p\.is_device_capability\(90\)", qs), qs
        c_scheme = src.cite(cutf, r"\(kMxfp4Static, None\),", after=r"def _supports_quant_scheme")
        c_acts = re.findall(r"MoEActivation\.(\w+)", src.block(cutf, r"def _supports_activation", 8).split("]")[0])
        mf = src.find("marlin_moe.py")
        m_acts = re.findall(r"MoEActivation\.(\w+)", src.block(mf, r"def _supports_activation", 16, after=r"^class MarlinExpertsBase").split("]")[0])
        assert "kMxfp4Static" in src.block(mf, r"def _supports_quant_scheme", 18, after=r"^class MarlinExpertsBase")
        m_cite = src.cite(mf, r"has_device_capability\(\(7, 5\)\)", after=r"^class MarlinExpertsBase")
        for act in ("swigluoai", "silu"):
            enum = act.upper()
            for dev, sm in DEVICES.items():
                for tk in (True, False):
                    if not tk and (sm != 90 or act != "swigluoai"):
                        continue
                    ok = {"FLASHINFER_TRTLLM_MXFP4_BF16": (fam(sm) == 10 and enum in t_acts, f"TrtLlmMxfp4Experts: SM10x family and has_flashinfer() ({t_cite}); {enum} in {t_acts}; Modular takes any routing"),
                          "TRITON": (90 <= sm < 110 and tk and enum == "SWIGLUOAI", f"OAI triton_kernels: (9,0) <= cap < (11,0) ({o_dev}), triton_kernels importable? {tk}, SWIGLUOAI only ({o_act_cite})"),
                          "FLASHINFER_CUTLASS_MXFP4_BF16": (cut_pred(sm) and sm == 90 and enum in c_acts, f"FlashInferExperts device gate [{cut_desc}] ({cut_cite}); (mxfp4, None) only on is_device_capability(90) ({c_scheme}); {enum} in {c_acts}"),
                          "MARLIN": (sm >= 75 and enum in m_acts, f"MarlinExperts: has_device_capability((7, 5)) ({m_cite}), kMxfp4Static weights, {enum} in its list")}
                    walk = [b for b in order if b in ok]
                    pick = next(b for b in walk if ok[b][0])
                    backend = {"FLASHINFER_TRTLLM_MXFP4_BF16": "flashinfer_trtllm", "TRITON": "oai_triton", "FLASHINFER_CUTLASS_MXFP4_BF16": "flashinfer_cutlass", "MARLIN": "marlin"}[pick]
                    walked = [f"{b}: {'yes' if ok[b][0] else 'no'} - {ok[b][1]}" for b in walk[:walk.index(pick) + 1]]
                    traits = {"activation": act}
                    if not tk:
                        traits["triton_kernels_installed"] = "0"
                    sid = f"vllm_{rev}_mxfp4_{dev}_{act}" + ("" if tk else "_no_triton_kernels")
                    scen(out, sid, f"vllm@{rev}", dev, "mxfp4", {"exit": 0, "backend": backend}, order_cite,
                         f"auto: the gpt-oss priority list ({sel_cite}) without an activation key keeps the BF16-activation variants ({filt}): {walk}; AITER is ROCm; " + "; ".join(walked),
                         traits=traits)


# ---------------------------------------------------------------- vLLM revision names
def vllm_revisions(out):
    src = Src(VLLM, "d816834c1aa61da8e8703c6e8c368ad22fe76e13")
    oracle = FM + "oracle/unquantized.py"
    cite = src.cite(oracle, r"backend = UnquantizedMoeBackend\.TRITON", after=r"if current_platform\.is_cuda\(\)")
    # A main commit between #38169 (2026-03-26) and #38423 (2026-03-30): the v0.19 branch point.
    scen(out, "vllm_commit_d816834c_bf16_sm100", "vllm@d816834c1aa6", "sm100", "bf16", {"exit": 0, "backend": "triton", "revision": "pr38169"}, cite,
         "commit d816834c1aa6 (2026-03-29, first-parent main) lies after #38169 and before #38423/#36286: old oracle, FP16 unset -> TRITON")
    src2 = Src(VLLM, "b542bdf7fb3611879b30917e03bef62963496e83")
    scen(out, "vllm_commit_b542bdf7_bf16_sm110", "vllm@b542bdf7fb36", "sm110", "bf16", {"exit": 0, "backend": "triton", "revision": "pr40808"},
         fi_cutlass_device(src2)[1], "the #40808 merge commit itself: FlashInferExperts drops SM110; TRTLLM bf16 is SM10x only; so TRITON")
    for tag in ("v0.20.0", "v0.17.0"):
        scen(out, f"vllm_tag_{tag}_unresolved", f"vllm@{tag}", "sm100", "bf16", {"exit": 2, "message_contains": "release-branch point not recorded"},
             "RELEASE.md:20@52a31ccecca2 (release branches are cut from main)", f"{tag} is a vLLM release whose branch point no available snapshot records: refused, not guessed")
    for tag in ("v0.28.0", "v0.29.0", "v0.24.0"):
        scen(out, f"vllm_tag_{tag}_newer", f"vllm@{tag}", "sm100", "bf16", {"exit": 2, "message_contains": "not modelled after pr43853"},
             "vllm/model_executor/layers/fused_moe/oracle/unquantized.py@8b2b566ea710 (last modelled revision)", f"{tag} was cut from main after #43853 (2026-06-17)")
    scen(out, "vllm_commit_after_last", "vllm@017e9f4448b7", "sm100", "bf16", {"exit": 2, "message_contains": "not modelled after pr43853"},
         "first-parent main 017e9f4448b7@017e9f4448b7 (2026-08-17)", "a main commit newer than the last modelled revision")
    scen(out, "vllm_tag_unknown", "vllm@v0.99.0", "sm100", "bf16", {"exit": 2, "message_contains": "release tags"},
         "RELEASE.md:1@52a31ccecca2", "no such release: the error lists revisions and tags")
    scen(out, "vllm_env_unknown", "vllm@main-52a31cc", "sm100", "bf16", {"exit": 2, "message_contains": "not an environment variable"},
         "vllm/envs.py:1@52a31ccecca2 (VLLM_MOE_BACKEND is not defined)", "an env var the selection code never reads is refused, with the modelled list",
         env={"VLLM_MOE_BACKEND": "triton"})
    v0 = Src(VLLM, "52a31ccecca203effd490a5b496dc5f8d9496654")
    scen(out, "vllm_trait_unknown_intermediate", "vllm@main-52a31cc", "sm100", "bf16", {"exit": 2, "message_contains": "unknown trait"},
         v0.cite(FM + "modular_kernel.py", r"cls\._supports_shape\(moe_config\.hidden_dim\)"),
         "is_supported_config passes only hidden_dim to the shape check; intermediate_size is not a modelled trait: refused rather than ignored",
         traits={"intermediate_size": "2048"})


# ---------------------------------------------------------------- SGLang
SGL_TAGS = [  # tag -> branch point (merge-base with main)
    ("v0.5.10", "1ad6839659085732a6fe308f97141841d67f6323"),
    ("v0.5.12", "3117415c9bcd00ec06835eaae06690d53d18a334"),
    ("v0.5.13", "0f8673851ceeca611839451750952ca19b52fee6"),
    ("v0.5.15", "9a6f8e599204aa37481f5f37a1b20938aee98d5c"),
    ("v0.5.18", "d55f1c28e223226575d40d4449266630eaf2a277"),
]


def sglang(out):
    for tag, commit in SGL_TAGS:
        src = Src(SGL, commit)
        fp4 = "python/sglang/srt/layers/quantization/fp4_utils.py"
        blk = src.block(fp4, r"def initialize_fp4_gemm_config", 60)
        blk = blk.split("\ndef ", 1)[0]
        has_cudnn_rule = "flashinfer_cudnn" in blk and ("is_sm120_supported" in blk)
        has_cutedsl = "is_sm100_supported" in blk and "flashinfer_cutedsl" in blk
        has_marlin = '"marlin"' in blk and "(8, 0)" in blk
        cite = src.cite(fp4, r"def initialize_fp4_gemm_config")
        for dev, sm in (("sm90", 90), ("sm100", 100), ("sm110", 110), ("sm120", 120), ("sm121", 121)):
            if has_cudnn_rule and sm // 10 == 12:
                want, why = "flashinfer_cudnn", "SM12x (is_sm120_supported: major 12) -> flashinfer_cudnn rule of #20047 still present"
            elif has_cutedsl and sm // 10 == 10:
                want, why = "flashinfer_cutedsl", "is_sm100_supported (major 10) -> flashinfer_cutedsl (#23590)"
            elif has_marlin and 80 <= sm < 100:
                want, why = "marlin", "(8,0) <= capability < (10,0) -> marlin (rule added by #25655)"
            else:
                want, why = "flashinfer_cutlass", "otherwise -> flashinfer_cutlass (rules present: cudnn %s, cutedsl %s, marlin %s)" % (has_cudnn_rule, has_cutedsl, has_marlin)
            scen(out, f"sglang_{tag}_fp4gemm_{dev}", f"sglang@{tag}", dev, "modelopt_fp4", {"exit": 0, "results": {"fp4_gemm_backend": want}}, cite,
                 f"initialize_fp4_gemm_config at the {tag} branch point {commit[:12]}: auto -> {why}")
        # DeepGEMM configurer gate.
        cfg = "python/sglang/srt/layers/deep_gemm_wrapper/configurer.py"
        cblk = src.block(cfg, r"def _compute_enable_deep_gemm", 40)
        excl120 = re.search(r"sm_version == 120", cblk) is not None
        ccite = src.cite(cfg, r"def _compute_enable_deep_gemm")
        for dev, sm in (("sm90", 90), ("sm100", 100), ("sm120", 120), ("sm121", 121)):
            want = "disabled" if (excl120 and sm == 120) else "enabled"
            scen(out, f"sglang_{tag}_deepgemm_{dev}", f"sglang@{tag}", dev, "fp8", {"exit": 0, "results": {"deep_gemm": want}},
                 src.cite(cfg, r"sm_version == 120") if excl120 else ccite,
                 f"_compute_enable_deep_gemm: sm >= 90, deep_gemm importable; exact-120 exclusion present? {excl120} -> {want}; default SGLANG_ENABLE_JIT_DEEPGEMM=True",
                 traits={"deep_gemm_installed": "1"})
        env_cite = src.cite("python/sglang/srt/environ.py", r"SGLANG_ENABLE_JIT_DEEPGEMM = EnvBool\(True\)")
        for val, want in (("false", "disabled"), ("no", "disabled"), ("1", "enabled")):
            scen(out, f"sglang_{tag}_deepgemm_env_{val}", f"sglang@{tag}", "sm90", "fp8", {"exit": 0, "results": {"deep_gemm": want}}, env_cite,
                 f"EnvBool parses '{val}' (lower-cased true/1/yes/y, false/0/no/n) -> {want}", env={"SGLANG_ENABLE_JIT_DEEPGEMM": val}, traits={"deep_gemm_installed": "1"})
    src = Src(SGL, "d55f1c28e223226575d40d4449266630eaf2a277")
    scen(out, "sglang_env_bad_bool", "sglang@v0.5.18", "sm90", "fp8", {"exit": 2, "message_contains": "not a boolean"},
         src.cite("python/sglang/srt/environ.py", r"is not a valid boolean value"), "EnvBool raises ValueError on 'maybe'",
         env={"SGLANG_ENABLE_JIT_DEEPGEMM": "maybe"})
    scen(out, "sglang_tag_older", "sglang@v0.5.9", "sm90", "fp8", {"exit": 2, "message_contains": "older than the first modelled revision"},
         "python/sglang/srt/layers/quantization/fp4_utils.py@c36a10aabb39 (branch point of v0.5.9)", "v0.5.9 was cut before #20047")


SGL_GPT_OSS_TAGS = [
    ("v0.5.10", "1ad6839659085732a6fe308f97141841d67f6323"),
    ("v0.5.13", "0f8673851ceeca611839451750952ca19b52fee6"),
    ("v0.5.14", "7e6587c94a1d0305815a14067c5d3cc02a9b0f36"),
    ("v0.5.15", "9a6f8e599204aa37481f5f37a1b20938aee98d5c"),
    ("v0.5.16", "8905cbd42f4a27dbecad6487cd3904278756fef8"),
    ("v0.5.17", "34af3ff38655e93533813f2e63b938ed47e47ff5"),
    ("v0.5.18", "d55f1c28e223226575d40d4449266630eaf2a277"),
]


# SGLang --moe-runner-backend values -> moesim's canonical backend ids (docs/oracle.md, "Backend
# ids"): the triton_kernel runner is the OpenAI triton_kernels MoE that vLLM calls OAI TRITON.
SGL_RUNNER_ID = {"triton_kernel": "oai_triton"}


def sglang_gpt_oss(out):
    """GPT-OSS auto MoE runner: the if/elif chain of the gpt-oss model override."""
    for tag, commit in SGL_GPT_OSS_TAGS:
        src = Src(SGL, commit)
        path = None
        for cand in ("python/sglang/srt/arg_groups/overrides.py", "python/sglang/srt/server_args.py"):
            try:
                if any("enabling triton_kernels MOE kernel" in l for l in src.text(cand)):
                    path = cand
                    break
            except subprocess.CalledProcessError:
                continue
        lines = src.text(path)
        def branch_value(cond):
            i = next(i for i, l in enumerate(lines) if re.search(cond, l))
            for j in range(i + 1, i + 6):
                m = re.search(r'moe_runner_backend"?\]?\s*=\s*"(\w+)"', lines[j])
                if m:
                    return m.group(1), f"{path}:{j + 1}@{commit[:12]}"
            sys.exit(f"no assignment after {cond} in {path}@{commit[:12]}")
        v100, c100 = branch_value(r"is_sm100_supported\(\) and is_mxfp4_quant_format")
        v120, c120 = branch_value(r"is_sm120_supported\(\) and is_mxfp4_quant_format")
        v100, v120 = SGL_RUNNER_ID.get(v100, v100), SGL_RUNNER_ID.get(v120, v120)
        tk = src.cite(path, r'moe_runner_backend"?\]?\s*=\s*"triton_kernel"', after=r"is_triton_kernels_available\(\)")
        cond = src.cite(path, r"quantization is None", after=r"ep_size == 1")
        drv = src.cite(path, r"get_nvidia_driver_version\(\) >= \(")
        base = {"model_arch": "gpt_oss"}
        scen(out, f"sglang_{tag}_gpt_oss_sm100_mxfp4", f"sglang@{tag}", "sm100", "mxfp4", {"exit": 0, "results": {"moe_runner_backend": v100}}, c100,
             f"gpt-oss override, auto: is_sm100_supported() and the checkpoint is MXFP4 -> {v100}", traits=base)
        scen(out, f"sglang_{tag}_gpt_oss_sm120_mxfp4", f"sglang@{tag}", "sm120", "mxfp4", {"exit": 0, "results": {"moe_runner_backend": v120}}, c120,
             f"gpt-oss override, auto: is_sm120_supported() and the checkpoint is MXFP4 -> {v120}", traits=base)
        scen(out, f"sglang_{tag}_gpt_oss_sm121_mxfp4", f"sglang@{tag}", "sm121", "mxfp4", {"exit": 0, "results": {"moe_runner_backend": v120}}, c120,
             f"is_sm120_supported() is device-capability major 12 (SM121 included) -> {v120}", traits=base)
        for dev, quant in (("sm90", "mxfp4"), ("sm90", "bf16")):
            scen(out, f"sglang_{tag}_gpt_oss_{dev}_{quant}", f"sglang@{tag}", dev, quant, {"exit": 0, "results": {"moe_runner_backend": SGL_RUNNER_ID["triton_kernel"]}}, tk,
                 f"not SM100/SM120, not ROCm/MUSA; ep_size 1, triton_kernels importable, --quantization unset ({cond}); not Blackwell -> triton_kernel (the checkpoint quant method {quant} does not count as --quantization)",
                 traits=base)
        scen(out, f"sglang_{tag}_gpt_oss_sm110_mxfp4", f"sglang@{tag}", "sm110", "mxfp4", {"exit": 0, "results": {"moe_runner_backend": SGL_RUNNER_ID["triton_kernel"]}}, tk,
             "SM110 is neither is_sm100_supported (major 10) nor is_sm120_supported (major 12); Blackwell (major 11) but driver < 595 -> triton_kernel", traits=base)
        scen(out, f"sglang_{tag}_gpt_oss_sm100_bf16_driver595", f"sglang@{tag}", "sm100", "bf16", {"exit": 0, "results": {"moe_runner_backend": "triton"}}, drv,
             "bf16 checkpoint on SM100: no MXFP4 branch; ep 1, triton_kernels, no --quantization; Blackwell with driver >= 595 -> triton (triton_kernels SIGSEGV workaround)",
             traits=dict(base, nvidia_driver_ge_595="1"))


# ------------------------------------------------------ SGLang flashinfer autotune
SGL_AUTOTUNE_AT = [  # (name users give, commit whose tree decides)
    ("v0.5.13", "0f8673851ceeca611839451750952ca19b52fee6"),   # branch point, before #28333
    ("v0.5.14", "7e6587c94a1d0305815a14067c5d3cc02a9b0f36"),   # branch point, after #28333/#28739
    ("v0.5.17", "34af3ff38655e93533813f2e63b938ed47e47ff5"),   # branch point, before #33417
    ("pr33417", "ce84df0fa111c992eb8cc3efc03a2941c9ce18fa"),   # merge of #33417
    ("v0.5.18", "d55f1c28e223226575d40d4449266630eaf2a277"),   # branch point = S0
]


def sglang_autotune(out):
    """should_run_flashinfer_autotune read at each commit; the rule text found decides the answer."""
    for name, commit in SGL_AUTOTUNE_AT:
        src = Src(SGL, commit)
        path = None
        for cand in ("python/sglang/srt/model_executor/runner/flashinfer_autotune.py", "python/sglang/srt/model_executor/runner/base_runner.py",
                     "python/sglang/srt/model_executor/model_runner.py"):
            try:
                if any(re.search(r"def _?should_run_flashinfer_autotune", l) for l in src.text(cand)):
                    path = cand
                    break
            except subprocess.CalledProcessError:
                continue
        if path is None:
            sys.exit(f"should_run_flashinfer_autotune not found at {commit[:12]}")
        body = src.block(path, r"def _?should_run_flashinfer_autotune", 90)
        body = re.split(r"\n    def |\ndef ", body[4:], maxsplit=1)[0]
        fn_cite = src.cite(path, r"def _?should_run_flashinfer_autotune")
        # the backend autotune reads: server_args as configured (after the post-init overrides)
        reads_cfg = re.search(r"backend_str = (self\.|mr\.)?server_args\.moe_runner_backend|backend_str = get_exec\(\)\.moe\.moe_runner_backend|get_exec\(\)\.moe\.moe_runner_backend", body)
        if not reads_cfg:
            sys.exit(f"autotune at {commit[:12]} does not read the configured moe_runner_backend")
        read_cite = src.cite(path, r"server_args\.moe_runner_backend|get_exec\(\)\.moe\.moe_runner_backend", after=r"def _?should_run_flashinfer_autotune")
        has_det = "enable_deterministic_inference" in body
        fp8_cutlass = "get_fp8_gemm_runner_backend().is_flashinfer_cutlass()" in body
        fp8_sm100 = "model_uses_modelopt_fp8 and is_sm100_supported()" in body
        fp8_pertensor = "flashinfer_per_tensor_fp8_supported()" in body
        mq = src.block("python/sglang/srt/layers/quantization/modelopt_quant.py", r"def create_moe_runner", 16, after=r"class ModelOptNvFp4FusedMoEMethod")
        if "MoeRunnerBackend.FLASHINFER_TRTLLM" not in mq or "is_auto()" not in mq:
            sys.exit(f"ModelOptNvFp4FusedMoEMethod.create_moe_runner does not resolve auto at {commit[:12]}")
        mq_cite = src.cite("python/sglang/srt/layers/quantization/modelopt_quant.py", r"moe_runner_backend = MoeRunnerBackend.FLASHINFER_TRTLLM", after=r"class ModelOptNvFp4FusedMoEMethod")
        fw = f"sglang@{name}"
        # (a) NVFP4 on SM100, --moe-runner-backend auto, --fp4-gemm-backend flashinfer_trtllm: server_args keeps auto
        # (the quant method resolves TRTLLM at layer init), FP4 GEMM is not cutlass/cutedsl, no FP8 -> skip.
        choices = "\n".join(src.text("python/sglang/srt/server_args.py"))
        if '"flashinfer_trtllm"' in choices.split("FP4_GEMM_RUNNER_BACKEND_CHOICES = [", 1)[1].split("]", 1)[0]:
            scen(out, f"sglang_{name}_autotune_nvfp4_sm100_auto_fp4gemm_trtllm", fw, "sm100", "modelopt_fp4",
                 {"exit": 0, "results": {"moe_runner_backend": "flashinfer_trtllm", "flashinfer_autotune": "skip"}}, read_cite,
                 f"autotune reads the configured moe_runner_backend ({read_cite}), still 'auto' for a generic NVFP4 model on SM100: "
                 f"the quant method resolves FLASHINFER_TRTLLM only at layer init ({mq_cite}); FP4 GEMM flashinfer_trtllm is not cutlass/cutedsl; "
                 "not an FP8 model -> no reason to tune -> skip", traits={"fp4_gemm_runner_backend": "flashinfer_trtllm"})
        # (b) explicit --moe-runner-backend flashinfer_trtllm, same otherwise: moe_needs_autotune -> run
        scen(out, f"sglang_{name}_autotune_nvfp4_sm100_explicit_trtllm", fw, "sm100", "modelopt_fp4",
             {"exit": 0, "results": {"flashinfer_autotune": "run"}}, read_cite,
             "configured moe_runner_backend flashinfer_trtllm is in the moe_needs_autotune list; major 10 >= 9 -> run",
             traits={"moe_runner_backend": "flashinfer_trtllm", "fp4_gemm_runner_backend": "flashinfer_trtllm"})
        # (c) ModelOpt FP8 on SM100 (CUDA >= 12.8), auto everything
        if fp8_pertensor:
            for sup in ("0", "1"):
                want = "run" if sup == "1" else "skip"
                scen(out, f"sglang_{name}_autotune_modelopt_fp8_sm100_pertensor{sup}", fw, "sm100", "modelopt_fp8",
                     {"exit": 0, "results": {"flashinfer_autotune": want}}, src.cite(path, r"flashinfer_per_tensor_fp8_supported\(\)$"),
                     f"fp8_gemm_needs_autotune = flashinfer_per_tensor_fp8_supported() for modelopt FP8 (given as {sup}); moe auto, not FP4 -> {want}",
                     traits={"flashinfer_per_tensor_fp8_supported": sup})
        else:
            want = "run" if fp8_sm100 else "skip"
            cite = src.cite(path, r"model_uses_modelopt_fp8 and is_sm100_supported") if fp8_sm100 else fn_cite
            scen(out, f"sglang_{name}_autotune_modelopt_fp8_sm100", fw, "sm100", "modelopt_fp8", {"exit": 0, "results": {"flashinfer_autotune": want}}, cite,
                 ("modelopt FP8 and is_sm100_supported() -> fp8_gemm_needs_autotune -> run" if fp8_sm100 else
                  "no FP8 clause yet (#28333 adds it): moe auto, not FP4 -> skip"))
        # (d) --fp8-gemm-backend flashinfer_cutlass on SM90 (ModelOpt FP8)
        want = "run" if fp8_cutlass else "skip"
        cite = src.cite(path, r"get_fp8_gemm_runner_backend\(\)\.is_flashinfer_cutlass\(\)") if fp8_cutlass else fn_cite
        scen(out, f"sglang_{name}_autotune_modelopt_fp8_sm90_fp8gemm_cutlass", fw, "sm90", "modelopt_fp8", {"exit": 0, "results": {"flashinfer_autotune": want}}, cite,
             ("--fp8-gemm-backend flashinfer_cutlass -> fp8_gemm_needs_autotune; major 9 >= 9 -> run" if fp8_cutlass else
              "the FP8 GEMM backend is not read by autotune here; moe auto, not FP4, not SM100 -> skip"),
             traits={"fp8_gemm_runner_backend": "flashinfer_cutlass", "flashinfer_per_tensor_fp8_supported": "0"})
        # (e) --enable-deterministic-inference, gpt-oss MXFP4 on SM100 (server_args sets flashinfer_mxfp4)
        want = "skip" if has_det else "run"
        cite = src.cite(path, r"enable_deterministic_inference") if has_det else fn_cite
        scen(out, f"sglang_{name}_autotune_deterministic_gpt_oss_sm100", fw, "sm100", "mxfp4", {"exit": 0, "results": {"moe_runner_backend": "flashinfer_mxfp4", "flashinfer_autotune": want}}, cite,
             ("deterministic inference returns False before any backend check (#33417)" if has_det else
              "no deterministic check in autotune yet (#33417 adds it); gpt-oss SM100 MXFP4 -> flashinfer_mxfp4 set in server_args -> moe_needs_autotune -> run"),
             traits={"model_arch": "gpt_oss", "deterministic": "1"})


def main():
    groups = {"vllm_unquantized.json": vllm_unquantized, "vllm_unquantized_env.json": vllm_unquantized_env,
              "vllm_nvfp4.json": vllm_nvfp4, "vllm_nvfp4_sm100.json": vllm_nvfp4_sm100, "vllm_nvfp4_cutedsl.json": vllm_nvfp4_cutedsl, "vllm_revisions.json": vllm_revisions, "vllm_fp8.json": vllm_fp8, "vllm_mxfp4.json": vllm_mxfp4, "sglang.json": sglang,
              "sglang_gpt_oss.json": sglang_gpt_oss, "sglang_autotune.json": sglang_autotune}
    total = 0
    for name, fn in groups.items():
        out = []
        fn(out)
        total += len(out)
        with open(os.path.join(OUT, name), "w") as f:
            f.write('{"about": "generated by generate.py from upstream source; see README.md", "scenarios": [\n')
            f.write(",\n".join(json.dumps(s, ensure_ascii=False) for s in out))
            f.write("\n]}\n")
        print(name, len(out))
    print("total", total)


if __name__ == "__main__":
    main()
