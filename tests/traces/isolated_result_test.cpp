// The parent's side of the isolated read (traces::decode_isolated_result): the child's result
// is untrusted -- the child ran libhdf5 on a hostile file -- so any bytes must give one
// InputError line naming the file: never another exception (the CLI's "internal error", exit
// 3), a crash, or an allocation sized by a number the child wrote. fuzz/fuzz_decode.cpp fuzzes
// the same function; these are the classes it and the review found, fixed.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "test_util.hpp"
#include "traces/trace_codec.hpp"
#include "traces/trace_io.hpp"

namespace moesim::traces {
namespace {

const std::string kCorpus = std::string(MOESIM_SOURCE_DIR) + "/fuzz/corpus/trace/";

struct Fd {
  int fd;
  explicit Fd(const std::string& p) : fd(open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() { close(fd); }
};

// Decodes; returns "" on success, else the InputError text (which must be one line naming
// `path`). Any other exception fails the test.
std::string outcome(const std::string& path, const std::vector<std::uint8_t>& buf) {
  Fd f(path);
  try {
    decode_isolated_result(path, f.fd, buf.data(), buf.size());
    return "";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path, 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
}

std::vector<std::uint8_t> encoded(const Trace& t, const DeferredPlans* plans = nullptr) {
  std::vector<std::uint8_t> b(encoded_size(t, plans));
  encode(t, b.data(), plans);
  return b;
}

TEST(IsolatedResult, RealResultsDecodeToWhatTheInProcessReaderReads) {
  for (const char* name : {"routing.h5", "counts.h5", "bf16_weights.h5", "nvfp4_weights.h5", "h5py_written.h5"}) {
    const std::string path = kCorpus + name;
    const std::vector<std::uint8_t> buf = encode_isolated_result(path);
    Fd f(path);
    const Trace got = decode_isolated_result(path, f.fd, buf.data(), buf.size());
    ReadOptions opt;
    opt.isolate = false;
    const Trace want = read_trace_in_process(path, opt);
    ASSERT_EQ(got.calls.size(), want.calls.size()) << name;
    for (std::size_t i = 0; i < got.calls.size(); ++i) {
      EXPECT_EQ(got.calls[i].topk_ids, want.calls[i].topk_ids) << name;
      EXPECT_EQ(got.calls[i].topk_weights, want.calls[i].topk_weights) << name;
      EXPECT_EQ(got.calls[i].expert_counts, want.calls[i].expert_counts) << name;
      EXPECT_EQ(got.calls[i].hidden_states.has_value(), want.calls[i].hidden_states.has_value()) << name;
      if (got.calls[i].hidden_states) {
        EXPECT_EQ(got.calls[i].hidden_states->data.bytes, want.calls[i].hidden_states->data.bytes) << name;
      }
    }
    EXPECT_EQ(got.path, path);
  }
}

TEST(IsolatedResult, EveryTruncationIsOneLineNamingTheFile) {
  const std::string path = kCorpus + "routing.h5";
  const std::vector<std::uint8_t> buf = encode_isolated_result(path);
  for (std::size_t n = 0; n < buf.size(); ++n) {
    const std::vector<std::uint8_t> cut(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(outcome(path, cut), "") << "a truncated result of " << n << " bytes was accepted";
  }
  std::vector<std::uint8_t> longer = buf;
  longer.push_back(0);
  EXPECT_NE(outcome(path, longer).find("trailing bytes"), std::string::npos);
}

TEST(IsolatedResult, RandomCorruptionsAreAcceptedOrOneLineErrors) {
  std::mt19937_64 rng(11);
  for (const char* name : {"routing.h5", "counts.h5", "bf16_weights.h5"}) {
    const std::string path = kCorpus + name;
    const std::vector<std::uint8_t> buf = encode_isolated_result(path);
    for (int trial = 0; trial < 1500; ++trial) {
      std::vector<std::uint8_t> b = buf;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const std::size_t i = rng() % b.size();
        // Whole 8-byte words too: lengths, counts, plan sizes and offsets are u64/i64.
        if (rng() % 2 && i + 8 <= b.size()) {
          const std::uint64_t v = rng() % 3 == 0 ? ~std::uint64_t{0} : rng() % 3 == 1 ? (std::uint64_t{1} << (rng() % 63)) : rng();
          for (int j = 0; j < 8; ++j) b[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
        } else {
          b[i] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        }
      }
      (void)outcome(path, b);  // either accepted or one line naming the file; never another exception
    }
  }
}

// A plan whose size the child made up: refused before the parent allocates it.
TEST(IsolatedResult, PlanLargerThanTheFileIsRefusedBeforeAllocation) {
  const std::string path = kCorpus + "routing.h5";
  Trace t = moesim::testing::small_trace();
  const std::int64_t huge = std::int64_t{1} << 40;
  for (int repeat : {1, 1000}) {  // one huge chunk; or many chunks re-reading the same bytes
    DeferredPlans plans;
    h5::RawPlan& p = plans["c0/topk_ids"];
    p.dataset = "/calls/0000/topk_ids\nsecond line";
    const std::int64_t each = repeat == 1 ? huge : 16000;
    p.bytes = each * repeat;
    for (int k = 0; k < repeat; ++k) p.chunks.push_back({0, each, k * each, each, false});
    const std::string msg = outcome(path, encoded(t, &plans));
    EXPECT_NE(msg.find("larger than the file"), std::string::npos) << msg;
  }
}

// Values the child checked are checked again on the parent's side.
TEST(IsolatedResult, StructureAndContextAreRecheckedInTheParent) {
  const std::string path = kCorpus + "routing.h5";
  struct Case {
    const char* want;
    void (*mutate)(Trace&);
  };
  const Case cases[] = {
      {"/model@num_experts: must be in [1, 2^20]", [](Trace& t) { t.model.num_experts = std::int64_t{1} << 40; }},
      {"/model@hidden: must be in [1, 2^24]", [](Trace& t) { t.model.hidden = -3; }},
      {"/context@tp: tp must be in [1, 4096]", [](Trace& t) { t.context.tp = 0; }},
      {"/context@device", [](Trace& t) { t.context.device = "sm9999"; }},
      {"/calls: missing or empty", [](Trace& t) { t.calls.clear(); }},
      {"/calls/0000@num_tokens: negative token count", [](Trace& t) { t.calls[0].num_tokens = -1; }},
      {"/calls/0000/expert_counts: wrong shape [3]", [](Trace& t) { t.calls[0].expert_counts = {1, 2, 3}; }},
      {"/calls/0000/topk_ids: missing", [](Trace& t) { t.calls[0].topk_ids.clear(); }},
      {"/calls/0000/hidden_states: 10 bytes do not match shape [6, 16] of bf16",
       [](Trace& t) {
         QTensor q;
         q.data.dtype = "bf16";
         q.data.shape = {6, 16};
         q.data.bytes.resize(10);
         t.calls[0].hidden_states = q;
       }},
      {"/calls/0000/golden/x: unknown dtype 'f128'",
       [](Trace& t) {
         Tensor x;
         x.dtype = "f128";
         t.calls[0].intermediates["x"] = x;
       }},
      {"/weights/w13: wrong shape",
       [](Trace& t) {
         t.weights.present = true;
         t.weights.dtype = "bf16";
         t.weights.w13_shape = {8, 16, 1 << 30};
       }},
      {"/weights/w13_bias: expert biases without weights", [](Trace& t) { t.weights.has_biases = true; }},
  };
  for (const Case& c : cases) {
    Trace t = moesim::testing::small_trace();
    c.mutate(t);
    const std::string msg = outcome(path, encoded(t));
    EXPECT_NE(msg.find(c.want), std::string::npos) << "want '" << c.want << "', got '" << msg << "'";
  }
  EXPECT_EQ(outcome(path, encoded(moesim::testing::small_trace())), "");  // the unmutated trace is fine
}

// Every WeightsInfo field crosses the codec: has_biases decides whether replay hands the
// kernels biases, so losing it would drop them silently.
TEST(IsolatedResult, WeightsInfoTravelsWithBiases) {
  const std::string path = kCorpus + "routing.h5";
  for (const bool biases : {false, true}) {
    Trace t = moesim::testing::small_trace();
    t.weights.present = true;
    t.weights.dtype = "bf16";
    t.weights.w13_shape = {8, 16, 16};
    t.weights.w2_shape = {8, 16, 8};
    t.weights.has_biases = biases;
    const auto buf = encoded(t);
    Fd f(path);
    const Trace got = decode_isolated_result(path, f.fd, buf.data(), buf.size());
    EXPECT_TRUE(got.weights.present);
    EXPECT_EQ(got.weights.has_biases, biases);
    EXPECT_EQ(got.weights.w2_shape, t.weights.w2_shape);
  }
}

}  // namespace
}  // namespace moesim::traces
