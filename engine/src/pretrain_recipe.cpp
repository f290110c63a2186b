// PretrainRecipe: JSON round trip (unknown keys refused, so a typo cannot silently change a
// recipe), validation, and loading from a file with paths relative to the file's folder.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rwkv/error.h"
#include "rwkv/pretrain.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& what) { throw Error(ErrorKind::Argument, "pretrain recipe: " + what); }

}  // namespace

std::string PretrainRecipe::to_json() const {
  json j;
  j["name"] = name;
  j["n_layer"] = dims.n_layer;
  j["n_embd"] = dims.n_embd;
  j["head_size"] = dims.head_size;
  j["n_vocab"] = dims.n_vocab;
  j["dim_ffn"] = dims.dim_ffn;
  j["corpus"] = corpus;
  j["corpus_sha256"] = corpus_sha256;
  j["eval_data"] = eval_data;
  j["tokenizer"] = tokenizer;
  j["ctx_len"] = ctx_len;
  j["micro_bsz"] = micro_bsz;
  j["steps"] = steps;
  j["lr"] = lr;
  j["lr_final"] = lr_final;
  j["warmup_steps"] = warmup_steps;
  j["weight_decay"] = weight_decay;
  j["grad_clip"] = grad_clip;
  j["beta1"] = beta1;
  j["beta2"] = beta2;
  j["adam_eps"] = adam_eps;
  j["seed"] = seed;
  j["eval_every"] = eval_every;
  return j.dump(2);
}

PretrainRecipe PretrainRecipe::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    bad(std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) bad("expected a JSON object");
  PretrainRecipe r;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    try {
      if (k == "name") r.name = v.get<std::string>();
      else if (k == "n_layer") r.dims.n_layer = v.get<int>();
      else if (k == "n_embd") r.dims.n_embd = v.get<int>();
      else if (k == "head_size") r.dims.head_size = v.get<int>();
      else if (k == "n_vocab") r.dims.n_vocab = v.get<int>();
      else if (k == "dim_ffn") r.dims.dim_ffn = v.get<int>();
      else if (k == "corpus") r.corpus = v.get<std::string>();
      else if (k == "corpus_sha256") r.corpus_sha256 = v.get<std::string>();
      else if (k == "eval_data") r.eval_data = v.get<std::string>();
      else if (k == "tokenizer") r.tokenizer = v.get<std::string>();
      else if (k == "ctx_len") r.ctx_len = v.get<int>();
      else if (k == "micro_bsz") r.micro_bsz = v.get<int>();
      else if (k == "steps") r.steps = v.get<int>();
      else if (k == "lr") r.lr = v.get<double>();
      else if (k == "lr_final") r.lr_final = v.get<double>();
      else if (k == "warmup_steps") r.warmup_steps = v.get<int>();
      else if (k == "weight_decay") r.weight_decay = v.get<double>();
      else if (k == "grad_clip") r.grad_clip = v.get<double>();
      else if (k == "beta1") r.beta1 = v.get<double>();
      else if (k == "beta2") r.beta2 = v.get<double>();
      else if (k == "adam_eps") r.adam_eps = v.get<double>();
      else if (k == "seed") r.seed = v.get<uint64_t>();
      else if (k == "eval_every") r.eval_every = v.get<int>();
      else bad("unknown key '" + k + "'");
    } catch (const json::exception& e) {
      bad("key '" + k + "' has the wrong type: " + e.what());
    }
  }
  r.validate();
  return r;
}

void PretrainRecipe::validate() const {
  if (dims.n_layer < 1) bad("n_layer must be >= 1");
  if (dims.head_size < 1 || dims.n_embd < dims.head_size || dims.n_embd % dims.head_size)
    bad("n_embd (" + std::to_string(dims.n_embd) + ") must be a positive multiple of head_size (" +
        std::to_string(dims.head_size) + ")");
  if (corpus.empty()) bad("corpus is required");
  if (ctx_len < 2) bad("ctx_len must be >= 2");
  if (micro_bsz < 1) bad("micro_bsz must be >= 1");
  if (steps < 1) bad("steps must be >= 1");
  if (!(lr > 0) || !(lr_final >= 0)) bad("lr must be > 0 and lr_final >= 0");
  if (warmup_steps < 0 || eval_every < 0) bad("warmup_steps and eval_every must be >= 0");
}

PretrainRecipe PretrainRecipe::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorKind::Io, "cannot read pretrain recipe " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  PretrainRecipe r;
  try {
    r = from_json(ss.str());
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
  const auto dir = std::filesystem::path(path).parent_path();
  auto rel = [&](std::string& p) {
    if (!p.empty() && std::filesystem::path(p).is_relative()) p = (dir / p).lexically_normal().string();
  };
  rel(r.corpus);
  rel(r.eval_data);
  if (r.tokenizer != "bytes") rel(r.tokenizer);
  return r;
}

}  // namespace rwkv
