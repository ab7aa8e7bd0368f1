#include "models/lib/mma_params.hpp"

#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::models {

namespace {

mma::Operand operand_at(const Node& n) {
  const std::string s = n.as_string();
  auto op = mma::operand_from_name(s);
  if (!op) n.fail("unknown operand format '" + s + "'");
  return *op;
}

int int_in(const Node& n, int lo, int hi) {
  const std::int64_t v = n.as_int();
  if (v < lo || v > hi) n.fail("value " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(v);
}

mma::FdpaParams parse_row(const Node& r) {
  mma::FdpaParams p;
  p.arch = r.at("arch").as_string();
  p.inst = r.at("inst").as_string();
  p.ptx = r.get_string("ptx", "");
  p.source = r.get_string("source", "");
  const Node alg = r.at("algorithm");
  const std::string a = alg.as_string();
  if (a == "T") p.algorithm = mma::Algorithm::T;
  else if (a == "ST") p.algorithm = mma::Algorithm::ST;
  else if (a == "GST") p.algorithm = mma::Algorithm::GST;
  else alg.fail("algorithm must be T, ST or GST, got '" + a + "'");
  p.a = operand_at(r.at("a"));
  p.b = operand_at(r.at("b"));
  p.c = operand_at(r.at("c"));
  if (p.c != mma::Operand::FP32 && p.c != mma::Operand::FP16) r.at("c").fail("accumulator must be fp32 or fp16");
  p.k = int_in(r.at("k"), 1, 256);
  p.l = int_in(r.at("l"), 1, 64);
  if (p.k % p.l != 0) r.at("l").fail("l must divide k");
  p.f = int_in(r.at("f"), 1, 40);
  const Node rho = r.at("rho");
  const std::string rs = rho.as_string();
  if (rs == "RZ-FP32") p.rho = mma::Rounding::RZ_FP32;
  else if (rs == "RZ-E8M13") p.rho = mma::Rounding::RZ_E8M13;
  else if (rs == "RNE-FP16") p.rho = mma::Rounding::RNE_FP16;
  else rho.fail("rho must be RZ-FP32, RZ-E8M13 or RNE-FP16, got '" + rs + "'");
  if ((p.rho == mma::Rounding::RNE_FP16) != (p.c == mma::Operand::FP16))
    rho.fail("rho " + rs + " does not produce the accumulator format " + std::string(mma::operand_name(p.c)));
  p.e_zero = int_in(r.at("e_zero"), -400, 0);
  if (p.algorithm != mma::Algorithm::T) {
    p.scale = operand_at(r.at("scale"));
    if (*p.scale != mma::Operand::UE8M0 && *p.scale != mma::Operand::UE4M3) r.at("scale").fail("scale must be ue8m0 or ue4m3");
    p.scale_block = int_in(r.at("scale_block"), 1, 64);
    if (p.k % p.scale_block != 0) r.at("scale_block").fail("scale_block must divide k");
    if (p.c != mma::Operand::FP32) r.at("c").fail("block-scaled instructions accumulate in fp32");
  }
  if (p.algorithm == mma::Algorithm::ST && p.scale_block != p.l) r.at("scale_block").fail("ST-FDPA uses one scale pair per fused step (scale_block == l)");
  if (p.algorithm == mma::Algorithm::GST) {
    p.g = int_in(r.at("g"), 1, 64);
    if (p.l % p.g != 0) r.at("g").fail("g must divide l");
    if (p.scale_block % p.g != 0) r.at("scale_block").fail("scale_block must be a multiple of g");
    if (p.a != mma::Operand::E2M1 || p.b != mma::Operand::E2M1) r.at("a").fail("GST-FDPA is modelled for e2m1 operands only");
  }
  // Exactness bound of the int64 fixed-point sum (see sim/mma/fdpa.hpp).
  if (p.f > 35) r.at("f").fail("f > 35 exceeds the exact int64 accumulator of the model");
  return p;
}

}  // namespace

FdpaTable FdpaTable::load(const std::string& path) {
  const Document doc = Document::load(path);
  const Node root = doc.root();
  const std::string schema = root.at("schema").as_string();
  if (schema != "moesim.mma.fdpa/1") root.at("schema").fail("unsupported schema '" + schema + "'");
  FdpaTable t;
  t.file_ = path;
  std::set<std::string> seen;
  for (const Node& r : root.at("instructions").items()) {
    mma::FdpaParams p = parse_row(r);
    if (!seen.insert(p.key()).second) r.fail("duplicate instruction " + p.key());
    t.rows_.push_back(std::move(p));
  }
  if (t.rows_.empty()) root.at("instructions").fail("no instructions");
  return t;
}

std::string FdpaTable::default_path() { return moesim::models_dir() + "/mma/fdpa.json"; }

FdpaTable FdpaTable::load_default() { return load(default_path()); }

const mma::FdpaParams& FdpaTable::find(const std::string& arch, const std::string& inst) const {
  std::string known;
  bool arch_known = false;
  for (const auto& p : rows_) {
    if (p.arch == arch) {
      arch_known = true;
      if (p.inst == inst) return p;
      known += (known.empty() ? "" : ", ") + p.inst;
    }
  }
  if (!arch_known) {
    std::set<std::string> archs;
    for (const auto& p : rows_) archs.insert(p.arch);
    for (const auto& a : archs) known += (known.empty() ? "" : ", ") + a;
    throw InputError(file_, "unknown architecture '" + arch + "' (known: " + known + ")");
  }
  throw InputError(file_, "no instruction '" + inst + "' for " + arch + " (known: " + known + ")");
}

}  // namespace moesim::models
