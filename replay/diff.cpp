#include "replay/diff.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/error.hpp"

namespace moesim::replay {

using kernels::ElemType;
using kernels::EmuBuffer;

namespace {

int man_bits(ElemType t) {
  switch (t) {
    case ElemType::BF16: return 7;
    case ElemType::F32: return 23;
    case ElemType::F64: return 52;
    case ElemType::I32: return 0;
  }
  return 0;
}
int min_exp(ElemType t) { return t == ElemType::F64 ? -1022 : -126; }

// Spacing of format t at magnitude |v| (subnormal spacing below the normal range).
double ulp_at(ElemType t, double v) {
  if (t == ElemType::I32) return 1.0;
  int e = 0;
  const double av = std::fabs(v);
  if (av == 0.0) e = min_exp(t);
  else {
    std::frexp(av, &e);
    e -= 1;  // av in [2^e, 2^(e+1))
    e = std::max(e, min_exp(t));
  }
  return std::ldexp(1.0, e - man_bits(t));
}

std::size_t bucket(double ulps) {
  if (ulps == 0.0) return 0;
  const double lim[] = {1, 2, 4, 8, 16, 64, 256};
  for (std::size_t i = 0; i < 7; ++i)
    if (ulps <= lim[i]) return i + 1;
  return 8;
}

struct Acc {
  std::int64_t count = 0, identical = 0;
  double max_abs = 0.0, d2 = 0.0, r2 = 0.0;
};

}  // namespace

BufferDiff diff_buffers(const EmuBuffer& a, const EmuBuffer& b, const RowMap& rows) {
  if (a.size() != b.size() || a.cols() != b.cols())
    throw InputError(a.name() + " vs " + b.name(),
                     "shapes differ (" + std::to_string(a.rows()) + "x" + std::to_string(a.cols()) + " vs " +
                         std::to_string(b.rows()) + "x" + std::to_string(b.cols()) + ")");
  BufferDiff d;
  d.a_type = kernels::elem_type_name(a.type());
  d.b_type = kernels::elem_type_name(b.type());
  d.rows = a.rows();
  d.cols = a.cols();
  d.count = a.size();
  const bool same = a.type() == b.type();
  const ElemType coarse = man_bits(a.type()) <= man_bits(b.type()) ? a.type() : b.type();
  const bool slot_rows = rows.topk_ids && d.rows == rows.num_tokens * rows.top_k && rows.top_k > 0;
  const bool token_rows = d.rows == rows.num_tokens;
  std::map<std::int64_t, Acc> per_expert;
  std::vector<Acc> per_token(static_cast<std::size_t>(std::max<std::int64_t>(rows.num_tokens, 0)));
  double d2 = 0.0, r2 = 0.0;
  for (std::int64_t i = 0; i < d.count; ++i) {
    const double x = a.as_double(i), y = b.as_double(i);
    const bool eq = same ? a.raw_bits(i) == b.raw_bits(i) : (x == y || (std::isnan(x) && std::isnan(y)));
    d.nan_a += std::isnan(x);
    d.nan_b += std::isnan(y);
    d.inf_a += std::isinf(x);
    d.inf_b += std::isinf(y);
    if (eq) ++d.identical;
    else if (d.first_mismatch < 0) d.first_mismatch = i;
    double ad = 0.0;
    if (std::isfinite(x) && std::isfinite(y)) {
      ad = std::fabs(x - y);
      d2 += ad * ad;
      r2 += y * y;
      if (ad > d.max_abs) {
        d.max_abs = ad;
        d.max_abs_index = i;
        d.max_abs_a = x;
        d.max_abs_b = y;
      }
      d.ulp_hist[eq ? 0 : std::max<std::size_t>(1, bucket(ad / ulp_at(coarse, y)))]++;
    } else {
      d.ulp_hist[eq ? 0 : kUlpBuckets - 1]++;
    }
    const std::int64_t row = i / d.cols;
    auto add = [&](Acc& g) {
      ++g.count;
      g.identical += eq;
      g.max_abs = std::max(g.max_abs, ad);
      if (std::isfinite(x) && std::isfinite(y)) {
        g.d2 += ad * ad;
        g.r2 += y * y;
      }
    };
    if (slot_rows) {
      add(per_expert[(*rows.topk_ids)[static_cast<std::size_t>(row)]]);
      add(per_token[static_cast<std::size_t>(row / rows.top_k)]);
    } else if (token_rows) {
      add(per_token[static_cast<std::size_t>(row)]);
    }
  }
  d.rel_l2 = r2 > 0 ? std::sqrt(d2 / r2) : (d2 > 0 ? INFINITY : 0.0);
  auto mk = [](std::int64_t g, const Acc& a) {
    return GroupDiff{g, a.count, a.identical, a.max_abs, a.r2 > 0 ? std::sqrt(a.d2 / a.r2) : (a.d2 > 0 ? INFINITY : 0.0)};
  };
  for (const auto& [e, acc] : per_expert) d.per_expert.push_back(mk(e, acc));
  std::vector<GroupDiff> toks;
  for (std::size_t t = 0; t < per_token.size(); ++t)
    if (per_token[t].count && per_token[t].identical != per_token[t].count)
      toks.push_back(mk(static_cast<std::int64_t>(t), per_token[t]));
  std::stable_sort(toks.begin(), toks.end(), [](const GroupDiff& p, const GroupDiff& q) { return p.max_abs > q.max_abs; });
  if (toks.size() > 8) toks.resize(8);
  d.worst_tokens = std::move(toks);
  return d;
}

namespace {
RowMap row_map(const CallInputs& call) {
  return RowMap{call.problem.num_tokens, call.problem.top_k, &call.topk_ids};
}

void finish(ReplayDiff& rd, const ReplayResult& a, const EmuBuffer* b_out, const CallInputs& call) {
  for (const auto& s : rd.stages)
    if (s.compared && !s.diff.bit_identical()) {
      rd.first_divergence = s.stage;
      break;
    }
  if (b_out) {
    const EmuBuffer& ao = a.output();
    if (ao.size() == b_out->size()) {
      rd.output = diff_buffers(ao, *b_out, row_map(call));
      rd.output_compared = true;
    }
  }
}
}  // namespace

ReplayDiff diff_replays(const ReplayResult& a, const ReplayResult& b, const CallInputs& call) {
  ReplayDiff rd;
  rd.a_name = a.variant;
  rd.b_name = b.variant;
  for (const auto& sid : a.stage_order) {
    StageDiff sd;
    sd.stage = sid;
    const EmuBuffer* x = a.stage_buffer(sid);
    const EmuBuffer* y = b.stage_buffer(sid);
    if (!x || !y) sd.note = std::string("no stage '") + sid + "' in " + (x ? b.variant : a.variant);
    else if (x->size() != y->size() || x->cols() != y->cols()) sd.note = "layouts differ";
    else {
      sd.diff = diff_buffers(*x, *y, row_map(call));
      sd.compared = true;
    }
    rd.stages.push_back(std::move(sd));
  }
  finish(rd, a, &b.output(), call);
  return rd;
}

ReplayDiff diff_against_golden(const ReplayResult& a, const std::map<std::string, EmuBuffer>& golden,
                               const CallInputs& call, const std::string& golden_name) {
  ReplayDiff rd;
  rd.a_name = a.variant;
  rd.b_name = golden_name;
  for (const auto& sid : a.stage_order) {
    StageDiff sd;
    sd.stage = sid;
    const EmuBuffer* x = a.stage_buffer(sid);
    auto so = a.stage_output.find(sid);
    auto g = so == a.stage_output.end() ? golden.end() : golden.find(so->second);  // golden/<buffer>
    if (!x || g == golden.end()) sd.note = "no golden intermediate for this stage";
    else if (x->size() != g->second.size() || x->cols() != g->second.cols()) sd.note = "golden shape differs";
    else {
      sd.diff = diff_buffers(*x, g->second, row_map(call));
      sd.compared = true;
    }
    rd.stages.push_back(std::move(sd));
  }
  auto go = golden.find("output");
  finish(rd, a, go == golden.end() ? nullptr : &go->second, call);
  return rd;
}

}  // namespace moesim::replay
