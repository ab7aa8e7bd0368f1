#include "traces/import/fi_moe_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"

namespace moesim::traces::import {

FiMoeTable load_fi_moe_table(const std::string& models_dir) {
  FiMoeTable t;
  t.doc = models::Document::load(models_dir + "/capture/flashinfer_api_logging_moe.json");
  const auto root = t.doc.root();
  t.module = root.at("module").as_string();
  for (const auto& [name, n] : root.at("entry_points").members()) {
    FiEntryPoint e;
    e.name = name;
    e.routing = n.at("routing").as_string();
    e.hidden = n.at("hidden").as_string();
    e.hidden_scale = n.get_string("hidden_scale", "");
    e.ids = n.get_string("ids", "topk_ids");
    e.weights = n.get_string("weights", "");
    e.w1 = n.at("w1").as_string();
    e.w2 = n.at("w2").as_string();
    e.variant = n.get_string("variant", "");
    e.source = n.at("source").as_string();
    e.params = n.at("params").as_string_vector();
    t.eps.push_back(std::move(e));
  }
  for (const auto& [name, n] : root.at("not_modelled").members()) t.not_modelled.emplace_back(name, n.as_string());
  t.routing_methods = root.at("routing_methods").as_string_vector();
  return t;
}

const FiEntryPoint* FiMoeTable::find(const std::string& name) const {
  for (const auto& e : eps)
    if (e.name == name) return &e;
  return nullptr;
}

std::string FiMoeTable::method_name(int method) const {
  return method >= 0 && method < static_cast<int>(routing_methods.size()) ? routing_methods[static_cast<std::size_t>(method)] : "?";
}

bool routing_recomputable(int method) {
  return method == 0 || method == 1 || method == 4 || method == 5 || method == 6 || method == 8 || method == 9;
}

std::string recomputed_source(const FiMoeTable& t, int method) {
  return "recomputed from routing_logits (RoutingMethodType " + std::to_string(method) + " " + t.method_name(method) +
         ", fp64, ties to the lower id; not the routing kernel's arithmetic)";
}

// Routing recomputed in fp64 from the logits, for the RoutingMethodType values whose rule is a
// composition of softmax / sigmoid / top-k / renormalisation (FI tllm_enums.py:10-32). Ties go
// to the lower expert id. Not the kernel's arithmetic: the call's source attribute says so.
void recompute_routing(const std::vector<double>& logits, std::int64_t T, std::int64_t E, std::int64_t K, int method,
                       const std::string& where, std::vector<std::int32_t>& ids, std::vector<float>& w) {
  ids.assign(static_cast<std::size_t>(T * K), 0);
  w.assign(static_cast<std::size_t>(T * K), 0.f);
  std::vector<double> p(static_cast<std::size_t>(E));
  std::vector<std::int32_t> idx(static_cast<std::size_t>(E));
  for (std::int64_t t = 0; t < T; ++t) {
    const double* l = logits.data() + t * E;
    auto softmax = [&](std::vector<double>& v, std::size_t n) {
      double mx = -INFINITY, s = 0;
      for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
      for (std::size_t i = 0; i < n; ++i) s += (v[i] = std::exp(v[i] - mx));
      for (std::size_t i = 0; i < n; ++i) v[i] /= s;
    };
    for (std::int64_t e = 0; e < E; ++e) p[static_cast<std::size_t>(e)] = l[e];
    if (method == 0 || method == 4) softmax(p, static_cast<std::size_t>(E));
    if (method == 6 || method == 8) for (auto& x : p) x = 1.0 / (1.0 + std::exp(-x));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::int32_t a, std::int32_t b) { return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)]; });
    std::vector<double> top(static_cast<std::size_t>(K));
    for (std::int64_t k = 0; k < K; ++k) top[static_cast<std::size_t>(k)] = p[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])];
    if (method == 1) softmax(top, static_cast<std::size_t>(K));
    if (method == 4 || method == 6) {
      double s = 0;
      for (auto x : top) s += x;
      for (auto& x : top) x /= s;
    }
    if (method == 9) for (auto& x : top) x = 1.0 / (1.0 + std::exp(-x));
    if (method != 0 && method != 1 && method != 4 && method != 5 && method != 6 && method != 8 && method != 9)
      throw InputError(where, "routing_method_type " + std::to_string(method) + " is not recomputed by the importer (recomputed: 0 Default, 1 Renormalize, "
                              "4 RenormalizeNaive, 5 TopK, 6 SigmoidRenorm, 8 Sigmoid, 9 TopKSigmoid); use the routed entry point's dump");
    for (std::int64_t k = 0; k < K; ++k) {
      ids[static_cast<std::size_t>(t * K + k)] = idx[static_cast<std::size_t>(k)];
      w[static_cast<std::size_t>(t * K + k)] = static_cast<float>(top[static_cast<std::size_t>(k)]);
    }
  }
}

void recompute_routing_ds(const std::vector<double>& logits, const std::vector<double>& bias, std::int64_t T, std::int64_t E,
                          std::int64_t K, std::int64_t n_group, std::int64_t topk_group, double routed_scaling_factor,
                          const std::string& where, std::vector<std::int32_t>& ids, std::vector<float>& w) {
  if (n_group <= 0 || E % n_group != 0 || topk_group <= 0 || topk_group > n_group || E / n_group < 2 || K > topk_group * (E / n_group))
    throw InputError(where, "DeepSeekV3 routing needs n_group dividing num_experts (>= 2 experts a group), 1 <= topk_group <= n_group and "
                            "top_k <= topk_group * experts per group (n_group " + std::to_string(n_group) + ", topk_group " +
                            std::to_string(topk_group) + ", num_experts " + std::to_string(E) + ", top_k " + std::to_string(K) + ")");
  if (static_cast<std::int64_t>(bias.size()) != E) throw InputError(where, "DeepSeekV3 routing needs a routing_bias of num_experts values");
  const std::int64_t gs = E / n_group;
  ids.assign(static_cast<std::size_t>(T * K), 0);
  w.assign(static_cast<std::size_t>(T * K), 0.f);
  std::vector<double> s(static_cast<std::size_t>(E)), b(s.size()), gscore(static_cast<std::size_t>(n_group));
  std::vector<std::int32_t> gidx(static_cast<std::size_t>(n_group)), idx;
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t e = 0; e < E; ++e) {
      const auto i = static_cast<std::size_t>(e);
      s[i] = 1.0 / (1.0 + std::exp(-logits[static_cast<std::size_t>(t * E + e)]));
      b[i] = s[i] + bias[i];
    }
    for (std::int64_t g = 0; g < n_group; ++g) {
      double m1 = -INFINITY, m2 = -INFINITY;
      for (std::int64_t e = g * gs; e < (g + 1) * gs; ++e) {
        const double v = b[static_cast<std::size_t>(e)];
        if (v > m1) m2 = m1, m1 = v;
        else if (v > m2) m2 = v;
      }
      gscore[static_cast<std::size_t>(g)] = m1 + m2;
    }
    std::iota(gidx.begin(), gidx.end(), 0);
    std::stable_sort(gidx.begin(), gidx.end(), [&](std::int32_t x, std::int32_t y) { return gscore[static_cast<std::size_t>(x)] > gscore[static_cast<std::size_t>(y)]; });
    idx.clear();
    std::vector<std::int32_t> kept(gidx.begin(), gidx.begin() + topk_group);
    std::sort(kept.begin(), kept.end());
    for (auto g : kept)
      for (std::int64_t e = g * gs; e < (g + 1) * gs; ++e) idx.push_back(static_cast<std::int32_t>(e));
    std::stable_sort(idx.begin(), idx.end(), [&](std::int32_t x, std::int32_t y) { return b[static_cast<std::size_t>(x)] > b[static_cast<std::size_t>(y)]; });
    double sum = 0;
    for (std::int64_t k = 0; k < K; ++k) sum += s[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])];
    for (std::int64_t k = 0; k < K; ++k) {
      const auto e = idx[static_cast<std::size_t>(k)];
      ids[static_cast<std::size_t>(t * K + k)] = e;
      w[static_cast<std::size_t>(t * K + k)] = static_cast<float>(s[static_cast<std::size_t>(e)] / (sum + 1e-20) * routed_scaling_factor);
    }
  }
}

std::vector<double> as_doubles(const std::vector<std::uint8_t>& b, const std::string& dt, const std::string& where) {
  std::vector<double> v;
  if (dt == "F32") {
    v.resize(b.size() / 4);
    for (std::size_t i = 0; i < v.size(); ++i) {
      float f;
      std::memcpy(&f, b.data() + 4 * i, 4);
      v[i] = f;
    }
  } else if (dt == "BF16") {
    v.resize(b.size() / 2);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = bf16_bits_to_f32(static_cast<std::uint16_t>(b[2 * i] | (b[2 * i + 1] << 8)));
  } else {
    throw InputError(where, "dtype " + dt + ", expected F32 or BF16");
  }
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) throw InputError(where, "non-finite value at flat index " + std::to_string(i));
  return v;
}

void w31_rows_to_w13(std::vector<std::uint8_t>& rows) {
  const std::size_t half = rows.size() / 2;
  std::rotate(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(half), rows.end());
}

}  // namespace moesim::traces::import
