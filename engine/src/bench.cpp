// run_bench: times prefill, decode and a state-tuning step (forward + CE on all tokens + backward
// to the per-layer S0 leaves, weights frozen), median over iterations.
#include "rwkv/bench.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#ifdef RWKV_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "bench_profile.h"
#include "decode_graph.h"
#include "forward.h"
#include "tune_loss.h"
#include "wkv7.h"
#include "rwkv/context.h"

namespace rwkv {
namespace {

void sync(const torch::Device& dev) {
  if (dev.is_cuda()) torch::cuda::synchronize(dev.index() < 0 ? 0 : dev.index());
}

// Median seconds of fn() over spec.iters runs after spec.warmup runs.
double time_median(const torch::Device& dev, const BenchSpec& spec, const std::function<void()>& fn) {
  for (int i = 0; i < spec.warmup; ++i) fn();
  sync(dev);
  std::vector<double> t;
  for (int i = 0; i < spec.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    sync(dev);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

torch::Tensor random_tokens(const Model::Impl& m, int64_t B, int64_t T) {
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(7);
  return torch::randint(m.info.dims.n_vocab, {B, T}, gen, torch::kInt64).to(m.device);
}

}  // namespace

BenchResult run_bench(const std::shared_ptr<const Model>& model, const BenchSpec& spec, const std::string& what) {
  const auto& m = model->impl();
  const auto& d = m.info.dims;
  BenchResult res;
  res.device = m.device.str();
  const bool all = what.empty();
  if (what.find("wkv") != std::string::npos) {
    const int64_t B = spec.batch, T = spec.ctx, H = d.n_head, N = d.head_size;
    auto gen = torch::make_generator<torch::CPUGeneratorImpl>(3);
    auto rnd = [&](double s) { return (torch::randn({B, T, H, N}, gen) * s).to(m.device); };
    auto r = rnd(0.5), k = rnd(0.5), v = rnd(0.5);
    const auto w = torch::exp(-std::exp(-0.5) * torch::sigmoid(rnd(2)));
    const auto kk = torch::nn::functional::normalize(rnd(1), torch::nn::functional::NormalizeFuncOptions().dim(-1));
    auto a = -kk, b = kk * torch::sigmoid(rnd(1));
    const auto s0 = (torch::randn({B, H, N, N}, gen, torch::kFloat32) * 0.1).to(m.device);
    if (m.device.is_cuda()) {  // what the tuner hands the kernel on a GPU: bf16, the decay in fp32
      for (auto* t : {&r, &k, &v, &a, &b}) *t = t->to(torch::kBFloat16);
    }
    {
      c10::InferenceMode guard;
      res.wkv_fwd_ms = 1e3 * time_median(m.device, spec, [&] { wkv7(r, w, k, v, a, b, s0); });
    }
    std::vector<torch::Tensor> leaves;
    for (const auto& t : {r, w, k, v, a, b, s0}) leaves.push_back(t.detach().requires_grad_(true));
    const auto gy = torch::randn({B, T, H, N}, gen, torch::kFloat32).to(m.device);
    res.wkv_fwdbwd_ms = 1e3 * time_median(m.device, spec, [&] {
      auto out = wkv7(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6]);
      (out[0] * gy).sum().backward();
      for (auto& l : leaves) l.mutable_grad() = torch::Tensor();
    });
  }
  auto wants = [&](const char* w) { return all || what.find(w) != std::string::npos; };

  if (wants("prefill")) {
    c10::InferenceMode guard;
    const auto toks = random_tokens(m, spec.batch, spec.ctx);
    const auto s = RecurrentState::zeros(m, spec.batch);
    const double sec = time_median(m.device, spec, [&] { forward(m, toks, s, /*last_only=*/true); });
    res.prefill_tok_s = double(spec.batch) * spec.ctx / sec;
  }
  if (wants("decode")) {  // through Context::step, as generation runs it (CUDA graph, logits to the host)
    Context ctx(model);
    const auto toks = random_tokens(m, 1, spec.decode_tokens).to(torch::kCPU);
    const double sec = time_median(m.device, spec, [&] {
      ctx.reset();
      for (int t = 0; t < spec.decode_tokens; ++t) ctx.step(int(toks[0][t].item<int64_t>()));
    });
    res.decode_tok_s = spec.decode_tokens / sec;
    res.decode_path = decode_path(m);
  }
  if (wants("tune")) {  // the tuner's own loss (tune_loss.h) on every next-token target
    MicroBatch mb;
    mb.tokens = random_tokens(m, spec.batch, spec.ctx);                                 // [B,T]
    const int64_t T = spec.ctx;
    auto t_idx = torch::arange(1, T, torch::kInt64);                                    // targets t = 1..T-1
    auto b_idx = torch::arange(spec.batch, torch::kInt64).unsqueeze(1) * T;             // [B,1]
    mb.rows = (b_idx + (t_idx - 1).unsqueeze(0)).reshape({-1}).to(m.device);             // row t-1 predicts t
    mb.labels = mb.tokens.narrow(1, 1, T - 1).reshape({-1});
    mb.n_targets = mb.labels.numel();
    mb.n_tokens = spec.batch * T;
    std::vector<torch::Tensor> s0;
    for (int l = 0; l < d.n_layer; ++l)
      s0.push_back(torch::zeros({d.n_head, d.head_size, d.head_size},
                                torch::TensorOptions().dtype(torch::kFloat32).device(m.device))
                       .requires_grad_(true));
    auto step = [&] {
      KernelTrain kt;
      kt.recompute = spec.recompute;
      micro_batch_ce_sum(m, mb, s0, kt, nullptr).backward();
      for (auto& p : s0) p.mutable_grad() = torch::Tensor();
    };
#ifdef RWKV_HAVE_CUDA
    if (m.device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(m.device.index() < 0 ? 0 : m.device.index());
#endif
    const double sec = time_median(m.device, spec, step);
    res.tune_step_ms = sec * 1e3;
    res.tune_tok_s = double(spec.batch) * spec.ctx / sec;
#ifdef RWKV_HAVE_CUDA
    if (m.device.is_cuda()) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(m.device.index() < 0 ? 0 : m.device.index());
      res.peak_mem_bytes = stats.allocated_bytes[0].peak;  // StatType::AGGREGATE
    }
#endif
    if (!spec.profile.empty()) profile_once(m.device, step, spec.profile);
  }
  return res;
}

}  // namespace rwkv
