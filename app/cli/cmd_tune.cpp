// rwkv-tune tune: state tuning from the command line. Settings come from the defaults, then
// --config FILE.json (or, with --resume and no --config, the autosave's own settings), then the
// options given. Progress is one line updated in place on a terminal and plain lines otherwise;
// Ctrl-C (or SIGTERM) cancels cleanly: the run autosaves and can be resumed with --resume.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/error.h"
#include "rwkv/tuner.h"

namespace cli {

namespace {

std::atomic<bool>* g_cancel = nullptr;

extern "C" void on_interrupt(int) {
  if (g_cancel) g_cancel->store(true);
  signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  signal(SIGTERM, SIG_DFL);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw rwkv::Error(rwkv::ErrorKind::Io, "cannot open config file " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void declare(ArgParser& a) {
  const rwkv::TuneConfig d;
  a.option("model", "FILE", "model checkpoint (.pth, .safetensors, rwkv.cpp .bin)");
  a.option("data", "FILE", "training data, JSON Lines (text, question/answer or chat messages)");
  a.option("out", "FILE", "tuned state to write (.rwkvstate ours, .pth RWKV-PEFT, .st Ai00)");
  a.option("config", "FILE", "run settings as JSON (the keys of the tune config); options given here override it");
  a.option("tokenizer", "FILE", "World vocab .txt, sentencepiece .model or 'bytes' (default: auto)");
  a.option("init-state", "FILE", "start from this state file instead of zeros");
  a.option("resume", "FILE", "continue bit-identically from an autosave (its settings are used unless overridden)");
  a.option("autosave", "FILE", "autosave file (default: <out>.autosave)");
  a.option("ctx-len", "N", "tokens per sample, longer ones are truncated", std::to_string(d.ctx_len));
  a.option("eval-fraction", "F", "held-out share of the samples, 0..0.9", fmt("%g", d.eval_fraction));
  a.option("lr", "LR", "peak learning rate (AdamW on the state)", fmt("%g", d.lr));
  a.option("lr-final", "LR", "learning rate at the last step", fmt("%g", d.lr_final));
  a.option("warmup", "N", "linear warmup steps", std::to_string(d.warmup_steps));
  a.option("schedule", "S", "after warmup: cosine, linear or constant", d.schedule);
  a.option("beta1", "B", "AdamW beta1", fmt("%g", d.beta1));
  a.option("beta2", "B", "AdamW beta2", fmt("%g", d.beta2));
  a.option("adam-eps", "E", "AdamW epsilon", fmt("%g", d.adam_eps));
  a.option("weight-decay", "W", "AdamW decoupled weight decay", fmt("%g", d.weight_decay));
  a.option("grad-clip", "G", "global gradient-norm clip, 0 = off", fmt("%g", d.grad_clip));
  a.option("epochs", "N", "passes over the training samples", std::to_string(d.epochs));
  a.option("steps", "N", "optimizer steps in total (overrides --epochs), 0 = by epochs", std::to_string(d.max_steps));
  a.option("micro-bsz", "N", "samples per forward pass", std::to_string(d.micro_bsz));
  a.option("accum", "N", "micro-batches per optimizer step", std::to_string(d.accum));
  a.option("eval-every", "N", "steps between eval-loss passes, 0 = only at the end", std::to_string(d.eval_every));
  a.option("patience", "N", "early stop after N evals without improvement, 0 = off", std::to_string(d.early_stop_patience));
  a.option("seed", "N", "seed of the split and the shuffle", std::to_string(d.seed));
  a.option("autosave-every", "N", "steps between autosaves, 0 = only on cancel and at the end",
           std::to_string(d.autosave_every));
  a.option("device", "D", "cpu, cuda or cuda:N", d.device);
  a.option("snapshot-every", "N", "steps between state snapshots for observers, 0 = off", std::to_string(d.snapshot_every));
  a.repeatable("snapshot-head", "L,H", "layer and head to snapshot (default: first and last layer, head 0)");
  a.option("snapshot-size", "N", "snapshot side after downsampling", std::to_string(d.snapshot_size));
  a.option("method", "M", "plain (S0 only) or kernel (S0 plus the kernel-upscaled state U0)", d.method);
  a.option("kernel-m", "M", "kernel features per head (memory grows as M^2 per head)", std::to_string(d.kernel_m));
  a.option("kernel-support", "S", "support vectors from the training keys: kmeans (k-means++) or random",
           d.kernel_support);
  a.option("kernel-gamma", "G", "Gaussian width, 0 = median heuristic", fmt("%g", d.kernel_gamma));
  a.flag("kernel-write", "let tokens write into U (U += beta (Q^T v)(R phi(k))^T, beta trainable from 0)");
  a.option("kernel-lr", "LR", "peak learning rate of U0 and beta, 0 = --lr", fmt("%g", d.kernel_lr));
  a.option("dbp", "MODE", "decorrelated backpropagation of the kernel features: off, loss or update", d.dbp);
  a.option("dbp-alpha", "A", "loss mode: weight of the decorrelation loss", fmt("%g", d.dbp_alpha));
  a.option("dbp-lambda", "L", "weight of the unit-variance term in the decorrelation loss", fmt("%g", d.dbp_lambda));
  a.flag("dbp-task-grad", "loss mode: let the task loss train R too (default: R learns from the decorrelation loss only)");
  a.option("dbp-lr", "LR", "loss mode: AdamW learning rate of R", fmt("%g", d.dbp_lr));
  a.flag("recompute", "re-run each layer in the backward: ~one extra forward per step for far less activation memory");
  a.option("dbp-eta", "E", "update mode: step of R <- R - eta (E[zz^T] - diag E[z^2]) R", fmt("%g", d.dbp_eta));
  a.option("guide", "FILE", "guided tuning: the guide model (it must share the student's tokenizer)");
  a.option("guided", "MODE", "off; cot (CE on the guide's answers that match the reference), kl (KL to the guide on "
           "its answers) or kl_multi (KL over k-token continuations the student samples)", d.guided);
  a.option("kl-weight", "W", "kl, kl_multi: weight of the KL term", fmt("%g", d.guide_kl_weight));
  a.option("ce-weight", "W", "kl, kl_multi: weight of the cross-entropy on the guide's answers", fmt("%g", d.guide_ce_weight));
  a.option("guide-max-tokens", "N", "tokens per guide answer", std::to_string(d.guide_max_tokens));
  a.flag("guide-no-filter", "keep every guide answer, also those that do not match the reference");
  a.option("guide-topk", "K", "kl: guide probabilities cached per target token (the rest is one bucket)",
           std::to_string(d.guide_topk));
  a.option("guide-k", "K", "kl_multi: continuation length", std::to_string(d.guide_k));
  a.option("guide-points", "N", "kl_multi: branch points per sequence per step", std::to_string(d.guide_points));
  a.flag("dry-run", "print the resolved settings as JSON and exit without tuning");
}

// The settings: base (defaults, config file or autosave) with the given options on top.
rwkv::TuneConfig resolve_config(const ArgParser& a) {
  rwkv::TuneConfig c;
  if (a.has("config"))
    c = rwkv::TuneConfig::from_json(read_file(a.str("config")));
  else if (a.has("resume"))
    c = rwkv::autosave_config(a.str("resume"));
  const auto str = [&](const char* flag, std::string* v) {
    if (a.has(flag)) *v = a.str(flag);
  };
  const auto integer = [&](const char* flag, int* v) {
    if (a.has(flag)) *v = static_cast<int>(a.integer(flag, INT_MIN, INT_MAX));
  };
  const auto number = [&](const char* flag, double* v) {
    if (a.has(flag)) *v = a.number(flag, -1e300, 1e300);
  };
  str("model", &c.model);
  str("data", &c.data);
  str("out", &c.out);
  str("tokenizer", &c.tokenizer);
  str("init-state", &c.init_state);
  str("resume", &c.resume);
  str("autosave", &c.autosave);
  integer("ctx-len", &c.ctx_len);
  number("eval-fraction", &c.eval_fraction);
  number("lr", &c.lr);
  number("lr-final", &c.lr_final);
  integer("warmup", &c.warmup_steps);
  str("schedule", &c.schedule);
  number("beta1", &c.beta1);
  number("beta2", &c.beta2);
  number("adam-eps", &c.adam_eps);
  number("weight-decay", &c.weight_decay);
  number("grad-clip", &c.grad_clip);
  integer("epochs", &c.epochs);
  integer("steps", &c.max_steps);
  integer("micro-bsz", &c.micro_bsz);
  integer("accum", &c.accum);
  integer("eval-every", &c.eval_every);
  integer("patience", &c.early_stop_patience);
  if (a.has("seed")) c.seed = a.u64("seed");
  integer("autosave-every", &c.autosave_every);
  str("device", &c.device);
  integer("snapshot-every", &c.snapshot_every);
  integer("snapshot-size", &c.snapshot_size);
  str("method", &c.method);
  integer("kernel-m", &c.kernel_m);
  str("kernel-support", &c.kernel_support);
  number("kernel-gamma", &c.kernel_gamma);
  if (a.has("kernel-write")) c.kernel_write = true;
  number("kernel-lr", &c.kernel_lr);
  str("dbp", &c.dbp);
  number("dbp-alpha", &c.dbp_alpha);
  number("dbp-lambda", &c.dbp_lambda);
  number("dbp-lr", &c.dbp_lr);
  if (a.has("dbp-task-grad")) c.dbp_task_grad = true;
  number("dbp-eta", &c.dbp_eta);
  if (a.has("recompute")) c.recompute = true;
  str("guide", &c.guide);
  str("guided", &c.guided);
  number("kl-weight", &c.guide_kl_weight);
  number("ce-weight", &c.guide_ce_weight);
  integer("guide-max-tokens", &c.guide_max_tokens);
  if (a.has("guide-no-filter")) c.guide_filter = false;
  integer("guide-topk", &c.guide_topk);
  integer("guide-k", &c.guide_k);
  integer("guide-points", &c.guide_points);
  if (a.has("snapshot-head")) {
    c.snapshot_heads.clear();
    for (const auto& s : a.all("snapshot-head")) {
      int l = -1, h = -1;
      char end = 0;
      if (std::sscanf(s.c_str(), "%d,%d%c", &l, &h, &end) != 2)
        a.fail("--snapshot-head: expected LAYER,HEAD (e.g. 0,1), got '" + s + "'");
      c.snapshot_heads.emplace_back(l, h);
    }
  }
  return c;
}

// Prints progress: a bar rewritten in place on a terminal (at most ~10 times a second), plain
// lines (at most ~2 a second) otherwise; the first, last and skipped steps always.
class Printer : public rwkv::TuneObserver {
 public:
  explicit Printer(bool tty) : tty_(tty) {}

  void on_start(const rwkv::TuneInfo& i) override {
    if (!i.data_issues.empty()) {
      std::printf("data: %zu unusable line(s):\n", i.data_issues.size());
      for (const auto& s : i.data_issues) std::printf("  %s\n", s.c_str());
    }
    if (i.n_truncated > 0) std::printf("data: %d sample(s) truncated to ctx_len\n", i.n_truncated);
    std::printf("tuning S0 of %d layers x %d heads x %dx%d%s on %d training samples (%lld tokens), %d eval samples, "
                "%d steps%s\n",
                i.n_layer, i.n_head, i.head_size, i.head_size,
                i.method == "kernel"
                    ? (" + kernel U0 " + std::to_string(i.kernel_m) + "x" + std::to_string(i.kernel_m) + ", DBP " + i.dbp)
                          .c_str()
                    : "",
                i.n_train, static_cast<long long>(i.train_tokens), i.n_eval, i.total_steps,
                i.start_step > 0 ? (", resuming after step " + std::to_string(i.start_step)).c_str() : "");
    if (i.guided != "off")
      std::printf("guided %s: %d of %d guide answers kept (%s), guide so far: %lld tokens written, %lld scored, %s\n",
                  i.guided.c_str(), i.guide.kept, i.guide.questions, i.guide.scorer.c_str(),
                  static_cast<long long>(i.guide.tokens_generated), static_cast<long long>(i.guide.tokens_scored),
                  format_duration(i.guide.seconds).c_str());
    guided_ = i.guided != "off";
    kl_ = i.guided == "kl" || i.guided == "kl_multi";
    total_steps_ = i.total_steps;
    std::fflush(stdout);
  }
  void on_step(const rwkv::StepMetrics& m) override {
    const auto now = std::chrono::steady_clock::now();
    const double every = tty_ ? 0.1 : 0.5;  // seconds between updates
    const bool due = m.step == 1 || m.step == m.total_steps || m.skipped ||
                     std::chrono::duration<double>(now - last_print_).count() >= every;
    if (!due) return;
    last_print_ = now;
    std::string line = "step " + std::to_string(m.step) + "/" + std::to_string(m.total_steps) + "  loss " +
                       fmt("%.4f", m.loss) + (have_eval_ ? "  eval " + fmt("%.4f", eval_) : "") + "  lr " +
                       fmt("%.3g", m.lr) + (kl_ ? "  KL " + fmt("%.4f", m.guide_kl) : "") +
                       (m.guide.tokens_scored > 0 && guided_ ? "  guide " + fmt("%.0f", m.guide.seconds) + " s" : "") +
                       "  " + fmt("%.0f", m.tokens_per_s) + " tok/s  ETA " + format_duration(m.eta_s) +
                       (m.skipped ? "  (skipped)" : "");
    if (tty_) {
      std::printf("\r\033[K%s", line.c_str());
      bar_open_ = true;
    } else {
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }
  void on_eval(const rwkv::EvalMetrics& e) override {
    have_eval_ = true;
    eval_ = e.eval_loss;
    plain("eval at step " + std::to_string(e.step) + ": loss " + fmt("%.4f", e.eval_loss) + " (best " +
          fmt("%.4f", e.best_eval_loss) + ")");
  }
  void on_log(const std::string& s) override { plain(s); }
  // Decorrelation statistics of the kernel features: the first and last step and ~10 in between.
  void on_decor(const rwkv::DecorMetrics& d) override {
    const int every = std::max(1, total_steps_ / 10);
    if (!(d.step == 1 || d.step == total_steps_ || d.step % every == 0)) return;
    std::string line = "decor step " + std::to_string(d.step) + " (" + std::to_string(d.tokens) + " tokens, L_decor " +
                       fmt("%.4g", d.decor_loss) + "):";
    for (size_t l = 0; l < d.layers.size(); ++l) {
      const auto& s = d.layers[l];
      line += "  L" + std::to_string(l) + " |corr| " + fmt("%.3f", s.mean_abs_corr) + " off/diag " +
              fmt("%.3g", s.offdiag_ratio) + " var " + fmt("%.2g", s.min_var) + ".." + fmt("%.2g", s.max_var) +
              " cond " + fmt("%.3g", s.condition);
    }
    plain(line);
  }
  void on_finish(const rwkv::TuneSummary& s) override {
    close_bar();
    std::printf("%s after %d steps in %s: final loss %.4f", s.cancelled ? "cancelled" : "done", s.steps_done,
                format_duration(s.wall_s).c_str(), s.final_loss);
    if (have_eval_)
      std::printf(", eval loss %.4f -> %.4f (best %.4f)", s.first_eval_loss, s.final_eval_loss, s.best_eval_loss);
    std::printf(", %.0f tok/s", s.tokens_per_s);
    if (s.skipped_steps) std::printf(", %d step(s) skipped (non-finite)", s.skipped_steps);
    if (s.early_stopped) std::printf(", early stop");
    std::printf("\n");
    if (guided_)
      std::printf("guide cost: %d questions, %d answers kept, %lld tokens written, %lld tokens scored, %s\n",
                  s.guide.questions, s.guide.kept, static_cast<long long>(s.guide.tokens_generated),
                  static_cast<long long>(s.guide.tokens_scored), format_duration(s.guide.seconds).c_str());
    if (!s.out_path.empty()) std::printf("wrote %s\n", s.out_path.c_str());
    std::fflush(stdout);
  }

 private:
  void close_bar() {
    if (bar_open_) std::printf("\n");
    bar_open_ = false;
  }
  void plain(const std::string& s) {
    if (tty_ && bar_open_) std::printf("\r\033[K");
    bar_open_ = false;
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  }

  bool tty_;
  int total_steps_ = 0;
  bool bar_open_ = false, have_eval_ = false, guided_ = false, kl_ = false;
  double eval_ = 0;
  std::chrono::steady_clock::time_point last_print_{};
};

}  // namespace

int cmd_tune(const Args& args) {
  ArgParser a("tune", "Tunes the initial state S0 of every layer on a JSON Lines data set, with every weight frozen.");
  declare(a);
  a.parse(args);
  const rwkv::TuneConfig cfg = resolve_config(a);
  if (a.has("dry-run")) {
    cfg.validate();
    std::printf("%s\n", cfg.to_json().c_str());
    return 0;
  }
  rwkv::TuneControl ctl;
  g_cancel = &ctl.cancel;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  Printer printer(isatty(fileno(stdout)));
  rwkv::Tuner tuner(cfg, &printer, &ctl);  // a guided run's guide answers here (Ctrl-C stops it)
  const rwkv::TuneSummary s = tuner.run(&printer, &ctl);
  g_cancel = nullptr;
  return s.cancelled ? 130 : 0;
}

}  // namespace cli
