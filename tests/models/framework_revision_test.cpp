// Revisions as users name them: release tags, commit hashes on first-parent main, PR markers;
// refusal for what cannot be placed; env declarations checked by the loader.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "models/lib/framework_revision.hpp"
#include "models/lib/framework_rules.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::models {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

const Framework& vllm() {
  static const Framework fw = load_framework_by_name(moesim::models_dir(), "vllm");
  return fw;
}
const Framework& sglang() {
  static const Framework fw = load_framework_by_name(moesim::models_dir(), "sglang");
  return fw;
}
std::string id_of(const Framework& fw, const std::string& spec) {
  return fw.revisions[resolve_revision(fw, spec, moesim::models_dir()).index].id;
}

TEST(RevisionNames, PrMarkersAndAliasesStillResolve) {
  EXPECT_EQ(id_of(vllm(), "pr40808"), "pr40808");
  EXPECT_EQ(id_of(vllm(), "v0"), "main-52a31cc");
  EXPECT_EQ(resolve_revision(vllm(), "pr40808", moesim::models_dir()).how, "revision");
}

TEST(RevisionNames, ReleaseTagsResolveThroughTheirBranchPoint) {
  // v0.19.0 was cut at d816834c1aa6 (2026-03-29): after #38169, before #38423 and #36286.
  auto r = resolve_revision(vllm(), "v0.19.0", moesim::models_dir());
  EXPECT_EQ(vllm().revisions[r.index].id, "pr38169");
  EXPECT_EQ(r.how, "tag");
  EXPECT_NE(r.note.find("d816834c1aa6"), std::string::npos) << r.note;
  EXPECT_EQ(id_of(vllm(), "v0.23.0"), "pr44347");  // branch point 967c5c3bc388 (2026-06-07), after #44347 (2026-06-03)
  // SGLang tags carry their commits: v0.5.13 branches from main at 0f8673851cee (2026-06-08).
  EXPECT_EQ(id_of(sglang(), "v0.5.13"), "pr26496");
  EXPECT_EQ(id_of(sglang(), "v0.5.18"), "main-d55f1c2");
}

// Tag commits recorded by vllm-project/vllm-gaudi VLLM_STABLE_COMMIT ("Set vLLM stable commit for
// vX"); where the snapshot of fork neuralmagic/vllm holds the commit, its merge-base with main is
// the branch point (2a69949bdadf -> d816834c1aa6 for v0.19.0, 0fc695fc6d1d -> 967c5c3bc388 for v0.23.0).
TEST(RevisionNames, ATagCommitResolvesAsItsTag) {
  auto r = resolve_revision(vllm(), "2a69949bdadf", moesim::models_dir());
  EXPECT_EQ(vllm().revisions[r.index].id, "pr38169");
  EXPECT_NE(r.note.find("commit of release tag v0.19.0"), std::string::npos) << r.note;
  EXPECT_EQ(id_of(vllm(), "0fc695fc6d1d82e9a5ac6835ac8e4e1c83703665"), "pr44347");  // v0.23.0
  EXPECT_EQ(id_of(vllm(), "2d5be1dd5ce2"), "pr33417");                              // v0.16.0
  // v0.24.0 (ee0da84ab9e0, merge-base 6c427dd40141 on 2026-06-23): after pr43853
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "ee0da84ab9e0", moesim::models_dir()); }).find("not modelled after pr43853"),
            std::string::npos);
}

TEST(RevisionNames, EveryVllmTagSinceTheOracleRefactorHasAnAnswerOrAReason) {
  // v0.14.x: releases/v0.14.0 existed by 2026-01-19 (vllm-ascend#5988), before #32414 (2026-01-21).
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "v0.14.1", moesim::models_dir()); }).find("older than the first modelled revision pr32414"),
            std::string::npos);
  // v0.17.0: cut after 2026-02-09, out by 2026-03-10 -- four modelled markers in between: refused, naming them.
  std::string e = error_of([] { resolve_revision(vllm(), "v0.17.0", moesim::models_dir()); });
  EXPECT_NE(e.find("pr33715, pr34260, pr33807, pr32564"), std::string::npos) << e;
  for (const auto& t : vllm().tags) EXPECT_TRUE(!t.revision.empty() || !t.unresolved.empty()) << t.tag;
}

TEST(RevisionNames, TagsThatCannotBePlacedAreRefused) {
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "v0.20.0", moesim::models_dir()); }).find("release-branch point not recorded"),
            std::string::npos);
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "v0.29.0", moesim::models_dir()); }).find("not modelled after pr43853"),
            std::string::npos);
  EXPECT_NE(error_of([] { resolve_revision(sglang(), "v0.5.9", moesim::models_dir()); }).find("older than the first modelled"),
            std::string::npos);
  std::string e = error_of([] { resolve_revision(vllm(), "v9.9.9", moesim::models_dir()); });
  EXPECT_NE(e.find("release tags: v0.14.0"), std::string::npos) << e;
  EXPECT_NE(e.find("pr40808"), std::string::npos) << e;
}

TEST(RevisionNames, CommitsResolveToTheNearestModelledRevisionWithANote) {
  // f8c3af2d85a1 (2026-04-03) is the first-parent commit just before #38859 (a5a623d96163),
  // after #36286 (d9b90a07aced).
  auto r = resolve_revision(vllm(), "f8c3af2d85a1", moesim::models_dir());
  EXPECT_EQ(vllm().revisions[r.index].id, "pr36286");
  EXPECT_EQ(r.how, "commit");
  EXPECT_NE(r.note.find("resolves to pr36286"), std::string::npos) << r.note;
  EXPECT_EQ(id_of(vllm(), "a5a623d96163"), "pr38859");
  // A marker's own merge commit, full or abbreviated, is that revision.
  EXPECT_EQ(id_of(vllm(), "b542bdf7fb3611879b30917e03bef62963496e83"), "pr40808");
  EXPECT_EQ(id_of(vllm(), "B542BDF"), "pr40808");
  EXPECT_EQ(id_of(sglang(), "c7397de571f7"), "pr28231");
}

TEST(RevisionNames, CommitsOutsideTheModelledHistoryAreRefused) {
  // main after #43853 (the last modelled revision)
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "017e9f4448b7", moesim::models_dir()); }).find("not modelled after pr43853"),
            std::string::npos);
  // a release-branch commit that is no tag's commit (1dbbafd3f3: #37160 on the v0.19 branch)
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "1dbbafd3f3", moesim::models_dir()); }).find("is not on first-parent main"),
            std::string::npos);
  // v0.25.0's tag commit is refused as the tag is: newer than the last modelled revision
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "702f4814fe54", moesim::models_dir()); }).find("v0.25.0: not modelled after pr43853"),
            std::string::npos);
  // too short to be a commit, and no such name
  EXPECT_NE(error_of([] { resolve_revision(vllm(), "f8c3a", moesim::models_dir()); }).find("unknown vllm revision"), std::string::npos);
}

TEST(RevisionNames, ListShowsEveryRevisionAndTagWithDateAndCommit) {
  auto rows = revision_rows(vllm());
  EXPECT_EQ(rows.size(), vllm().revisions.size() + vllm().tags.size());
  for (const auto& r : rows)
    if (r.kind == "revision") {
      EXPECT_FALSE(r.date.empty()) << r.name;
      EXPECT_EQ(r.commit.size(), 40u) << r.name;
    }
}

TEST(EnvDeclarations, ShippedVariablesHaveSourcesAndRanges) {
  const EnvDef* e = vllm().find_env("VLLM_FLASHINFER_MOE_BACKEND");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->type, "choices");
  EXPECT_EQ(e->dflt, "latency");
  EXPECT_FALSE(e->range.contains(vllm().find_revision("pr44992")));  // #44992 removed it
  EXPECT_TRUE(e->range.contains(vllm().find_revision("pr44220")));
  for (const auto* fw : {&vllm(), &sglang()})
    for (const auto& d : fw->envs) EXPECT_NE(d.source.find('@'), std::string::npos) << d.name << " cites no file@commit";
}

class BrokenEnv : public ::testing::Test {
 protected:
  std::string load(const std::string& env, const std::string& pred, const std::string& tags = "[]") {
    auto dir = std::filesystem::temp_directory_path() / ("moesim_env_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir);
    auto p = dir / "toy.json";
    std::ofstream(p) << R"({"framework": "toy", "revisions": [{"id": "r1", "title": "t"}], "tags": )" + tags +
                            R"(, "quant_schemes": [{"id": "bf16"}], "traits": [], "env": )" + env +
                            R"(, "selectors": [{"id": "s", "title": "t", "primary": true, "order": ["A"],
        "candidates": {"A": {"backend": "a", "requires": [{"id": "p", "text": "t", "test": )" + pred + R"(}]}},
        "exhausted": {"action": "error", "message": "m"}}]})";
    std::string e = error_of([&] { load_framework(p.string()); });
    std::filesystem::remove_all(dir);
    return e;
  }
};

TEST_F(BrokenEnv, PredicateOnAnUndeclaredEnvVarIsRejected) {
  EXPECT_NE(load("[]", R"({"env_in": {"name": "X", "values": ["1"]}})").find("is not declared"), std::string::npos);
}
TEST_F(BrokenEnv, UnknownEnvTypeIsRejected) {
  EXPECT_NE(load(R"([{"name": "X", "type": "float", "source": "f:1@c"}])", R"({"always": true})").find("unknown env type"), std::string::npos);
}
TEST_F(BrokenEnv, DefaultOutsideChoicesIsRejected) {
  EXPECT_NE(load(R"([{"name": "X", "type": "choices", "choices": ["a"], "default": "b", "source": "f:1@c"}])", R"({"always": true})")
                .find("not among the choices"),
            std::string::npos);
}
TEST_F(BrokenEnv, ResultOfAnUnknownSelectorOrItsPropertyIsRejected) {
  // result_in reads "SEL" or "SEL.PROPERTY" of a selector defined before this one
  EXPECT_NE(load("[]", R"({"result_in": {"selector": "zz.kernel_class", "values": ["x"]}})").find("not defined before this one"),
            std::string::npos);
  EXPECT_NE(load("[]", R"({"result_in": {"selector": "s.kernel_class", "values": ["x"]}})").find("not defined before this one"),
            std::string::npos);
}
TEST_F(BrokenEnv, TagWithoutRevisionOrReasonIsRejected) {
  EXPECT_NE(load("[]", R"({"always": true})", R"([{"tag": "v1", "source": "s"}])").find("must say why"), std::string::npos);
  EXPECT_NE(load("[]", R"({"always": true})", R"([{"tag": "v1", "revision": "r9", "source": "s"}])").find("unknown revision"),
            std::string::npos);
}

}  // namespace
}  // namespace moesim::models
