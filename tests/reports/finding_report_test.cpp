// Finding renderings: every field set on a finding appears in its JSON, text and one-line forms;
// the error text the GPU prints is carried when known.
#include "reports/finding_report.hpp"

#include <gtest/gtest.h>

namespace moesim::reports {
namespace {

kernels::Finding sample() {
  kernels::Finding f;
  f.id = "GRID_Y_OVERFLOW";
  f.severity = kernels::Severity::error;
  f.kernel = "flashinfer_trtllm";
  f.stage = "gemm1";
  f.message = "grid.y exceeds 65535";
  f.formula = "ceil(400000*22/128) = 68750";
  f.limit = "65535";
  f.upstream = "flashinfer/x.cu:10@v0.6.11.post2";
  f.gpu_error = "CUDA error: invalid argument";
  f.first_failing_tokens = 381300;
  f.device = "b200";
  f.library_version = "0.6.11.post2";
  f.details = {{"tile", "128"}};
  return f;
}

TEST(FindingReport, JsonCarriesEveryField) {
  const auto j = to_json(sample());
  EXPECT_EQ(j.at("id").as_string(), "GRID_Y_OVERFLOW");
  EXPECT_EQ(j.at("severity").as_string(), "error");
  EXPECT_EQ(j.at("gpu_error").as_string(), "CUDA error: invalid argument");
  EXPECT_EQ(j.at("first_failing_tokens").as_int64(), 381300);
  EXPECT_EQ(j.at("details").at("tile").as_string(), "128");
  for (const char* k : {"kernel", "stage", "message", "formula", "limit", "upstream", "basis", "device", "library_version"})
    EXPECT_TRUE(j.contains(k)) << k;
  kernels::Finding bare = sample();
  bare.gpu_error.clear();
  EXPECT_FALSE(to_json(bare).contains("gpu_error"));  // absent, not "", when unknown
}

TEST(FindingReport, TextAndOneLine) {
  const std::string t = to_text(sample());
  EXPECT_EQ(t.rfind("error GRID_Y_OVERFLOW  flashinfer_trtllm / gemm1  [b200, 0.6.11.post2]", 0), 0u) << t;
  EXPECT_NE(t.find("first failing tokens per call: 381,300"), std::string::npos) << t;
  EXPECT_NE(t.find("the GPU prints: CUDA error: invalid argument"), std::string::npos) << t;
  EXPECT_EQ(one_line(sample()),
            "GRID_Y_OVERFLOW [error] kernel flashinfer_trtllm, stage gemm1: ceil(400000*22/128) = 68750 (limit 65535) "
            "(models flashinfer/x.cu:10@v0.6.11.post2)");
}

}  // namespace
}  // namespace moesim::reports
