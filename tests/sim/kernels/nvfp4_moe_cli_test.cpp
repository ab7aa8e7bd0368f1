// The NVFP4 MoE variants through `moesim synth` (ModelOpt NVFP4 weights) and `moesim replay`:
// exit codes, no emulated-memory findings, bit-identical outputs across thread counts and
// between an unchunked replay and vLLM's chunked rule (static scales).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <boost/json.hpp>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::CliRun;
CliRun run(const std::string& args) { return moesim::testing::run_moesim(args); }

std::string synth_trace() {
  static const std::string path = [] {
    const std::string p = (std::filesystem::temp_directory_path() / ("moesim_nvfp4_cli_" + std::to_string(::getpid()) + ".h5")).string();
    const CliRun r = run("synth --preset qwen3-30b-a3b --experts 6 --top-k 2 --hidden 64 --intermediate 48 --tokens 7 "
                         "--activations --weights nvfp4 --seed 3 -o " + p);
    EXPECT_EQ(r.rc, 0) << r.out;
    return p;
  }();
  return path;
}

TEST(Nvfp4MoeCli, ReplaysEachVariantWithoutFindings) {
  const std::string t = synth_trace();
  for (const char* v : {"flashinfer_trtllm_nvfp4", "flashinfer_cutedsl_nvfp4", "flashinfer_cutedsl_nvfp4_batched"}) {
    const CliRun r = run("replay " + t + " --variant " + v + " --against none --json --threads 2");
    ASSERT_EQ(r.rc, 0) << v << ": " << r.out;
    const auto j = boost::json::parse(r.out).as_object();
    EXPECT_EQ(j.at("variant").as_string(), v);
    const auto& call = j.at("calls").as_array().at(0).as_object();
    if (const auto* f = call.if_contains("findings")) {
      EXPECT_TRUE(f->as_array().empty()) << v << ": " << r.out;
    }
  }
}

TEST(Nvfp4MoeCli, VariantAgainstItselfWithOtherThreadCountIsBitIdentical) {
  const std::string t = synth_trace();
  const CliRun r = run("replay " + t + " --variant flashinfer_cutedsl_nvfp4 --against flashinfer_cutedsl_nvfp4 "
                       "--require-bit-identical --threads 1 --json");
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST(Nvfp4MoeCli, TrtllmAndCuteDslShareInputsAndGemm1ButNotTheOutput) {
  // Same fc1 quantization and tcgen05 GEMM1 accumulators; different fused epilogues and
  // finalize arithmetic, so the outputs differ (stages whose buffers mean different things,
  // like the unweighted trtllm GEMM2 rows, are not compared).
  const std::string t = synth_trace();
  const CliRun r = run("replay " + t + " --variant flashinfer_cutedsl_nvfp4 --against flashinfer_trtllm_nvfp4 --json");
  ASSERT_EQ(r.rc, 0) << r.out;  // different but no error findings
  const auto j = boost::json::parse(r.out).as_object();
  const auto& diff = j.at("calls").as_array().at(0).as_object().at("diff").as_object();
  for (const auto& st : diff.at("stages").as_array()) {
    const auto& o = st.as_object();
    const std::string id(o.at("stage").as_string());
    if (id == "quantize" || id == "route" || id == "gemm1_acc") {
      ASSERT_TRUE(o.at("compared").as_bool()) << id;
      EXPECT_EQ(o.at("diff").as_object().at("bit_identical_pct").as_double(), 100.0) << id;
    }
    if (id == "gemm2") {
      EXPECT_FALSE(o.at("compared").as_bool());
    }
  }
  EXPECT_LT(diff.at("output").as_object().at("bit_identical_pct").as_double(), 100.0);
  EXPECT_FALSE(j.at("all_bit_identical").as_bool());
}

TEST(Nvfp4MoeCli, FlashInferVersionSelectsTheCuteDslReverseMapBug) {
  const std::string t = synth_trace();
  CliRun r = run("replay " + t + " --variant flashinfer_cutedsl_nvfp4 --against none --flashinfer 0.6.4 --json");
  ASSERT_EQ(r.rc, 1) << r.out;  // error findings
  EXPECT_NE(r.out.find("OUTPUT_NOT_WRITTEN"), std::string::npos) << r.out;
  const auto j = boost::json::parse(r.out).as_object();
  bool on_output = false;
  for (const auto& f : j.at("calls").as_array().at(0).as_object().at("findings").as_array())
    on_output |= f.as_object().contains("buffer") && f.as_object().at("buffer") == "output";
  EXPECT_TRUE(on_output) << r.out;
  r = run("replay " + t + " --variant flashinfer_cutedsl_nvfp4 --against none --flashinfer 0.6.5 --json");
  EXPECT_EQ(r.rc, 0) << r.out;
  r = run("replay " + t + " --variant flashinfer_cutedsl_nvfp4 --against none --flashinfer 0.6.3");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("does not exist before 0.6.4"), std::string::npos) << r.out;
}

}  // namespace
