// Trace format v1: C++ roundtrip and every class of bad input named in the issue.
#include "traces/trace_io.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "sim/core/error.hpp"
#include "test_util.hpp"
#include "traces/h5.hpp"
#include "traces/weights.hpp"

namespace moesim::traces {
namespace {

using moesim::testing::run_cmd;
using moesim::testing::small_trace;
using moesim::testing::temp_path;

// Expects read_trace(path) to throw an InputError whose message contains every fragment.
void expect_rejected(const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    read_trace(path);
    FAIL() << "read_trace accepted " << path;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "error must be one line: " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
  // And the CLI turns it into exit code 2 with one line on stderr, never a crash.
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect '" + path + "'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
}

TEST(TraceIo, RoundtripPreservesEverything) {
  Trace t = small_trace();
  t.context.device = "sm90";
  t.context.flashinfer_version = "0.6.8.post1";
  t.context.framework = "vllm@pr44220";
  t.context.ep = 4;
  t.context.env["VLLM_USE_FLASHINFER_MOE_FP16"] = "1";
  t.attrs["seed"] = "7";
  Tensor h{"bf16", {6, 16}, std::vector<std::uint8_t>(6 * 16 * 2), "linear"};
  for (std::size_t i = 0; i < h.bytes.size(); ++i) h.bytes[i] = static_cast<std::uint8_t>(i * 37 + 1);
  t.calls[0].hidden_states = QTensor{h, std::nullopt, std::nullopt};
  Tensor golden = h;
  golden.bytes[3] ^= 0x5A;
  Tensor scale{"ue4m3", {6, 1}, std::vector<std::uint8_t>(6, 0x38), "swizzled_128x4"};
  t.calls[0].golden_output = QTensor{golden, scale, Tensor{"f32", {1}, std::vector<std::uint8_t>(4, 0), "linear"}};
  t.calls[0].intermediates["gemm1_out"] = Tensor{"f32", {2, 3}, std::vector<std::uint8_t>(24, 9), "linear"};
  t.calls[0].layer = 3;
  const std::string p = temp_path("rt.h5");
  write_trace(t, p);
  Trace r = read_trace(p);
  EXPECT_EQ(r.model.num_experts, 8);
  EXPECT_EQ(r.model.top_k, 2);
  EXPECT_EQ(r.context.device, "sm90");
  EXPECT_EQ(r.context.flashinfer_version, "0.6.8.post1");
  EXPECT_EQ(r.context.framework, "vllm@pr44220");
  EXPECT_EQ(r.context.ep, 4);
  EXPECT_EQ(r.context.env.at("VLLM_USE_FLASHINFER_MOE_FP16"), "1");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].layer, 3);
  EXPECT_EQ(r.calls[0].topk_ids, t.calls[0].topk_ids);
  EXPECT_EQ(r.calls[0].topk_weights, t.calls[0].topk_weights);
  ASSERT_TRUE(r.calls[0].hidden_states);
  EXPECT_EQ(r.calls[0].hidden_states->data.bytes, h.bytes);
  EXPECT_EQ(r.calls[0].hidden_states->data.dtype, "bf16");
  ASSERT_TRUE(r.calls[0].golden_output && r.calls[0].golden_output->scale);
  EXPECT_EQ(r.calls[0].golden_output->data.bytes, golden.bytes);
  EXPECT_EQ(r.calls[0].golden_output->scale->layout, "swizzled_128x4");
  EXPECT_EQ(r.calls[0].intermediates.at("gemm1_out").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(r.attrs.at("seed"), "7");
}

TEST(TraceIo, WeightsStreamPerExpertAndRejectNaN) {
  Trace t = small_trace();
  const std::string p = temp_path("w.h5");
  write_trace(t, p);
  WeightsInfo info;
  info.present = true;
  info.dtype = "bf16";
  {
    WeightWriter ww(p, t.model, info);
    for (std::int64_t e = 0; e < 8; ++e) {
      ExpertWeights w13{Tensor{"bf16", {16, 16}, std::vector<std::uint8_t>(16 * 16 * 2, static_cast<std::uint8_t>(e)), "linear"}, {}, {}, {}};
      ExpertWeights w2{Tensor{"bf16", {16, 8}, std::vector<std::uint8_t>(16 * 8 * 2, static_cast<std::uint8_t>(e + 1)), "linear"}, {}, {}, {}};
      if (e == 5) {  // plant a bf16 NaN (0x7FC0) in expert 5's w2 at flat index 7
        w2.w.bytes[14] = 0xC0;
        w2.w.bytes[15] = 0x7F;
      }
      ww.write("w13", e, w13);
      ww.write("w2", e, w2);
    }
  }
  WeightReader wr(p);
  EXPECT_EQ(wr.info().w13_shape, (std::vector<std::int64_t>{8, 16, 16}));
  auto e3 = wr.read("w13", 3);
  EXPECT_EQ(e3.w.shape, (std::vector<std::int64_t>{16, 16}));
  EXPECT_EQ(e3.w.bytes[0], 3);
  EXPECT_EQ(wr.read("w2", 3).w.bytes[0], 4);
  try {
    wr.read("w2", 5);
    FAIL() << "NaN weight accepted";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("/weights/w2"), std::string::npos) << m;
    EXPECT_NE(m.find("expert 5"), std::string::npos) << m;
    EXPECT_NE(m.find("index 7"), std::string::npos) << m;
  }
  EXPECT_THROW(wr.read("w2", 8), InputError);
  EXPECT_THROW(wr.read("w4", 0), InputError);
}

// Expert biases (w13_bias f32 [E, 2I], w2_bias f32 [E, H]): written per expert, read back
// per expert through the isolated reader (its codec carries has_biases), NaN named.
std::string biased_trace(const std::string& name, float nan_at_w2_e2 = 0.0f) {
  Trace t = small_trace();
  const std::string p = temp_path(name);
  WeightsInfo info;
  info.present = true;
  info.dtype = "bf16";
  info.has_biases = true;
  write_trace(t, p, [&](h5::File& f) {
    WeightWriter ww(f, t.model, info);
    for (std::int64_t e = 0; e < 8; ++e) {
      ExpertWeights w13{Tensor{"bf16", {16, 16}, std::vector<std::uint8_t>(16 * 16 * 2, 0), "linear"}, {}, {}, {}};
      ExpertWeights w2{Tensor{"bf16", {16, 8}, std::vector<std::uint8_t>(16 * 8 * 2, 0), "linear"}, {}, {}, {}};
      w13.bias = std::vector<float>(16), w2.bias = std::vector<float>(16);
      for (int i = 0; i < 16; ++i) (*w13.bias)[i] = static_cast<float>(e) + i / 64.0f, (*w2.bias)[i] = -static_cast<float>(e) - i / 32.0f;
      if (e == 2 && nan_at_w2_e2 != 0.0f) (*w2.bias)[9] = std::nanf("");
      ww.write("w13", e, w13);
      ww.write("w2", e, w2);
    }
  });
  return p;
}

TEST(TraceIo, BiasesRoundTripPerExpert) {
  const std::string p = biased_trace("bias.h5");
  const Trace r = read_trace(p);
  EXPECT_TRUE(r.weights.has_biases);
  WeightReader wr(p);
  ASSERT_TRUE(wr.info().has_biases);
  const auto w13 = wr.read("w13", 3), w2 = wr.read("w2", 5);
  ASSERT_TRUE(w13.bias && w2.bias);
  ASSERT_EQ(w13.bias->size(), 16u);
  ASSERT_EQ(w2.bias->size(), 16u);
  EXPECT_EQ((*w13.bias)[7], 3.0f + 7 / 64.0f);
  EXPECT_EQ((*w2.bias)[15], -5.0f - 15 / 32.0f);
  // A trace without biases has none.
  const std::string q = temp_path("nobias.h5");
  write_trace(small_trace(), q);
  EXPECT_FALSE(read_trace(q).weights.has_biases);
}

TEST(TraceIo, NonFiniteBiasIsNamed) {
  const std::string p = biased_trace("nanbias.h5", 1.0f);
  WeightReader wr(p);
  EXPECT_NO_THROW(wr.read("w2", 1));
  try {
    wr.read("w2", 2);
    FAIL() << "NaN bias accepted";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("/weights/w2_bias"), std::string::npos) << m;
    EXPECT_NE(m.find("expert 2 at index 9"), std::string::npos) << m;
  }
}

TEST(TraceIoBadInput, BiasesWrongShapeDtypeOrUnpaired) {
  auto rewrite = [&](const std::string& name, auto&& mutate) {
    const std::string p = biased_trace(name);
    h5::File f = h5::File::open_append(p);
    mutate(f);
    return p;
  };
  const std::vector<float> v(8 * 17, 0.f);
  expect_rejected(rewrite("b_shape.h5", [&](h5::File& f) {
                    H5Ldelete(f.id(), "/weights/w13_bias", H5P_DEFAULT);
                    f.write("/weights/w13_bias", h5::Scalar::F32, {8, 17}, v.data());
                  }),
                  {"/weights/w13_bias", "wrong shape [8, 17]", "[E, 2I] = [8, 16]"});
  const std::vector<double> d(8 * 16, 0.0);
  expect_rejected(rewrite("b_dtype.h5", [&](h5::File& f) {
                    H5Ldelete(f.id(), "/weights/w2_bias", H5P_DEFAULT);
                    f.write("/weights/w2_bias", h5::Scalar::F64, {8, 16}, d.data());
                  }),
                  {"/weights/w2_bias", "must be f32"});
  expect_rejected(rewrite("b_pair.h5", [&](h5::File& f) { H5Ldelete(f.id(), "/weights/w2_bias", H5P_DEFAULT); }),
                  {"/weights/w2_bias", "missing", "pairs"});
}

TEST(TraceIoBadInput, NotHdf5) {
  const std::string p = temp_path("text.h5");
  std::ofstream(p) << "this is not an HDF5 file\n";
  expect_rejected(p, {"not an HDF5 file"});
}

TEST(TraceIoBadInput, MissingFile) { expect_rejected(temp_path("nope.h5"), {"no such file"}); }

TEST(TraceIoBadInput, TruncatedFile) {
  const std::string p = temp_path("trunc.h5");
  Trace t = small_trace(2000);
  write_trace(t, p);
  const auto size = std::filesystem::file_size(p);
  std::filesystem::resize_file(p, size / 2);
  try {
    read_trace(p);
    FAIL() << "truncated file accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos);
  }
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect '" + p + "'");
  EXPECT_EQ(r.code, 2) << r.out;
}

TEST(TraceIoBadInput, CorruptBytes) {
  const std::string p = temp_path("corrupt.h5");
  write_trace(small_trace(500), p);
  // Overwrite everything after the 8-byte signature's superblock region with garbage.
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(96);
  for (int i = 0; i < 4000; ++i) f.put(static_cast<char>((i * 131) & 0xFF));
  f.close();
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect '" + p + "'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(p), std::string::npos) << r.out;
}

// Builds a file with the valid skeleton, then lets the test break one thing.
template <class F>
std::string make_file(const std::string& name, F&& mutate) {
  const std::string p = temp_path(name);
  write_trace(small_trace(), p);
  h5::File f = h5::File::open_append(p);
  mutate(f);
  return p;
}

TEST(TraceIoBadInput, NotAMoesimTrace) {
  const std::string p = temp_path("other.h5");
  { h5::File f = h5::File::create(p); f.set_attr("/", "format", std::string("something-else")); }
  expect_rejected(p, {"/@format", "not a moesim trace"});
}

TEST(TraceIoBadInput, WrongFormatVersion) {
  auto p = make_file("ver.h5", [](h5::File& f) { f.set_attr("/", "format_version", std::int64_t{2}); });
  expect_rejected(p, {"format_version", "unsupported"});
}

TEST(TraceIoBadInput, MissingModelAttribute) {
  auto p = make_file("noattr.h5", [](h5::File& f) { H5Adelete_by_name(f.id(), "/model", "top_k", H5P_DEFAULT); });
  expect_rejected(p, {"/model@top_k", "missing attribute"});
}

TEST(TraceIoBadInput, TopKLargerThanExperts) {
  auto p = make_file("k.h5", [](h5::File& f) { f.set_attr("/model", "top_k", std::int64_t{9}); });
  // The shape attributes are range-checked before any dataset is sized from them.
  expect_rejected(p, {"/model@top_k", "must be in [1, num_experts=8], got 9"});
}

TEST(TraceIoBadInput, MissingTopkWeights) {
  auto p = make_file("now.h5", [](h5::File& f) { H5Ldelete(f.id(), "/calls/0000/topk_weights", H5P_DEFAULT); });
  expect_rejected(p, {"/calls/0000/topk_weights", "missing"});
}

TEST(TraceIoBadInput, MisShapedTopkIds) {
  auto p = make_file("shape.h5", [](h5::File& f) {
    H5Ldelete(f.id(), "/calls/0000/topk_ids", H5P_DEFAULT);
    std::vector<std::int32_t> ids(6 * 3, 0);
    f.write("/calls/0000/topk_ids", h5::Scalar::I32, {6, 3}, ids.data());
  });
  expect_rejected(p, {"/calls/0000/topk_ids", "wrong shape [6, 3]", "[6, 2]"});
}

TEST(TraceIoBadInput, WrongDtypeTopkIds) {
  auto p = make_file("dtype.h5", [](h5::File& f) {
    H5Ldelete(f.id(), "/calls/0000/topk_ids", H5P_DEFAULT);
    std::vector<std::int64_t> ids(12, 0);
    f.write("/calls/0000/topk_ids", h5::Scalar::I64, {6, 2}, ids.data());
  });
  expect_rejected(p, {"/calls/0000/topk_ids", "wrong dtype", "int32", "int64"});
}

TEST(TraceIoBadInput, ExpertIdOutOfRange) {
  Trace t = small_trace();
  t.calls[0].topk_ids[5] = 8;
  const std::string p = temp_path("range.h5");
  write_trace(t, p);
  expect_rejected(p, {"/calls/0000/topk_ids", "expert id 8", "[2, 1]", "outside [0, 8)"});
}

TEST(TraceIoBadInput, NegativeIdOnlyWhenMasked) {
  Trace t = small_trace();
  t.calls[0].topk_ids[0] = -1;
  const std::string p = temp_path("neg.h5");
  write_trace(t, p);
  expect_rejected(p, {"expert id -1", "ids_masked"});
  t.calls[0].ids_masked = true;
  write_trace(t, p);
  EXPECT_NO_THROW(read_trace(p));
}

TEST(TraceIoBadInput, NaNRoutingWeight) {
  Trace t = small_trace();
  t.calls[0].topk_weights[3] = std::numeric_limits<float>::quiet_NaN();
  const std::string p = temp_path("nan.h5");
  write_trace(t, p);
  expect_rejected(p, {"/calls/0000/topk_weights", "non-finite", "[1, 1]"});
}

TEST(TraceIoBadInput, DuplicateExpertInToken) {
  Trace t = small_trace();
  t.calls[0].topk_ids[1] = t.calls[0].topk_ids[0];
  const std::string p = temp_path("dup.h5");
  write_trace(t, p);
  expect_rejected(p, {"token 0 routes to expert 0 twice"});
}

TEST(TraceIoBadInput, InconsistentExpertCounts) {
  Trace t = small_trace();
  t.calls[0].expert_counts.assign(8, 1);  // sums to 8, not T*K = 12
  const std::string p = temp_path("counts.h5");
  write_trace(t, p);
  expect_rejected(p, {"/calls/0000/expert_counts", "!= num_tokens*top_k"});
}

TEST(TraceIoBadInput, MisShapedActivations) {
  Trace t = small_trace();
  t.calls[0].hidden_states = QTensor{Tensor{"bf16", {6, 15}, std::vector<std::uint8_t>(6 * 15 * 2), "linear"}, {}, {}};
  const std::string p = temp_path("acts.h5");
  write_trace(t, p);
  expect_rejected(p, {"/calls/0000/hidden_states", "wrong shape [6, 15]", "[6, 16]"});
}

TEST(TraceIoBadInput, UnknownDtypeAttribute) {
  auto p = make_file("udt.h5", [](h5::File& f) {
    std::vector<std::uint16_t> h(6 * 16, 0);
    f.write("/calls/0000/hidden_states", h5::Scalar::U16, {6, 16}, h.data());
    f.set_attr("/calls/0000/hidden_states", "dtype", std::string("bf17"));
  });
  expect_rejected(p, {"/calls/0000/hidden_states", "unknown dtype 'bf17'"});
}

TEST(TraceIoBadInput, DtypeAttributeStorageMismatch) {
  auto p = make_file("mis.h5", [](h5::File& f) {
    std::vector<std::uint8_t> h(6 * 16, 0);
    f.write("/calls/0000/hidden_states", h5::Scalar::U8, {6, 16}, h.data());
    f.set_attr("/calls/0000/hidden_states", "dtype", std::string("bf16"));
  });
  expect_rejected(p, {"/calls/0000/hidden_states", "needs uint16 storage, found uint8"});
}

TEST(TraceIoBadInput, NoCalls) {
  auto p = make_file("nocalls.h5", [](h5::File& f) { H5Ldelete(f.id(), "/calls/0000", H5P_DEFAULT); });
  expect_rejected(p, {"/calls", "at least one MoE call"});
}

TEST(TraceIoBadInput, WeightsWrongShape) {
  auto p = make_file("wshape.h5", [](h5::File& f) {
    std::vector<std::uint16_t> w(8 * 16 * 16, 0), w2(8 * 16 * 7, 0);
    f.write("/weights/w13", h5::Scalar::U16, {8, 16, 16}, w.data());
    f.set_attr("/weights/w13", "dtype", std::string("bf16"));
    f.write("/weights/w2", h5::Scalar::U16, {8, 16, 7}, w2.data());
    f.set_attr("/weights/w2", "dtype", std::string("bf16"));
  });
  expect_rejected(p, {"/weights/w2", "wrong shape [8, 16, 7]", "[8, 16, 8]"});
}

}  // namespace
}  // namespace moesim::traces
