// moesim import flashinfer-bench / export flashinfer-bench / replay --fib-trace on datasets in
// the real formats, written by tests/traces/import/py/fib_fixture.py (plain Python + numpy,
// safetensors by hand): a FlashInfer fi_trace definition (dtype "uint8" packed FP4, "unknown"
// optional tensors, check/init keys, no reference) with bare Workload lines, a FIB-canonical
// dataset root with workload-Trace lines, random routing, and one hostile change per case.
// check_fib_import.py compares the trace (h5py) with numpy's values; check_fib_schema.py checks
// the export (and the Trace JSONL) against flashinfer-bench's schema rules.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/traces/import/import_test_util.hpp"

namespace {

using namespace moesim::testing;
namespace fs = std::filesystem;

const char* kFp4Name = "moe_fp4_block_scale_renormalize_routing_topk2_e4_h64_i32";

fs::path fixture(const std::string& c) {
  const fs::path d = fresh_dir("fib_" + c);
  const auto w = run_sh(import_py("fib_fixture.py") + " " + c + " " + (d / "root").string());
  EXPECT_EQ(w.rc, 0) << w.out;
  return d;
}

std::string py_attr(const fs::path& trace, const std::string& expr) {
  return run_sh(std::string(MOESIM_PYTHON) + " -c \"import h5py; f=h5py.File('" + trace.string() + "'); print(" + expr + ")\"").out;
}

TEST(ImportFlashinferBench, FlashInferEmittedFp4DefinitionSpellings) {
  const fs::path d = fixture("fi-fp4"), r = d / "root", t = d / "t.h5";
  const std::string def = (r / (std::string(kFp4Name) + ".json")).string(), wl = (r / (std::string(kFp4Name) + ".jsonl")).string();
  const auto im = run_moesim("import flashinfer-bench " + def + " " + wl + " -o " + t.string() + " --device b200");
  ASSERT_EQ(im.rc, 0) << im.out;
  EXPECT_NE(im.out.find("quant nvfp4"), std::string::npos) << im.out;
  EXPECT_NE(im.out.find("top-level key 'check'"), std::string::npos) << im.out;
  EXPECT_NE(im.out.find("no reference"), std::string::npos) << im.out;
  EXPECT_NE(im.out.find("weights not imported"), std::string::npos) << im.out;
  const auto c = run_sh(import_py("check_fib_import.py") + " " + t.string() + " " + (r / "expected.npz").string() + " --no-hidden --no-weights");
  EXPECT_EQ(c.rc, 0) << c.out;
  const auto a = py_attr(t, "f['context'].attrs['backend'], f['context'].attrs['device'], f['calls/0001'].attrs['kernel'], f['calls/0001'].attrs['source']");
  EXPECT_NE(a.find("flashinfer_trtllm_nvfp4 b200 trtllm_fp4_block_scale_moe recomputed from routing_logits (RoutingMethodType 1 Renormalize"), std::string::npos) << a;
}

TEST(ImportFlashinferBench, CanonicalDatasetRootWeightsW31Swapped) {
  const fs::path d = fixture("fib-bf16"), t = d / "t.h5";
  const auto im = run_moesim("import flashinfer-bench " + (d / "root").string() + " -o " + t.string());
  ASSERT_EQ(im.rc, 0) << im.out;
  EXPECT_NE(im.out.find("2 call(s), 8 tokens, weights"), std::string::npos) << im.out;
  const auto c = run_sh(import_py("check_fib_import.py") + " " + t.string() + " " + (d / "root" / "expected.npz").string());
  EXPECT_EQ(c.rc, 0) << c.out;
}

TEST(ImportFlashinferBench, Fp8BlockScaleDeepSeekV3RoutingWithBias) {
  const fs::path d = fixture("fib-ds"), r = d / "root", t = d / "t.h5";
  const auto im = run_moesim("import flashinfer-bench " + r.string() + " -o " + t.string());
  ASSERT_EQ(im.rc, 0) << im.out;
  EXPECT_NE(im.out.find("quant fp8_block128"), std::string::npos) << im.out;
  EXPECT_NE(im.out.find("hidden_states is F8_E4M3"), std::string::npos) << im.out;
  const auto c = run_sh(import_py("check_fib_import.py") + " " + t.string() + " " + (r / "expected.npz").string() + " --no-hidden --no-weights");
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(py_attr(t, "f['calls/0000'].attrs['source']").find("RoutingMethodType 2 DeepSeekV3, n_group 4, topk_group 2, routed_scaling_factor 2.5"), std::string::npos);
  // without its bias the routing is not in the workload
  const fs::path wl = r / "workloads" / "moe" / "moe_fp8_block_scale_ds_routing_topk4_ng4_kg2_e16_h128_i128.jsonl";
  auto e = run_sh(std::string(MOESIM_PYTHON) + " -c \"import json; p='" + wl.string() +
                  "'; L=[json.loads(l) for l in open(p)]; L[1]['inputs']['routing_bias']={'type':'random'}; open(p,'w').write(''.join(json.dumps(l)+chr(10) for l in L))\"");
  ASSERT_EQ(e.rc, 0) << e.out;
  const auto no = run_moesim("import flashinfer-bench " + r.string() + " -o " + (d / "x.h5").string() + " --random-routing 1");
  EXPECT_EQ(no.rc, 2) << no.out;
  EXPECT_TRUE(one_line(no.out)) << no.out;
  EXPECT_NE(no.out.find(".jsonl:2:/inputs/routing_bias: DeepSeekV3 routing needs routing_bias as a safetensors blob (random"), std::string::npos) << no.out;
}

TEST(ImportFlashinferBench, RandomRoutingRefusedUnlessSeeded) {
  const fs::path d = fixture("fib-random"), r = d / "root";
  const auto no = run_moesim("import flashinfer-bench " + r.string() + " -o " + (d / "x.h5").string());
  EXPECT_EQ(no.rc, 2) << no.out;
  EXPECT_TRUE(one_line(no.out)) << no.out;
  EXPECT_NE(no.out.find("/workload/inputs/routing_logits"), std::string::npos) << no.out;
  EXPECT_NE(no.out.find("--random-routing SEED"), std::string::npos) << no.out;
  EXPECT_FALSE(fs::exists(d / "x.h5"));
  for (const char* s : {"a 7", "b 7", "c 8"}) {
    const std::string n(s);
    const auto im = run_moesim("import flashinfer-bench " + r.string() + " -o " + (d / (n.substr(0, 1) + ".h5")).string() + " --random-routing " + n.substr(2));
    ASSERT_EQ(im.rc, 0) << im.out;
  }
  auto ids = [&](const char* f) { return py_attr(d / f, "f['calls/0001/topk_ids'][()].tobytes().hex()"); };
  EXPECT_EQ(ids("a.h5"), ids("b.h5"));
  EXPECT_NE(ids("a.h5"), ids("c.h5"));
  EXPECT_NE(py_attr(d / "a.h5", "f['calls/0000'].attrs['source']").find("--random-routing 7 (moesim.gen/1"), std::string::npos);
  const auto bad = run_moesim("import flashinfer-bench " + r.string() + " -o " + (d / "y.h5").string() + " --random-routing x1");
  EXPECT_EQ(bad.rc, 2) << bad.out;
}

struct Hostile {
  const char* fixture;
  const char* needle;
};

TEST(ImportFlashinferBench, HostileInputsOneLineExit2) {
  const std::vector<Hostile> cases{
      {"bad-json", ".jsonl:2: malformed JSON"},
      {"shape", ":hidden_states: shape [5,32] does not match the definition's [seq_len=5,hidden_size=64]"},
      {"escape", ":2:/workload/inputs/hidden_states/path: blob path 'blob/../../outside.safetensors' escapes the dataset root"},
      {"symlink", ":2:/workload/inputs/hidden_states/path: blob path 'blob/link/h.safetensors' resolves outside the dataset root"},
      {"offsets", ":hidden_states: data_offsets"},
      {"blob-dtype", ":hidden_states: dtype F16 does not match the definition's 'bfloat16'"},
      {"dtype", ".json:/inputs/hidden_states/dtype: unknown dtype 'float8_e4m3fnuz'"},
      {"op-type", ".json:/op_type: op_type 'gemm' is not modelled"},
      {"missing-input", ":2:/workload/inputs: missing required input 'hidden_states'"},
      {"axis", ".json:/inputs/gemm2_weights/shape/2: axis 'inter_size' is not defined"},
      {"unknown-type", ":2:/workload/inputs/hidden_states/type: input descriptor type 'npy'"},
  };
  for (const auto& h : cases) {
    const fs::path d = fixture(h.fixture), t = d / "t.h5";
    const auto im = run_moesim("import flashinfer-bench " + (d / "root").string() + " -o " + t.string());
    EXPECT_EQ(im.rc, 2) << h.fixture << ": " << im.out;
    EXPECT_TRUE(one_line(im.out)) << h.fixture << ": " << im.out;
    EXPECT_NE(im.out.find(h.needle), std::string::npos) << h.fixture << ": " << im.out;
    EXPECT_FALSE(fs::exists(t)) << h.fixture;
  }
}

TEST(ImportFlashinferBench, UnknownEntryPointAndContradictingQuantization) {
  const fs::path d = fixture("fi-fp4"), r = d / "root";
  const std::string def = (r / (std::string(kFp4Name) + ".json")).string(), wl = (r / (std::string(kFp4Name) + ".jsonl")).string();
  auto edit = [&](const std::string& py) {
    const auto e = run_sh(std::string(MOESIM_PYTHON) + " -c \"import json; p='" + def + "'; d=json.load(open(p)); " + py + "; json.dump(d, open(p, 'w'))\"");
    ASSERT_EQ(e.rc, 0) << e.out;
  };
  edit("d['tags'][2]='quantization:float8_e4m3fn'");
  auto im = run_moesim("import flashinfer-bench " + def + " " + wl + " -o " + (d / "a.h5").string());
  EXPECT_EQ(im.rc, 2) << im.out;
  EXPECT_NE(im.out.find(".json:/tags/2: quantization:float8_e4m3fn contradicts entry point trtllm_fp4_block_scale_moe"), std::string::npos) << im.out;
  edit("d['tags'][0]='fi_api:flashinfer.fused_moe.core.grouped_gemm_nt_masked'");
  im = run_moesim("import flashinfer-bench " + def + " " + wl + " -o " + (d / "b.h5").string());
  EXPECT_EQ(im.rc, 2) << im.out;
  EXPECT_TRUE(one_line(im.out)) << im.out;
  EXPECT_NE(im.out.find(".json:/tags/0: fi_api flashinfer.fused_moe.core.grouped_gemm_nt_masked is not a fused-MoE entry point"), std::string::npos) << im.out;
}

TEST(ExportFlashinferBench, RoundTripBitForBitSchemaAndFibTrace) {
  const fs::path d = fresh_dir("fib_export"), s = d / "s.h5", ex = d / "ds", back = d / "back.h5", fib = d / "fib.jsonl";
  auto r = run_moesim("synth -p qwen3-30b-a3b -t 6,3 --top-k 2 --activations --weights bf16 --experts 8 --hidden 64 --intermediate 32 -o " + s.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_moesim("export flashinfer-bench " + s.string() + " -o " + ex.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(fs::exists(ex / "definitions" / "moe" / "moe_bf16_cutlass_topk2_e8_h64_i32.json"));
  EXPECT_TRUE(fs::exists(ex / "workloads" / "moe" / "moe_bf16_cutlass_topk2_e8_h64_i32.jsonl"));
  auto c = run_sh(import_py("check_fib_schema.py") + " " + ex.string());
  EXPECT_EQ(c.rc, 0) << c.out;
  r = run_moesim("import flashinfer-bench " + ex.string() + " -o " + back.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  c = run_sh(std::string(MOESIM_PYTHON) + " -c \"import h5py; a=h5py.File('" + s.string() + "'); b=h5py.File('" + back.string() +
             "'); bad=[c+'/'+k for c in a['calls'] for k in ('topk_ids','topk_weights','hidden_states') if a['calls'][c][k][()].tobytes()!=b['calls'][c][k][()].tobytes()]"
             "+[k for k in ('w13','w2') if a['weights'][k][()].tobytes()!=b['weights'][k][()].tobytes()]; print('diff', bad); assert not bad\"");
  EXPECT_EQ(c.rc, 0) << c.out;
  // the exported reference, run by torch as flashinfer-bench would, is moesim's MoE
  if (run_sh(std::string(MOESIM_PYTHON) + " -c 'import torch'").rc == 0) {
    c = run_sh(import_py("check_fib_reference.py") + " " + ex.string() + " " + s.string());
    EXPECT_EQ(c.rc, 0) << c.out;
  }
  // export refuses a non-empty directory; replay --fib-trace names the exported workloads
  r = run_moesim("export flashinfer-bench " + s.string() + " -o " + ex.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  r = run_moesim("replay " + s.string() + " --variant triton_bf16 --against reference --no-timings --fib-trace " + fib.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  c = run_sh(import_py("check_fib_schema.py") + " " + ex.string() + " --traces " + fib.string());
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("PASSED"), std::string::npos) << c.out;
  // an impossible tolerance turns it into INCORRECT_NUMERICAL (correctness, no performance)
  r = run_moesim("replay " + s.string() + " --variant triton_bf16 --against reference --no-timings --fib-atol 0 --fib-rtol 0 --fib-trace " + fib.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  c = run_sh(import_py("check_fib_schema.py") + " " + ex.string() + " --traces " + fib.string());
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("INCORRECT_NUMERICAL"), std::string::npos) << c.out;
}

TEST(ExportFlashinferBench, RefusesWhatTheDefinitionCannotCarry) {
  const fs::path d = fresh_dir("fib_export_refuse"), s = d / "s.h5";
  auto r = run_moesim("synth -p qwen3-30b-a3b -t 4 --top-k 2 --activations --weights fp8 --experts 8 --hidden 128 --intermediate 128 -o " + s.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_moesim("export flashinfer-bench " + s.string() + " -o " + (d / "ds").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_TRUE(one_line(r.out)) << r.out;
  EXPECT_NE(r.out.find("needs bf16 weights"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "ds"));
}

}  // namespace
