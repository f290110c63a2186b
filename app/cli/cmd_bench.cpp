// rwkv-tune bench: prefill, decode and state-tuning throughput, one JSON object per line, for a
// model file or for random weights with the real shapes of released RWKV-7 models.
#include <cstdio>
#include <sstream>

#include <c10/util/Exception.h>

#include "args.h"
#include "commands.h"
#include "rwkv/bench.h"
#include "rwkv/error.h"
#include "rwkv/model.h"

namespace cli {
namespace {

// Real shapes (vocab 65536, head size 64); "tiny" = the rwkv.cpp fixture's shape.
rwkv::ModelDims shape_dims(const std::string& s) {
  rwkv::ModelDims d;
  d.head_size = 64;
  d.n_vocab = 65536;
  if (s == "0.1b") { d.n_layer = 12; d.n_embd = 768; }
  else if (s == "0.4b") { d.n_layer = 24; d.n_embd = 1024; }
  else if (s == "1.5b") { d.n_layer = 24; d.n_embd = 2048; }
  else if (s == "tiny") { d.n_layer = 12; d.n_embd = 64; d.n_vocab = 256; d.d_decay = d.d_aaa = d.d_mv = d.d_gate = 32; }
  else throw rwkv::Error(rwkv::ErrorKind::Argument, "unknown --shape '" + s + "' (expected tiny, 0.1b, 0.4b, 1.5b)");
  return d;
}

std::vector<int> int_list(const ArgParser& a, const std::string& name) {
  std::vector<int> out;
  std::stringstream ss(a.str(name));
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      out.push_back(std::stoi(item));
    } catch (...) {
      a.fail("--" + name + " expects comma-separated integers, got '" + a.str(name) + "'");
    }
    if (out.back() < 1) a.fail("--" + name + " values must be >= 1");
  }
  return out;
}

std::vector<std::string> str_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

}  // namespace

int cmd_bench(const Args& args) {
  ArgParser a("bench", "measure prefill, decode and state-tuning tokens/s (JSON lines on stdout)");
  a.option("model", "FILE", "model file to measure (default: random weights of --shape)")
      .option("shape", "LIST", "random-weight shapes: tiny, 0.1b, 0.4b, 1.5b (comma list)", "tiny")
      .option("device", "DEV", "cpu or cuda", "cpu")
      .option("ctx", "LIST", "tokens per sequence for prefill and tuning (comma list)", "512")
      .option("bsz", "LIST", "sequences per batch for prefill and tuning (comma list)", "1")
      .option("what", "LIST", "prefill,decode,tune,wkv (wkv: the recurrence kernel alone)", "prefill,decode,tune")
      .option("decode-tokens", "N", "tokens generated for the decode figure", "128")
      .option("iters", "N", "timed iterations (median reported)", "5")
      .option("warmup", "N", "untimed iterations first", "2")
      .flag("recompute", "tune: re-run each layer in the backward (as `tune --recompute`): less memory, one more forward")
      .option("profile", "FILE", "tune: profile one more step and write where its time went (GPU kernels, aten ops) to FILE, "
                                 "its trace to FILE.json; one shape, ctx and bsz only");
  a.parse(args);
  rwkv::LoadOptions opt;
  opt.device = a.str("device");
  opt.compute_bf16 = opt.device.rfind("cuda", 0) == 0;
  rwkv::BenchSpec spec;
  spec.decode_tokens = int(a.integer("decode-tokens", 1, 1 << 20));
  spec.iters = int(a.integer("iters", 1, 1000));
  spec.warmup = int(a.integer("warmup", 0, 1000));
  spec.recompute = a.has("recompute");
  const auto ctxs = int_list(a, "ctx"), bszs = int_list(a, "bsz");
  const std::vector<std::string> shapes = a.has("model") ? std::vector<std::string>{a.str("model")} : str_list(a.str("shape"));
  if (a.has("profile")) {
    if (ctxs.size() * bszs.size() * shapes.size() != 1) a.fail("--profile: give one shape, one --ctx and one --bsz");
    if (a.str("what").find("tune") == std::string::npos) a.fail("--profile profiles the tuning step: add tune to --what");
    spec.profile = a.str("profile");
  }
  for (const auto& shape : shapes) {
    auto model = a.has("model") ? rwkv::Model::load(shape, opt) : rwkv::Model::random(shape_dims(shape), 0, opt);
    const auto& d = model->dims();
    bool decoded = false;
    for (int ctx : ctxs)
      for (int bsz : bszs) {
        spec.ctx = ctx;
        spec.batch = bsz;
        std::string what = a.str("what");
        // Decode does not depend on ctx or batch: measure it once per model.
        if (decoded) {
          std::string w;
          for (const auto& x : str_list(what))
            if (x != "decode") w += (w.empty() ? "" : ",") + x;
          what = w;
        }
        if (what.empty()) continue;
        rwkv::BenchResult r;
        try {
          r = rwkv::run_bench(model, spec, what);
        } catch (const c10::OutOfMemoryError&) {
          std::printf("{\"impl\": \"rwkv-studio\", \"shape\": \"%s\", \"ctx\": %d, \"bsz\": %d, \"error\": \"out of memory\"}\n",
                      shape.c_str(), ctx, bsz);
          std::fflush(stdout);
          continue;
        }
        decoded = decoded || what.find("decode") != std::string::npos;
        std::printf(
            "{\"impl\": \"rwkv-studio\", \"shape\": \"%s\", \"layers\": %d, \"embd\": %d, \"vocab\": %d, "
            "\"params\": %lld, \"device\": \"%s\", \"dtype\": \"%s\", \"ctx\": %d, \"bsz\": %d, "
            "\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.1f, \"decode_path\": \"%s\", \"tune_tok_s\": %.1f, \"tune_step_ms\": %.3f, "
            "\"recompute\": %s, \"peak_mem_bytes\": %lld, \"wkv_fwd_ms\": %.3f, \"wkv_fwdbwd_ms\": %.3f}\n",
            a.has("model") ? "file" : shape.c_str(), d.n_layer, d.n_embd, d.n_vocab,
            static_cast<long long>(model->info().n_params), r.device.c_str(), opt.compute_bf16 ? "bf16" : "fp32",
            ctx, bsz, r.prefill_tok_s, r.decode_tok_s, r.decode_path.c_str(), r.tune_tok_s, r.tune_step_ms,
            spec.recompute ? "true" : "false", static_cast<long long>(r.peak_mem_bytes), r.wkv_fwd_ms, r.wkv_fwdbwd_ms);
        std::fflush(stdout);
      }
  }
  return 0;
}

}  // namespace cli
