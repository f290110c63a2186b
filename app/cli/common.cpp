#include "common.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/state_file.h"

namespace cli {

namespace fs = std::filesystem;

void add_model_options(ArgParser& a) {
  a.required("model", "FILE", "checkpoint: .pth, .safetensors or rwkv.cpp .bin");
  a.option("device", "DEV", "cpu, cuda or cuda:N", "cpu");
}

std::shared_ptr<const rwkv::Model> load_model(const ArgParser& a) {
  rwkv::LoadOptions opt;
  opt.device = a.str("device");
  if (opt.device != "cpu" && opt.device.rfind("cuda", 0) != 0)
    a.fail("--device: expected cpu, cuda or cuda:N, got '" + opt.device + "'");
  opt.compute_bf16 = opt.device != "cpu";  // bf16 matmuls on the GPU, as the tuner runs them there
  return rwkv::Model::load(a.str("model"), opt);
}

static std::vector<fs::path> tokenizer_candidates(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    const bool sp = it->path().extension() == ".model";
    const bool world = name.rfind("rwkv_vocab", 0) == 0 && it->path().extension() == ".txt";
    if (sp || world) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::unique_ptr<rwkv::Tokenizer> resolve_tokenizer(const std::string& spec, const rwkv::ModelInfo& model) {
  const int V = model.dims.n_vocab;
  std::unique_ptr<rwkv::Tokenizer> tok;
  if (!spec.empty()) {
    tok = rwkv::load_tokenizer(spec);
  } else if (V == 256) {
    tok = rwkv::make_byte_tokenizer();
  } else {
    fs::path dir = fs::path(model.path).parent_path();
    if (dir.empty()) dir = ".";
    const auto found = tokenizer_candidates(dir);
    if (found.empty())
      throw rwkv::Error(rwkv::ErrorKind::Argument,
                        "no tokenizer for " + model.path + " (vocabulary " + std::to_string(V) +
                            "): no *.model or rwkv_vocab*.txt in " + dir.string() +
                            "; pass --tokenizer FILE (a World vocab .txt, a sentencepiece .model, or 'bytes')");
    if (found.size() > 1) {
      std::string list;
      for (const auto& p : found) list += (list.empty() ? "" : ", ") + p.string();
      throw rwkv::Error(rwkv::ErrorKind::Argument, "several tokenizers beside " + model.path + " (" + list +
                                                       "); choose one with --tokenizer FILE");
    }
    tok = rwkv::load_tokenizer(found.front().string());
  }
  if (tok->vocab_size() > V)
    throw rwkv::Error(rwkv::ErrorKind::Mismatch, "tokenizer '" + tok->name() + "' has " +
                                                     std::to_string(tok->vocab_size()) + " ids but the model " +
                                                     model.path + " has a vocabulary of " + std::to_string(V));
  return tok;
}

std::string apply_state_file(rwkv::Context& ctx, const std::string& path) {
  const rwkv::StateFile state = rwkv::load_state(path);
  const std::string warning = rwkv::check_state_matches(state, ctx.model().info());
  ctx.set_initial_state(state.s0);
  return warning;
}

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

}  // namespace cli
