// moesim dot: evaluates one dot product (or a small M x N tile) under a chosen architecture's
// tensor-core model (models/mma/fdpa.json) and prints every intermediate: decoded terms,
// their alignment exponents, e_max, the truncated fixed-point terms, the exact sum and the
// result bits of every chained step. A debugging tool for kernel engineers.
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "models/lib/mma_params.hpp"
#include "sim/core/error.hpp"
#include "sim/mma/fdpa.hpp"

namespace moesim::cli {
namespace {

namespace json = boost::json;
using mma::Operand;

std::string hex(std::uint32_t v, int bits) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%0*x", (bits + 3) / 4, v);
  return b;
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

double operand_value(Operand op, std::uint32_t bits) {
  if (op == Operand::TF32) bits &= ~0x1FFFu;
  return fmt::to_double(mma::semantics_of(op), bits);
}

// "0x..." is a raw bit pattern; anything else a decimal value that must be exact in the format.
std::uint32_t parse_element(const std::string& tok, Operand op, const std::string& where) {
  const fmt::Semantics& s = mma::semantics_of(op);
  if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
    std::size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(tok, &used, 16);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != tok.size()) throw InputError(where, "malformed hex bit pattern '" + tok + "'");
    if (v > s.mask()) throw InputError(where, "bit pattern " + tok + " does not fit " + std::string(mma::operand_name(op)));
    return static_cast<std::uint32_t>(v);
  }
  double v = 0;
  std::size_t used = 0;
  try {
    v = std::stod(tok, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != tok.size() || tok.empty()) throw InputError(where, "expected a decimal value or 0x bit pattern, got '" + tok + "'");
  if (std::isnan(v)) throw InputError(where, "give NaN as a bit pattern (0x...), not '" + tok + "'");
  if (s.bits > 16) {
    const float f = static_cast<float>(v);
    if (static_cast<double>(f) != v || (std::isinf(v) && !std::isinf(f)))
      throw InputError(where, tok + " is not exactly representable in " + std::string(mma::operand_name(op)));
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    if (op == Operand::TF32 && (b & 0x1FFFu))
      throw InputError(where, tok + " is not exactly representable in tf32 (needs more than 10 fraction bits)");
    return b;
  }
  for (std::uint32_t b = 0; b <= s.mask(); ++b) {  // narrow formats: search for the exact code
    const double d = fmt::to_double(s, b);
    if (d == v && std::signbit(d) == std::signbit(v)) return b;
  }
  throw InputError(where, tok + " is not exactly representable in " + std::string(mma::operand_name(op)) +
                              " (no rounding here: give the value the kernel actually holds)");
}

std::vector<std::vector<std::uint32_t>> parse_list(const std::string& text, Operand op, const std::string& opt) {
  std::vector<std::vector<std::uint32_t>> rows(1);
  std::string tok;
  auto flush = [&] {
    const auto a = tok.find_first_not_of(" \t"), b = tok.find_last_not_of(" \t");
    if (a != std::string::npos) rows.back().push_back(parse_element(tok.substr(a, b - a + 1), op, "--" + opt));
    tok.clear();
  };
  for (char ch : text) {
    if (ch == ',') flush();
    else if (ch == ';') {
      flush();
      rows.emplace_back();
    } else tok += ch;
  }
  flush();
  return rows;
}

int run_dot(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string arch, inst, as, bs, cs = "0", sas, sbs, table_path;
  opts.add_options()
      ("arch", po::value(&arch)->default_value("hopper"), "architecture (volta turing ampere ada hopper blackwell rtx-blackwell)")
      ("inst", po::value(&inst)->default_value("wgmma.bf16.f32"), "instruction, as named in models/mma/fdpa.json")
      ("a", po::value(&as), "A: comma-separated elements (decimal or 0x bits); ';' separates rows of a tile")
      ("b", po::value(&bs), "B: comma-separated elements; ';' separates columns of a tile")
      ("c", po::value(&cs)->default_value("0"), "C: one value, or M*N values row-major")
      ("scale-a", po::value(&sas), "A scale factors (ST/GST), K/scale_block per row; ';' separates rows")
      ("scale-b", po::value(&sbs), "B scale factors (ST/GST), K/scale_block per column")
      ("pad", "pad A and B rows with +0 up to K of one instruction")
      ("table", po::value(&table_path), "FDPA table (default: models/mma/fdpa.json)")
      ("list", "list the architectures and instructions of the table")
      ("json", "print JSON instead of text");
  po::variables_map vm;
  if (!parse_options(args, opts, {},  vm,
                     "dot [--arch A] [--inst I] --a x,y,.. --b x,y,.. [--c v] [--scale-a ..] [--scale-b ..] [--json]\n"
                     "example: moesim dot --arch hopper --inst wgmma.bf16.f32 --pad --a -8192,-0.5,-0.25,-0.125 "
                     "--b 1024,1,1,1 --c 8388608"))
    return kExitOk;
  const models::FdpaTable table = table_path.empty() ? models::FdpaTable::load_default() : models::FdpaTable::load(table_path);
  if (vm.count("list")) {
    for (const auto& p : table.rows())
      std::cout << p.arch << "  " << p.inst << "  " << mma::algorithm_name(p.algorithm) << " K=" << p.k << " L=" << p.l
                << " F=" << p.f << " " << mma::rounding_name(p.rho) << " e_zero=" << p.e_zero << "  (" << p.ptx << ")\n";
    return kExitOk;
  }
  const mma::FdpaParams& p = table.find(arch, inst);
  if (as.empty() || bs.empty()) throw InputError("moesim dot", "--a and --b are required (see moesim dot --help)");
  auto A = parse_list(as, p.a, "a");
  auto B = parse_list(bs, p.b, "b");
  const auto Cl = parse_list(cs, p.c, "c");
  if (Cl.size() != 1) throw InputError("--c", "give C as one comma-separated list (row-major M*N)");
  const std::size_t M = A.size(), N = B.size();
  for (auto* mat : {&A, &B})
    for (auto& row : *mat) {
      if (vm.count("pad") && row.size() < static_cast<std::size_t>(p.k)) row.resize(p.k, 0);
    }
  const std::size_t K = A[0].size();
  for (const auto& r : A) if (r.size() != K) throw InputError("--a", "rows have different lengths");
  for (const auto& r : B) if (r.size() != K) throw InputError("--b", "B columns must have as many elements as A rows (" + std::to_string(K) + ")");
  const auto& C = Cl[0];
  if (C.size() != 1 && C.size() != M * N)
    throw InputError("--c", "expected 1 or " + std::to_string(M * N) + " values, got " + std::to_string(C.size()));
  std::vector<std::vector<std::uint32_t>> SA, SB;
  if (p.scale) {
    if (sas.empty() || sbs.empty()) throw InputError("moesim dot", p.key() + " needs --scale-a and --scale-b");
    SA = parse_list(sas, *p.scale, "scale-a");
    SB = parse_list(sbs, *p.scale, "scale-b");
    if (SA.size() != M || SB.size() != N) throw InputError("--scale-a/--scale-b", "one scale list per A row and per B column");
  } else if (!sas.empty() || !sbs.empty()) {
    throw InputError("moesim dot", p.key() + " takes no scale factors");
  }
  const int ob = p.out_bits();
  const bool as_json = vm.count("json") > 0;
  json::array outs;
  if (!as_json)
    std::cout << p.key() << "  " << mma::algorithm_name(p.algorithm) << "  K=" << p.k << " L=" << p.l << " F=" << p.f
              << " " << mma::rounding_name(p.rho) << " e_zero=" << p.e_zero
              << (p.g ? " G=" + std::to_string(p.g) : std::string()) << "\n  models " << p.ptx << "\n";
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; ++j) {
      const std::uint32_t c = C.size() == 1 ? C[0] : C[i * N + j];
      mma::DotTrace tr;
      const std::uint32_t d = mma::dot(p, A[i], B[j], c, p.scale ? std::span(SA[i]) : std::span<const std::uint32_t>{},
                                       p.scale ? std::span(SB[j]) : std::span<const std::uint32_t>{}, &tr);
      if (as_json) {
        json::array steps;
        for (const auto& st : tr.steps) {
          json::array terms;
          for (const auto& t : st.terms)
            terms.push_back({{"term", t.label}, {"value", t.value}, {"exponent", t.exponent}, {"zero", t.zero},
                             {"truncated", t.truncated}});
          json::object so{{"step", st.step}, {"c_in", hex(st.c_in, ob)}, {"result", hex(st.result, ob)},
                          {"result_value", operand_value(p.c, st.result)}};
          if (!st.special.empty()) so["special"] = st.special;
          else {
            so["e_max"] = st.e_max;
            so["lsb_exponent"] = st.lsb_exponent;
            so["sum"] = st.sum;
            so["terms"] = terms;
          }
          steps.push_back(so);
        }
        outs.push_back({{"i", i}, {"j", j}, {"d", hex(d, ob)}, {"d_value", operand_value(p.c, d)}, {"steps", steps}});
        continue;
      }
      std::cout << "\nD[" << i << "," << j << "]\n";
      for (const auto& st : tr.steps) {
        std::cout << " step " << st.step << ": c_in " << hex(st.c_in, ob) << " (" << num(operand_value(p.c, st.c_in)) << ")\n";
        if (!st.special.empty()) {
          std::cout << "   special: " << st.special << " -> " << hex(st.result, ob) << "\n";
          continue;
        }
        const int k0 = st.step * p.l;
        for (std::size_t t = 0; t < st.terms.size(); ++t) {
          const auto& term = st.terms[t];
          std::string lab = term.label;
          if (p.algorithm != mma::Algorithm::GST && t + 1 < st.terms.size()) {
            const std::size_t k = k0 + t;
            lab = "a" + std::to_string(k) + "*b" + std::to_string(k) + " " + hex(A[i][k], mma::semantics_of(p.a).bits) + "*" +
                  hex(B[j][k], mma::semantics_of(p.b).bits);
          }
          std::printf("   %-28s value %-24s exp %5d%s  truncated %lld\n", lab.c_str(), num(term.value).c_str(),
                      term.exponent, term.zero ? " (e_zero)" : "        ", static_cast<long long>(term.truncated));
        }
        std::cout << "   e_max " << st.e_max << ", quantum 2^" << st.lsb_exponent << ", sum " << st.sum << " = "
                  << num(std::ldexp(static_cast<double>(st.sum), st.lsb_exponent)) << " -> "
                  << mma::rounding_name(p.rho) << " " << hex(st.result, ob) << " (" << num(operand_value(p.c, st.result))
                  << ")\n";
      }
      std::cout << " D = " << hex(d, ob) << " (" << num(operand_value(p.c, d)) << ")\n";
    }
  if (as_json) {
    json::object o{{"arch", p.arch}, {"inst", p.inst}, {"ptx", p.ptx},
                   {"algorithm", std::string(mma::algorithm_name(p.algorithm))}, {"k", p.k}, {"l", p.l}, {"f", p.f},
                   {"rho", std::string(mma::rounding_name(p.rho))}, {"e_zero", p.e_zero}, {"outputs", outs}};
    std::cout << json::serialize(o) << "\n";
  }
  return kExitOk;
}

const Registrar reg("dot", "evaluate a dot product under a tensor-core arithmetic model, printing every step", run_dot);

}  // namespace
}  // namespace moesim::cli
