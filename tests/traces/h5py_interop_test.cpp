// moesim <-> h5py: files written by moesim read back with h5py, and files written with h5py
// following docs/trace-format.md load in moesim with the exact values.
#include <gtest/gtest.h>

#include <cstring>

#include "test_util.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces {
namespace {

using moesim::testing::run_cmd;
using moesim::testing::temp_path;

const std::string kPyDir = std::string(MOESIM_SOURCE_DIR) + "/tests/traces/py/";

TEST(H5pyInterop, H5pyWrittenTraceLoads) {
  const std::string p = temp_path("py.h5");
  auto r = run_cmd(std::string(MOESIM_PYTHON) + " " + kPyDir + "write_trace.py " + p);
  ASSERT_EQ(r.code, 0) << r.out;
  Trace t = read_trace(p);
  EXPECT_EQ(t.model.name, "h5py-made");
  EXPECT_TRUE(t.model.gated);
  EXPECT_EQ(t.context.device, "sm90");
  EXPECT_EQ(t.context.ep, 2);
  EXPECT_EQ(t.context.env.at("VLLM_FUSED_MOE_CHUNK_SIZE"), "32768");
  ASSERT_EQ(t.calls.size(), 1u);
  const MoeCall& c = t.calls[0];
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.topk_ids[i], i % 4);
  // np.linspace(0.1, 1.0, 10) in float32: recompute the same values independently.
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(c.topk_weights[i], static_cast<float>(0.1 + 0.9 * i / 9.0));
  ASSERT_TRUE(c.hidden_states);
  EXPECT_EQ(c.hidden_states->data.dtype, "bf16");
  // first element is -2.0f -> bf16 0xC000
  std::uint16_t first;
  std::memcpy(&first, c.hidden_states->data.bytes.data(), 2);
  EXPECT_EQ(first, 0xC000);
  WeightReader wr(p);
  auto w = wr.read("w13", 2);
  std::uint16_t v;
  std::memcpy(&v, w.w.bytes.data() + 2 * 5, 2);
  EXPECT_EQ(v, static_cast<std::uint16_t>((2 * 12 * 8 + 5) & 0x3FFF));
}

TEST(H5pyInterop, MoesimWrittenTraceReadsInH5py) {
  const std::string p = temp_path("synth.h5");
  auto s = run_cmd(std::string(MOESIM_BINARY) + " synth -p mixtral-8x7b -t 64 --hidden 32 --intermediate 16 --activations --weights bf16 -s 3 -o " + p);
  ASSERT_EQ(s.code, 0) << s.out;
  auto r = run_cmd(std::string(MOESIM_PYTHON) + " " + kPyDir + "read_trace.py " + p + " 64 2 8 32 16");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace moesim::traces
