#pragma once
// The published FDPA parameters, written out by hand from the sources (independent of
// models/mma/fdpa.json, which tests/models/mma_params_test.cpp checks against this list):
// MMA-Sim paper Tables 4/5 as reproduced in the FPy port's docstring
// (bksaiki/fpy examples/mmasim/models/nv.py) and in /work/shared/reference/bitaccuracy.md §1.2;
// K per instruction from the PTX ISA shapes; L = MMA-Sim L_max (src/mmasim/mmasim/nv_ptx/sim.py).
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/mma/fdpa_params.hpp"

namespace moesim::mma::test {

inline std::vector<FdpaParams> published_table() {
  using O = Operand;
  using R = Rounding;
  std::vector<FdpaParams> t;
  auto T = [&](const char* arch, const char* inst, O a, O c, int k, int l, int f, R rho, int ez) {
    FdpaParams p;
    p.arch = arch; p.inst = inst; p.algorithm = Algorithm::T;
    p.a = a; p.b = a; p.c = c; p.k = k; p.l = l; p.f = f; p.rho = rho; p.e_zero = ez;
    t.push_back(p);
  };
  T("volta", "mma.f16.f32", O::FP16, O::FP32, 4, 4, 23, R::RZ_FP32, -131);
  T("volta", "mma.f16.f16", O::FP16, O::FP16, 4, 4, 23, R::RNE_FP16, -20);
  T("turing", "mma.f16.f32", O::FP16, O::FP32, 8, 8, 24, R::RZ_FP32, -132);
  T("turing", "mma.f16.f16", O::FP16, O::FP16, 8, 8, 24, R::RNE_FP16, -21);
  for (const char* arch : {"ampere", "ada"}) {
    T(arch, "mma.f16.f32", O::FP16, O::FP32, 16, 8, 24, R::RZ_FP32, -132);
    T(arch, "mma.bf16.f32", O::BF16, O::FP32, 16, 8, 24, R::RZ_FP32, -132);
    T(arch, "mma.f16.f16", O::FP16, O::FP16, 16, 8, 24, R::RNE_FP16, -21);
    T(arch, "mma.tf32.f32", O::TF32, O::FP32, 8, 4, 24, R::RZ_FP32, -132);
  }
  T("ada", "mma.e4m3.f32", O::E4M3, O::FP32, 32, 16, 13, R::RZ_E8M13, -132);
  T("ada", "mma.e5m2.f32", O::E5M2, O::FP32, 32, 16, 13, R::RZ_E8M13, -132);
  T("ada", "mma.e4m3.f16", O::E4M3, O::FP16, 32, 16, 13, R::RNE_FP16, -21);
  T("hopper", "wgmma.bf16.f32", O::BF16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("hopper", "wgmma.f16.f32", O::FP16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("hopper", "wgmma.f16.f16", O::FP16, O::FP16, 16, 16, 25, R::RNE_FP16, -133);
  T("hopper", "wgmma.tf32.f32", O::TF32, O::FP32, 8, 8, 25, R::RZ_FP32, -133);
  T("hopper", "wgmma.e4m3.f32", O::E4M3, O::FP32, 32, 32, 13, R::RZ_E8M13, -133);
  T("hopper", "wgmma.e5m2.f32", O::E5M2, O::FP32, 32, 32, 13, R::RZ_E8M13, -133);
  T("hopper", "wgmma.e4m3.f16", O::E4M3, O::FP16, 32, 32, 13, R::RNE_FP16, -133);
  T("hopper", "mma.bf16.f32", O::BF16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("hopper", "mma.f16.f32", O::FP16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("hopper", "mma.f16.f16", O::FP16, O::FP16, 16, 16, 25, R::RNE_FP16, -22);
  // Not in MMA-Sim: m16n8k8 on Hopper, fitted on H200 recordings (issue 16; scripts/gpu/
  // mma_sync_probe.py, fitted by an independent Python model over L in {4,8,16}, F in 23..26).
  T("hopper", "mma.k8.f16.f32", O::FP16, O::FP32, 8, 8, 25, R::RZ_FP32, -133);
  T("hopper", "mma.k8.bf16.f32", O::BF16, O::FP32, 8, 8, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.bf16.f32", O::BF16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.f16.f32", O::FP16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.f16.f16", O::FP16, O::FP16, 16, 16, 25, R::RNE_FP16, -133);
  T("blackwell", "tcgen05.tf32.f32", O::TF32, O::FP32, 8, 8, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.f8f6f4.e4m3.f32", O::E4M3, O::FP32, 32, 32, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.f8f6f4.e5m2.f32", O::E5M2, O::FP32, 32, 32, 25, R::RZ_FP32, -133);
  T("blackwell", "tcgen05.f8f6f4.e2m1.f32", O::E2M1, O::FP32, 32, 32, 25, R::RZ_FP32, -133);
  auto ST = [&](const char* arch, const char* inst, O a) {
    FdpaParams p;
    p.arch = arch; p.inst = inst; p.algorithm = Algorithm::ST;
    p.a = a; p.b = a; p.c = O::FP32; p.k = 32; p.l = 32; p.f = 25; p.rho = R::RZ_FP32; p.e_zero = -133;
    p.scale = O::UE8M0; p.scale_block = 32;
    t.push_back(p);
  };
  auto GST = [&](const char* arch, const char* inst, O scale, int block) {
    FdpaParams p;
    p.arch = arch; p.inst = inst; p.algorithm = Algorithm::GST;
    p.a = O::E2M1; p.b = O::E2M1; p.c = O::FP32; p.k = 64; p.l = 64; p.g = 16; p.f = 35;
    p.rho = R::RZ_FP32; p.e_zero = -139; p.scale = scale; p.scale_block = block;
    t.push_back(p);
  };
  ST("blackwell", "tcgen05.mxf8f6f4.e4m3", O::E4M3);
  ST("blackwell", "tcgen05.mxf8f6f4.e5m2", O::E5M2);
  ST("blackwell", "tcgen05.mxf8f6f4.e2m1", O::E2M1);
  GST("blackwell", "tcgen05.mxf4nvf4.nvfp4", O::UE4M3, 16);
  GST("blackwell", "tcgen05.mxf4nvf4.mxfp4", O::UE8M0, 32);
  GST("blackwell", "tcgen05.mxf4nvf4.mxfp4.block16", O::UE8M0, 16);
  T("rtx-blackwell", "mma.bf16.f32", O::BF16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("rtx-blackwell", "mma.f16.f32", O::FP16, O::FP32, 16, 16, 25, R::RZ_FP32, -133);
  T("rtx-blackwell", "mma.f16.f16", O::FP16, O::FP16, 16, 16, 25, R::RNE_FP16, -22);
  T("rtx-blackwell", "mma.e4m3.f32", O::E4M3, O::FP32, 32, 32, 25, R::RZ_FP32, -133);
  T("rtx-blackwell", "mma.e5m2.f32", O::E5M2, O::FP32, 32, 32, 25, R::RZ_FP32, -133);
  ST("rtx-blackwell", "mma.mxf8f6f4.e4m3", O::E4M3);
  GST("rtx-blackwell", "mma.mxf4nvf4.nvfp4", O::UE4M3, 16);
  GST("rtx-blackwell", "mma.mxf4nvf4.mxfp4", O::UE8M0, 32);
  return t;
}

inline FdpaParams published(const std::string& arch, const std::string& inst) {
  for (const auto& p : published_table())
    if (p.arch == arch && p.inst == inst) return p;
  throw std::runtime_error("no published row " + arch + ":" + inst);
}

}  // namespace moesim::mma::test
