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

}  // namespace
}  // namespace moesim::kernels
