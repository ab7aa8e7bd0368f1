// triton_kernels' Hopper MXFP4 layouts (sim/quant/tk_hopper_layout.hpp) against the bytes
// triton_kernels v3.6.0 itself stored on the H200 (convert_layout to HopperMXValueLayout /
// HopperMXScaleLayout(num_warps=8) of generated tensors; hashes of the memory-order bytes in
// tests/data/golden/triton_kernels/tk_layout_vectors.json, recorded by
// scripts/gpu/capture_triton_kernels_mxfp4.py --layout-vectors), and the inverse maps.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "replay/tk_generated_case.hpp"
#include "sim/core/counter_gen.hpp"
#include "sim/core/error.hpp"
#include "sim/quant/tk_hopper_layout.hpp"

namespace moesim::replay {
namespace {

TEST(TkLayout, SwizzlesEqualTritonKernelsOnTheH200) {
  std::ifstream f(std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_kernels/tk_layout_vectors.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto root = boost::json::parse(ss.str()).as_object();
  int n_cases = 0;
  for (const auto& v : root.at("cases").as_array()) {
    const auto& o = v.as_object();
    const std::int64_t n = o.at("n").as_int64(), k = o.at("k").as_int64();
    TkCase c;  // the script's gen_mxfp4(seed, W13, W13_SCALE, 1, n, k, "normal") = w13 of a 1-expert case
    c.name = "layout";
    c.range = "normal";
    c.seed = static_cast<std::uint64_t>(o.at("seed").as_int64());
    c.experts = 1;
    c.top_k = 1;
    c.hidden = k;
    c.intermediate = n / 2;
    const kernels::ExpertMatrix m = tk_generated_expert(c, "w13", 0);
    const auto vals = quant::tk_hopper_value_swizzle(m.bytes.data(), n, k);
    const auto scal = quant::tk_hopper_scale_swizzle(m.scale_bytes.data(), n, k / 32, 8);
    const auto& ov = o.at("values").as_object();
    const auto& os = o.at("scales").as_object();
    char hv[32], hs[32];
    std::snprintf(hv, sizeof hv, "0x%llx", static_cast<unsigned long long>(gen::hash_words(vals.data(), vals.size())));
    std::snprintf(hs, sizeof hs, "0x%llx", static_cast<unsigned long long>(gen::hash_words(scal.data(), scal.size())));
    EXPECT_EQ(static_cast<std::int64_t>(vals.size()), ov.at("count").as_int64()) << n << "x" << k;
    EXPECT_EQ(std::string(ov.at("hash").as_string()), hv) << "values " << n << "x" << k;
    EXPECT_EQ(static_cast<std::int64_t>(scal.size()), os.at("count").as_int64()) << n << "x" << k;
    EXPECT_EQ(std::string(os.at("hash").as_string()), hs) << "scales " << n << "x" << k;
    // the inverses give the canonical tensors back
    EXPECT_EQ(quant::tk_hopper_value_unswizzle(vals.data(), n, k), m.bytes);
    EXPECT_EQ(quant::tk_hopper_scale_unswizzle(scal.data(), n, k / 32, 8), m.scale_bytes);
    ++n_cases;
  }
  EXPECT_EQ(n_cases, 4);
}

// The tag the variant reads is the one models/ lists.
TEST(TkLayout, TagIsListedInModels) {
  std::ifstream f(std::string(MOESIM_TEST_DATA_DIR) + "/../../models/triton_kernels/layouts.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto root = boost::json::parse(ss.str()).as_object();
  bool found = false;
  for (const auto& l : root.at("layouts").as_array()) found = found || l.at("layout").as_string() == quant::kTkHopperMxW8;
  EXPECT_TRUE(found);
}

TEST(TkLayout, InversesRecoverOddShapes) {
  // Shapes off the 64/256 padding multiples: unswizzle(swizzle(x)) == x, sizes as upstream pads.
  for (auto [n, k] : {std::pair<std::int64_t, std::int64_t>{64, 128}, {100, 96}, {256, 64}}) {
    std::vector<std::uint8_t> canon(static_cast<std::size_t>(n * k / 2));
    for (std::size_t i = 0; i < canon.size(); ++i) canon[i] = static_cast<std::uint8_t>(gen::u64(3, 1, i));
    const auto sw = quant::tk_hopper_value_swizzle(canon.data(), n, k);
    EXPECT_EQ(static_cast<std::int64_t>(sw.size()), quant::tk_hopper_value_bytes(n, k));
    EXPECT_EQ(quant::tk_hopper_value_unswizzle(sw.data(), n, k), canon);
    std::vector<std::uint8_t> sc(static_cast<std::size_t>(n * (k / 32)));
    for (std::size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<std::uint8_t>(gen::u64(4, 1, i));
    for (int w : {4, 8}) {
      const auto ss = quant::tk_hopper_scale_swizzle(sc.data(), n, k / 32, w);
      EXPECT_EQ(quant::tk_hopper_scale_unswizzle(ss.data(), n, k / 32, w), sc);
    }
  }
  EXPECT_THROW((void)quant::tk_hopper_value_bytes(64, 3), InputError);
  EXPECT_THROW((void)quant::tk_hopper_scale_bytes(64, 2, 6), InputError);
}

}  // namespace
}  // namespace moesim::replay
