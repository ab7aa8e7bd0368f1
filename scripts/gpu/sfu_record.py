#!/usr/bin/env python3
"""Records, on an NVIDIA GPU, everything moesim's sim/formats and sim/quant tests check
against hardware (issue 3). One run, run from the repository root:

    python3 scripts/gpu/sfu_record.py OUTDIR

Steps: build scripts/gpu/sfu_tabulate.cu and scripts/gpu/quant_nvfp4_anchor.cu for sm_90a
(no fast-math, no -ftz, as vLLM builds its csrc), run them, dump the SASS of the SFU
instructions and of __expf/__fdividef/silu, hash the NVFP4 anchor outputs, and record
PyTorch's native CUDA casts (float8_e4m3fn, float8_e5m2, bfloat16, float16) of the same
random inputs plus every bf16 pattern widened to fp32.

Output files (at most 8): rcp_delta.bin, ex2_pos_diff.bin, ex2_neg_diff.bin, vec_a.bin,
vec_b.bin, torch_casts.bin, reports.tar (sfu_report.txt, quant_anchor.txt, sass.txt,
silu_bf16.bin, versions.txt). The compaction into tests/data/sfu is done on the CPU side.
"""
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

PROBE = r"""
__global__ void k_rcp(const float* a, float* o){ float b; asm volatile("rcp.approx.ftz.f32 %0, %1;" : "=f"(b) : "f"(a[threadIdx.x])); o[threadIdx.x]=b; }
__global__ void k_ex2ftz(const float* a, float* o){ float b; asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(b) : "f"(a[threadIdx.x])); o[threadIdx.x]=b; }
__global__ void k_ex2(const float* a, float* o){ float b; asm volatile("ex2.approx.f32 %0, %1;" : "=f"(b) : "f"(a[threadIdx.x])); o[threadIdx.x]=b; }
__global__ void k_expf(const float* a, float* o){ o[threadIdx.x] = __expf(a[threadIdx.x]); }
__global__ void k_fdiv(const float* a, const float* b, float* o){ o[threadIdx.x] = __fdividef(a[threadIdx.x], b[threadIdx.x]); }
__global__ void k_silu(const float* a, float* o){ float x=a[threadIdx.x]; o[threadIdx.x] = __fdividef(x, 1.f + __expf(-x)); }
"""


def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    out = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="sfu_")
    here = os.path.dirname(os.path.abspath(__file__))
    nvcc = "nvcc"
    sh([nvcc, "-O2", "-arch=sm_90a", "-o", f"{tmp}/sfu_tabulate", f"{here}/sfu_tabulate.cu"])
    sh([nvcc, "-O2", "-arch=sm_90a", "-o", f"{tmp}/quant_nvfp4_anchor", f"{here}/quant_nvfp4_anchor.cu"])
    with open(f"{tmp}/probe.cu", "w") as f:
        f.write(PROBE)
    sh([nvcc, "-O2", "-arch=sm_90a", "-cubin", "-o", f"{tmp}/probe.cubin", f"{tmp}/probe.cu"])
    try:
        sass = sh(["cuobjdump", "-sass", f"{tmp}/probe.cubin"])
    except Exception as e:  # keep the run going: the tables matter more
        sass = f"cuobjdump failed: {e}"
    with open(f"{tmp}/sass.txt", "w") as f:
        f.write(sass)

    print(sh([f"{tmp}/sfu_tabulate", out, tmp]), flush=True)
    anchor = sh([f"{tmp}/quant_nvfp4_anchor", tmp])
    lines = [anchor.strip()]
    for name in ["anchor_input", "anchor_packed", "anchor_sf_linear", "anchor_sf_128x4"]:
        data = open(f"{tmp}/{name}.bin", "rb").read()
        lines.append(f"sha256 {name}={hashlib.sha256(data).hexdigest()} bytes={len(data)}")
    packed = open(f"{tmp}/anchor_packed.bin", "rb").read()
    sfl = open(f"{tmp}/anchor_sf_linear.bin", "rb").read()
    # small slices of actual bytes: row 0, row 1, row 4095 (first 64 packed bytes, first 32 scales)
    for r in (0, 1, 1009, 4095):
        lines.append(f"packed_row{r}_first64={packed[r * 3584: r * 3584 + 64].hex()}")
        lines.append(f"sf_row{r}_first32={sfl[r * 448: r * 448 + 32].hex()}")
    with open(f"{tmp}/quant_anchor.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)

    try:
        record_torch(tmp, out)
    except Exception as e:
        print("torch recording failed:", e, flush=True)
    with open(f"{tmp}/versions.txt", "a") as f:
        f.write(sh([nvcc, "--version"]))
    os.replace(f"{out}/sfu_report.txt", f"{tmp}/sfu_report.txt")
    os.replace(f"{out}/silu_bf16.bin", f"{tmp}/silu_bf16.bin")
    with tarfile.open(f"{out}/reports.tar", "w") as tf:
        for n in ["sfu_report.txt", "quant_anchor.txt", "sass.txt", "silu_bf16.bin", "versions.txt"]:
            if os.path.exists(f"{tmp}/{n}"):
                tf.add(f"{tmp}/{n}", arcname=n)
    print(open(f"{tmp}/sfu_report.txt").read()[:8000])


def record_torch(tmp, out):
    import torch
    xs = np.fromfile(f"{tmp}/vec_inputs.bin", dtype=np.uint32)
    allbf = (np.arange(65536, dtype=np.uint32) << 16).astype(np.uint32)
    inp = np.concatenate([xs, allbf]).view(np.float32)
    t = torch.from_numpy(inp.copy()).cuda()
    parts = [
        t.to(torch.float8_e4m3fn).view(torch.uint8).cpu().numpy().tobytes(),
        t.to(torch.float8_e5m2).view(torch.uint8).cpu().numpy().tobytes(),
        t.to(torch.bfloat16).view(torch.int16).cpu().numpy().tobytes(),
        t.to(torch.float16).view(torch.int16).cpu().numpy().tobytes(),
    ]
    with open(f"{out}/torch_casts.bin", "wb") as f:
        for p in parts:
            f.write(p)
    with open(f"{tmp}/versions.txt", "w") as f:
        f.write(f"torch={torch.__version__}\ncuda={torch.version.cuda}\n")
        f.write(f"device={torch.cuda.get_device_name(0)}\n")


if __name__ == "__main__":
    main()
