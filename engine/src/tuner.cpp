// Tuner: the state-tuning run loop. Per optimizer step: the step's micro-batches (forward from
// S0 expanded over the batch, CE on the target rows, backward to S0 only; the loss of each
// micro-batch is divided by the step's total target tokens so accumulation equals one big batch),
// the NaN guard, global clipping, AdamW, telemetry, snapshots, eval / best state / early stop and
// autosave. Everything that decides the result is in the autosave, so a resumed run is
// bit-identical to an uninterrupted one on the same machine (CPU).
#include "rwkv/tuner.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <thread>

#include "adamw_state.h"
#include "context_impl.h"
#include "dbp.h"
#include "kernel_state.h"
#include "lr_schedule.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "state_stats.h"
#include "tune_autosave.h"
#include "tune_batches.h"
#include "tune_guided.h"
#include "tune_loss.h"
#include "tune_progress.h"
#include "tune_setup.h"

namespace rwkv {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string iso8601_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The folder of `path` must exist and be writable (checked before hours of tuning, not after).
void check_writable_folder(const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::Io, std::string(what) + " " + path + ": folder " + dir.string() + " does not exist");
  if (access(dir.c_str(), W_OK) != 0)
    throw Error(ErrorKind::Io, std::string(what) + " " + path + ": folder " + dir.string() + " is not writable (" +
                                   std::strerror(errno) + ")");
}

std::vector<torch::Tensor> clone_all(const std::vector<torch::Tensor>& v) {
  std::vector<torch::Tensor> out;
  for (const auto& t : v) out.push_back(t.detach().clone());
  return out;
}

bool all_finite(const std::vector<torch::Tensor>& v) {
  for (const auto& t : v)
    if (!torch::isfinite(t).all().item<bool>()) return false;
  return true;
}

void copy_into(std::vector<torch::Tensor>& dst, const std::vector<torch::Tensor>& src) {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
}

std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> out;
  for (const auto& p : ps) out.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
  return out;
}

void clear_grads(std::vector<torch::Tensor>& ps) {
  for (auto& p : ps) p.mutable_grad() = torch::Tensor();
}

}  // namespace

struct Tuner::Impl {
  TuneConfig cfg;
  TuneInfo info;
  TuneInputs in;
  torch::Device dev = torch::kCPU;
  BatchPlan plan;
  LrSchedule sched;
  std::string autosave_path;
  std::vector<std::pair<int, int>> snap_heads;

  // Kernel method (cfg.method == "kernel"); R and beta are the tensors inside kext (in place).
  bool kern = false;
  std::shared_ptr<KernelExt> kext;
  std::vector<torch::Tensor> u0, kbeta, kR;  // L x [H,M,M], L x [H] (write), L x [H,M,M]
  AdamWState kadam, radam;                   // U0 (+ beta); R in DBP loss mode
  std::vector<torch::Tensor> best_u0, best_beta, best_R;
  std::vector<DecorSums> decor_window;       // per layer, the statistics' exponential window
  std::vector<torch::Tensor> kparams() const {
    std::vector<torch::Tensor> p = u0;
    p.insert(p.end(), kbeta.begin(), kbeta.end());
    return p;
  }
  bool dbp_loss() const { return kern && cfg.dbp == "loss"; }
  bool dbp_update_mode() const { return kern && cfg.dbp == "update"; }
  void init_kernel();
  std::vector<torch::Tensor> collect_keys();  // L x [n,H,N] normalised keys of the training texts
  KernelTrain kernel_train() const {
    KernelTrain k;
    k.recompute = cfg.recompute;
    if (kern) {
      k.ext = kext;
      k.u0 = &u0;
    }
    return k;
  }
  void put_kernel(AutosaveData& a) const;
  void restore_kernel(const AutosaveData& a, const std::string& path);
  void send_decor(int k, const std::vector<DecorSums>& sums);

  // Guided tuning (cfg.guided != "off"): the guide and its targets; in.train holds its kept answers.
  std::unique_ptr<GuidedTuning> guided;
  GuideStats guide_stats() const {
    GuideStats g;
    if (!guided) return g;
    const GuideCost& c = guided->cost();
    g.questions = c.questions;
    g.kept = c.kept;
    g.scorer = c.scorer;
    g.tokens_generated = c.generated;
    g.tokens_scored = c.scored;
    g.seconds = c.seconds;
    return g;
  }

  // Run state: everything here is in the autosave.
  std::vector<torch::Tensor> s0;       // L x [H,N,N] fp32 leaves, requires_grad
  std::vector<torch::Tensor> best_s0;  // L x [H,N,N] (empty until the first eval)
  AdamWState adam;
  int step = 0;
  double lr_mult = 1.0;
  int skipped = 0;
  int best_step = 0;
  double best_eval = std::numeric_limits<double>::infinity();
  double first_eval = std::numeric_limits<double>::quiet_NaN();
  int evals_since_best = 0;
  bool finished = false, early_stopped = false, eval_pending = false;
  TuneHistory history;

  // Telemetry of this process only.
  std::vector<float> last_rank;
  ThroughputEma ema;
  Clock::time_point run_start = Clock::now();
  TuneObserver* obs = nullptr;
  TuneControl* ctl = nullptr;

  void log(const std::string& s) {
    if (obs) obs->on_log(s);
  }
  bool cancelled() const { return ctl && ctl->cancel.load(); }
  const ModelDims& dims() const { return in.model->dims(); }
  const Model::Impl& model() const { return in.model->impl(); }

  void init(const TuneConfig& c, TuneObserver* setup_obs, TuneControl* setup_ctl);
  void restore(const std::string& path);
  AutosaveData to_autosave() const;
  bool do_autosave(bool must);
  // One optimizer step; false if cancelled part-way (nothing changed).
  bool train_step(int k, int64_t* tokens_done, double* step_time);
  // Mean CE over the eval split; false if cancelled part-way.
  bool evaluate(double* loss);
  bool eval_and_track(int k);  // evaluate + best state + early-stop counter + on_eval
  void check_early_stop(int k);
  void snapshots(int k);
  void save_output(TuneSummary& sum);
};

void Tuner::Impl::init(const TuneConfig& c, TuneObserver* setup_obs, TuneControl* setup_ctl) {
  c.validate();
  cfg = c;
  check_writable_folder(cfg.out, "out");
  autosave_path = cfg.autosave.empty() ? cfg.out + ".autosave" : cfg.autosave;
  if (!cfg.autosave.empty()) check_writable_folder(autosave_path, "autosave");
  in = load_tune_inputs(cfg);
  dev = model().device;
  if (cfg.guided != "off") {  // the guide's answers replace the training samples (greedy: the same on resume)
    guided = std::make_unique<GuidedTuning>(cfg, *in.model, *in.tokenizer);
    guided->prepare(in, [&](const std::string& s) { if (setup_obs) setup_obs->on_log(s); },
                    setup_ctl ? &setup_ctl->cancel : nullptr);
  }
  const auto& d = dims();

  plan = BatchPlan(static_cast<int>(in.train.size()), cfg.micro_bsz, cfg.accum, cfg.seed);
  const int total = cfg.max_steps > 0 ? cfg.max_steps : cfg.epochs * plan.steps_per_epoch();
  sched = LrSchedule{cfg.lr, cfg.lr_final, cfg.warmup_steps, total, cfg.schedule};
  snap_heads = cfg.snapshot_heads;
  if (snap_heads.empty()) {
    snap_heads.push_back({0, 0});
    if (d.n_layer > 1) snap_heads.push_back({d.n_layer - 1, 0});
  }

  const auto init_all = in.init.empty() ? torch::zeros({d.n_layer, d.n_head, d.head_size, d.head_size})
                                        : initial_state_to_tensor(in.init, d, torch::kCPU);
  for (int l = 0; l < d.n_layer; ++l) s0.push_back(init_all[l].clone().to(dev).set_requires_grad(true));
  adam = AdamWState(s0, AdamWOptions{cfg.beta1, cfg.beta2, cfg.adam_eps, cfg.weight_decay});
  if (cfg.method == "kernel") init_kernel();
  if (!cfg.resume.empty()) restore(cfg.resume);

  info.total_steps = total;
  info.n_train = static_cast<int>(in.train.size());
  info.n_eval = static_cast<int>(in.eval.size());
  for (const auto& s : in.train) info.train_tokens += static_cast<int64_t>(s.tokens.size());
  info.n_layer = d.n_layer;
  info.n_head = d.n_head;
  info.head_size = d.head_size;
  info.start_step = step;
  info.data_issues = in.data_issues;
  info.method = cfg.method;
  info.kernel_m = kern ? static_cast<int>(kext->m) : 0;
  info.dbp = cfg.dbp;
  info.guided = cfg.guided;
  info.guide = guide_stats();
  info.n_truncated = in.n_truncated;
}

std::vector<torch::Tensor> Tuner::Impl::collect_keys() {
  torch::NoGradGuard ng;
  const auto& d = dims();
  const int64_t kMaxKeys = 16384;  // enough for M <= 4096; bounds the k-means cost
  std::vector<std::vector<torch::Tensor>> parts(d.n_layer);
  int64_t n = 0;
  for (int i : plan.epoch_order(0)) {
    const auto& smp = in.train[i];
    std::vector<int64_t> ids(smp.tokens.begin(), smp.tokens.end());
    const auto toks = torch::tensor(ids, torch::kInt64).view({1, static_cast<int64_t>(ids.size())});
    WkvTrace trace;
    forward_hidden(model(), toks, RecurrentState::zeros(model(), 1), nullptr, &trace);
    for (int l = 0; l < d.n_layer; ++l) parts[l].push_back(-trace.inputs[l][4][0].to(torch::kCPU));  // kk [T,H,N]
    n += static_cast<int64_t>(ids.size());
    if (n >= kMaxKeys) break;
  }
  std::vector<torch::Tensor> out;
  for (auto& p : parts) out.push_back(torch::cat(p, 0));
  return out;
}

void Tuner::Impl::init_kernel() {
  torch::NoGradGuard ng;
  kern = true;
  const auto& d = dims();
  const int64_t H = d.n_head, N = d.head_size;
  if (in.init.kernel) {  // continue a kernel state: its C, Q, R, gamma and U0
    const KernelState& k = *in.init.kernel;
    if (k.m != cfg.kernel_m || k.write != cfg.kernel_write)
      throw Error(ErrorKind::Mismatch, "init state " + cfg.init_state + " has a kernel part with M=" +
                                           std::to_string(k.m) + (k.write ? " (write)" : "") + ", the config asks for M=" +
                                           std::to_string(cfg.kernel_m) + (cfg.kernel_write ? " (write)" : ""));
    kext = kernel_ext_from_state(k, dev, &u0);
    log("kernel: M=" + std::to_string(k.m) + ", supports, projection and U0 from the init state");
  } else {
    const int64_t M = cfg.kernel_m;
    const auto keys = collect_keys();
    kext = std::make_shared<KernelExt>();
    kext->m = M;
    kext->write = cfg.kernel_write;
    double gmin = INFINITY, gmax = 0;
    for (int l = 0; l < d.n_layer; ++l) {
      std::vector<torch::Tensor> Cs, gs;
      for (int64_t h = 0; h < H; ++h) {
        auto kh = keys[l].select(1, h).contiguous();  // [n,N]
        const uint64_t seed = SplitMix64(cfg.seed + 0x6B65726EULL + static_cast<uint64_t>(l) * 4096 + h).next();
        if (kh.size(0) > 4096 && cfg.kernel_support == "kmeans") kh = choose_supports(kh, 4096, "random", seed ^ 1);
        const auto C = choose_supports(kh, M, cfg.kernel_support, seed);
        const double g = cfg.kernel_gamma > 0 ? cfg.kernel_gamma
                                              : median_gamma(kh.size(0) > 2048 ? kh.narrow(0, 0, 2048) : kh, C);
        gmin = std::min(gmin, g);
        gmax = std::max(gmax, g);
        Cs.push_back(C);
        gs.push_back(torch::tensor({static_cast<float>(g)}));
      }
      KernelLayer p;
      p.C = torch::stack(Cs).to(dev);
      p.gamma = torch::cat(gs).to(dev);
      p.Q = make_projection(H, N, M, SplitMix64(cfg.seed + 0x51ULL + static_cast<uint64_t>(l)).next()).to(dev);
      p.R = torch::eye(M, torch::kFloat32).unsqueeze(0).repeat({H, 1, 1}).to(dev);
      if (cfg.kernel_write) p.beta = torch::zeros({H}, torch::kFloat32).to(dev);
      kext->layers.push_back(p);
      u0.push_back(torch::zeros({H, M, M}, torch::TensorOptions().dtype(torch::kFloat32).device(dev)));
    }
    log("kernel: M=" + std::to_string(M) + " per head, supports by " + cfg.kernel_support + " from " +
        std::to_string(keys.empty() ? 0 : keys[0].size(0)) + " training keys, gamma " +
        (cfg.kernel_gamma > 0 ? fmt("%g (set)", gmin) : fmt("%.3g", gmin) + ".." + fmt("%.3g", gmax) + " (median heuristic)"));
  }
  for (auto& u : u0) u.set_requires_grad(true);
  for (auto& p : kext->layers) {
    kR.push_back(p.R);
    if (p.beta.defined()) kbeta.push_back(p.beta);
  }
  for (auto& b : kbeta) b.set_requires_grad(true);
  if (dbp_loss()) {
    for (auto& r : kR) r.set_requires_grad(true);
    kext->r_decor_only = !cfg.dbp_task_grad;
  }
  kadam = AdamWState(kparams(), AdamWOptions{cfg.beta1, cfg.beta2, cfg.adam_eps, cfg.weight_decay});
  if (dbp_loss()) radam = AdamWState(kR, AdamWOptions{cfg.beta1, cfg.beta2, cfg.adam_eps, 0.0});
}

void Tuner::Impl::put_kernel(AutosaveData& a) const {
  if (!kern) return;
  const auto group = [&](const std::string& name, const std::vector<torch::Tensor>& v) {
    for (size_t i = 0; i < v.size(); ++i) a.extra["k." + name + "." + std::to_string(i)] = v[i].detach();
  };
  std::vector<torch::Tensor> C, Q, g;
  for (const auto& p : kext->layers) {
    C.push_back(p.C);
    Q.push_back(p.Q);
    g.push_back(p.gamma);
  }
  group("C", C);
  group("Q", Q);
  group("gamma", g);
  group("R", kR);
  group("u0", u0);
  group("beta", kbeta);
  group("adam_m", kadam.m());
  group("adam_v", kadam.v());
  a.extra["k.adam_t"] = torch::tensor({static_cast<float>(kadam.t())});
  if (dbp_loss()) {
    group("radam_m", radam.m());
    group("radam_v", radam.v());
    a.extra["k.radam_t"] = torch::tensor({static_cast<float>(radam.t())});
  }
  group("best_u0", best_u0);
  group("best_beta", best_beta);
  group("best_R", best_R);
}

void Tuner::Impl::restore_kernel(const AutosaveData& a, const std::string& path) {
  torch::NoGradGuard ng;
  const auto get = [&](const std::string& key, const torch::Tensor& like) {
    const auto it = a.extra.find(key);
    if (it == a.extra.end())
      throw Error(ErrorKind::Format, "resume: autosave " + path + " lacks the kernel tensor " + key);
    if (like.defined() && !it->second.sizes().equals(like.sizes()))
      throw Error(ErrorKind::Shape, "resume: autosave " + path + " " + key + " has shape " +
                                        c10::str(it->second.sizes()) + ", expected " + c10::str(like.sizes()));
    return it->second.to(dev);
  };
  const auto load = [&](const std::string& name, std::vector<torch::Tensor>& v) {
    for (size_t i = 0; i < v.size(); ++i) v[i].copy_(get("k." + name + "." + std::to_string(i), v[i]));
  };
  const auto load_opt = [&](const std::string& name, const std::vector<torch::Tensor>& like) {
    std::vector<torch::Tensor> out;
    if (!a.extra.count("k." + name + ".0")) return out;
    for (size_t i = 0; i < like.size(); ++i) out.push_back(get("k." + name + "." + std::to_string(i), like[i]).clone());
    return out;
  };
  for (size_t l = 0; l < kext->layers.size(); ++l) {
    auto& p = kext->layers[l];
    p.C.copy_(get("k.C." + std::to_string(l), p.C));
    p.Q.copy_(get("k.Q." + std::to_string(l), p.Q));
    p.gamma.copy_(get("k.gamma." + std::to_string(l), p.gamma));
  }
  load("R", kR);
  load("u0", u0);
  load("beta", kbeta);
  const auto kp = kparams();
  std::vector<torch::Tensor> m = load_opt("adam_m", kp), v = load_opt("adam_v", kp);
  if (m.size() != kp.size() || v.size() != kp.size())
    throw Error(ErrorKind::Format, "resume: autosave " + path + " lacks the kernel optimizer moments");
  kadam.restore(m, v, static_cast<int64_t>(get("k.adam_t", {}).item<float>()));
  if (dbp_loss()) {
    std::vector<torch::Tensor> rm = load_opt("radam_m", kR), rv = load_opt("radam_v", kR);
    if (rm.size() != kR.size() || rv.size() != kR.size())
      throw Error(ErrorKind::Format, "resume: autosave " + path + " lacks the moments of R");
    radam.restore(rm, rv, static_cast<int64_t>(get("k.radam_t", {}).item<float>()));
  }
  best_u0 = load_opt("best_u0", u0);
  best_beta = load_opt("best_beta", kbeta);
  best_R = load_opt("best_R", kR);
}

void Tuner::Impl::send_decor(int k, const std::vector<DecorSums>& step_sums) {
  if (!obs || step_sums.empty()) return;
  // The statistics are over an exponential window of recent steps holding about 4M tokens, so Cz
  // has full rank (one step of a small batch has fewer tokens than M); the window restarts on resume.
  const double per_step = std::max(1.0, step_sums[0].n), M = static_cast<double>(kext->m);
  const double decay = std::clamp(1.0 - per_step / (4.0 * M), 0.0, 0.995);
  if (decor_window.size() != step_sums.size()) decor_window.assign(step_sums.size(), DecorSums{});
  for (size_t l = 0; l < step_sums.size(); ++l) {
    decor_window[l].scale(decay);
    decor_window[l].add(step_sums[l]);
  }
  const auto& sums = decor_window;
  DecorMetrics dm;
  dm.step = k;
  dm.mode = cfg.dbp;
  dm.tokens = static_cast<int>(std::lround(sums[0].n));
  double total = 0;
  for (const auto& s : sums) {
    dm.layers.push_back(decor_stats(s));
    total += decor_loss_value(s, cfg.dbp_lambda);
  }
  dm.decor_loss = total / static_cast<double>(sums.size());
  obs->on_decor(dm);
  const int layer = ctl ? ctl->covariance_layer.load() : -1;
  if (layer >= 0 && layer < static_cast<int>(sums.size())) {
    CovarianceSnapshot cs;
    cs.step = k;
    cs.layer = layer;
    cs.head = std::clamp(ctl->covariance_head.load(), 0, dims().n_head - 1);
    cs.values = covariance_heatmap(sums[layer], cs.head, std::max(1, ctl->covariance_size.load()), &cs.size);
    obs->on_covariance(cs);
  }
}

void Tuner::Impl::restore(const std::string& path) {
  AutosaveData a = read_autosave(path);
  check_resume_compatible(a.config, cfg);
  const auto& d = dims();
  if (a.model_sha256 != in.model->info().sha256)
    throw Error(ErrorKind::Mismatch, "resume: autosave " + path + " was made with model sha256 " + a.model_sha256 +
                                         ", " + cfg.model + " has " + in.model->info().sha256);
  if (a.data_sha256 != in.data_fingerprint)
    throw Error(ErrorKind::Mismatch, "resume: the tokenized data of " + cfg.data +
                                         " differ from the autosave's (the file, tokenizer or split changed)");
  const auto check = [&](const std::vector<torch::Tensor>& v, const char* what) {
    if (static_cast<int>(v.size()) != d.n_layer)
      throw Error(ErrorKind::Shape, "resume: autosave " + path + " " + what + " has " + std::to_string(v.size()) +
                                        " layers, the model " + std::to_string(d.n_layer));
    for (const auto& t : v)
      if (t.sizes() != torch::IntArrayRef({d.n_head, d.head_size, d.head_size}))
        throw Error(ErrorKind::Shape, "resume: autosave " + path + " " + what + " has shape " +
                                          c10::str(t.sizes()) + ", expected [" + std::to_string(d.n_head) + ", " +
                                          std::to_string(d.head_size) + ", " + std::to_string(d.head_size) + "]");
  };
  check(a.s0, "s0");
  check(a.adam_m, "adam_m");
  check(a.adam_v, "adam_v");
  if (!a.best_s0.empty()) check(a.best_s0, "best_s0");
  for (int l = 0; l < d.n_layer; ++l) s0[l] = a.s0[l].to(dev).set_requires_grad(true);
  std::vector<torch::Tensor> m, v;
  for (int l = 0; l < d.n_layer; ++l) {
    m.push_back(a.adam_m[l].to(dev));
    v.push_back(a.adam_v[l].to(dev));
  }
  adam.restore(std::move(m), std::move(v), a.adam_t);
  best_s0.clear();
  for (const auto& t : a.best_s0) best_s0.push_back(t.to(dev));
  step = a.step;
  lr_mult = a.lr_mult;
  skipped = a.skipped_steps;
  best_step = a.best_step;
  best_eval = a.best_eval_loss;
  first_eval = a.first_eval_loss;
  evals_since_best = a.evals_since_best;
  finished = a.finished;
  early_stopped = a.early_stopped;
  eval_pending = a.eval_pending;
  history = std::move(a.history);
  if (kern) restore_kernel(a, path);
}

AutosaveData Tuner::Impl::to_autosave() const {
  AutosaveData a;
  a.config = cfg;
  a.model_sha256 = in.model->info().sha256;
  a.data_sha256 = in.data_fingerprint;
  a.step = step;
  a.adam_t = adam.t();
  a.lr_mult = lr_mult;
  a.skipped_steps = skipped;
  a.best_step = best_step;
  a.best_eval_loss = best_eval;
  a.first_eval_loss = first_eval;
  a.evals_since_best = evals_since_best;
  a.finished = finished;
  a.early_stopped = early_stopped;
  a.eval_pending = eval_pending;
  a.history = history;
  a.s0 = s0;
  a.adam_m = adam.m();
  a.adam_v = adam.v();
  a.best_s0 = best_s0;
  put_kernel(a);
  return a;
}

bool Tuner::Impl::do_autosave(bool must) {
  try {
    write_autosave(autosave_path, to_autosave());
    log("autosaved step " + std::to_string(step) + " to " + autosave_path);
    return true;
  } catch (const Error& e) {
    log(std::string("autosave failed: ") + e.what());
    if (must) throw;
    return false;
  }
}

bool Tuner::Impl::train_step(int k, int64_t* tokens_done, double* step_time) {
  const auto t0 = Clock::now();
  const auto groups = plan.step_samples(k);
  std::vector<MicroBatch> mbs;
  int64_t targets = 0;
  for (const auto& g : groups) {
    std::vector<const Sample*> ss;
    for (int i : g) ss.push_back(&in.train[i]);
    mbs.push_back(make_micro_batch(ss, dev));
    targets += mbs.back().n_targets;
  }
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
  const bool inject = ctl && ctl->inject_nan_step.load() == k;
  int64_t tokens = 0;
  const auto& d = dims();
  const KernelTrain kt = kernel_train();
  std::vector<torch::Tensor> kp = kparams();
  std::vector<DecorSums> sums(kern ? d.n_layer : 0);
  const bool kl_guided = guided && guided->kl_loss();
  const int64_t kl_rows = kl_guided ? guided->kl_rows(in.train, groups) : 0;
  auto kl_total = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
  const auto drop_grads = [&] {
    clear_grads(s0);
    clear_grads(kp);
    clear_grads(kR);
  };
  for (size_t i = 0; i < mbs.size(); ++i) {
    if (cancelled()) {
      drop_grads();
      return false;
    }
    std::vector<torch::Tensor> z;
    torch::Tensor loss;
    if (kl_guided) {
      torch::Tensor kl_sum;
      loss = guided->loss(model(), in.train, groups[i], mbs[i], s0, kt, kern ? &z : nullptr, k, targets, kl_rows, &kl_sum);
      kl_total += kl_sum.to(torch::kFloat64);
    } else {
      loss = micro_batch_ce_sum(model(), mbs[i], s0, kt, kern ? &z : nullptr) / static_cast<double>(targets);
    }
    if (inject && i == 0) loss = loss * std::numeric_limits<float>::quiet_NaN();  // test hook
    loss_sum += loss.detach().to(torch::kFloat64);
    if (kern) {
      for (int l = 0; l < d.n_layer; ++l) sums[l].add(z[l]);
      if (dbp_loss() && cfg.dbp_alpha > 0) {  // L = CE + alpha * L_decor (mean over layers, micro-batches)
        std::vector<torch::Tensor> dl;
        for (int l = 0; l < d.n_layer; ++l) dl.push_back(decor_loss(z[l], cfg.dbp_lambda));
        loss = loss + torch::stack(dl).mean() * (cfg.dbp_alpha / static_cast<double>(mbs.size()));
      }
    }
    loss.backward();
    tokens += mbs[i].n_tokens;
  }
  std::vector<torch::Tensor> grads = grads_of(s0), kgrads = grads_of(kp), rgrads;
  if (dbp_loss()) rgrads = grads_of(kR);
  std::vector<torch::Tensor> sq;
  for (int l = 0; l < d.n_layer; ++l) {
    auto v = grads[l].to(torch::kFloat64).square().sum();
    if (kern) v = v + kgrads[l].to(torch::kFloat64).square().sum();
    if (!kbeta.empty()) v = v + kgrads[d.n_layer + l].to(torch::kFloat64).square().sum();
    sq.push_back(v);
  }
  double r_sq = 0;
  if (dbp_loss()) {
    std::vector<torch::Tensor> rs;
    for (const auto& g : rgrads) rs.push_back(g.to(torch::kFloat64).square().sum());
    r_sq = torch::stack(rs).sum().item<double>();
  }
  const auto layer_sq = torch::stack(sq).to(torch::kCPU);  // [L], one device sync for all numbers
  const double loss_v = loss_sum.item<double>();
  std::vector<float> layer_norm(d.n_layer);
  double total_sq = 0;
  for (int l = 0; l < d.n_layer; ++l) {
    const double v = layer_sq[l].item<double>();
    layer_norm[l] = static_cast<float>(std::sqrt(v));
    total_sq += v;
  }
  const double gnorm = std::sqrt(total_sq);
  const double lr = sched.at(k) * lr_mult;
  const double klr = lr * (cfg.kernel_lr > 0 ? cfg.kernel_lr / cfg.lr : 1.0);

  bool skip = !std::isfinite(loss_v) || !std::isfinite(gnorm) || !std::isfinite(r_sq);
  if (!skip) {
    torch::NoGradGuard ng;
    if (cfg.grad_clip > 0 && gnorm > cfg.grad_clip) {
      for (auto& g : grads) g.mul_(cfg.grad_clip / gnorm);
      for (auto& g : kgrads) g.mul_(cfg.grad_clip / gnorm);
    }
    const auto keep_s0 = clone_all(s0), keep_m = clone_all(adam.m()), keep_v = clone_all(adam.v());
    const int64_t keep_t = adam.t();
    const auto keep_k = clone_all(kp), keep_km = clone_all(kadam.m()), keep_kv = clone_all(kadam.v());
    const auto keep_r = clone_all(kR), keep_rm = clone_all(radam.m()), keep_rv = clone_all(radam.v());
    const int64_t keep_kt = kadam.t(), keep_rt = radam.t();
    adam.step(s0, grads, lr);
    if (kern) kadam.step(kp, kgrads, klr);
    if (dbp_loss()) radam.step(kR, rgrads, cfg.dbp_lr);
    if (dbp_update_mode())
      for (int l = 0; l < d.n_layer; ++l) dbp_update(kR[l], sums[l], cfg.dbp_eta);
    if (!all_finite(s0) || !all_finite(kp) || !all_finite(kR)) {  // never keep a non-finite state
      copy_into(s0, keep_s0);
      adam.restore(keep_m, keep_v, keep_t);
      copy_into(kp, keep_k);
      kadam.restore(keep_km, keep_kv, keep_kt);
      copy_into(kR, keep_r);
      radam.restore(keep_rm, keep_rv, keep_rt);
      skip = true;
    }
  }
  drop_grads();
  if (skip) {
    ++skipped;
    lr_mult *= 0.5;
    log("step " + std::to_string(k) + ": non-finite " + (std::isfinite(loss_v) ? "gradient" : "loss") +
        " (loss " + fmt("%g", loss_v) + ", grad norm " + fmt("%g", gnorm) +
        "): update skipped, learning rate multiplier lowered to " + fmt("%g", lr_mult));
  }
  step = k;
  history.steps.push_back({k, plan.epoch_of(k) + 1, loss_v, lr, gnorm, skip});
  *tokens_done = tokens;
  *step_time = seconds_since(t0);
  ema.add(*step_time, tokens);

  if (obs) {
    StepMetrics m;
    m.step = k;
    m.total_steps = sched.total_steps;
    m.epoch = plan.epoch_of(k) + 1;
    m.loss = loss_v;
    m.lr = lr;
    m.grad_norm = gnorm;
    m.grad_norm_layer = layer_norm;
    m.tokens_per_s = ema.tokens_per_s();
    m.eta_s = ema.eta_s(sched.total_steps - k);
    m.memory_bytes = memory_in_use(dev);
    m.state_norm = state_norms(s0);
    const int rank_every = cfg.snapshot_every > 0 ? cfg.snapshot_every : 10;
    if (last_rank.empty() || k % rank_every == 0) last_rank = effective_ranks(s0);
    m.eff_rank = last_rank;
    m.skipped = skip;
    m.elapsed_s = seconds_since(run_start);
    if (kl_guided) m.guide_kl = kl_total.item<double>() / static_cast<double>(std::max<int64_t>(1, kl_rows));
    m.guide = guide_stats();
    obs->on_step(m);
  }
  if (kern) send_decor(k, sums);
  return true;
}

bool Tuner::Impl::evaluate(double* loss) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> s;
  for (const auto& p : s0) s.push_back(p.detach());
  auto sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
  int64_t targets = 0;
  for (size_t i = 0; i < in.eval.size(); i += cfg.micro_bsz) {
    if (cancelled()) return false;
    std::vector<const Sample*> ss;
    for (size_t j = i; j < std::min(in.eval.size(), i + cfg.micro_bsz); ++j) ss.push_back(&in.eval[j]);
    const auto mb = make_micro_batch(ss, dev);
    sum += micro_batch_ce_sum(model(), mb, s, kernel_train(), nullptr).to(torch::kFloat64);
    targets += mb.n_targets;
  }
  *loss = sum.item<double>() / static_cast<double>(targets);
  return true;
}

bool Tuner::Impl::eval_and_track(int k) {
  eval_pending = true;
  double loss = 0;
  if (!evaluate(&loss)) return false;
  eval_pending = false;
  history.evals.push_back({k, loss});
  if (std::isnan(first_eval)) first_eval = loss;
  if (loss < best_eval) {
    best_eval = loss;
    best_step = k;
    best_s0 = clone_all(s0);
    if (kern) {
      best_u0 = clone_all(u0);
      best_beta = clone_all(kbeta);
      best_R = clone_all(kR);
    }
    evals_since_best = 0;
  } else {
    ++evals_since_best;
  }
  if (obs) obs->on_eval({k, loss, best_eval});
  return true;
}

void Tuner::Impl::check_early_stop(int k) {
  if (cfg.early_stop_patience <= 0 || evals_since_best < cfg.early_stop_patience) return;
  early_stopped = true;
  log("early stop at step " + std::to_string(k) + ": no eval improvement in " + std::to_string(evals_since_best) +
      " evals (best " + fmt("%.4f", best_eval) + " at step " + std::to_string(best_step) + ")");
}

void Tuner::Impl::snapshots(int k) {
  if (!obs) return;
  for (const auto& [l, h] : snap_heads) {
    StateSnapshot s;
    s.step = k;
    s.layer = l;
    s.head = h;
    s.values = downsample_block_mean(s0[l][h], cfg.snapshot_size, &s.size);
    obs->on_snapshot(s);
  }
}

void Tuner::Impl::save_output(TuneSummary& sum) {
  using json = nlohmann::json;
  const auto& d = dims();
  const auto& chosen = best_s0.empty() ? s0 : best_s0;
  std::vector<torch::Tensor> flat;
  for (const auto& t : chosen) flat.push_back(t.detach());
  StateFile sf;
  sf.s0 = tensor_to_initial_state(torch::stack(flat), d);
  sf.format = state_format_for_path(cfg.out);
  if (kern) {
    const bool best = !best_s0.empty() && !best_u0.empty();
    KernelExt e = *kext;
    for (size_t l = 0; l < e.layers.size(); ++l) {
      e.layers[l].R = best ? best_R[l] : kR[l];
      if (e.write) e.layers[l].beta = best ? best_beta[l] : kbeta[l];
    }
    sf.s0.kernel = kernel_state_from_tensors(e, best ? best_u0 : u0, d.head_size);
    const std::string warn = state_export_warning(sf.s0, sf.format);
    if (!warn.empty()) log("warning: " + cfg.out + ": " + warn);
  }
  sf.meta["model_sha256"] = in.model->info().sha256;
  sf.meta["dims"] = json{{"n_vocab", d.n_vocab}, {"n_embd", d.n_embd}, {"n_layer", d.n_layer},
                         {"n_head", d.n_head}, {"head_size", d.head_size}}.dump();
  sf.meta["tokenizer"] = in.tokenizer->name();
  sf.meta["config"] = cfg.to_json();
  json metrics = json::parse(history.to_json());
  metrics["best_step"] = best_step;
  metrics["best_eval_loss"] = std::isfinite(best_eval) ? json(best_eval) : json(nullptr);
  metrics["first_eval_loss"] = std::isfinite(first_eval) ? json(first_eval) : json(nullptr);
  metrics["saved_state"] = best_s0.empty() ? "last" : "best_eval";
  sf.meta["metrics"] = metrics.dump();
  sf.meta["created"] = iso8601_now();
  try {
    save_state(cfg.out, sf);
  } catch (const Error& e) {
    log(std::string("could not save the tuned state: ") + e.what());
    throw;
  }
  sum.out_path = cfg.out;
  log("saved " + std::string(best_s0.empty() ? "the last" : "the best-eval (step " + std::to_string(best_step) + ")") +
      " state to " + cfg.out);
}

Tuner::Tuner(const TuneConfig& cfg, TuneObserver* setup_obs, TuneControl* ctl) : impl_(std::make_unique<Impl>()) {
  impl_->init(cfg, setup_obs, ctl);
}
Tuner::~Tuner() = default;

const TuneInfo& Tuner::info() const { return impl_->info; }

InitialState Tuner::state() const {
  std::vector<torch::Tensor> flat;
  for (const auto& t : impl_->s0) flat.push_back(t.detach());
  InitialState s = tensor_to_initial_state(torch::stack(flat), impl_->dims());
  if (impl_->kern) s.kernel = kernel_state_from_tensors(*impl_->kext, impl_->u0, impl_->dims().head_size);
  return s;
}

TuneSummary Tuner::run(TuneObserver* obs, TuneControl* ctl) {
  Impl& I = *impl_;
  I.obs = obs;
  I.ctl = ctl;
  const auto t_start = Clock::now();
  I.run_start = t_start;
  TuneSummary sum;
  I.info.start_step = I.step;
  if (obs) obs->on_start(I.info);
  for (const auto& w : I.in.warnings) I.log(w);
  if (I.step > 0) I.log("resumed at step " + std::to_string(I.step) + " of " + std::to_string(I.sched.total_steps));

  const bool has_eval = !I.in.eval.empty();
  bool cancelled = false;
  int64_t tokens_total = 0;
  double train_time = 0;
  // The eval that a cancel interrupted (or the baseline eval of a fresh run) comes first.
  if (has_eval && !I.finished && (I.eval_pending || I.history.evals.empty()) && I.step == 0) I.eval_pending = true;
  if (has_eval && I.eval_pending && !I.finished) {
    cancelled = !I.eval_and_track(I.step);
    if (!cancelled) I.check_early_stop(I.step);
  }

  for (int k = I.step + 1; !cancelled && !I.finished && !I.early_stopped && k <= I.sched.total_steps; ++k) {
    if (ctl && ctl->pause.load()) {
      I.log("paused at step " + std::to_string(I.step));
      while (ctl->pause.load() && !ctl->cancel.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!ctl->cancel.load()) I.log("resumed");
    }
    if (I.cancelled()) {
      cancelled = true;
      break;
    }
    int64_t tokens = 0;
    double dt = 0;
    if (!I.train_step(k, &tokens, &dt)) {
      cancelled = true;
      break;
    }
    tokens_total += tokens;
    train_time += dt;
    if (I.cfg.snapshot_every > 0 && (k % I.cfg.snapshot_every == 0 || k == 1)) I.snapshots(k);
    if (has_eval && I.cfg.eval_every > 0 && k % I.cfg.eval_every == 0) {
      if (!I.eval_and_track(k)) {
        cancelled = true;
        break;
      }
      I.check_early_stop(k);
    }
    if (I.early_stopped) break;
    if (I.cfg.autosave_every > 0 && k % I.cfg.autosave_every == 0 && k < I.sched.total_steps) I.do_autosave(false);
  }

  if (!cancelled && !I.finished) {
    if (has_eval && (I.history.evals.empty() || I.history.evals.back().step != I.step) &&
        !I.eval_and_track(I.step))
      cancelled = true;
    if (!cancelled) I.finished = true;
  }
  if (cancelled) {
    I.log("cancelled at step " + std::to_string(I.step) + "; resume from " + I.autosave_path);
    I.do_autosave(false);
  } else {
    I.do_autosave(false);
    I.save_output(sum);
  }

  sum.steps_done = I.step;
  sum.cancelled = cancelled;
  sum.early_stopped = I.early_stopped;
  for (auto it = I.history.steps.rbegin(); it != I.history.steps.rend(); ++it)
    if (!it->skipped) {
      sum.final_loss = it->loss;
      break;
    }
  if (!I.history.evals.empty()) {
    sum.first_eval_loss = I.first_eval;
    sum.final_eval_loss = I.history.evals.back().loss;
    sum.best_eval_loss = I.best_eval;
  }
  sum.wall_s = seconds_since(t_start);
  sum.tokens_per_s = train_time > 0 ? tokens_total / train_time : 0;
  sum.skipped_steps = I.skipped;
  sum.guide = I.guide_stats();
  if (obs) obs->on_finish(sum);
  return sum;
}

TuneConfig autosave_config(const std::string& autosave_path) { return read_autosave(autosave_path).config; }

}  // namespace rwkv
