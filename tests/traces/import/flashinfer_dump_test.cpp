// moesim import flashinfer-dump on dumps in FlashInfer's real API-logging layout, written by
// tests/traces/import/py/fi_dump_fixture.py (plain Python + numpy; python3-torch for the .pt
// case): positional arg_<i> keys resolved through function_signature, kwarg_<name> keys as
// vLLM passes them, packed routed topk_ids, routing recomputed from logits, a crash point, a
// CUDA-graph capture with two flush snapshots, and the export -> import round trip.
// check_fi_import.py compares the trace (h5py) with the fixture's arrays bit for bit.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/traces/import/import_test_util.hpp"

namespace {

using namespace moesim::testing;
namespace fs = std::filesystem;

struct Dump {
  fs::path dir, root, trace;
  CliRun import;
};

Dump make(const std::string& fixture, const std::string& input_suffix = "", const std::string& extra = "") {
  Dump d;
  d.dir = fresh_dir("fi_" + fixture);
  d.root = d.dir / "dumps";
  auto w = run_sh(import_py("fi_dump_fixture.py") + " " + fixture + " " + d.root.string());
  EXPECT_EQ(w.rc, 0) << w.out;
  d.trace = d.dir / "t.h5";
  d.import = run_moesim("import flashinfer-dump " + (d.root / input_suffix).string() + " -o " + d.trace.string() + " " + extra);
  return d;
}

CliRun check(const Dump& d, const std::string& opts = "") {
  return run_sh(import_py("check_fi_import.py") + " " + d.trace.string() + " " + (d.root / "expected.npz").string() + " " + opts);
}

TEST(ImportFlashinferDump, CutlassPositionalArgsBySignatureW31Swapped) {
  const auto d = make("cutlass-positional", "", "--device b200");
  ASSERT_EQ(d.import.rc, 0) << d.import.out;
  auto c = check(d);
  EXPECT_EQ(c.rc, 0) << c.out;
  auto i = run_sh(std::string(MOESIM_PYTHON) + " -c \"import h5py; f=h5py.File('" + d.trace.string() +
                  "'); print(f['context'].attrs['flashinfer_version'], f['context'].attrs['device'], f['calls/0000'].attrs['kernel'])\"");
  EXPECT_NE(i.out.find("0.6.11.post2 b200 cutlass_fused_moe"), std::string::npos) << i.out;
}

TEST(ImportFlashinferDump, CrashPointFromSessionJsonl) {
  const auto d = make("cutlass-crash", "session.jsonl");
  ASSERT_EQ(d.import.rc, 0) << d.import.out;
  EXPECT_NE(d.import.out.find("crash point"), std::string::npos) << d.import.out;
  EXPECT_NE(d.import.out.find("device unknown"), std::string::npos) << d.import.out;
  EXPECT_EQ(check(d, "--no-golden").rc, 0);
  auto i = run_sh(std::string(MOESIM_PYTHON) + " -c \"import h5py; f=h5py.File('" + d.trace.string() +
                  "'); g=f['calls/0000']; print(g.attrs['crashed'], g.attrs['execution_status'], 'golden' in g)\"");
  EXPECT_NE(i.out.find("1 inputs_saved False"), std::string::npos) << i.out;
}

TEST(ImportFlashinferDump, Fp4RoutedKwargsPackedTopkIds) {
  const auto d = make("fp4-routed-kwargs");
  ASSERT_EQ(d.import.rc, 0) << d.import.out;
  EXPECT_NE(d.import.out.find("quant nvfp4"), std::string::npos) << d.import.out;
  EXPECT_NE(d.import.out.find("weights not imported"), std::string::npos) << d.import.out;
  auto c = check(d, "--no-weights --no-hidden");
  EXPECT_EQ(c.rc, 0) << c.out;
}

TEST(ImportFlashinferDump, Bf16LogitsTorchPtRoutingRecomputed) {
  MOESIM_REQUIRE_TORCH();
  const auto d = make("bf16-logits-pt");
  ASSERT_EQ(d.import.rc, 0) << d.import.out;
  auto c = check(d);
  EXPECT_EQ(c.rc, 0) << c.out;
  auto i = run_sh(std::string(MOESIM_PYTHON) + " -c \"import h5py; f=h5py.File('" + d.trace.string() + "'); print(f['calls/0000'].attrs['source'])\"");
  EXPECT_NE(i.out.find("recomputed"), std::string::npos) << i.out;
}

TEST(ImportFlashinferDump, GraphFlushSnapshotsAreCalls) {
  const auto d = make("graph");
  ASSERT_EQ(d.import.rc, 0) << d.import.out;
  auto c = check(d);
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("ok 2"), std::string::npos) << c.out;
}

TEST(ImportFlashinferDump, HostileDumpsAreOneLineErrors) {
  const auto d = fresh_dir("fi_hostile");
  ASSERT_EQ(run_sh(import_py("fi_dump_fixture.py") + " cutlass-positional " + (d / "a").string()).rc, 0);
  fs::path call;
  for (const auto& e : fs::directory_iterator(d / "a"))
    if (e.is_directory()) call = e.path();
  // Truncated tensor file.
  const auto st = call / "inputs.safetensors";
  fs::resize_file(st, fs::file_size(st) - 10);
  auto r = run_moesim("import flashinfer-dump " + call.string() + " -o " + (d / "x.h5").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("inputs.safetensors"), std::string::npos) << r.out;
  EXPECT_TRUE(one_line(r.out)) << r.out;
  // Garbage metadata line.
  std::ofstream(call / "metadata.jsonl", std::ios::app) << "{not json\n";
  r = run_moesim("import flashinfer-dump " + call.string() + " -o " + (d / "x.h5").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("metadata.jsonl"), std::string::npos) << r.out;
  // A CuteDSL wrapper record: refused as not modelled.
  fs::create_directories(d / "b" / "c1");
  std::ofstream(d / "b" / "c1" / "metadata.jsonl") << R"({"function_name": "CuteDslMoEWrapper.run", "input_metadata": {}})" << "\n";
  r = run_moesim("import flashinfer-dump " + (d / "b").string() + " -o " + (d / "x.h5").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("not modelled"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "x.h5"));
}

TEST(ExportFlashinferDump, RoundTripThroughImportIsBitIdentical) {
  const auto d = fresh_dir("fi_export");
  const std::string src = (d / "src.h5").string();
  ASSERT_EQ(run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 64 --intermediate 32 -t 6,3 --activations --weights bf16 -o " + src).rc, 0);
  auto e = run_moesim("export flashinfer-dump " + src + " -o " + (d / "dump").string());
  ASSERT_EQ(e.rc, 0) << e.out;
  auto i = run_moesim("import flashinfer-dump " + (d / "dump").string() + " -o " + (d / "back.h5").string());
  ASSERT_EQ(i.rc, 0) << i.out;
  // Same routing, activations and weights; the dump follows FlashInfer's layout rules.
  const std::string py = std::string(MOESIM_PYTHON) + " -c \"" +
                         "import h5py, json, glob, struct, numpy as np\n"
                         "a=h5py.File('" + src + "'); b=h5py.File('" + (d / "back.h5").string() + "')\n"
                         "for c in a['calls']:\n"
                         "  for k in ('topk_ids','topk_weights','hidden_states'):\n"
                         "    assert np.array_equal(a['calls'][c][k][()], b['calls'][c][k][()]), (c,k)\n"
                         "for k in ('w13','w2'): assert np.array_equal(a['weights'][k][()], b['weights'][k][()]), k\n"
                         "for m in glob.glob('" + (d / "dump").string() + "/*/metadata.jsonl'):\n"
                         "  r=json.loads(open(m).read().splitlines()[-1])\n"
                         "  assert r['tensor_format']=='safetensors' and r['execution_status']=='inputs_saved' and r['function_name']=='cutlass_fused_moe'\n"
                         "  assert all(k.startswith('kwarg_') for k in r['tensor_info']['input_tensor_keys'])\n"
                         "  raw=open(m.replace('metadata.jsonl','inputs.safetensors'),'rb').read(); n=struct.unpack('<Q',raw[:8])[0]\n"
                         "  h=json.loads(raw[8:8+n]); assert n%8==0 and raw[8:9]==b'{'\n"
                         "  ends=sorted(v['data_offsets'] for k,v in h.items() if k!='__metadata__'); assert ends[0][0]==0 and all(x[1]==y[0] for x,y in zip(ends,ends[1:])) and ends[-1][1]==len(raw)-8-n\n"
                         "print('ok', len(a['calls']))\"";
  auto c = run_sh(py);
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("ok 2"), std::string::npos) << c.out;
}

}  // namespace
