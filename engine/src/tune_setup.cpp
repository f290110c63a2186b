// load_tune_inputs and the tokenizer auto-detection (see tune_setup.h).
#include "tune_setup.h"

#include <filesystem>

#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "sha256.h"

namespace rwkv {
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> resolve_tune_tokenizer(const std::string& spec, const ModelInfo& model) {
  std::unique_ptr<Tokenizer> tok;
  if (!spec.empty()) {
    tok = load_tokenizer(spec);
  } else if (model.dims.n_vocab == 256) {
    tok = make_byte_tokenizer();
  } else {
    const fs::path dir = fs::path(model.path).parent_path().empty() ? fs::path(".") : fs::path(model.path).parent_path();
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() == ".model" || (name.rfind("rwkv_vocab", 0) == 0 && e.path().extension() == ".txt"))
        found.push_back(e.path());
    }
    if (found.size() != 1)
      throw Error(ErrorKind::Argument,
                  "tokenizer: " + std::string(found.empty() ? "no" : "more than one") +
                      " tokenizer (*.model or rwkv_vocab*.txt) next to the model in " + dir.string() +
                      " and the model has " + std::to_string(model.dims.n_vocab) +
                      " tokens (not 256, so not bytes); pass tokenizer (--tokenizer) explicitly");
    tok = load_tokenizer(found[0].string());
  }
  if (tok->vocab_size() > model.dims.n_vocab)
    throw Error(ErrorKind::Mismatch, "tokenizer " + tok->name() + " has " + std::to_string(tok->vocab_size()) +
                                         " tokens, the model " + model.path + " only " +
                                         std::to_string(model.dims.n_vocab));
  return tok;
}

namespace {

bool has_target(const Sample& s) {
  for (size_t t = 1; t < s.target.size(); ++t)
    if (s.target[t]) return true;
  return false;
}

void keep_with_targets(std::vector<Sample>& v, std::vector<std::string>& issues) {
  std::vector<Sample> kept;
  for (auto& s : v) {
    if (has_target(s))
      kept.push_back(std::move(s));
    else
      issues.push_back("line " + std::to_string(s.line) + ": no target tokens within ctx_len (the answer was cut off)");
  }
  v = std::move(kept);
}

std::string fingerprint(const std::vector<Sample>& train, const std::vector<Sample>& eval) {
  Sha256 h;
  for (const auto* part : {&train, &eval}) {
    const uint64_t n = part->size();
    h.update(&n, sizeof n);
    for (const auto& s : *part) {
      const uint64_t len = s.tokens.size();
      h.update(&len, sizeof len);
      h.update(s.tokens.data(), s.tokens.size() * sizeof(int));
      h.update(s.target.data(), s.target.size());
    }
  }
  return h.hex_digest();
}

}  // namespace

TuneInputs load_tune_inputs(const TuneConfig& cfg) {
  TuneInputs in;
  LoadOptions lo;
  lo.device = cfg.device;
  lo.compute_bf16 = lo.device.rfind("cuda", 0) == 0;  // bf16 matmuls on the GPU; the state stays fp32
  in.model = Model::load(cfg.model, lo);
  const auto& d = in.model->dims();
  for (const auto& p : cfg.snapshot_heads)
    if (p.first >= d.n_layer || p.second >= d.n_head)
      throw Error(ErrorKind::Argument, "tune config: snapshot_heads entry (" + std::to_string(p.first) + ", " +
                                           std::to_string(p.second) + ") is outside the model (layers 0.." +
                                           std::to_string(d.n_layer - 1) + ", heads 0.." +
                                           std::to_string(d.n_head - 1) + ")");
  in.tokenizer = resolve_tune_tokenizer(cfg.tokenizer, in.model->info());

  Dataset all = load_jsonl(cfg.data, *in.tokenizer, cfg.ctx_len);
  for (const auto& is : all.issues) in.data_issues.push_back("line " + std::to_string(is.line) + ": " + is.reason);
  in.n_truncated = all.n_truncated;
  for (const auto& s : all.samples)
    for (int t : s.tokens)
      if (t < 0 || t >= d.n_vocab)
        throw Error(ErrorKind::Token, cfg.data + " line " + std::to_string(s.line) + ": token id " + std::to_string(t) +
                                          " is outside the model's vocabulary (0.." + std::to_string(d.n_vocab - 1) + ")");
  split_dataset(all, cfg.eval_fraction, cfg.seed, &in.train, &in.eval);
  keep_with_targets(in.train, in.data_issues);
  keep_with_targets(in.eval, in.data_issues);
  if (in.train.empty())
    throw Error(ErrorKind::Argument, cfg.data + ": no training samples with target tokens (" +
                                         std::to_string(all.samples.size()) + " usable samples, eval_fraction " +
                                         std::to_string(cfg.eval_fraction) + ")");
  in.data_fingerprint = fingerprint(in.train, in.eval);

  if (!cfg.init_state.empty()) {
    StateFile sf = load_state(cfg.init_state);
    const std::string warn = check_state_matches(sf, in.model->info());
    if (!warn.empty()) in.warnings.push_back("init state: " + warn);
    in.init = std::move(sf.s0);
  }
  return in;
}

}  // namespace rwkv
