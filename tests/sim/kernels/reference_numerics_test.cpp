// The fp64 reference's GEMM stages against a plain loop written here from the definition
// (out[slot, c] = sum over k in order of A[row(slot), k] * W_e[c, k], times the router weight
// for gemm2), for its SIMD column-lane path and its scalar path (MOESIM_SIMD=scalar): bit
// for bit (NaN payloads aside), including N not a multiple of 8, slot groups with tails,
// NaN/Inf/subnormal inputs and out-of-range expert ids.
#include "sim/kernels/reference_numerics.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels {
namespace {

class MemWeights final : public WeightProvider {
 public:
  std::map<std::pair<std::string, std::int64_t>, ExpertMatrix> m;
  ExpertMatrix read(const std::string& which, std::int64_t e) const override { return m.at({which, e}); }
};

std::uint16_t rnd_bf16(Rng& rng) {
  switch (rng.below(40)) {
    case 0: return 0x7FC0;                                               // NaN
    case 1: return rng.below(2) ? 0x7F80 : 0xFF80;                       // +-inf
    case 2: return static_cast<std::uint16_t>(rng.next_u32() & 0x807F);  // subnormal / zero
    default: return bf16_rne(static_cast<float>(rng.normal()));
  }
}

TEST(ReferenceFp64, GemmStagesMatchPlainLoopOnBothPaths) {
  MoeProblem p;
  p.num_tokens = 37;
  p.top_k = 3;
  p.num_experts = 5;
  p.hidden = 44;        // N of gemm2: 5 panels + 4 columns
  p.intermediate = 13;  // N of gemm1 = 26
  Rng rng(5);
  MemWeights w;
  for (std::int64_t e = 0; e < p.num_experts; ++e)
    for (auto [name, rows, cols] : {std::tuple<const char*, std::int64_t, std::int64_t>{"w13", p.n1(), p.hidden},
                                    {"w2", p.hidden, p.intermediate}}) {
      ExpertMatrix m;
      m.dtype = "bf16";
      m.rows = rows;
      m.cols = cols;
      m.bytes.resize(static_cast<std::size_t>(rows * cols * 2));
      for (std::int64_t i = 0; i < rows * cols; ++i) {
        const std::uint16_t h = rnd_bf16(rng);
        std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      }
      w.m[{name, e}] = m;
    }
  std::map<std::string, EmuBuffer> bufs;
  EmuBuffer hs("hidden_states", ElemType::BF16, {p.num_tokens, p.hidden});
  EmuBuffer ids("topk_ids", ElemType::I32, {p.num_tokens, p.top_k});
  EmuBuffer tw("topk_weights", ElemType::F32, {p.num_tokens, p.top_k});
  EmuBuffer act("act_out", ElemType::F64, {p.slots(), p.intermediate});
  for (std::int64_t i = 0; i < hs.size(); ++i) hs.mutable_data<std::uint16_t>()[i] = rnd_bf16(rng);
  for (std::int64_t i = 0; i < ids.size(); ++i)
    ids.mutable_data<std::int32_t>()[i] = i == 7 ? 99 : static_cast<std::int32_t>(rng.below(p.num_experts));  // one id out of range
  for (std::int64_t i = 0; i < tw.size(); ++i) tw.mutable_data<float>()[i] = static_cast<float>(rng.uniform());
  for (std::int64_t i = 0; i < act.size(); ++i)
    act.mutable_data<double>()[i] = rng.below(50) == 0 ? std::nan("") : rng.normal() * std::ldexp(1.0, static_cast<int>(rng.below(40)) - 20);
  for (EmuBuffer* b : {&hs, &ids, &tw, &act}) {
    b->mark_all_written();
    bufs[b->name()] = *b;
  }

  // Expected, from the definition.
  auto expect = [&](bool first, std::int64_t s, std::int64_t c) {
    const std::int32_t e = ids.data<std::int32_t>()[s];
    const std::int64_t n = first ? p.n1() : p.hidden, k = first ? p.hidden : p.intermediate;
    const ExpertMatrix& m = w.m.at({first ? "w13" : "w2", e});
    double acc = 0.0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double a = first ? bf16_to_f32(hs.data<std::uint16_t>()[(s / p.top_k) * k + j]) : act.data<double>()[s * k + j];
      acc += a * static_cast<double>(bf16_to_f32(m.bf16()[c * k + j]));
    }
    (void)n;
    return first ? acc : acc * static_cast<double>(tw.data<float>()[s]);
  };

  const VariantSpec spec = find_variant("reference_fp64");
  for (const char* simd : {"", "scalar"}) {
    if (*simd) setenv("MOESIM_SIMD", simd, 1);
    for (bool first : {true, false}) {
      StageSpec st;
      st.id = first ? "gemm1" : "gemm2";
      st.kind = st.id;
      st.inputs = first ? std::vector<std::string>{"hidden_states", "topk_ids"}
                        : std::vector<std::string>{"act_out", "topk_ids", "topk_weights"};
      st.outputs = {first ? "gemm1_out" : "gemm2_out"};
      MemoryLog log;
      for (int threads : {1, 2}) {
        StageContext ctx{p, w, bufs, log, st, threads};
        make_variant_impl(spec)->run_stage(ctx);
        const EmuBuffer& out = bufs.at(st.outputs[0]);
        const std::int64_t n = first ? p.n1() : p.hidden;
        for (std::int64_t s = 0; s < p.slots(); ++s) {
          if (ids.data<std::int32_t>()[s] >= p.num_experts) {
            EXPECT_FALSE(out.written(s * n)) << "slot with an out-of-range expert id is not computed";
            continue;
          }
          for (std::int64_t c = 0; c < n; ++c) {
            const double got = out.data<double>()[s * n + c], want = expect(first, s, c);
            if (std::isnan(want)) ASSERT_TRUE(std::isnan(got)) << simd << " " << st.id << " " << s << "," << c;
            else ASSERT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(want))
                     << simd << " " << st.id << " slot " << s << " col " << c << " threads " << threads;
          }
        }
      }
      EXPECT_GT(log.total(), 0);  // the out-of-range expert id was recorded
    }
    unsetenv("MOESIM_SIMD");
  }
}

// gpt-oss's swigluoai with expert biases, on a case small enough to do by hand (E 1, K 1,
// H 2, I 1; every weight, input and bias exact in bf16 / f32):
//   w13 = [gate row (1, 0.5); up row (-1, 0.25)], w13_bias = (0.5, 0.25)
//   w2 = [(2); (-0.5)], w2_bias = (0.125, -1), router weight 0.75
//   token 0 x = (1, 2):  gate = 1 + 1 + 0.5 = 2.5,    up = -1 + 0.5 + 0.25 = -0.25 (no clamp)
//   token 1 x = (6, 4):  gate = 6 + 2 + 0.5 = 8.5 -> min(., 7) = 7,  up = -6 + 1 + 0.25 = -4.75
//   token 2 x = (8, -4): gate = 8 - 2 + 0.5 = 6.5,    up = -8 - 1 + 0.25 = -8.75 -> clamp -7
//   act = g * sigmoid(1.702 g) * (u + 1) (GOSS gpt_oss/torch/model.py:249-256), then
//   out = (act * w2 + w2_bias) * 0.75.
// The expected values below were evaluated with Python's math module from those formulas
// (not by moesim): act = 1.8487603762135727, -26.249824231137442, -38.99938841342557.
TEST(ReferenceFp64, SwigluoaiWithBiasesMatchesHandComputation) {
  MoeProblem p;
  p.num_tokens = 3;
  p.top_k = 1;
  p.num_experts = 1;
  p.hidden = 2;
  p.intermediate = 1;
  p.activation = "swigluoai";
  p.has_bias = true;
  MemWeights w;
  auto matrix = [](std::int64_t rows, std::int64_t cols, std::vector<float> v, std::vector<float> bias) {
    ExpertMatrix m;
    m.dtype = "bf16";
    m.rows = rows;
    m.cols = cols;
    m.bytes.resize(v.size() * 2);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::uint16_t h = bf16_rne(v[i]);
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
    }
    m.bias = std::move(bias);
    return m;
  };
  w.m[{"w13", 0}] = matrix(2, 2, {1.0f, 0.5f, -1.0f, 0.25f}, {0.5f, 0.25f});
  w.m[{"w2", 0}] = matrix(2, 1, {2.0f, -0.5f}, {0.125f, -1.0f});
  std::map<std::string, EmuBuffer> bufs;
  EmuBuffer hs("hidden_states", ElemType::BF16, {3, 2});
  EmuBuffer ids("topk_ids", ElemType::I32, {3, 1});
  EmuBuffer tw("topk_weights", ElemType::F32, {3, 1});
  const float x[6] = {1, 2, 6, 4, 8, -4};
  for (int i = 0; i < 6; ++i) hs.mutable_data<std::uint16_t>()[i] = bf16_rne(x[i]);
  for (int i = 0; i < 3; ++i) ids.mutable_data<std::int32_t>()[i] = 0, tw.mutable_data<float>()[i] = 0.75f;
  for (EmuBuffer* b : {&hs, &ids, &tw}) {
    b->mark_all_written();
    bufs[b->name()] = *b;
  }
  const VariantSpec spec = find_variant("reference_fp64");
  auto impl = make_variant_impl(spec);
  MemoryLog log;
  for (const StageSpec& st : spec.stages) {
    StageContext ctx{p, w, bufs, log, st, 1};
    impl->run_stage(ctx);
  }
  const double g1[6] = {2.5, -0.25, 8.5, -4.75, 6.5, -8.75};  // GEMM1 + bias, before the clamp
  const double act[3] = {1.8487603762135727, -26.249824231137442, -38.99938841342557};
  const double out[6] = {2.866890564320359, -1.4432851410800898, -39.280986346706165, 9.093684086676541, -58.40533262013835,
                         13.874770655034588};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bufs.at("gemm1_out").data<double>()[i], g1[i]) << i;  // exact: small integers and halves
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(bufs.at("act_out").data<double>()[i], act[i], 1e-14 * std::fabs(act[i])) << i;
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(bufs.at("gemm2_out").data<double>()[i], out[i], 1e-14 * std::fabs(out[i])) << i;
    EXPECT_NEAR(bufs.at("output").data<double>()[i], out[i], 1e-14 * std::fabs(out[i])) << i;
  }
  EXPECT_EQ(log.total(), 0);
  // A bias of the wrong length is bad input naming the expert, not a read past the end.
  w.m[{"w2", 0}].bias.pop_back();
  StageContext ctx{p, w, bufs, log, *spec.stage("gemm2"), 1};
  try {
    impl->run_stage(ctx);
    FAIL() << "short bias accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("w2[0]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moesim::kernels
