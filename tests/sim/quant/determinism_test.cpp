// Quantizer outputs must be bit-identical for any OpenMP thread count.
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "sim/core/rng.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/mx.hpp"
#include "sim/quant/nvfp4.hpp"

namespace moesim::quant {
namespace {

TEST(Determinism, SameBytesForOneAndManyThreads) {
#ifndef _OPENMP
  GTEST_SKIP() << "moesim_quant built without OpenMP: single-threaded, nothing to compare";
#else
  Rng rng(21);
  const std::int64_t rows = 512, cols = 256;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  const GlobalScale g{GlobalScale::Shape::PerTensor, {2688.0f / amax_abs(x.data(), rows * cols)}, {}};
  omp_set_num_threads(1);
  const auto a = quantize_nvfp4(x.data(), rows, cols, g, Nvfp4Rule::VllmKernel);
  const auto ma = quantize_mx(x.data(), rows, cols, MxElem::E2M1, MxScaleRule::FlashinferRoundUp);
  const auto fa = quantize_fp8(x.data(), rows, cols, Fp8Granularity::Block128x128);
  const Nvfp4Rule fos = parse_nvfp4_rule("te-4over6");
  const GlobalScale ga{GlobalScale::Shape::PerTensor, {amax_abs(x.data(), rows * cols)}, {}};
  const auto oa = quantize_nvfp4(x.data(), rows, cols, ga, fos);
  for (int t : {2, 3, 8}) {
    omp_set_num_threads(t);
    const auto b = quantize_nvfp4(x.data(), rows, cols, g, Nvfp4Rule::VllmKernel);
    EXPECT_EQ(a.packed, b.packed);
    EXPECT_EQ(a.scales, b.scales);
    const auto mb = quantize_mx(x.data(), rows, cols, MxElem::E2M1, MxScaleRule::FlashinferRoundUp);
    EXPECT_EQ(ma.data, mb.data);
    EXPECT_EQ(ma.scales, mb.scales);
    const auto fb = quantize_fp8(x.data(), rows, cols, Fp8Granularity::Block128x128);
    EXPECT_EQ(fa.data, fb.data);
    EXPECT_EQ(fa.scales, fb.scales);
    const auto ob = quantize_nvfp4(x.data(), rows, cols, ga, fos);
    EXPECT_EQ(oa.packed, ob.packed);
    EXPECT_EQ(oa.scales, ob.scales);
  }
#endif
}

}  // namespace
}  // namespace moesim::quant
