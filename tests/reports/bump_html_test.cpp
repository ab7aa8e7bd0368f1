// The bump report's HTML: self-contained (no scripts, no fetched resources), the summary table
// first, one figure per plot; rendered in headless Chromium (Debian package `chromium`,
// scripts/setup.sh), the DOM holds the summary table and every plot, and the screenshot is not
// blank (many distinct colours, a good share of non-white pixels), checked with an independent
// PNG decoder (tests/support/png_colors.py).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "replay/inputs.hpp"
#include "reports/bump_report.hpp"
#include "sim/core/paths.hpp"

namespace moesim::reports {
namespace {

namespace fs = std::filesystem;

std::string sh(const std::string& cmd, int* rc = nullptr) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  std::array<char, 4096> b{};
  while (std::size_t n = fread(b.data(), 1, b.size(), p)) out.append(b.data(), n);
  const int st = pclose(p);
  if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

workflows::ReplayReport synth_report(const std::string& a, const std::string& b) {
  kernels::MoeProblem p;
  p.num_tokens = 12;
  p.top_k = 2;
  p.num_experts = 4;
  p.hidden = 32;
  p.intermediate = 16;
  const auto call = replay::synth_call(p, 3);
  const replay::SyntheticWeights w(p, 4, 1.0);
  workflows::ReplayReport r;
  r.trace = "mem";
  r.variant = a;
  r.against = b;
  workflows::CallReport c;
  c.num_tokens = p.num_tokens;
  c.result = replay::run_replay(kernels::find_variant(a), call, w);
  const auto other = replay::run_replay(kernels::find_variant(b), call, w);
  c.diff = replay::diff_replays(c.result, other, call);
  c.result.buffers.clear();
  r.calls.push_back(std::move(c));
  return r;
}

workflows::BumpResult synth_bump() {
  workflows::BumpResult r;
  r.suite_path = "mem.suite.json";
  r.suite_name = "mem";
  r.from = "0.6.8.post1";
  r.to = "0.6.11.post2";
  workflows::BumpCase c;
  c.id = "case/trace";
  c.case_name = "case";
  kernels::Finding fa, fb;
  fa.id = fb.id = "GRID_Y_OVERFLOW";
  fa.kernel = fb.kernel = "flashinfer_trtllm";
  fa.stage = fb.stage = "gemm1+gemm2";
  fa.first_failing_tokens = 378345;
  fb.first_failing_tokens = 756690;
  c.findings.push_back({"GRID_Y_OVERFLOW flashinfer_trtllm/gemm1+gemm2", "threshold", fa, fb});
  workflows::VariantNumerics n;
  n.variant = "flashinfer_cutlass_bf16";
  n.status = "compared";
  n.note = "replayed as both";
  n.a_vs_b = synth_report("flashinfer_cutlass_bf16", "triton_bf16");
  n.a_vs_ref = synth_report("flashinfer_cutlass_bf16", "reference_fp64");
  n.b_vs_ref = synth_report("triton_bf16", "reference_fp64");
  n.first_divergence = "activation";
  n.note = "first divergent stage activation";
  c.numerics.push_back(std::move(n));
  r.cases.push_back(std::move(c));
  return r;
}

void expect_self_contained(const std::string& html) {
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // The only URL is the SVG namespace name, which is never fetched.
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\"")) << "a URL besides the SVG namespace";
  EXPECT_LT(html.find("<table id=\"summary\""), html.find("<figure")) << "the summary table comes first";
}

struct Rendered {
  std::string dom;
  std::string png_stats;  // "W H COLOURS NON_WHITE"
};

Rendered chromium(const fs::path& html, const std::string& tag) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("chromium_" + tag);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string flags = "--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
                            "--disable-sync --no-first-run --disable-extensions --user-data-dir=" + (dir / "profile").string();
  Rendered r;
  int rc = -1;
  r.dom = sh("timeout 120 chromium " + flags + " --dump-dom file://" + fs::absolute(html).string() + " 2>/dev/null", &rc);
  EXPECT_EQ(rc, 0) << "chromium --dump-dom failed (is the Debian package `chromium` installed? scripts/setup.sh installs it)";
  const fs::path png = dir / "shot.png";
  sh("timeout 120 chromium " + flags + " --window-size=1200,1600 --screenshot=" + png.string() + " file://" +
         fs::absolute(html).string() + " >/dev/null 2>&1",
     &rc);
  EXPECT_TRUE(fs::exists(png)) << "no screenshot";
  if (fs::exists(png)) {
    r.png_stats = sh(std::string(MOESIM_PYTHON) + " " + moesim::source_dir() + "/tests/support/png_colors.py " + png.string());
    fs::copy_file(png, fs::path(::testing::TempDir()) / ("bump_" + tag + ".png"), fs::copy_options::overwrite_existing);
  }
  return r;
}

void expect_not_blank(const std::string& stats) {
  std::istringstream is(stats);
  int w = 0, h = 0, colours = 0;
  double non_white = 0;
  is >> w >> h >> colours >> non_white;
  EXPECT_EQ(w, 1200) << stats;
  EXPECT_EQ(h, 1600) << stats;
  EXPECT_GT(colours, 20) << "screenshot has too few colours to hold a table and charts: " << stats;
  EXPECT_GT(non_white, 0.03) << "screenshot is (almost) blank: " << stats;
}

TEST(BumpHtml, SelfContainedWithEveryPlot) {
  const std::string html = to_html(synth_bump());
  expect_self_contained(html);
  EXPECT_EQ(count(html, "data-plot=\"threshold\""), 1u);
  EXPECT_EQ(count(html, "data-plot=\"ulp-histogram\""), 2u);  // A vs B, and both against fp64
  EXPECT_EQ(count(html, "data-plot=\"per-expert\""), 1u);
  EXPECT_NE(html.find("first divergent stage activation"), std::string::npos);
}

TEST(BumpHtml, ChromiumRendersSummaryAndPlots) {
  const fs::path p = fs::path(::testing::TempDir()) / "bump_synth.html";
  std::ofstream(p) << to_html(synth_bump());
  const Rendered r = chromium(p, "synth");
  EXPECT_NE(r.dom.find("<table id=\"summary\">"), std::string::npos) << r.dom.substr(0, 400);
  EXPECT_EQ(count(r.dom, "<figure class=\"plot\""), 4u);
  EXPECT_EQ(count(r.dom, "<svg"), 4u);
  EXPECT_GT(count(r.dom, "class=\"bar\""), 10u);  // the charts have bars in the DOM
  expect_not_blank(r.png_stats);
}

TEST(BumpHtml, CommittedExampleRenders) {
  const fs::path p = fs::path(moesim::source_dir()) / "docs/examples/bump-flashinfer-0.6.8.post1-0.6.11.post2.html";
  ASSERT_TRUE(fs::exists(p)) << p;
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string html = ss.str();
  expect_self_contained(html);
  const std::size_t plots = count(html, "<figure class=\"plot\"");
  EXPECT_GE(plots, 4u);
  const Rendered r = chromium(p, "example");
  EXPECT_NE(r.dom.find("<table id=\"summary\">"), std::string::npos);
  EXPECT_EQ(count(r.dom, "<figure class=\"plot\""), plots);
  for (const char* kind : {"ulp-histogram", "per-expert", "threshold"})
    EXPECT_NE(r.dom.find(std::string("data-plot=\"") + kind + "\""), std::string::npos) << kind;
  expect_not_blank(r.png_stats);
}

}  // namespace
}  // namespace moesim::reports
