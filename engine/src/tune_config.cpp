// TuneConfig: validation (messages name the field, the allowed range and the value found),
// JSON round trip (unknown keys refused) and the equivalent `rwkv-tune tune` command line.
#include "rwkv/tune_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "rwkv/error.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

// Shortest of %.15g / %.16g / %.17g that reads back as the same double.
std::string num(double v) {
  char buf[40];
  for (int prec = 15; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

[[noreturn]] void bad(const std::string& field, const std::string& expected, const std::string& found) {
  throw Error(ErrorKind::Argument, "tune config: " + field + " must be " + expected + " (found " + found + ")");
}

void need_int(const char* field, int v, int min) {
  if (v < min) bad(field, ">= " + std::to_string(min), std::to_string(v));
}

void need_range(const char* field, double v, double lo, double hi, bool lo_open, bool hi_open) {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok) {
    const std::string lb = lo_open ? "(" : "[", rb = hi_open ? ")" : "]";
    const std::string hs = std::isinf(hi) ? "inf" : num(hi);
    bad(field, "in " + lb + num(lo) + ", " + hs + rb, num(v));
  }
}

bool valid_device(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5) return false;
  for (size_t i = 5; i < d.size(); ++i)
    if (d[i] < '0' || d[i] > '9') return false;
  return true;
}

// The fields as (json key, command-line flag) pairs, in one table so JSON and the command line
// cannot drift apart. Flags are those of `rwkv-tune tune`.
struct Field {
  const char* key;
  const char* flag;
};
const Field kFields[] = {
    {"model", "--model"}, {"tokenizer", "--tokenizer"}, {"data", "--data"}, {"out", "--out"},
    {"init_state", "--init-state"}, {"resume", "--resume"}, {"autosave", "--autosave"},
    {"ctx_len", "--ctx-len"}, {"eval_fraction", "--eval-fraction"}, {"lr", "--lr"},
    {"lr_final", "--lr-final"}, {"warmup_steps", "--warmup"}, {"schedule", "--schedule"},
    {"beta1", "--beta1"}, {"beta2", "--beta2"}, {"adam_eps", "--adam-eps"},
    {"weight_decay", "--weight-decay"}, {"grad_clip", "--grad-clip"}, {"epochs", "--epochs"},
    {"max_steps", "--steps"}, {"micro_bsz", "--micro-bsz"}, {"accum", "--accum"},
    {"eval_every", "--eval-every"}, {"early_stop_patience", "--patience"}, {"seed", "--seed"},
    {"autosave_every", "--autosave-every"}, {"device", "--device"},
    {"snapshot_every", "--snapshot-every"}, {"snapshot_heads", "--snapshot-head"},
    {"snapshot_size", "--snapshot-size"}, {"method", "--method"}, {"kernel_m", "--kernel-m"},
    {"kernel_support", "--kernel-support"}, {"kernel_gamma", "--kernel-gamma"}, {"kernel_write", "--kernel-write"},
    {"kernel_lr", "--kernel-lr"}, {"dbp", "--dbp"}, {"dbp_alpha", "--dbp-alpha"}, {"dbp_lambda", "--dbp-lambda"},
    {"dbp_task_grad", "--dbp-task-grad"},
    {"dbp_lr", "--dbp-lr"}, {"dbp_eta", "--dbp-eta"}, {"recompute", "--recompute"}, {"guide", "--guide"}, {"guided", "--guided"},
    {"guide_kl_weight", "--kl-weight"}, {"guide_ce_weight", "--ce-weight"},
    {"guide_max_tokens", "--guide-max-tokens"}, {"guide_filter", "--guide-no-filter"},
    {"guide_topk", "--guide-topk"}, {"guide_k", "--guide-k"}, {"guide_points", "--guide-points"},
};

json to_json_object(const TuneConfig& c) {
  json heads = json::array();
  for (const auto& p : c.snapshot_heads) heads.push_back({p.first, p.second});
  return json{{"model", c.model}, {"tokenizer", c.tokenizer}, {"data", c.data}, {"out", c.out},
              {"init_state", c.init_state}, {"resume", c.resume}, {"autosave", c.autosave},
              {"ctx_len", c.ctx_len}, {"eval_fraction", c.eval_fraction}, {"lr", c.lr},
              {"lr_final", c.lr_final}, {"warmup_steps", c.warmup_steps}, {"schedule", c.schedule},
              {"beta1", c.beta1}, {"beta2", c.beta2}, {"adam_eps", c.adam_eps},
              {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"epochs", c.epochs},
              {"max_steps", c.max_steps}, {"micro_bsz", c.micro_bsz}, {"accum", c.accum},
              {"eval_every", c.eval_every}, {"early_stop_patience", c.early_stop_patience},
              {"seed", c.seed}, {"autosave_every", c.autosave_every}, {"device", c.device},
              {"snapshot_every", c.snapshot_every}, {"snapshot_heads", heads},
              {"snapshot_size", c.snapshot_size}, {"method", c.method}, {"kernel_m", c.kernel_m},
              {"kernel_support", c.kernel_support}, {"kernel_gamma", c.kernel_gamma},
              {"kernel_write", c.kernel_write}, {"kernel_lr", c.kernel_lr}, {"dbp", c.dbp},
              {"dbp_alpha", c.dbp_alpha}, {"dbp_lambda", c.dbp_lambda}, {"dbp_task_grad", c.dbp_task_grad}, {"dbp_lr", c.dbp_lr},
              {"dbp_eta", c.dbp_eta}, {"recompute", c.recompute}, {"guide", c.guide}, {"guided", c.guided},
              {"guide_kl_weight", c.guide_kl_weight}, {"guide_ce_weight", c.guide_ce_weight},
              {"guide_max_tokens", c.guide_max_tokens}, {"guide_filter", c.guide_filter},
              {"guide_topk", c.guide_topk}, {"guide_k", c.guide_k}, {"guide_points", c.guide_points}};
}

std::string type_name(const json& v) { return v.type_name(); }

template <typename T>
void get(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return;  // missing keys keep their defaults
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) throw std::runtime_error("");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!it->is_boolean()) throw std::runtime_error("");
    } else if constexpr (std::is_same_v<T, double>) {
      if (!it->is_number()) throw std::runtime_error("");
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      if (!it->is_number_unsigned()) throw std::runtime_error("");
    } else {
      if (!it->is_number_integer()) throw std::runtime_error("");
      const auto v = it->get<int64_t>();
      if (v < INT32_MIN || v > INT32_MAX) throw std::runtime_error("");
    }
    *out = it->get<T>();
  } catch (const std::exception&) {
    const char* want = std::is_same_v<T, std::string> ? "a string"
                       : std::is_same_v<T, bool>      ? "true or false"
                       : std::is_same_v<T, double>    ? "a number"
                       : std::is_same_v<T, uint64_t>  ? "a non-negative integer"
                                                      : "an integer";
    throw Error(ErrorKind::Argument, std::string("tune config JSON: \"") + key + "\" must be " + want + " (found " +
                                         type_name(*it) + " " + it->dump() + ")");
  }
}

}  // namespace

void TuneConfig::validate() const {
  if (model.empty()) bad("model", "a checkpoint path", "nothing");
  if (data.empty()) bad("data", "a JSON Lines file", "nothing");
  if (out.empty()) bad("out", "a state file path", "nothing");
  need_int("ctx_len", ctx_len, 2);
  need_range("eval_fraction", eval_fraction, 0.0, 0.9, false, false);
  need_range("lr", lr, 0.0, INFINITY, true, true);
  need_range("lr_final", lr_final, 0.0, INFINITY, false, true);
  need_int("warmup_steps", warmup_steps, 0);
  if (schedule != "cosine" && schedule != "linear" && schedule != "constant")
    bad("schedule", "one of cosine, linear, constant", "\"" + schedule + "\"");
  need_range("beta1", beta1, 0.0, 1.0, false, true);
  need_range("beta2", beta2, 0.0, 1.0, false, true);
  need_range("adam_eps", adam_eps, 0.0, INFINITY, true, true);
  need_range("weight_decay", weight_decay, 0.0, INFINITY, false, true);
  need_range("grad_clip", grad_clip, 0.0, INFINITY, false, true);
  need_int("epochs", epochs, 1);
  need_int("max_steps", max_steps, 0);
  need_int("micro_bsz", micro_bsz, 1);
  need_int("accum", accum, 1);
  need_int("eval_every", eval_every, 0);
  need_int("early_stop_patience", early_stop_patience, 0);
  need_int("autosave_every", autosave_every, 0);
  if (!valid_device(device)) bad("device", "cpu, cuda or cuda:N", "\"" + device + "\"");
  need_int("snapshot_every", snapshot_every, 0);
  need_int("snapshot_size", snapshot_size, 1);
  if (method != "plain" && method != "kernel") bad("method", "plain or kernel", "\"" + method + "\"");
  need_int("kernel_m", kernel_m, 1);
  if (kernel_m > 4096) bad("kernel_m", "<= 4096", std::to_string(kernel_m));
  if (kernel_support != "kmeans" && kernel_support != "random")
    bad("kernel_support", "kmeans or random", "\"" + kernel_support + "\"");
  need_range("kernel_gamma", kernel_gamma, 0.0, INFINITY, false, true);
  need_range("kernel_lr", kernel_lr, 0.0, INFINITY, false, true);
  if (dbp != "off" && dbp != "loss" && dbp != "update") bad("dbp", "off, loss or update", "\"" + dbp + "\"");
  if (dbp != "off" && method != "kernel")
    bad("dbp", "off unless method is kernel (it decorrelates the kernel features)", "\"" + dbp + "\"");
  need_range("dbp_alpha", dbp_alpha, 0.0, INFINITY, false, true);
  need_range("dbp_lambda", dbp_lambda, 0.0, INFINITY, false, true);
  need_range("dbp_lr", dbp_lr, 0.0, INFINITY, true, true);
  need_range("dbp_eta", dbp_eta, 0.0, 1.0, true, false);
  if (guided != "off" && guided != "cot" && guided != "kl" && guided != "kl_multi")
    bad("guided", "off, cot, kl or kl_multi", "\"" + guided + "\"");
  if (guided != "off" && guide.empty()) bad("guide", "a guide checkpoint when guided is " + guided, "nothing");
  if (guided == "off" && !guide.empty()) bad("guided", "cot, kl or kl_multi when a guide is given", "\"off\"");
  need_range("guide_kl_weight", guide_kl_weight, 0.0, INFINITY, false, true);
  need_range("guide_ce_weight", guide_ce_weight, 0.0, INFINITY, false, true);
  if ((guided == "kl" || guided == "kl_multi") && guide_kl_weight == 0 && guide_ce_weight == 0)
    bad("guide_kl_weight", "> 0 (or guide_ce_weight > 0): nothing would be trained", "0");
  need_int("guide_max_tokens", guide_max_tokens, 1);
  need_int("guide_topk", guide_topk, 1);
  need_int("guide_k", guide_k, 1);
  if (guide_k > 64) bad("guide_k", "<= 64", std::to_string(guide_k));
  need_int("guide_points", guide_points, 1);
  for (const auto& p : snapshot_heads)
    if (p.first < 0 || p.second < 0)
      bad("snapshot_heads", "pairs of non-negative (layer, head)",
          "(" + std::to_string(p.first) + ", " + std::to_string(p.second) + ")");
}

std::string TuneConfig::to_json() const { return to_json_object(*this).dump(1); }

TuneConfig TuneConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Argument, std::string("tune config JSON: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(ErrorKind::Argument, "tune config JSON: expected an object, found " + type_name(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const auto& f : kFields) known = known || it.key() == f.key;
    if (!known) throw Error(ErrorKind::Argument, "tune config JSON: unknown key \"" + it.key() + "\"");
  }
  TuneConfig c;
  get(j, "model", &c.model);
  get(j, "tokenizer", &c.tokenizer);
  get(j, "data", &c.data);
  get(j, "out", &c.out);
  get(j, "init_state", &c.init_state);
  get(j, "resume", &c.resume);
  get(j, "autosave", &c.autosave);
  get(j, "ctx_len", &c.ctx_len);
  get(j, "eval_fraction", &c.eval_fraction);
  get(j, "lr", &c.lr);
  get(j, "lr_final", &c.lr_final);
  get(j, "warmup_steps", &c.warmup_steps);
  get(j, "schedule", &c.schedule);
  get(j, "beta1", &c.beta1);
  get(j, "beta2", &c.beta2);
  get(j, "adam_eps", &c.adam_eps);
  get(j, "weight_decay", &c.weight_decay);
  get(j, "grad_clip", &c.grad_clip);
  get(j, "epochs", &c.epochs);
  get(j, "max_steps", &c.max_steps);
  get(j, "micro_bsz", &c.micro_bsz);
  get(j, "accum", &c.accum);
  get(j, "eval_every", &c.eval_every);
  get(j, "early_stop_patience", &c.early_stop_patience);
  get(j, "seed", &c.seed);
  get(j, "autosave_every", &c.autosave_every);
  get(j, "device", &c.device);
  get(j, "snapshot_every", &c.snapshot_every);
  get(j, "snapshot_size", &c.snapshot_size);
  get(j, "method", &c.method);
  get(j, "kernel_m", &c.kernel_m);
  get(j, "kernel_support", &c.kernel_support);
  get(j, "kernel_gamma", &c.kernel_gamma);
  get(j, "kernel_write", &c.kernel_write);
  get(j, "kernel_lr", &c.kernel_lr);
  get(j, "dbp", &c.dbp);
  get(j, "dbp_alpha", &c.dbp_alpha);
  get(j, "dbp_lambda", &c.dbp_lambda);
  get(j, "dbp_task_grad", &c.dbp_task_grad);
  get(j, "dbp_lr", &c.dbp_lr);
  get(j, "dbp_eta", &c.dbp_eta);
  get(j, "recompute", &c.recompute);
  get(j, "guide", &c.guide);
  get(j, "guided", &c.guided);
  get(j, "guide_kl_weight", &c.guide_kl_weight);
  get(j, "guide_ce_weight", &c.guide_ce_weight);
  get(j, "guide_max_tokens", &c.guide_max_tokens);
  get(j, "guide_filter", &c.guide_filter);
  get(j, "guide_topk", &c.guide_topk);
  get(j, "guide_k", &c.guide_k);
  get(j, "guide_points", &c.guide_points);
  if (auto it = j.find("snapshot_heads"); it != j.end()) {
    const auto fail = [&] {
      throw Error(ErrorKind::Argument, "tune config JSON: \"snapshot_heads\" must be a list of [layer, head] "
                                       "integer pairs (found " + it->dump() + ")");
    };
    if (!it->is_array()) fail();
    for (const auto& p : *it) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer()) fail();
      c.snapshot_heads.emplace_back(p[0].get<int>(), p[1].get<int>());
    }
  }
  return c;
}

std::vector<std::string> TuneConfig::to_command_line() const {
  // Every value that differs from the default (the paths that are set always come first).
  const TuneConfig d;
  const json mine = to_json_object(*this), def = to_json_object(d);
  std::vector<std::string> out{"rwkv-tune", "tune"};
  for (const auto& f : kFields) {
    const json& v = mine[f.key];
    if (v == def[f.key] && std::string(f.key) != "model" && std::string(f.key) != "data" &&
        std::string(f.key) != "out")
      continue;
    if (std::string(f.key) == "snapshot_heads") {
      for (const auto& p : snapshot_heads) {
        out.push_back(f.flag);
        out.push_back(std::to_string(p.first) + "," + std::to_string(p.second));
      }
      continue;
    }
    if (v.is_boolean()) {  // a flag: given when the value is not the default (--kernel-write, --guide-no-filter)
      out.push_back(f.flag);
      continue;
    }
    out.push_back(f.flag);
    if (v.is_string())
      out.push_back(v.get<std::string>());
    else if (v.is_number_float())
      out.push_back(num(v.get<double>()));
    else
      out.push_back(v.dump());
  }
  return out;
}

}  // namespace rwkv
