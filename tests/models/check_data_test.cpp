// Loaders of the `moesim check` world data: devices, FlashInfer profiles (with inherits),
// known-bad table, chunking revisions, Triton config rules and tuned-file lookup.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/lib/chunking.hpp"
#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "models/lib/known_bad.hpp"
#include "models/lib/triton_config.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

using namespace moesim;
using namespace moesim::models;

namespace {
std::string tmpdir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("moesim_check_data_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}
void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}
}  // namespace

TEST(Devices, LoadAndResolveAliases) {
  auto t = DeviceTable::load(models_dir());
  for (const char* id : {"a100", "a10", "l40s", "h100", "h200", "h20", "b200", "b300", "thor", "rtx-pro-6000", "gb10"})
    EXPECT_NO_THROW(t.find(id)) << id;
  EXPECT_EQ(t.find("sm110").id, "thor");
  EXPECT_EQ(t.find("SM_90a").id, "h100");
  EXPECT_EQ(t.find("sm_121a").id, "gb10");
  EXPECT_EQ(t.find("NVIDIA H200").id, "h200");
  const auto& h = t.find("h100");
  EXPECT_EQ(h.sm, 90);
  EXPECT_EQ(h.grid_max[0], 2147483647);
  EXPECT_EQ(h.grid_max[1], 65535);
  EXPECT_EQ(h.grid_max[2], 65535);
  EXPECT_EQ(h.smem_per_block_optin, 227 * 1024);
  EXPECT_EQ(t.find("rtx-pro-6000").smem_per_block_optin, 99 * 1024);
  try {
    t.find("mi300x");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device 'mi300x'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("thor"), std::string::npos);
  }
}

TEST(Devices, MalformedFileNamesFileAndPointer) {
  const std::string d = tmpdir("dev");
  write(d + "/devices/devices.json", R"({"devices": [{"id": "x", "sm": 90, "sm_count": "many", "smem_per_block_optin": 1}]})");
  try {
    DeviceTable::load(d);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("devices.json:/devices/0/sm_count"), std::string::npos) << e.what();
  }
}

TEST(FlashInferProfiles, AllRequiredVersionsWithInheritance) {
  auto ps = FlashInferProfiles::load(models_dir());
  for (const char* v : {"0.6.6", "0.6.7", "0.6.8.post1", "0.6.10", "0.6.11", "0.6.11.post2", "0.6.12"}) EXPECT_NO_THROW(ps.find(v)) << v;
  EXPECT_NO_THROW(ps.find("v0.6.8.post1"));
  EXPECT_THROW(ps.find("0.2.5"), InputError);  // before the first release with fused MoE
  EXPECT_THROW(ps.find("0.6.9.post1"), InputError);  // no such tag
  EXPECT_THROW(ps.find("not-a-version"), InputError);
  // Arch gate: 10 only in 0.6.6, 10|12 from 0.6.7 (inherited by 0.6.12).
  EXPECT_EQ(ps.find("0.6.6").trtllm.arch_majors, (std::vector<int>{10}));
  EXPECT_EQ(ps.find("0.6.12").trtllm.arch_majors, (std::vector<int>{10, 12}));
  EXPECT_EQ(ps.find("0.6.12").inherits_chain.size(), 68u);  // v0.2.6 .. v0.6.12: 68 tags, one file per release
  EXPECT_NE(ps.find("0.6.12").inherits_chain.front().find("0.2.6.json"), std::string::npos);
  // fp4_quantize globalScale check enforced from 0.6.11 only.
  EXPECT_FALSE(ps.find("0.6.10").api.fp4_quantize_global_scale.enforced);
  EXPECT_TRUE(ps.find("0.6.11").api.fp4_quantize_global_scale.enforced);
  EXPECT_TRUE(ps.find("0.6.11.post2").api.fp4_quantize_global_scale.enforced);
  // SM110 generator emits 256x256x128B with clusters 2x1x1 and 2x2x1; enum 256256128.
  const auto& g = ps.find("0.6.8.post1").cutlass.generators.at("sm110");
  int n256 = 0;
  for (const auto& r : g.rows)
    if (r.tile.name == "256x256x128B") {
      ++n256;
      EXPECT_EQ(r.tile.enum_value(), 256256128);
      EXPECT_EQ(r.sm_version, 100);
    }
  EXPECT_EQ(n256, 2);
  // SM120 dispatch set grows in 0.6.11.
  EXPECT_EQ(ps.find("0.6.10").cutlass.dispatch_branches.at("120").size(), 4u);
  EXPECT_EQ(ps.find("0.6.11").cutlass.dispatch_branches.at("120").size(), 8u);
  // CuteDSL tile list per version.
  EXPECT_EQ(ps.find("0.6.6").cute_dsl.tile_sizes, (std::vector<int>{128, 256}));
  EXPECT_EQ(ps.find("0.6.8.post1").cute_dsl.tile_sizes, (std::vector<int>{128}));
  EXPECT_EQ(ps.find("0.6.11").cute_dsl.tile_sizes, (std::vector<int>{128, 256}));
}

// Every release tag of flashinfer-ai/flashinfer from v0.2.6 (the first with fused MoE,
// csrc/fused_moe/cutlass_backend) to v0.6.18rc7, rcs and posts included, in PEP 440 order, as
// `git tag` lists them in the mirror (not read from models/): each has a profile inheriting
// from the one before.
TEST(FlashInferProfiles, EveryReleaseFromTheFirstWithFusedMoe) {
  const std::vector<std::string> tags = {
    "0.2.6", "0.2.6.post1", "0.2.7", "0.2.7.post1", "0.2.8rc1", "0.2.8", "0.2.9rc1", "0.2.9rc2", "0.2.9",
    "0.2.10", "0.2.11", "0.2.11.post1", "0.2.11.post2", "0.2.11.post3", "0.2.12", "0.2.13", "0.2.14",
    "0.2.14.post1", "0.3.0rc1", "0.3.0", "0.3.0.post1", "0.3.1", "0.3.1.post1", "0.4.0rc0", "0.4.0rc1",
    "0.4.0rc2", "0.4.0rc3", "0.4.0rc4", "0.4.0rc5", "0.4.0", "0.4.1", "0.5.0rc1", "0.5.0rc2", "0.5.0rc3",
    "0.5.0", "0.5.1", "0.5.2", "0.5.3", "0.6.0rc1", "0.6.0rc2", "0.6.0", "0.6.1", "0.6.2", "0.6.3", "0.6.4",
    "0.6.5", "0.6.6", "0.6.7", "0.6.7.post1", "0.6.7.post2", "0.6.7.post3", "0.6.8rc1", "0.6.8", "0.6.8.post1",
    "0.6.9rc1", "0.6.9", "0.6.10rc1", "0.6.10", "0.6.10.post1", "0.6.11rc1", "0.6.11", "0.6.11.post1",
    "0.6.11.post2", "0.6.11.post3", "0.6.12rc1", "0.6.12rc2", "0.6.12rc3", "0.6.12", "0.6.13rc1", "0.6.13rc2",
    "0.6.13", "0.6.14rc1", "0.6.14", "0.6.15rc1", "0.6.15rc2", "0.6.15rc3", "0.6.15rc4", "0.6.15",
    "0.6.15.post1", "0.6.16rc1", "0.6.16rc2", "0.6.16rc3", "0.6.16rc4", "0.6.16rc5", "0.6.16", "0.6.16.post1",
    "0.6.16.post2", "0.6.16.post3", "0.6.16.post4", "0.6.17rc1", "0.6.17rc2", "0.6.17rc3", "0.6.17rc4",
    "0.6.17rc5", "0.6.17", "0.6.18rc1", "0.6.18rc2", "0.6.18rc3", "0.6.18rc4", "0.6.18rc5", "0.6.18rc6",
    "0.6.18rc7"};
  auto ps = FlashInferProfiles::load(models_dir());
  ASSERT_EQ(ps.all().size(), tags.size());
  for (std::size_t i = 0; i < tags.size(); ++i) {
    EXPECT_EQ(ps.all()[i].version.text, tags[i]);
    EXPECT_EQ(ps.all()[i].inherits_chain.size(), i + 1) << tags[i];
    EXPECT_EQ(ps.all()[i].commit.size(), 40u) << tags[i];
  }
  // Families: CUTLASS from v0.2.6, TRTLLM-gen from v0.2.8 (not v0.2.8rc1), CuteDSL from v0.6.4;
  // tables are read from v0.6.6 on.
  EXPECT_FALSE(ps.find("0.2.8rc1").family("flashinfer_trtllm").present);
  EXPECT_TRUE(ps.find("0.2.8").family("flashinfer_trtllm").present);
  EXPECT_FALSE(ps.find("0.2.8").family("flashinfer_trtllm").modelled);
  EXPECT_FALSE(ps.find("0.6.3").family("flashinfer_cutedsl").present);
  EXPECT_TRUE(ps.find("0.6.4").family("flashinfer_cutedsl").present);
  EXPECT_TRUE(ps.find("0.6.6").family("flashinfer_cutedsl").modelled);
  EXPECT_TRUE(ps.find("0.6.18rc7").family("flashinfer_trtllm").modelled);
  // SM90 mixed-input CUTLASS tables rewritten on the 0.6.16rc / 0.6.17rc / 0.6.18rc lines (PR #3738).
  EXPECT_FALSE(ps.find("0.6.16rc1").family("flashinfer_cutlass").modelled_on(90));
  EXPECT_TRUE(ps.find("0.6.16rc1").family("flashinfer_cutlass").modelled_on(100));
  EXPECT_TRUE(ps.find("0.6.16.post3").family("flashinfer_cutlass").modelled_on(90));
  EXPECT_FALSE(ps.find("0.6.18rc7").family("flashinfer_cutlass").modelled_on(90));
  // Deltas land at the release whose source changed: the 0.6.11 delta is in 0.6.11rc1.
  EXPECT_TRUE(ps.find("0.6.11rc1").trtllm.skip_cluster_dim_z);
  EXPECT_FALSE(ps.find("0.6.10.post1").trtllm.skip_cluster_dim_z);
  EXPECT_EQ(ps.find("0.6.8rc1").cutlass.generators.at("sm120").rows.size(), 6u);
  EXPECT_EQ(ps.find("0.6.7.post3").cutlass.generators.at("sm120").rows.size(),
            ps.find("0.6.6").cutlass.generators.at("sm120").rows.size());
  // v0.6.10rc1 drops CtaShape128x128x128B from the SM90 W4A16 grouped candidates.
  auto has_tile = [](const CandidateGenerator& g, const std::string& t) {
    for (const auto& r : g.rows)
      if (r.tile.name == t) return true;
    return false;
  };
  EXPECT_TRUE(has_tile(ps.find("0.6.9").cutlass.generators.at("sm90_weight_only"), "128x128x128B"));
  EXPECT_FALSE(has_tile(ps.find("0.6.10rc1").cutlass.generators.at("sm90_weight_only"), "128x128x128B"));
  // v0.6.16rc5: FP4 launcher advertises tile 192 for E2m1 x E2m1 and MxE2m1 x MxE4m3.
  EXPECT_TRUE(ps.find("0.6.16rc4").trtllm.launchers.at("fp4").extra_tiles_if_quant.empty());
  EXPECT_EQ(ps.find("0.6.16rc5").trtllm.launchers.at("fp4").extra_tiles_if_quant.at("nvfp4"), (std::vector<int>{192}));
  EXPECT_EQ(ps.find("0.6.18rc4").cute_dsl.arch_sms, (std::vector<int>{100, 103, 107}));
}

TEST(FlashInferProfiles, TileEncodingAndParsing) {
  auto t = parse_cutlass_tile("64x64x128B", "x");
  EXPECT_EQ(t.enum_value(), 64064128);
  EXPECT_THROW(parse_cutlass_tile("64x64x128", "x"), InputError);
  EXPECT_THROW(parse_cutlass_tile("1000x64x128B", "x"), InputError);
  EXPECT_EQ(parse_cluster("2x1x1", "x").name(), "2x1x1");
  EXPECT_THROW(parse_cluster("2x1", "x"), InputError);
}

TEST(FlashInferProfiles, InheritCycleAndUnknownBaseAreErrors) {
  const std::string d = tmpdir("cycle");
  write(d + "/flashinfer/a.json", R"({"version": "1.0", "inherits": "2.0"})");
  write(d + "/flashinfer/b.json", R"({"version": "2.0", "inherits": "1.0"})");
  EXPECT_THROW(FlashInferProfiles::load(d), InputError);
  const std::string d2 = tmpdir("unknownbase");
  write(d2 + "/flashinfer/a.json", R"({"version": "1.0", "inherits": "0.9"})");
  try {
    FlashInferProfiles::load(d2);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("inherits unknown version '0.9'"), std::string::npos) << e.what();
  }
}

TEST(FlashInferProfiles, MergeJsonReplacesArraysMergesObjects) {
  auto base = boost::json::parse(R"({"a": {"x": 1, "y": [1, 2]}, "b": 2})");
  auto over = boost::json::parse(R"({"a": {"y": [3]}, "c": 4})");
  auto m = merge_json(base, over);
  EXPECT_EQ(boost::json::serialize(m), R"({"a":{"x":1,"y":[3]},"b":2,"c":4})");
}

TEST(KnownBad, LoadsAndMatchesRanges) {
  auto t = KnownBadTable::load(models_dir());
  ASSERT_FALSE(t.entries.empty());
  const KnownBadEntry* sm110 = nullptr;
  for (const auto& e : t.entries)
    if (e.id == "fi-3134-sm110-cutlass") sm110 = &e;
  ASSERT_NE(sm110, nullptr);
  EXPECT_TRUE(sm110->matches("flashinfer_cutlass", PyVersion::parse("0.6.8.post1", ""), 110, "bf16"));
  EXPECT_FALSE(sm110->matches("flashinfer_cutlass", PyVersion::parse("0.6.8.post1", ""), 100, "bf16"));
  EXPECT_FALSE(sm110->matches("flashinfer_cutlass", PyVersion::parse("0.6.5", ""), 110, "bf16"));
  ASSERT_FALSE(t.regions.empty());
  EXPECT_EQ(t.regions[0].min_tokens_per_call, 305000);
  // fixed_in is exclusive: the route-map OOB fix (cherry-pick #4288) is in v0.6.16, not in v0.6.16rc5.
  const KnownBadEntry* oob = nullptr;
  for (const auto& e : t.entries) {
    EXPECT_FALSE(e.fix.empty()) << e.id << ": every row names its fix (or says it is open)";
    if (e.id == "fi-4237-routemap-oob") oob = &e;
  }
  ASSERT_NE(oob, nullptr);
  EXPECT_TRUE(oob->matches("flashinfer_trtllm", PyVersion::parse("0.6.16rc5", ""), 100, "nvfp4"));
  EXPECT_FALSE(oob->matches("flashinfer_trtllm", PyVersion::parse("0.6.16", ""), 100, "nvfp4"));
  EXPECT_FALSE(oob->matches("flashinfer_trtllm", PyVersion::parse("0.6.17rc1", ""), 100, "nvfp4"));
}

TEST(KnownBad, SchemaTwoRejectsMaxAndUnknownConditions) {
  const std::string d = tmpdir("kb2");
  write(d + "/known_bad.json", R"({"schema": "moesim-known-bad-2", "entries": [{"id": "x", "library": "flashinfer",
    "variant": "flashinfer_trtllm", "min": "0.6.6", "max": "0.6.7", "sms": [], "quant": [], "severity": "error",
    "title": "t", "upstream": "u"}], "empirical_crash_regions": []})");
  EXPECT_THROW(KnownBadTable::load(d), InputError);
  write(d + "/known_bad.json", R"({"schema": "moesim-known-bad-2", "entries": [{"id": "x", "library": "flashinfer",
    "variant": "flashinfer_trtllm", "min": "0.6.6", "fixed_in": "0.6.7", "sms": [], "quant": [], "severity": "error",
    "title": "t", "upstream": "u", "conditions": {"phase_of_moon": 1}}], "empirical_crash_regions": []})");
  EXPECT_THROW(KnownBadTable::load(d), InputError);
  write(d + "/known_bad.json", R"({"schema": "moesim-known-bad-2", "entries": [{"id": "x", "library": "flashinfer",
    "variant": "flashinfer_trtllm", "min": "0.6.7", "fixed_in": "0.6.7", "sms": [], "quant": [], "severity": "error",
    "title": "t", "upstream": "u"}], "empirical_crash_regions": []})");
  EXPECT_THROW(KnownBadTable::load(d), InputError);
  write(d + "/known_bad.json", R"({"schema": "moesim-known-bad-2", "entries": [{"id": "x", "library": "flashinfer",
    "variant": "flashinfer_trtllm", "min": "0.6.6", "fixed_in": null, "sms": [], "quant": [], "severity": "error",
    "title": "t", "upstream": "u", "conditions": {"min_tokens_per_call": 6000, "traits": {"per_token_scale": "1"}}}],
    "empirical_crash_regions": []})");
  auto t = KnownBadTable::load(d);
  ASSERT_EQ(t.entries.size(), 1u);
  EXPECT_FALSE(t.entries[0].fixed_in.has_value());
  EXPECT_EQ(t.entries[0].conditions.text(), "tokens per call >= 6000, trait per_token_scale=1");
}

TEST(Chunking, VllmRevisionsAndNvfp4ChunkFormula) {
  auto t = ChunkingTable::load(models_dir(), "vllm");
  EXPECT_TRUE(t.find("pre-34279").triton_offsets_int32);
  EXPECT_EQ(t.find("pre-34279").triton_chunk->default_size, 16384);
  EXPECT_FALSE(t.find("pr34279").triton_offsets_int32);
  EXPECT_FALSE(t.find("pr34086").triton_chunk.has_value());
  EXPECT_FALSE(t.find("v0").trtllm_nvfp4_chunk.has_value());
  EXPECT_EQ(t.find("main").id, "pr43599");
  EXPECT_EQ(t.find("pr40808").id, "pr34086");  // oracle revision id alias
  EXPECT_THROW(t.find("pr99999"), InputError);
  const auto& c = *t.find("pr43599").trtllm_nvfp4_chunk;
  // Worked values from vLLM PR #43599 (reference notes §4.6): E=512,k=22 -> 378,344 -> capped 300,000;
  // E=256,k=8 -> 1,044,511 -> 300,000; E=512,k=28 -> 297,270.
  EXPECT_EQ(c.chunk_size(512, 22), 300000);
  EXPECT_EQ(c.chunk_size(256, 8), 300000);
  EXPECT_EQ(c.chunk_size(512, 28), 297270);
  TrtllmNvfp4Chunk uncapped = c;
  uncapped.cap = INT64_MAX;
  EXPECT_EQ(uncapped.chunk_size(512, 22), 378344);
  EXPECT_EQ(uncapped.chunk_size(256, 8), 1044511);
}

TEST(TritonConfig, VllmDefaultRulesPerRevision) {
  auto r = TritonConfigRules::load(models_dir(), "vllm");
  TritonConfigQuery q;
  q.E = 8;
  q.N = 1792;
  // After #34846 (reference §3.1): M<=32 -> BM16; M<=64 -> BN64, BK128; warps 4 (M<=128); stages 4 (M<=32).
  q.M = 16;
  auto c = r.default_config(q, "pr34846");
  EXPECT_EQ(c.block_m, 16);
  EXPECT_EQ(c.block_n, 64);
  EXPECT_EQ(c.block_k, 128);
  EXPECT_EQ(c.num_warps, 4);
  EXPECT_EQ(c.num_stages, 4);
  EXPECT_EQ(c.group_m, 1);
  // M=4096, E=8: BM128, BN128, BK64, GROUP 16 (4096//8 = 512 > 128), warps 8, stages 3.
  q.M = 4096;
  c = r.default_config(q, "pr34846");
  EXPECT_EQ(c.block_m, 128);
  EXPECT_EQ(c.block_n, 128);
  EXPECT_EQ(c.block_k, 64);
  EXPECT_EQ(c.group_m, 16);
  EXPECT_EQ(c.num_warps, 8);
  EXPECT_EQ(c.num_stages, 3);
  // fp8 block: BM 16 (M<=64) else 64; BN/BK = block shape.
  q.dtype = "fp8_w8a8";
  q.block_shape = std::make_pair<std::int64_t, std::int64_t>(128, 128);
  q.M = 100;
  c = r.default_config(q, "pr34846");
  EXPECT_EQ(c.block_m, 64);
  EXPECT_EQ(c.block_n, 128);
  EXPECT_EQ(c.block_k, 128);
  EXPECT_EQ(c.group_m, 32);
  // Before #34846: M <= E -> {16,32,64}, else {64,64,32,G8}.
  q.dtype.clear();
  q.block_shape.reset();
  q.M = 8;
  c = r.default_config(q, "pre-34846");
  EXPECT_EQ(c.block_m, 16);
  EXPECT_EQ(c.block_n, 32);
  q.M = 9;
  c = r.default_config(q, "pre-34846");
  EXPECT_EQ(c.block_m, 64);
  EXPECT_EQ(c.group_m, 8);
}

TEST(TritonConfig, FileNamesFollowEachFramework) {
  TritonConfigQuery q;
  q.E = 256;
  q.N = 128;
  q.device_name = "NVIDIA H200 141GB HBM3e";
  q.dtype = "fp8_w8a8";
  q.block_shape = std::make_pair<std::int64_t, std::int64_t>(128, 128);
  EXPECT_EQ(tuned_config_file_name(q), "E=256,N=128,device_name=NVIDIA_H200,dtype=fp8_w8a8,block_shape=[128,128].json");
  q.framework = "sglang";
  q.device_name = "NVIDIA H100 80GB HBM3";
  q.down = true;
  EXPECT_EQ(tuned_config_file_name(q),
            "E=256,N=128,device_name=NVIDIA_H100_80GB_HBM3,dtype=fp8_w8a8,block_shape=[128, 128]_down.json");
  q.framework = "vllm";
  q.dtype.clear();
  q.block_shape.reset();
  EXPECT_EQ(tuned_config_file_name(q), "E=256,N=128,device_name=NVIDIA_H100_80GB_HBM3.json");
}

TEST(TritonConfig, NearestKeyLookupTiesToFirst) {
  TritonConfigQuery q;
  q.E = 8;
  q.N = 1792;
  q.device_name = "NVIDIA A10";
  const std::vector<std::string> dirs = {std::string(MOESIM_TEST_DATA_DIR) + "/triton_configs"};
  q.M = 3;  // keys 2 and 4 are equally near: the first in file order (2) wins
  auto c = lookup_tuned_config(dirs, q);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->block_n, 64);
  EXPECT_NE(c->origin.find("key 2"), std::string::npos);
  q.M = 600;  // |600-4| = 596 > |600-1024| = 424
  c = lookup_tuned_config(dirs, q);
  EXPECT_EQ(c->block_m, 128);
  q.E = 9;
  EXPECT_FALSE(lookup_tuned_config(dirs, q).has_value());
}

TEST(TritonConfig, SglangDownConfigTakesUpBlockSizeM) {
  const std::string d = tmpdir("sglang_down");
  TritonConfigQuery q;
  q.framework = "sglang";
  q.E = 8;
  q.N = 1792;
  q.device_name = "NVIDIA A10";
  q.M = 64;
  write(d + "/" + tuned_config_file_name(q),
        R"({"64": {"BLOCK_SIZE_M": 32, "BLOCK_SIZE_N": 64, "BLOCK_SIZE_K": 64, "GROUP_SIZE_M": 1}})");
  TritonConfigQuery dq = q;
  dq.down = true;
  write(d + "/" + tuned_config_file_name(dq),
        R"({"64": {"BLOCK_SIZE_M": 128, "BLOCK_SIZE_N": 128, "BLOCK_SIZE_K": 128, "GROUP_SIZE_M": 1}})");
  auto rules = TritonConfigRules::load(models_dir(), "sglang");
  auto up = select_triton_config(rules, "s0", {d}, q);
  auto down = select_triton_config(rules, "s0", {d}, dq);
  EXPECT_EQ(up.block_m, 32);
  EXPECT_EQ(down.block_m, 32);  // overwritten with the up config's BLOCK_SIZE_M
  EXPECT_EQ(down.block_n, 128);
  // No files: SGLang defaults ({16,32,64} when M <= E, else {64,64,32,G8}).
  auto dflt = select_triton_config(rules, "s0", {}, q);
  EXPECT_EQ(dflt.block_m, 64);
  EXPECT_EQ(dflt.block_k, 32);
  // Malformed tuned file: error names the file.
  write(d + "/" + tuned_config_file_name(q), R"({"sixty": {}})");
  EXPECT_THROW(select_triton_config(rules, "s0", {d}, q), InputError);
}
