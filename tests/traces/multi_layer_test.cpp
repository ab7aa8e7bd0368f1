// Multi-layer traces (docs/trace-format.md, /layers/LLLL): synth --layers writes them, the
// reader reads them back (layer 0 is exactly the single-layer synth trace: routing,
// activations and weights), each layer's weights are separate, and every malformed layout is a
// one-line InputError naming file and object. Each hostile file is built with the writer and
// raw h5::File calls, so the expected message is known independently of the reader.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/lib/preset.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "test_util.hpp"
#include "traces/h5.hpp"
#include "traces/synth.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces {
namespace {

using moesim::testing::run_cmd;
using moesim::testing::temp_path;

SynthOptions small(std::int64_t layers) {
  SynthOptions o;
  o.preset = "qwen3-30b-a3b";
  o.tokens = {5, 3};
  o.seed = 11;
  o.activations = true;
  o.weights = "bf16";
  o.num_experts = 4;
  o.top_k = 2;
  o.hidden = 32;
  o.intermediate = 16;
  o.layers = layers;
  return o;
}

TEST(MultiLayer, SynthLayersReadBackLayerZeroIsTheSingleLayerTrace) {
  const std::string one = temp_path("one.h5"), many = temp_path("many.h5");
  synthesize_to_file(small(0), models_dir(), one);
  synthesize_to_file(small(3), models_dir(), many);
  const Trace a = read_trace(one), b = read_trace(many);
  EXPECT_FALSE(a.multi_layer());
  ASSERT_TRUE(b.multi_layer());
  ASSERT_EQ(b.layers.size(), 3u);
  ASSERT_EQ(b.calls.size(), 6u);
  for (std::size_t i = 0; i < b.calls.size(); ++i) {
    EXPECT_EQ(b.calls[i].layer, static_cast<std::int64_t>(i / 2)) << i;
    EXPECT_TRUE(b.calls[i].hidden_states.has_value());
  }
  EXPECT_TRUE(b.weights.present);
  for (const auto& l : b.layers) EXPECT_TRUE(l.weights.present);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.calls[i].topk_ids, b.calls[i].topk_ids);
    EXPECT_EQ(a.calls[i].topk_weights, b.calls[i].topk_weights);
    EXPECT_EQ(a.calls[i].hidden_states->data.bytes, b.calls[i].hidden_states->data.bytes);
  }
  EXPECT_NE(b.calls[0].topk_ids, b.calls[2].topk_ids);  // layer 1 routes differently
  WeightReader w1(one), l0(many, 0), l1(many, 1), l2(many, 2);
  for (std::int64_t e = 0; e < 4; ++e)
    for (const char* m : {"w13", "w2"}) {
      EXPECT_EQ(w1.read(m, e).w.bytes, l0.read(m, e).w.bytes) << m << e;
      EXPECT_NE(l0.read(m, e).w.bytes, l1.read(m, e).w.bytes) << m << e;
      EXPECT_NE(l1.read(m, e).w.bytes, l2.read(m, e).w.bytes) << m << e;
    }
  // The readers refuse the wrong form.
  EXPECT_THROW(WeightReader(many, -1), InputError);
  EXPECT_THROW(WeightReader(many, 7), InputError);
  EXPECT_THROW(WeightReader(one, 0), InputError);
}

TEST(MultiLayer, InspectShowsLayers) {
  const std::string many = temp_path("many.h5");
  synthesize_to_file(small(2), models_dir(), many);
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect " + many);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("layers   2 (0..1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer 1  2 calls, T=8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("call 3 (layer 1)"), std::string::npos) << r.out;
  auto j = run_cmd(std::string(MOESIM_BINARY) + " inspect --json " + many);
  EXPECT_NE(j.out.find("\"layers\":[{\"layer\":0,\"calls\":2,\"tokens\":8"), std::string::npos) << j.out;
  auto c = run_cmd(std::string(MOESIM_BINARY) + " check " + many + " --device h100");
  EXPECT_LE(c.code, 1) << c.out;
}

// ---------------------------------------------------------------- hostile layouts

ModelShape shape() {
  ModelShape m;
  m.num_experts = 4, m.top_k = 2, m.hidden = 32, m.intermediate = 16;
  return m;
}

Trace base(std::vector<std::int64_t> layers, std::vector<std::int64_t> call_layers) {
  Trace t = moesim::testing::small_trace(4);
  t.model = shape();
  t.calls[0].topk_ids = {0, 1, 1, 2, 2, 3, 3, 0};
  t.calls[0].topk_weights.assign(8, 0.5f);
  const MoeCall c = t.calls[0];
  t.calls.clear();
  for (auto l : call_layers) {
    t.calls.push_back(c);
    t.calls.back().layer = l;
  }
  for (auto l : layers) t.layers.push_back(LayerInfo{l, {}});
  return t;
}

WeightsInfo bf16_info() {
  WeightsInfo i;
  i.present = true;
  i.dtype = "bf16";
  return i;
}

void write_weights(h5::File& f, const ModelShape& m, std::int64_t layer, std::uint16_t fill = 0x3F80) {
  WeightWriter ww(f, m, bf16_info(), {}, {}, layer);
  const std::int64_t n1 = 2 * m.intermediate;
  for (std::int64_t e = 0; e < m.num_experts; ++e) {
    ExpertWeights a, b;
    a.w = Tensor{"bf16", {n1, m.hidden}, std::vector<std::uint8_t>(static_cast<std::size_t>(n1 * m.hidden * 2)), "linear"};
    b.w = Tensor{"bf16", {m.hidden, m.intermediate}, std::vector<std::uint8_t>(static_cast<std::size_t>(m.hidden * m.intermediate * 2)), "linear"};
    for (auto* t : {&a.w, &b.w})
      for (std::size_t i = 0; i < t->bytes.size(); i += 2) std::memcpy(t->bytes.data() + i, &fill, 2);
    ww.write("w13", e, a);
    ww.write("w2", e, b);
  }
}

std::string expect_refusal(const std::string& path, const std::string& where, const std::string& what) {
  try {
    read_trace(path);
    ADD_FAILURE() << path << ": read without error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find(path + ":" + where), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
    return m;
  }
  return "";
}

TEST(MultiLayer, HostileLayoutsAreOneLineErrors) {
  const ModelShape m = shape();
  const std::string p1 = temp_path("both.h5");
  write_trace(base({0}, {0}), p1, [&](h5::File& f) {
    write_weights(f, m, -1);
    write_weights(f, m, 0);
  });
  expect_refusal(p1, "/layers", "not both");

  const std::string p2 = temp_path("nolayer.h5");
  write_trace(base({0, 1}, {0, -1}), p2);
  expect_refusal(p2, "/calls/0001@layer", "missing");

  const std::string p3 = temp_path("unknown.h5");
  write_trace(base({0, 1}, {0, 7}), p3);
  expect_refusal(p3, "/calls/0001@layer", "layer 7");

  const std::string p4 = temp_path("badname.h5");
  write_trace(base({}, {0}), p4, [&](h5::File& f) { f.make_group("/layers/3"); });
  expect_refusal(p4, "/layers/3", "4 decimal digits");

  const std::string p5 = temp_path("some.h5");
  write_trace(base({0, 1}, {0, 1}), p5, [&](h5::File& f) { write_weights(f, m, 0); });
  expect_refusal(p5, "/layers/0000/weights", "some layers only");

  const std::string p6 = temp_path("shape.h5");
  ModelShape m2 = m;
  m2.intermediate = 8;
  write_trace(base({0, 1}, {0, 1}), p6, [&](h5::File& f) {
    write_weights(f, m, 0);
    write_weights(f, m2, 1);
  });
  expect_refusal(p6, "/layers/0001/weights/w13", "wrong shape");

  const std::string p7 = temp_path("empty.h5");
  write_trace(base({}, {0}), p7, [&](h5::File& f) { f.make_group("/layers"); });
  expect_refusal(p7, "/layers", "empty group");

  // The CLI: exit 2, one line.
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect " + p6);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

// A NaN in layer 1's weights is found by the reader of layer 1, never by layer 0's: a rank that
// replays layer 0 does not read (or trip over) layer 1.
TEST(MultiLayer, EachLayerReaderReadsOnlyItsLayer) {
  const ModelShape m = shape();
  const std::string p = temp_path("nan.h5");
  write_trace(base({0, 1}, {0, 1}), p, [&](h5::File& f) {
    write_weights(f, m, 0);
    write_weights(f, m, 1, 0x7FC0);  // bf16 NaN everywhere in layer 1
  });
  WeightReader l0(p, 0);
  EXPECT_NO_THROW(l0.read("w13", 3));
  WeightReader l1(p, 1);
  try {
    l1.read("w13", 0);
    ADD_FAILURE() << "NaN weight read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(p + ":/layers/0001/weights/w13: non-finite weight in expert 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moesim::traces
