// pretrain(): full-weight training of a fresh RWKV-7 on a token stream (see rwkv/pretrain.h).
// Each step reads B random windows of T+1 tokens from the concatenated corpus (offsets from a
// portable PRNG seeded by (seed, step), so a resumed run reads the same windows), runs the forward
// with zero initial state, and takes one AdamW step on the flat fp32 weights. No host sync inside
// a step: the loss is read back every few steps.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "adamw_state.h"
#include "cpu_threads.h"
#include "flat_weights.h"
#include "forward.h"
#include "lr_schedule.h"
#include "model_init.h"
#include "pretrain_checkpoint.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/pretrain.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "tune_batches.h"
#include "tune_loss.h"

namespace rwkv {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kReadEvery = 10;  // steps between loss read-backs (progress, NaN check)

// Every document's tokens back to back (each ends with the end-of-text id). [n] int64.
torch::Tensor token_stream(const Dataset& ds) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(ds.n_tokens()));
  for (const auto& s : ds.samples) ids.insert(ids.end(), s.tokens.begin(), s.tokens.end());
  return torch::tensor(ids, torch::kInt64);
}

// Window starts of step `step`: B offsets in [0, n - T - 1].
torch::Tensor window_offsets(uint64_t seed, int step, int B, int64_t n, int T) {
  SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step));
  std::vector<int64_t> off(static_cast<size_t>(B));
  const uint64_t span = static_cast<uint64_t>(n - T);  // offsets 0 .. n-T-1 leave T+1 tokens
  for (auto& o : off) o = static_cast<int64_t>(rng.next() % span);
  return torch::tensor(off, torch::kInt64);
}

// Mean cross-entropy over the targets of held-out samples (answers for QA), zero initial state.
double eval_loss(const Model::Impl& m, const std::vector<Sample>& samples) {
  torch::NoGradGuard no_grad;
  const auto& d = m.info.dims;
  std::vector<torch::Tensor> s0(static_cast<size_t>(d.n_layer),
                                torch::zeros({d.n_head, d.head_size, d.head_size},
                                             torch::TensorOptions().dtype(torch::kFloat32).device(m.device)));
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < samples.size(); i += 16) {
    std::vector<const Sample*> group;
    for (size_t j = i; j < std::min(samples.size(), i + 16); ++j) group.push_back(&samples[j]);
    const auto mb = make_micro_batch(group, m.device);
    sum += micro_batch_ce_sum(m, mb, s0).item<double>();
    n += mb.n_targets;
  }
  return n ? sum / n : -1;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

PretrainResult pretrain(const PretrainRecipe& rcp, const PretrainOptions& opt) {
  rcp.validate();
  if (opt.out.empty()) throw Error(ErrorKind::Argument, "pretrain: no output path");
  const auto t_start = Clock::now();
  if (!rcp.corpus_sha256.empty()) {
    const auto h = sha256_file(rcp.corpus);
    if (h != rcp.corpus_sha256)
      throw Error(ErrorKind::Mismatch, rcp.corpus + ": sha256 " + h + " differs from the recipe's " + rcp.corpus_sha256 +
                                           " (regenerate it with the recipe's task-suite seed)");
  }
  const std::string tok_path = opt.tokenizer.empty() ? rcp.tokenizer : opt.tokenizer;
  if (tok_path.empty()) throw Error(ErrorKind::Argument, "pretrain: no tokenizer (set 'tokenizer' in the recipe)");
  const auto tok = load_tokenizer(tok_path);
  const int T = rcp.ctx_len, B = rcp.micro_bsz;
  const Dataset corpus = load_jsonl(rcp.corpus, *tok, 1 << 20);
  const auto stream_cpu = token_stream(corpus);
  const int64_t n_stream = stream_cpu.numel();
  if (n_stream < T + 2)
    throw Error(ErrorKind::Argument, rcp.corpus + ": " + std::to_string(n_stream) + " tokens, fewer than ctx_len + 2");
  std::vector<Sample> eval_samples;
  if (!rcp.eval_data.empty()) eval_samples = load_jsonl(rcp.eval_data, *tok, T).samples;

  ModelDims dims = rcp.dims;
  if (dims.n_vocab == 0) dims.n_vocab = tok->vocab_size();
  if (tok->vocab_size() > dims.n_vocab)
    throw Error(ErrorKind::Mismatch, "pretrain: tokenizer has " + std::to_string(tok->vocab_size()) +
                                         " ids but the recipe's n_vocab is " + std::to_string(dims.n_vocab));
  LoadOptions lo;
  lo.device = opt.device;
  auto impl = build_weights(init_weights(dims, rcp.seed), "init(" + rcp.name + ")", lo);
  if (impl->device.is_cpu()) configure_cpu_threads(impl->info.dims);
  if (impl->device.is_cuda()) torch::globalContext().setAllowTF32CuBLAS(true);
  FlatWeights fw(*impl);
  AdamWState adam({fw.flat}, {rcp.beta1, rcp.beta2, rcp.adam_eps, 0.0});
  const LrSchedule sched{rcp.lr, rcp.lr_final, rcp.warmup_steps, rcp.steps, "cosine"};
  const auto dev = impl->device;
  const auto stream = stream_cpu.to(dev);
  const auto span = torch::arange(T + 1, torch::TensorOptions().dtype(torch::kInt64).device(dev));  // [T+1]
  const std::string ckpt_path = opt.out + ".ckpt";
  const std::string recipe_json = rcp.to_json();

  int step0 = 0;
  double elapsed0 = 0;  // wall time of earlier calls of a resumed run
  if (opt.resume && std::filesystem::exists(ckpt_path)) {
    auto ck = load_pretrain_checkpoint(ckpt_path);
    if (ck.recipe_json != recipe_json)
      throw Error(ErrorKind::Mismatch, ckpt_path + ": made with a different recipe; delete it or restore the recipe");
    if (ck.flat.numel() != fw.flat.numel())
      throw Error(ErrorKind::Shape, ckpt_path + ": " + std::to_string(ck.flat.numel()) + " weights, the recipe makes " +
                                        std::to_string(fw.flat.numel()));
    torch::NoGradGuard ng;
    fw.flat.copy_(ck.flat);
    adam.restore({ck.m.to(dev)}, {ck.v.to(dev)}, ck.adam_t);
    step0 = ck.step;
    elapsed0 = ck.elapsed_s;
  }
  auto save_ckpt = [&](int step) {
    PretrainCheckpoint ck;
    ck.flat = fw.flat.detach().cpu();
    ck.m = adam.m()[0].cpu();
    ck.v = adam.v()[0].cpu();
    ck.adam_t = adam.t();
    ck.step = step;
    ck.recipe_json = recipe_json;
    ck.elapsed_s = elapsed0 + std::chrono::duration<double>(Clock::now() - t_start).count();
    save_pretrain_checkpoint(ckpt_path, ck);
  };

  PretrainResult res;
  res.n_params = fw.flat.numel();
  std::vector<double> losses;
  auto loss_acc = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(dev));
  auto t_last = Clock::now();
  int last_read = step0, step = step0;
  double eval = -1;
  bool stopped = false;
  for (step = step0 + 1; step <= rcp.steps; ++step) {
    const auto idx = window_offsets(rcp.seed, step, B, n_stream, T).to(dev).unsqueeze(1) + span;  // [B,T+1]
    const auto win = stream.index({idx});
    const auto x = win.narrow(1, 0, T), y = win.narrow(1, 1, T);                                  // [B,T]
    fw.bind();
    const auto hidden = forward_hidden(*impl, x, RecurrentState::zeros(*impl, B), nullptr);       // [B,T,C]
    const auto logits = head_logits(*impl, hidden);                                                // [B,T,V]
    const auto loss = torch::nn::functional::cross_entropy(logits.reshape({B * T, -1}), y.reshape({-1}));
    loss.backward();
    {
      torch::NoGradGuard ng;
      auto g = fw.flat.grad();
      if (rcp.grad_clip > 0) g.mul_(torch::clamp_max(rcp.grad_clip / (g.norm() + 1e-6), 1.0));
      const double lr = sched.at(step);
      if (rcp.weight_decay > 0) fw.flat.sub_(fw.flat * fw.decay_mask, lr * rcp.weight_decay);
      std::vector<torch::Tensor> p{fw.flat};
      adam.step(p, {g}, lr);
      g.zero_();
      loss_acc.add_(loss.detach());
    }
    const bool eval_now = rcp.eval_every > 0 && step % rcp.eval_every == 0;
    const bool stop_now = (opt.cancel && opt.cancel->load()) || (opt.stop_after > 0 && step - step0 >= opt.stop_after);
    if (step % kReadEvery == 0 || step == rcp.steps || eval_now || stop_now) {
      const int n_read = step - last_read;
      const double mean = loss_acc.item<double>() / n_read;
      loss_acc.zero_();
      if (!std::isfinite(mean))
        throw Error(ErrorKind::NonFinite, "pretrain: loss became " + fmt(mean) + " by step " + std::to_string(step) +
                                              " (last checkpoint kept: " + ckpt_path + "); lower lr in the recipe");
      for (int i = last_read; i < step; ++i) losses.push_back(mean);
      last_read = step;
      eval = -1;
      if (eval_now || step == rcp.steps) {
        fw.bind();
        if (!eval_samples.empty()) eval = eval_loss(*impl, eval_samples);
        if (step < rcp.steps) save_ckpt(step);
      }
      if (opt.on_progress) {
        PretrainProgress p;
        p.step = step, p.steps = rcp.steps, p.loss = mean, p.eval_loss = eval, p.lr = sched.at(step);
        const double dt = std::chrono::duration<double>(Clock::now() - t_last).count();
        p.elapsed_s = std::chrono::duration<double>(Clock::now() - t_start).count();
        p.tokens_per_s = double(n_read) * B * T / std::max(dt, 1e-9);
        p.eta_s = (rcp.steps - step) * dt / n_read;
        opt.on_progress(p);
      }
      t_last = Clock::now();
      if (stop_now) {
        save_ckpt(step);
        stopped = true;
        break;
      }
    }
  }
  res.steps = stopped ? step : rcp.steps;
  res.wall_s = elapsed0 + std::chrono::duration<double>(Clock::now() - t_start).count();
  res.tokens = int64_t(res.steps - step0) * B * T;
  const size_t tail = std::max<size_t>(1, losses.size() / 20);
  for (size_t i = losses.size() - std::min(tail, losses.size()); i < losses.size(); ++i) res.loss += losses[i] / tail;
  res.eval_loss = eval;
  if (stopped) return res;

  std::map<std::string, std::string> meta{
      {"format", "rwkv-studio-model"}, {"name", rcp.name}, {"recipe", recipe_json},
      {"tokenizer", std::filesystem::path(tok_path).filename().string()},
      {"train_loss", fmt(res.loss)}, {"eval_loss", fmt(res.eval_loss)}, {"steps", std::to_string(res.steps)},
      {"wall_s", fmt(res.wall_s)},
      {"device", dev.str()}};
  atomic_write_file(opt.out, encode_tensor_map(fw.file_tensors(torch::kBFloat16), meta));
  std::filesystem::remove(ckpt_path);
  return res;
}

}  // namespace rwkv
