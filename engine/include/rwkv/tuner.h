// State tuning: train the initial wkv state S0 [L][H][N][N] of every layer with every weight
// frozen (no weight gradients are computed or stored). AdamW, warmup + decay, clipping,
// accumulation, masked micro-batches, held-out eval with early stopping, NaN guard, autosave and
// bit-identical resume, cancel and pause. Progress goes to a TuneObserver (no Qt).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/state.h"
#include "rwkv/tune_config.h"

namespace rwkv {

// What the guide of a guided run did and cost (TuneConfig::guided; all zero otherwise).
struct GuideStats {
  int questions = 0;              // training questions the guide answered
  int kept = 0;                   // answers kept as targets (the training samples of the run)
  std::string scorer;             // the filter's scorer: "gsm8k", "choice", "exact" or "none"
  int64_t tokens_generated = 0;   // tokens the guide wrote
  int64_t tokens_scored = 0;      // tokens the guide read to score sequences (kl: once, kl_multi: every step)
  double seconds = 0;             // wall time of the guide's work
};

struct TuneInfo {                 // sent once, before the first step
  int total_steps = 0;
  int n_train = 0, n_eval = 0;    // samples
  int64_t train_tokens = 0;
  int n_layer = 0, n_head = 0, head_size = 0;
  int start_step = 0;             // > 0 when resumed
  std::string method = "plain";   // "plain" or "kernel"
  int kernel_m = 0;               // M of a kernel run
  std::string dbp = "off";
  std::string guided = "off";     // guided runs: n_train is the number of kept guide answers
  GuideStats guide;               // the guide's work before the first step
  std::vector<std::string> data_issues;  // "line 12: invalid JSON ..." (every unusable line)
  int n_truncated = 0;
};

struct StepMetrics {              // sent after every optimizer step
  int step = 0;                   // 1-based, counts optimizer steps
  int total_steps = 0;
  int epoch = 0;                  // 1-based
  double loss = 0;                // mean token CE of this step's micro-batches
  double lr = 0;
  double grad_norm = 0;           // global, before clipping
  std::vector<float> grad_norm_layer;   // [L]
  double tokens_per_s = 0;        // EMA over steps
  double eta_s = 0;
  int64_t memory_bytes = 0;       // process RSS on the CPU, allocated memory on the GPU
  std::vector<float> state_norm;  // [L*H] Frobenius norm of S0[l][h]
  std::vector<float> eff_rank;    // [L*H] effective rank exp(entropy of normalised singular values)
  bool skipped = false;           // non-finite loss or gradient: update skipped, lr lowered
  double elapsed_s = 0;           // since run() started
  double guide_kl = 0;            // kl, kl_multi: mean KL(p_G || p_S) per aligned position of this step
  GuideStats guide;               // guided runs: the guide's work so far (setup included)
};

struct EvalMetrics {
  int step = 0;
  double eval_loss = 0;
  double best_eval_loss = 0;
};

struct StateSnapshot {            // downsampled S0[layer][head] (block means), row-major size x size
  int step = 0, layer = 0, head = 0, size = 0;
  std::vector<float> values;
};

// Decorrelation statistics of the kernel features z = R phi(r/|r|) of one layer, with
// Cz = E[zz^T] - E[z]E[z]^T per head (method note section 3), over the tokens of the recent steps
// (an exponential window of about 4M tokens: one step alone has fewer tokens than M features).
struct DecorLayerStats {
  double mean_abs_corr = 0;   // mean |Cz_ij| / sqrt(Cz_ii Cz_jj) over i != j, averaged over heads
  double offdiag_ratio = 0;   // sum_{i!=j} Cz_ij^2 / sum_i Cz_ii^2, all heads pooled
  double min_var = 0, max_var = 0;  // smallest and largest Cz_ii over the layer's heads
  double condition = 0;       // largest over heads of lambda_max / lambda_min of Cz (capped at 1e12)
};

struct DecorMetrics {             // sent after every optimizer step of a kernel run
  int step = 0;
  std::string mode;               // "off", "loss" or "update"
  double decor_loss = 0;          // L_decor of the step (mean over layers and heads), any mode
  int tokens = 0;                 // tokens the statistics are over (effective count of the window)
  std::vector<DecorLayerStats> layers;  // [L]
};

struct CovarianceSnapshot {       // Cz of one layer/head, block means, row-major size x size (on request)
  int step = 0, layer = 0, head = 0, size = 0;
  std::vector<float> values;
};

struct TuneSummary {
  int steps_done = 0;
  bool cancelled = false, early_stopped = false;
  double final_loss = 0, first_eval_loss = 0, final_eval_loss = 0, best_eval_loss = 0;
  double wall_s = 0, tokens_per_s = 0;
  int skipped_steps = 0;
  std::string out_path;           // written state (empty if none)
  GuideStats guide;               // guided runs: the guide's whole cost
};

// Called on the tuning thread. Keep handlers short; the GUI forwards them through queued signals.
class TuneObserver {
 public:
  virtual ~TuneObserver() = default;
  virtual void on_start(const TuneInfo&) {}
  virtual void on_step(const StepMetrics&) {}
  virtual void on_eval(const EvalMetrics&) {}
  virtual void on_snapshot(const StateSnapshot&) {}
  virtual void on_decor(const DecorMetrics&) {}             // kernel runs only
  virtual void on_covariance(const CovarianceSnapshot&) {}  // while TuneControl::covariance_layer >= 0
  virtual void on_log(const std::string& line) {}   // human-readable events (NaN skipped, autosaved, ...)
  virtual void on_finish(const TuneSummary&) {}
};

// Shared between the tuning thread and whoever controls it.
struct TuneControl {
  std::atomic<bool> cancel{false};  // stop at the next micro-batch boundary; autosave; return
  std::atomic<bool> pause{false};   // hold between steps until cleared (or cancel)
  // Testing hook: add NaN to the loss of this optimizer step (1-based); 0 = off.
  std::atomic<int> inject_nan_step{0};
  // Kernel runs: while >= 0, every step also sends on_covariance for this layer and head,
  // downsampled to covariance_size.
  std::atomic<int> covariance_layer{-1};
  std::atomic<int> covariance_head{0};
  std::atomic<int> covariance_size{64};
};

class Tuner {
 public:
  // Loads model, tokenizer and data; validates; throws rwkv::Error on any problem. A guided run
  // (cfg.guided) also loads the guide, lets it answer the training questions and, for "kl",
  // scores them: progress lines go to setup_obs->on_log, ctl->cancel stops it (Error(Cancelled)).
  explicit Tuner(const TuneConfig& cfg, TuneObserver* setup_obs = nullptr, TuneControl* ctl = nullptr);
  ~Tuner();

  const TuneInfo& info() const;
  // Runs to the end, to early stop or to cancel. Saves the best-eval state to cfg.out (atomic).
  TuneSummary run(TuneObserver* obs = nullptr, TuneControl* ctl = nullptr);
  // The current S0 (any time after construction; from the tuning thread only while running).
  InitialState state() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The config stored in an autosave file (to resume with the same settings, e.g. `rwkv-tune tune
// --resume FILE` without repeating them). Throws Error(Io/Format) naming the file.
TuneConfig autosave_config(const std::string& autosave_path);

}  // namespace rwkv
