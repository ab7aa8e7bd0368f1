#pragma once
// Bit-exact emulation of the approximate special-function-unit instructions on the quantize
// and activation paths of serving kernels, from tables measured on an H100 (sm_90,
// scripts/gpu/sfu_tabulate.cu; data in tests/data/sfu/, decoded once per process).
//
// Models (each checked on the GPU against all 2^32 fp32 inputs with 0 mismatches; see
// tests/data/sfu/sfu_report.txt and docs/quantizers.md):
//  * rcp.approx.ftz.f32 (SASS MUFU.RCP): for normal x = (-1)^s 1.m 2^e the result is the
//    tabulated rcp(1.m) scaled by 2^-e (depends on the mantissa only); results below 2^-126
//    flush to signed 0; subnormal/zero x -> signed Inf; Inf -> signed 0; NaN -> 0x7FFFFFFF.
//  * ex2.approx.ftz.f32 (MUFU.EX2): x is converted to fixed point F = trunc(|x| 2^23)
//    (toward zero); for x >= 0 the result is P[F mod 2^23] 2^(F >> 23), for x < 0 it is
//    N[F mod 2^23] 2^-(F >> 23), with P/N the measured outputs on [0,1) and (-1,0];
//    results below 2^-126 flush to +0; x >= 128 -> +Inf; subnormal x -> 1; NaN -> 0x7FFFFFFF.
//  * the non-ftz forms and CUDA intrinsics follow the SASS that nvcc 13 emits for sm_90
//    (tests/data/sfu/sass.txt): ex2.approx.f32 halves inputs below -126 and squares the
//    result; __expf(x) = ex2.approx.f32(x * 0x3FB8AA3B); __fdividef(a, b) = a * rcp(b) with
//    both scaled by 2^24 when |b| < 2^-126.
#include <cstdint>

namespace moesim::quant {

float rcp_approx_ftz(float x);    // PTX rcp.approx.ftz.f32
float ex2_approx_ftz(float x);    // PTX ex2.approx.ftz.f32
float ex2_approx(float x);        // PTX ex2.approx.f32 (no .ftz)
float expf_fast(float x);         // CUDA __expf, default flags (no -ftz, no fast-math)
float fdividef_fast(float a, float b);  // CUDA __fdividef (PTX div.approx.f32)
// vLLM nvfp4_utils.cuh silu(x) = __fdividef(x, 1.f + __expf(-x)).
float silu_fast(float x);

// Forces the tables to load now (throws moesim::InputError if tests/data/sfu is missing or
// corrupt); otherwise the first call of any function above loads them.
void load_sfu_tables();

}  // namespace moesim::quant
