// moesim import sglang-expert-distribution on dumps written by torch.save exactly as SGLang's
// recorder writes them (tests/traces/import/py/sglang_dist_fixture.py, Debian python3-torch):
// per_token (exact per-pass batches, physical -> logical through an EPLB map with redundant
// experts, K < 8 with -1 columns, a masked slot), per_pass and stat (counts-only). The trace
// is compared (h5py) with the logical ids / counts the fixture derived itself.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/traces/import/import_test_util.hpp"

namespace {

using namespace moesim::testing;
namespace fs = std::filesystem;

void run_mode(const std::string& mode, const std::string& expect_calls) {
  MOESIM_REQUIRE_TORCH();
  const auto d = fresh_dir("sgd_" + mode);
  std::ofstream(d / "config.json") << R"({"model_type": "deepseek_v3", "num_hidden_layers": 3, "n_routed_experts": 4, "num_experts_per_tok": 2,
    "hidden_size": 64, "moe_intermediate_size": 32, "first_k_dense_replace": 1})";
  const std::string pt = (d / ("expert_distribution_recorder_1764756000.0_0.pt")).string(), npz = (d / "exp.npz").string();
  ASSERT_EQ(run_sh(import_py("sglang_dist_fixture.py") + " " + mode + " " + pt + " " + npz).rc, 0);
  const std::string out = (d / "t.h5").string();
  auto r = run_moesim("import sglang-expert-distribution " + pt + " --config " + (d / "config.json").string() + " --layer 1 -o " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find(expect_calls), std::string::npos) << r.out;
  const std::string py = std::string(MOESIM_PYTHON) + " -c \"" +
                         "import h5py, numpy as np\n"
                         "f=h5py.File('" + out + "'); z=np.load('" + npz + "')\n"
                         "cs=sorted(f['calls'])\n"
                         "assert len(cs)==len(z.files), (len(cs), z.files)\n"
                         "for i,c in enumerate(cs):\n"
                         "  g=f['calls'][c]\n"
                         "  if 'ids_%d'%i in z.files:\n"
                         "    assert np.array_equal(g['topk_ids'][()], z['ids_%d'%i]), (c, g['topk_ids'][()], z['ids_%d'%i])\n"
                         "  else:\n"
                         "    assert np.array_equal(g['expert_counts'][()], z['counts_%d'%i]), c\n"
                         "print('ok', len(cs))\"";
  auto c = run_sh(py);
  EXPECT_EQ(c.rc, 0) << c.out;
  auto i = run_moesim("inspect " + out);
  EXPECT_EQ(i.rc, 0) << i.out;
}

TEST(ImportSglangDistribution, PerTokenExactBatchesPhysicalToLogical) { run_mode("per_token", "3 call(s), 12 tokens"); }
TEST(ImportSglangDistribution, PerPassCountsMappedToLogical) { run_mode("per_pass", "3 call(s)"); }
TEST(ImportSglangDistribution, StatRingBufferCounts) { run_mode("stat", "3 call(s)"); }

}  // namespace
