// Hardware truth for triton_kernels_mxfp4_sm90 (issue 16): Triton's own triton_kernels
// matmul_ogs (v3.6.0, loaded by path) ran the gpt-oss MXFP4 MoE on an NVIDIA H200 (Triton 3.6.0,
// torch 2.11) on inputs from moesim's counter-based generator
// (scripts/gpu/capture_triton_kernels_mxfp4.py); tests/data/golden/triton_kernels/
// tk_mxfp4_goldens.json holds per-stage hashes only. Here the inputs are regenerated, replayed
// and hashed: every stage must be bit-identical.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "replay/generated_case.hpp"
#include "replay/tk_generated_case.hpp"
#include "sim/core/counter_gen.hpp"
#include "sim/core/error.hpp"
#include "sim/kernels/triton_kernels_moe.hpp"
#include "sim/quant/tk_hopper_layout.hpp"
#include "tests/traces/test_util.hpp"

namespace moesim::replay {
namespace {

const std::string kFile = std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_kernels/tk_mxfp4_goldens.json";

// Replays one case; returns the number of golden buffers whose hash (or size) differs.
int replay_case(const TkCase& c, const std::string& layout = "linear", const kernels::VariantSpec* override_spec = nullptr,
                bool report = true) {
  const kernels::VariantSpec spec = override_spec ? *override_spec : kernels::find_variant(c.variant);
  const CallInputs call = tk_generated_call(c);
  const auto weights = tk_generated_weights(c, layout);
  ReplayOptions opt;
  opt.threads = 2;
  const ReplayResult r = run_replay(spec, call, *weights, opt);
  EXPECT_TRUE(r.findings.empty()) << c.name;
  int bad = 0;
  for (const auto& [name, want] : c.golden) {
    const kernels::EmuBuffer* b = nullptr;
    if (auto it = r.buffers.find(name); it != r.buffers.end()) b = &it->second;
    else if (name == "output") b = &r.output();
    if (!b) {
      ADD_FAILURE() << c.name << ": replay has no buffer " << name;
      ++bad;
      continue;
    }
    const std::uint64_t h = hash_buffer(name, *b);
    if (b->size() != want.second || h != want.first) {
      ++bad;
      if (report)
        ADD_FAILURE() << c.name << " stage buffer " << name << ": hash 0x" << std::hex << h << " size " << std::dec << b->size()
                    << ", H200 0x" << std::hex << want.first << " size " << std::dec << want.second;
    }
  }
  return bad;
}

TEST(TkMxfp4Golden, FileCoversTheScope) {
  const auto cs = load_tk_goldens(kFile);
  std::set<std::string> block_m;
  bool gptoss = false, wide = false;
  for (const auto& c : cs) {
    EXPECT_EQ(c.variant, "triton_kernels_mxfp4_sm90");
    EXPECT_EQ(c.golden.size(), 5u) << c.name;
    ASSERT_EQ(c.opt_flags.size(), 2u) << c.name;  // GEMM1 and GEMM2 launches
    for (const auto& f : c.opt_flags) {
      EXPECT_NE(f.find("block_n=256,block_k=128,num_warps=8,num_stages=4,group_m=8,split_k=1,is_persistent=false"), std::string::npos) << f;
      block_m.insert(f.substr(0, f.find(',')));
    }
    gptoss = gptoss || c.hidden == 2880;
    wide = wide || c.range == "wide";
  }
  EXPECT_EQ(block_m, (std::set<std::string>{"block_m=16", "block_m=32", "block_m=64", "block_m=128"}));
  EXPECT_TRUE(gptoss);
  EXPECT_TRUE(wide);
}

// The capture script's numpy generator and the C++ one agree (codes, scales, biases).
TEST(TkMxfp4Golden, PythonAndCxxGeneratorsAgree) {
  const std::string script = std::string(MOESIM_TEST_DATA_DIR) + "/../../scripts/gpu/capture_triton_kernels_mxfp4.py";
  const auto r = moesim::testing::run_cmd(std::string(MOESIM_PYTHON) + " " + script + " --gen-selftest");
  if (r.code != 0 && r.out.find("No module named 'numpy'") != std::string::npos) GTEST_SKIP() << "python3-numpy missing";
  ASSERT_EQ(r.code, 0) << r.out;
  const auto v = boost::json::parse(r.out).as_object();
  for (std::uint64_t j = 0; j < 6; ++j) {
    const std::uint64_t z = gen::u64(9, kW13, j);
    EXPECT_EQ(v.at("e2m1").as_array()[j].as_int64(), static_cast<std::int64_t>((z >> 8) & 0xF));
    EXPECT_EQ(v.at("ue8m0").as_array()[j].as_int64(), static_cast<std::int64_t>(119 + (z >> 32) % 6));
  }
  TkCase c;
  c.name = "selftest";
  c.range = "normal";
  c.seed = 5;
  c.experts = 1;
  c.top_k = 1;
  c.hidden = 64;       // w13: n = 2, k = 64
  c.intermediate = 1;  // (only w13 is read)
  const kernels::ExpertMatrix m = tk_generated_expert(c, "w13", 0);
  for (std::size_t j = 0; j < 8; ++j) EXPECT_EQ(v.at("packed").as_array()[j].as_int64(), m.bytes[j]);
  ASSERT_EQ(m.scale_bytes.size(), 4u);
  for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(v.at("scales").as_array()[j].as_int64(), m.scale_bytes[j]);
  c.intermediate = 2;  // bias of w13 rows 0..3
  const kernels::ExpertMatrix m4 = tk_generated_expert(c, "w13", 0);
  for (std::size_t j = 0; j < 4; ++j)
    EXPECT_EQ(v.at("bias").as_array()[j].as_int64(), static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(m4.bias[j])));
}

// Every recorded case, the gpt-oss T 64 one included (the capture marked it slow; its replay
// takes seconds).
TEST(TkMxfp4Golden, AllCasesAreBitIdenticalToH200) {
  int n = 0;
  for (const auto& c : load_tk_goldens(kFile)) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(replay_case(c), 0);
    ++n;
  }
  EXPECT_EQ(n, 11);
}

// The same replay through the swizzled Hopper layouts (tag triton_kernels_hopper_mx_w8): the
// variant's inverse maps recover the canonical weights, so the bits are those of the H200.
TEST(TkMxfp4Golden, SwizzledLayoutReplaysTheSame) {
  for (const auto& c : load_tk_goldens(kFile))
    if (c.name == "s512_e8_t7" || c.name == "gptoss_e8_t1") {
      SCOPED_TRACE(c.name);
      EXPECT_EQ(replay_case(c, quant::kTkHopperMxW8), 0);
    }
}

// The goldens pin the swiglu's approximate transcendentals: with expf and an IEEE division
// (params.swiglu_math = ieee) act_out and everything after it differ on the larger cases.
TEST(TkMxfp4Golden, IeeeSwigluDiffersFromH200) {
  kernels::VariantSpec spec = kernels::find_variant("triton_kernels_mxfp4_sm90");
  spec.params["swiglu_math"] = "ieee";
  int differing = 0, tried = 0;
  for (const auto& c : load_tk_goldens(kFile))
    if (c.name == "s512_e8_t300" || c.name == "s512_e32_t64_wide" || c.name == "gptoss_e8_t7") {
      ++tried;
      ::testing::ScopedTrace t(__FILE__, __LINE__, c.name);
      differing += replay_case(c, "linear", &spec, false) > 0;
    }
  EXPECT_EQ(tried, 3);
  EXPECT_GE(differing, 1);
  std::printf("ieee swiglu: %d of %d cases differ from the H200\n", differing, tried);
}

// Inputs the variant does not model are refused (InputError naming what is modelled).
TEST(TkMxfp4Golden, UnmodelledInputsAreRefused) {
  const auto cs = load_tk_goldens(kFile);
  const TkCase& c = cs.front();
  const kernels::VariantSpec spec = kernels::find_variant(c.variant);
  const auto weights = tk_generated_weights(c);
  CallInputs silu = tk_generated_call(c);
  silu.problem.activation = "silu";
  EXPECT_THROW((void)run_replay(spec, silu, *weights), InputError);
  CallInputs masked = tk_generated_call(c);
  masked.topk_ids[0] = -1;
  EXPECT_THROW((void)run_replay(spec, masked, *weights), InputError);
}

// Launch configurations outside the captured scope are refused, not replayed.
TEST(TkMxfp4Golden, UnmodelledOptFlagsAreRefused) {
  kernels::VariantSpec spec = kernels::find_variant("triton_kernels_mxfp4_sm90");
  spec.params["opt_flags"] = "block_m=16,block_n=256,block_k=128,num_warps=8,split_k=2,is_persistent=false";
  EXPECT_THROW((void)kernels::make_variant_impl(spec), InputError);
}

}  // namespace
}  // namespace moesim::replay
