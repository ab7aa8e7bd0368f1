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


def main():
    groups = {"vllm_unquantized.json": vllm_unquantized, "vllm_unquantized_env.json": vllm_unquantized_env,
              "vllm_nvfp4.json": vllm_nvfp4, "vllm_nvfp4_sm100.json": vllm_nvfp4_sm100, "vllm_revisions.json": vllm_revisions, "sglang.json": sglang,
              "sglang_gpt_oss.json": sglang_gpt_oss}
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
