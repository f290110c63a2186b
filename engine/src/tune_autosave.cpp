// Autosave container (see tune_autosave.h): a minimal safetensors writer/reader for F32 tensors
// plus the run record as JSON.
#include "tune_autosave.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "read_file.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"

namespace rwkv {
namespace {

using json = nlohmann::json;
constexpr const char* kFormat = "rwkv-tune-autosave";

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double num_or(const json& j, double fallback) { return j.is_number() ? j.get<double>() : fallback; }

void put_group(std::vector<std::pair<std::string, torch::Tensor>>& out, const char* prefix,
               const std::vector<torch::Tensor>& ts) {
  for (size_t l = 0; l < ts.size(); ++l)
    out.emplace_back(prefix + std::to_string(l), ts[l].detach().to(torch::kCPU, torch::kFloat32).contiguous());
}

std::string encode(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::string& run) {
  json header = json::object();
  header["__metadata__"] = {{"format", kFormat}, {"version", "1"}, {"run", run}};
  uint64_t off = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t n = static_cast<uint64_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  std::string bytes(8, '\0');
  const uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((hl >> (8 * i)) & 0xff);
  bytes += h;
  for (const auto& nt : tensors) bytes.append(static_cast<const char*>(nt.second.data_ptr()), nt.second.numel() * 4);
  return bytes;
}

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::Format, "autosave " + path + ": " + what);
}

}  // namespace

std::string TuneHistory::to_json() const {
  json s = json::array(), e = json::array();
  for (const auto& r : steps)
    s.push_back({{"step", r.step}, {"epoch", r.epoch}, {"loss", num_or_null(r.loss)}, {"lr", r.lr},
                 {"grad_norm", num_or_null(r.grad_norm)}, {"skipped", r.skipped}});
  for (const auto& r : evals) e.push_back({{"step", r.step}, {"loss", num_or_null(r.loss)}});
  return json{{"steps", s}, {"evals", e}}.dump();
}

TuneHistory TuneHistory::from_json(const std::string& text, const std::string& where) {
  TuneHistory h;
  try {
    const auto j = json::parse(text);
    for (const auto& r : j.at("steps"))
      h.steps.push_back({r.at("step").get<int>(), r.at("epoch").get<int>(), num_or(r.at("loss"), NAN),
                         r.at("lr").get<double>(), num_or(r.at("grad_norm"), NAN), r.at("skipped").get<bool>()});
    for (const auto& r : j.at("evals")) h.evals.push_back({r.at("step").get<int>(), num_or(r.at("loss"), NAN)});
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Format, where + ": metric history is not valid: " + e.what());
  }
  return h;
}

void write_autosave(const std::string& path, const AutosaveData& a) {
  json run = {{"config", json::parse(a.config.to_json())},
              {"model_sha256", a.model_sha256},
              {"data_sha256", a.data_sha256},
              {"step", a.step},
              {"adam_t", a.adam_t},
              {"lr_mult", a.lr_mult},
              {"skipped_steps", a.skipped_steps},
              {"best_step", a.best_step},
              {"best_eval_loss", num_or_null(a.best_eval_loss)},
              {"first_eval_loss", num_or_null(a.first_eval_loss)},
              {"evals_since_best", a.evals_since_best},
              {"finished", a.finished},
              {"early_stopped", a.early_stopped},
              {"eval_pending", a.eval_pending},
              {"n_layer", a.s0.size()},
              {"history", json::parse(a.history.to_json())}};
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  put_group(tensors, "s0.", a.s0);
  put_group(tensors, "adam_m.", a.adam_m);
  put_group(tensors, "adam_v.", a.adam_v);
  put_group(tensors, "best_s0.", a.best_s0);
  for (const auto& [name, t] : a.extra) tensors.emplace_back("x." + name, t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  atomic_write_file(path, encode(tensors, run.dump()));
}

AutosaveData read_autosave(const std::string& path) {
  const std::string bytes = read_file(path, "an autosave");
  if (bytes.size() < 8) corrupt(path, "file is " + std::to_string(bytes.size()) + " bytes, too short for safetensors");
  uint64_t hl = 0;
  for (int i = 0; i < 8; ++i) hl |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  if (hl > bytes.size() - 8) corrupt(path, "header length " + std::to_string(hl) + " exceeds the file size");
  json header;
  try {
    header = json::parse(bytes.substr(8, hl));
  } catch (const json::exception& e) {
    corrupt(path, std::string("header is not JSON: ") + e.what());
  }
  const auto meta = header.find("__metadata__");
  if (meta == header.end() || !meta->is_object() || meta->value("format", "") != kFormat)
    corrupt(path, "not an rwkv-tune autosave (__metadata__.format is not \"" + std::string(kFormat) + "\")");
  const size_t data0 = 8 + hl;
  auto tensor = [&](const std::string& key) -> torch::Tensor {
    const auto it = header.find(key);
    if (it == header.end()) return {};
    try {
      if (it->at("dtype") != "F32") corrupt(path, key + ": dtype " + it->at("dtype").dump() + ", expected \"F32\"");
      const auto shape = it->at("shape").get<std::vector<int64_t>>();
      const auto offs = it->at("data_offsets").get<std::vector<uint64_t>>();
      int64_t n = 1;
      for (auto s : shape) n *= s;
      if (offs.size() != 2 || offs[1] < offs[0] || offs[1] - offs[0] != static_cast<uint64_t>(n) * 4 ||
          data0 + offs[1] > bytes.size())
        corrupt(path, key + ": data_offsets do not match shape or file size");
      auto t = torch::empty(shape, torch::kFloat32);
      std::memcpy(t.data_ptr(), bytes.data() + data0 + offs[0], n * 4);
      return t;
    } catch (const json::exception& e) {
      corrupt(path, key + ": " + e.what());
    }
  };
  AutosaveData a;
  try {
    const auto run = json::parse(meta->at("run").get<std::string>());
    a.config = TuneConfig::from_json(run.at("config").dump());
    a.model_sha256 = run.at("model_sha256").get<std::string>();
    a.data_sha256 = run.at("data_sha256").get<std::string>();
    a.step = run.at("step").get<int>();
    a.adam_t = run.at("adam_t").get<int64_t>();
    a.lr_mult = run.at("lr_mult").get<double>();
    a.skipped_steps = run.at("skipped_steps").get<int>();
    a.best_step = run.at("best_step").get<int>();
    a.best_eval_loss = num_or(run.at("best_eval_loss"), INFINITY);
    a.first_eval_loss = num_or(run.at("first_eval_loss"), NAN);
    a.evals_since_best = run.at("evals_since_best").get<int>();
    a.finished = run.at("finished").get<bool>();
    a.early_stopped = run.at("early_stopped").get<bool>();
    a.eval_pending = run.at("eval_pending").get<bool>();
    a.history = TuneHistory::from_json(run.at("history").dump(), "autosave " + path);
    const int L = run.at("n_layer").get<int>();
    for (int l = 0; l < L; ++l) {
      const auto key = std::to_string(l);
      auto s = tensor("s0." + key), m = tensor("adam_m." + key), v = tensor("adam_v." + key);
      if (!s.defined() || !m.defined() || !v.defined()) corrupt(path, "missing tensors of layer " + key);
      a.s0.push_back(s);
      a.adam_m.push_back(m);
      a.adam_v.push_back(v);
      if (auto b = tensor("best_s0." + key); b.defined()) a.best_s0.push_back(b);
    }
    if (!a.best_s0.empty() && a.best_s0.size() != a.s0.size()) corrupt(path, "best_s0 has missing layers");
    for (auto it = header.begin(); it != header.end(); ++it)
      if (it.key().rfind("x.", 0) == 0) a.extra[it.key().substr(2)] = tensor(it.key());
  } catch (const json::exception& e) {
    corrupt(path, std::string("run record: ") + e.what());
  }
  return a;
}

void check_resume_compatible(const TuneConfig& saved, const TuneConfig& given) {
  const auto a = json::parse(saved.to_json()), b = json::parse(given.to_json());
  static const char* kFree[] = {"model", "tokenizer", "data", "out", "init_state", "resume", "autosave",
                                "device", "autosave_every", "snapshot_every", "snapshot_heads", "snapshot_size"};
  for (auto it = a.begin(); it != a.end(); ++it) {
    bool free = false;
    for (const char* k : kFree) free = free || it.key() == k;
    if (free || b.value(it.key(), json()) == it.value()) continue;
    throw Error(ErrorKind::Mismatch, "resume: " + it.key() + " differs from the autosave (saved " + it.value().dump() +
                                         ", given " + b.value(it.key(), json()).dump() +
                                         "); resume with the saved settings or start a new run");
  }
}

}  // namespace rwkv
