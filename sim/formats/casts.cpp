#include "sim/formats/casts.hpp"

#include <string>

#include "sim/core/error.hpp"

namespace moesim::fmt {

namespace {

constexpr ConvertOptions opts(Rounding r, Saturation s, std::uint32_t nan_bits = 0, bool keep_sign = false) {
  return ConvertOptions{r, s, NanPolicy{nan_bits, keep_sign}, false};
}

using R = Rounding;
using S = Saturation;

// Evidence strings name the recorded data under tests/data/ that the tests compare against.
const Cast kCasts[] = {
    {"cvt.rn.satfinite.e4m3x2.f32", &kFP32, &kE4M3FN, opts(R::RNE, S::SatFinite), "PTX cvt (sm_89+); __nv_fp8_e4m3(float)",
     "H100: hash over all 2^32 inputs (tests/data/sfu/sfu_report.txt)"},
    {"cvt.rn.satfinite.e5m2x2.f32", &kFP32, &kE5M2, opts(R::RNE, S::SatFinite), "PTX cvt (sm_89+); __nv_fp8_e5m2(float)",
     "H100: hash over all 2^32 inputs"},
    {"cvt.rn.bf16.f32", &kFP32, &kBF16, opts(R::RNE, S::IEEEInf), "PTX cvt; __float2bfloat16_rn", "H100: hash over all 2^32 inputs"},
    {"cvt.rz.bf16.f32", &kFP32, &kBF16, opts(R::RZ, S::IEEEInf), "PTX cvt", "H100: hash over all 2^32 inputs"},
    {"cvt.rn.satfinite.bf16.f32", &kFP32, &kBF16, opts(R::RNE, S::SatFinite), "PTX cvt", "H100: hash over all 2^32 inputs"},
    {"cvt.rn.f16.f32", &kFP32, &kFP16, opts(R::RNE, S::IEEEInf), "PTX cvt; __float2half_rn", "H100: hash over all 2^32 inputs"},
    {"cvt.rz.f16.f32", &kFP32, &kFP16, opts(R::RZ, S::IEEEInf), "PTX cvt", "H100: hash over all 2^32 inputs"},
    {"cvt.rn.satfinite.f16.f32", &kFP32, &kFP16, opts(R::RNE, S::SatFinite), "PTX cvt", "H100: hash over all 2^32 inputs"},
    {"cvt.rn.satfinite.e2m1x2.f32", &kFP32, &kE2M1, opts(R::RNE, S::SatFinite),
     "PTX cvt (sm_100a+): vLLM/FlashInfer fp32_vec_to_e2m1", "not recorded (no sm_100 device); PTX ISA text only"},
    {"cvt.rz.satfinite.ue8m0x2.f32", &kFP32, &kUE8M0, opts(R::RZ, S::SatFinite), "PTX cvt (sm_100a+)",
     "not recorded (no sm_100 device); PTX ISA text only"},
    {"cvt.rp.satfinite.ue8m0x2.f32", &kFP32, &kUE8M0, opts(R::RP, S::SatFinite),
     "PTX cvt (sm_100a+); __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundPosInf)",
     "not recorded (no sm_100 device); PTX ISA text only"},
    {"torch<2.13 e4m3fn", &kFP32, &kE4M3FN, opts(R::RNE, S::NaNOnOverflow, 0, true),
     "c10 fp8e4m3fn_from_fp32_value (x.to(torch.float8_e4m3fn), eager, PyTorch < 2.13)",
     "torch 2.11 CUDA on H100: 1,114,112 inputs (tests/data/sfu/torch_casts.bin)"},
    {"torch e5m2", &kFP32, &kE5M2, opts(R::RNE, S::IEEEInf, 0, true), "c10 fp8e5m2_from_fp32_value (x.to(torch.float8_e5m2))",
     "torch 2.11 CUDA on H100: 1,114,112 inputs"},
    {"torch cuda bf16", &kFP32, &kBF16, opts(R::RNE, S::IEEEInf), "x.to(torch.bfloat16) on CUDA (__float2bfloat16)",
     "torch 2.11 CUDA on H100: 1,114,112 inputs"},
    {"torch cpu bf16", &kFP32, &kBF16, opts(R::RNE, S::IEEEInf, 0x7FC0), "c10::BFloat16 round_to_nearest_even (CPU)",
     "not recorded"},
    {"torch cuda f16", &kFP32, &kFP16, opts(R::RNE, S::IEEEInf), "x.to(torch.float16) on CUDA", "torch 2.11 CUDA on H100: 1,114,112 inputs"},
};

}  // namespace

std::span<const Cast> casts() { return kCasts; }

const Cast& find_cast(std::string_view name) {
  for (const Cast& c : kCasts)
    if (c.name == name) return c;
  std::string known;
  for (const Cast& c : kCasts) known += (known.empty() ? "" : ", ") + std::string(c.name);
  throw InputError("cast '" + std::string(name) + "'", "unknown cast (known: " + known + ")");
}

}  // namespace moesim::fmt
