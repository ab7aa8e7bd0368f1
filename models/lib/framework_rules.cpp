#include "models/lib/framework_rules.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

class Loader {
 public:
  explicit Loader(Framework& fw) : fw_(fw) {}

  RevRange range(const Node& n) const {
    RevRange r;
    if (auto s = n.find("since")) {
      r.since_name = s->as_string();
      r.since = rev_index(*s);
    }
    if (auto u = n.find("until")) {
      r.until_name = u->as_string();
      r.until = rev_index(*u);
      if (r.until <= r.since) u->fail("'until' (" + r.until_name + ") must come after 'since'");
    }
    return r;
  }

  int rev_index(const Node& n) const {
    std::string name = n.as_string();
    int i = fw_.find_revision(name);
    if (i < 0) n.fail("unknown revision '" + name + "'");
    return i;
  }

  Expr expr(const Node& n) const {
    if (!n.is_object() || n.size() != 1) n.fail("a predicate must be an object with exactly one operator key");
    // Named copies, not a structured binding: C++20 lambdas cannot capture bindings under clang 14.
    const auto members = n.members();
    const std::string op = members.front().first;
    const Node& arg = members.front().second;
    Expr e;
    e.op = op;
    e.where = n.where();
    auto name_values = [&](const char* key) {
      e.name = arg.at(key).as_string();
      e.strs = arg.at("values").as_string_vector();
    };
    if (op == "all" || op == "any") {
      for (const auto& c : arg.items()) e.children.push_back(expr(c));
      if (e.children.empty()) arg.fail("'" + op + "' needs at least one predicate");
    } else if (op == "not") {
      e.children.push_back(expr(arg));
    } else if (op == "always" || op == "flashinfer_installed") {
      e.flag = arg.as_bool();
    } else if (op == "sm_in" || op == "sm_not_in" || op == "sm_family_in" || op == "sm_major_in") {
      e.ints = arg.as_int_vector();
      if (e.ints.empty()) arg.fail("empty list");
    } else if (op == "sm_ge" || op == "sm_lt") {
      e.num = arg.as_int();
    } else if (op == "platform_in" || op == "quant_in") {
      e.strs = arg.as_string_vector();
      if (op == "quant_in")
        for (std::size_t i = 0; i < e.strs.size(); ++i)
          if (!fw_.find_quant(e.strs[i]) && e.strs[i] != "*")
            arg.at(i).fail("unknown quant scheme '" + e.strs[i] + "'");
    } else if (op == "flashinfer_ge" || op == "flashinfer_lt") {
      e.version = PyVersion::parse(arg.as_string(), arg.where());
    } else if (op == "env_set" || op == "env_unset") {
      e.name = arg.as_string();
      check_env(arg);
    } else if (op == "env_in" || op == "env_not_in" || op == "env_value_in") {
      name_values("name");
      check_env(arg.at("name"));
    } else if (op == "trait_in" || op == "trait_not_in") {
      name_values("name");
      check_trait(arg.at("name"), &e.strs, arg);
    } else if (op == "trait_ge" || op == "trait_lt" || op == "trait_multiple_of") {
      e.name = arg.at("name").as_string();
      e.num = arg.at("value").as_int();
      const TraitDef* t = check_trait(arg.at("name"), nullptr, arg);
      if (t->type != "int") arg.at("name").fail("trait '" + e.name + "' is not an integer trait");
      if (op == "trait_multiple_of" && e.num <= 0) arg.at("value").fail("trait_multiple_of needs a positive value");
    } else if (op == "result_in") {
      name_values("selector");
      // "SEL" (the chosen value) or "SEL.PROPERTY" (a property of the chosen candidate; a
      // candidate without it reads as "(none)").
      auto known = [&](const std::string& id) {
        return std::any_of(fw_.selectors.begin(), fw_.selectors.end(), [&](const Selector& s) { return s.id == id; });
      };
      bool ok = known(e.name);
      for (std::size_t dot = e.name.rfind('.'); !ok && dot != std::string::npos && dot > 0;
           dot = dot ? e.name.rfind('.', dot - 1) : std::string::npos)
        ok = known(e.name.substr(0, dot));
      if (!ok)
        arg.at("selector").fail("result_in names selector '" + e.name +
                                "', which is not defined before this one");
    } else {
      n.fail("unknown predicate operator '" + op + "'");
    }
    return e;
  }

  void check_env(const Node& name_node) const {
    if (!fw_.find_env(name_node.as_string()))
      name_node.fail("env var '" + name_node.as_string() + "' is not declared under \"env\"");
  }

  const TraitDef* check_trait(const Node& name_node, const std::vector<std::string>* values, const Node& arg) const {
    std::string name = name_node.as_string();
    const TraitDef* t = fw_.find_trait(name);
    if (!t) name_node.fail("unknown trait '" + name + "'");
    if (values && t->type == "enum")
      for (const auto& v : *values)
        if (std::find(t->values.begin(), t->values.end(), v) == t->values.end())
          arg.fail("trait '" + name + "' has no value '" + v + "' (allowed: " + join(t->values) + ")");
    return t;
  }

  PredRule pred(const Node& n) const {
    PredRule p;
    p.id = n.at("id").as_string();
    p.text = n.at("text").as_string();
    p.source = n.get_string("source", "");
    p.range = range(n);
    p.expr = expr(n.at("test"));
    return p;
  }

  Property property(const Node& n) const {
    Property p;
    p.name = n.at("name").as_string();
    p.value = n.get_string("value", "");
    p.compute = n.get_string("compute", "");
    if (p.value.empty() == p.compute.empty()) n.fail("a property needs exactly one of 'value' and 'compute'");
    p.source = n.get_string("source", "");
    p.range = range(n);
    if (auto w = n.find("when")) p.when = expr(*w);
    return p;
  }

  void need_candidate(const Selector& s, const Node& n) const {
    std::string c = n.as_string();
    if (!s.candidates.count(c)) n.fail("selector '" + s.id + "' has no candidate '" + c + "'");
  }

  Selector selector(const Node& n) const {
    Selector s;
    s.id = n.at("id").as_string();
    s.title = n.at("title").as_string();
    s.source = n.get_string("source", "");
    s.range = range(n);
    s.unmodelled_message = n.get_string("unmodelled_message", "");
    s.primary = n.get_bool("primary", false);
    if (auto a = n.find("applies_when")) s.applies_when = expr(*a);
    for (const auto& [cid, cn] : n.at("candidates").members()) {
      Candidate c;
      c.id = cid;
      c.backend = cn.at("backend").as_string();
      c.title = cn.get_string("title", cid);
      c.source = cn.get_string("source", "");
      c.range = range(cn);
      if (auto r = cn.find("requires"))
        for (const auto& p : r->items()) c.requires_.push_back(pred(p));
      if (auto pr = cn.find("properties"))
        for (const auto& p : pr->items()) c.properties.push_back(property(p));
      if (s.candidates.count(cid)) cn.fail("duplicate candidate '" + cid + "'");
      s.candidates.emplace(cid, std::move(c));
    }
    for (const auto& on : n.at("order").items()) {
      OrderEntry e;
      if (on.is_string()) {
        need_candidate(s, on);
        e.candidate = on.as_string();
      } else {
        need_candidate(s, on.at("candidate"));
        e.candidate = on.at("candidate").as_string();
        e.range = range(on);
      }
      s.order.push_back(e);
    }
    if (auto lo = n.find("list_ops"))
      for (const auto& ln : lo->items()) {
        ListOp op;
        op.when = pred(ln);
        op.op = ln.at("op").as_string();
        static const std::set<std::string> kOps{"remove", "keep_only", "move_to_back", "move_to_front"};
        if (!kOps.count(op.op)) ln.at("op").fail("unknown list op '" + op.op + "' (known: remove, keep_only, move_to_back, move_to_front)");
        for (const auto& c : ln.at("candidates").items()) {
          need_candidate(s, c);
          op.candidates.push_back(c.as_string());
        }
        s.list_ops.push_back(std::move(op));
      }
    if (auto ov = n.find("overrides"))
      for (const auto& on : ov->items()) {
        Override o;
        o.when = pred(on);
        o.action = on.at("action").as_string();
        o.message = on.get_string("message", "");
        if (o.action == "walk") {
          for (const auto& c : on.at("candidates").items()) {
            need_candidate(s, c);
            o.candidates.push_back(c.as_string());
          }
        } else if (o.action == "walk_trait") {
          o.trait = on.at("trait").as_string();
          check_trait(on.at("trait"), nullptr, on);
          for (const auto& [k, v] : on.at("map").members()) {
            need_candidate(s, v);
            o.map[k] = v.as_string();
          }
        } else if (o.action == "error") {
          if (o.message.empty()) on.fail("an 'error' override needs a 'message'");
        } else {
          on.at("action").fail("unknown override action '" + o.action + "' (known: walk, walk_trait, error)");
        }
        s.overrides.push_back(std::move(o));
      }
    auto ex = n.at("exhausted");
    s.exhausted_action = ex.at("action").as_string();
    if (s.exhausted_action == "error") {
      s.exhausted_message = ex.at("message").as_string();
    } else if (s.exhausted_action == "value") {
      s.exhausted_value = ex.at("value").as_string();
    } else {
      ex.at("action").fail("unknown exhausted action '" + s.exhausted_action + "' (known: error, value)");
    }
    return s;
  }

  void load(const Node& root) {
    fw_.name = root.at("framework").as_string();
    fw_.repository = root.get_string("repository", "");
    std::set<std::string> names;
    for (const auto& rn : root.at("revisions").items()) {
      Revision r;
      r.id = rn.at("id").as_string();
      if (auto a = rn.find("aliases")) r.aliases = a->as_string_vector();
      r.commit = rn.get_string("commit", "");
      r.date = rn.get_string("date", "");
      r.title = rn.at("title").as_string();
      r.flashinfer_pin = rn.get_string("flashinfer_pin", "");
      if (!r.flashinfer_pin.empty()) PyVersion::parse(r.flashinfer_pin, rn.at("flashinfer_pin").where());
      r.note = rn.get_string("note", "");
      for (const auto& nm : [&] { auto v = r.aliases; v.push_back(r.id); return v; }())
        if (!names.insert(nm).second) rn.fail("revision name '" + nm + "' is used twice");
      fw_.revisions.push_back(std::move(r));
    }
    if (fw_.revisions.empty()) root.at("revisions").fail("no revisions");
    for (const auto& qn : root.at("quant_schemes").items()) {
      QuantScheme q;
      q.id = qn.at("id").as_string();
      if (auto a = qn.find("aliases")) q.aliases = a->as_string_vector();
      q.text = qn.get_string("text", "");
      fw_.quants.push_back(std::move(q));
    }
    for (const auto& tn : root.at("traits").items()) {
      TraitDef t;
      t.name = tn.at("name").as_string();
      t.type = tn.at("type").as_string();
      t.dflt = tn.at("default").as_string();
      t.text = tn.get_string("text", "");
      if (t.type == "enum") {
        t.values = tn.at("values").as_string_vector();
        if (std::find(t.values.begin(), t.values.end(), t.dflt) == t.values.end())
          tn.at("default").fail("default '" + t.dflt + "' is not among the values");
      } else if (t.type == "int") {
        try {
          std::size_t pos = 0;
          (void)std::stoll(t.dflt, &pos);
          if (pos != t.dflt.size()) throw std::invalid_argument("x");
        } catch (const std::exception&) {
          tn.at("default").fail("default must be an integer written as a string");
        }
      } else if (t.type == "bool") {
        if (t.dflt != "0" && t.dflt != "1") tn.at("default").fail("bool default must be \"0\" or \"1\"");
      } else {
        tn.at("type").fail("unknown trait type '" + t.type + "' (known: enum, int, bool)");
      }
      fw_.traits.push_back(std::move(t));
    }
    if (auto ev = root.find("env")) {
      for (const auto& en : ev->items()) {
        EnvDef e;
        e.name = en.at("name").as_string();
        e.type = en.at("type").as_string();
        e.dflt = en.get_string("default", "");
        e.range = range(en);
        e.source = en.at("source").as_string();
        e.text = en.get_string("text", "");
        if (e.type == "choices") {
          e.choices = en.at("choices").as_string_vector();
          if (!e.dflt.empty() && std::find(e.choices.begin(), e.choices.end(), e.dflt) == e.choices.end())
            en.at("default").fail("default '" + e.dflt + "' is not among the choices");
        } else if (e.type != "int_bool" && e.type != "bool_str" && e.type != "str_true") {
          en.at("type").fail("unknown env type '" + e.type + "' (known: int_bool, choices, bool_str, str_true)");
        }
        fw_.envs.push_back(std::move(e));
      }
    }
    if (auto tg = root.find("tags")) {
      for (const auto& tn : tg->items()) {
        TagDef t;
        t.tag = tn.at("tag").as_string();
        t.date = tn.get_string("date", "");
        t.commit = tn.get_string("commit", "");
        t.branch_point = tn.get_string("branch_point", "");
        t.revision = tn.get_string("revision", "");
        t.unresolved = tn.get_string("unresolved", "");
        t.derivation = tn.get_string("derivation", "");
        t.source = tn.at("source").as_string();
        if (!t.revision.empty()) (void)rev_index(tn.at("revision"));
        else if (t.unresolved.empty()) tn.fail("a tag without 'revision' must say why ('unresolved')");
        if (fw_.find_revision(t.tag) >= 0) tn.at("tag").fail("tag '" + t.tag + "' is also a revision name");
        fw_.tags.push_back(std::move(t));
      }
    }
    fw_.history_file = root.get_string("history_file", "");
    fw_.history_note = root.get_string("history_note", "");
    for (const auto& sn : root.at("selectors").items()) fw_.selectors.push_back(selector(sn));
    if (std::none_of(fw_.selectors.begin(), fw_.selectors.end(), [](const Selector& s) { return s.primary; }))
      root.at("selectors").fail("no selector is marked \"primary\": true");
    for (std::size_t i = 0; i < fw_.selectors.size(); ++i)
      for (const auto& [cid, c] : fw_.selectors[i].candidates)
        for (const auto& p : c.properties)
          if (p.compute == "trtllm_nvfp4_chunk_size" && (!fw_.find_trait("num_experts") || !fw_.find_trait("top_k")))
            root.at("selectors").at(i).fail("candidate '" + cid + "' computes trtllm_nvfp4_chunk_size, which needs int traits num_experts and top_k");
  }

 private:
  Framework& fw_;
};

}  // namespace

int Framework::find_revision(const std::string& name) const {
  for (std::size_t i = 0; i < revisions.size(); ++i) {
    if (revisions[i].id == name) return static_cast<int>(i);
    for (const auto& a : revisions[i].aliases)
      if (a == name) return static_cast<int>(i);
  }
  return -1;
}

const QuantScheme* Framework::find_quant(const std::string& name) const {
  for (const auto& q : quants) {
    if (q.id == name) return &q;
    for (const auto& a : q.aliases)
      if (a == name) return &q;
  }
  return nullptr;
}

const EnvDef* Framework::find_env(const std::string& name) const {
  for (const auto& e : envs)
    if (e.name == name) return &e;
  return nullptr;
}

const TraitDef* Framework::find_trait(const std::string& name) const {
  for (const auto& t : traits)
    if (t.name == name) return &t;
  return nullptr;
}

Framework load_framework(const std::string& path) {
  Document doc = Document::load(path);
  Framework fw;
  fw.file = path;
  Loader(fw).load(doc.root());
  return fw;
}

std::vector<std::string> known_frameworks(const std::string& models_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(models_dir + "/frameworks", ec)) {
    auto p = e.path();
    if (p.extension() == ".json" && p.stem() != "device_aliases") out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Framework load_framework_by_name(const std::string& models_dir, const std::string& name) {
  auto known = known_frameworks(models_dir);
  if (std::find(known.begin(), known.end(), name) == known.end())
    throw InputError("framework '" + name + "'",
                     "unknown framework (known: " + (known.empty() ? std::string("none found in ") + models_dir + "/frameworks" : join(known)) + ")");
  return load_framework(models_dir + "/frameworks/" + name + ".json");
}

}  // namespace moesim::models
