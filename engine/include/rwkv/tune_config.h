// The settings of a state-tuning run. Serialises to/from JSON (run config files, the autosave,
// our state file's metadata) and to the equivalent `rwkv-tune tune ...` command line.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rwkv {

struct TuneConfig {
  // Inputs and outputs
  std::string model;            // checkpoint path
  std::string tokenizer;        // "" = auto (bytes for V=256, else a vocab next to the model)
  std::string data;             // JSON Lines
  std::string out;              // state file to write (format from the extension)
  std::string init_state;       // "" = zeros, else a state file to start from
  std::string resume;           // "" = fresh run, else an autosave file to resume bit-identically
  std::string autosave;         // "" = <out>.autosave
  // Data
  int ctx_len = 512;            // tokens per sample (longer ones are truncated and counted)
  double eval_fraction = 0.1;   // held-out share of the samples
  // Optimisation (AdamW on S0 only)
  double lr = 0.05;
  double lr_final = 0.005;
  int warmup_steps = 10;
  std::string schedule = "cosine";  // "cosine", "linear", "constant" (after warmup)
  double beta1 = 0.9, beta2 = 0.99, adam_eps = 1e-8;
  double weight_decay = 0.0;
  double grad_clip = 1.0;       // global grad-norm clip; 0 = off
  int epochs = 1;
  int max_steps = 0;            // > 0 overrides epochs: optimizer steps in total
  int micro_bsz = 1;            // samples per forward (padded, masked)
  int accum = 1;                // micro-batches per optimizer step
  // Method (method note sections 1-3)
  std::string method = "plain"; // "plain": S0 only; "kernel": S0 plus the kernel-upscaled state U0
  int kernel_m = 256;           // kernel features per head (M); memory grows as M^2 per head
  std::string kernel_support = "kmeans";  // support vectors from the training keys: "kmeans" (k-means++) or "random"
  double kernel_gamma = 0.0;    // Gaussian width; 0 = 1 / median squared key-support distance (per head)
  bool kernel_write = false;    // U_t += beta (Q^T v_t)(R phi(kk_t))^T with a trainable beta (starts at 0)
  double kernel_lr = 0.0;       // AdamW learning rate of U0 and beta at the peak; 0 = lr (same schedule)
  std::string dbp = "off";      // decorrelation of z = R phi: "off" (R = I), "loss" or "update" (kernel only)
  double dbp_alpha = 1.0;       // loss mode: L = CE + alpha * L_decor
  double dbp_lambda = 0.0;      // L_decor = sum_{i!=j} Cz_ij^2 / M^2 + lambda * sum_i (Cz_ii - 1)^2 / M
                                // (0 by default: the features' variances are ~0.01, so the unit-variance
                                // term dominates and raises the correlations; README, DBP)
  bool dbp_task_grad = false;   // loss mode: also let the task loss (CE) train R, the note's literal
                                // L = CE + alpha L_decor on R (default: R learns from L_decor only)
  double dbp_lr = 1e-3;         // loss mode: AdamW learning rate of R (constant)
  bool recompute = false;       // re-run each layer in the backward instead of keeping its activations:
                                // ~one extra forward per step for far less activation memory
  double dbp_eta = 1e-2;        // update mode: R <- R - eta (E[zz^T] - diag(E[z^2])) R after every step
  // Guided tuning (method note section 4): a guide model G that shares the student's tokenizer
  // writes the targets. Combines with either method (the student's S0, and U0 for kernel).
  std::string guide;            // guide checkpoint; its vocabulary must equal the student's
  std::string guided = "off";   // "off"; "cot": CE on the guide's greedy answers to the training
                                // questions (kept when they match the reference, see guide_filter);
                                // "kl": per target position of those sequences,
                                //   KL(p_G(.|prefix) || p_S(.|prefix)) over the guide's top
                                //   guide_topk tokens plus one bucket for the rest, guide logits
                                //   cached once; "kl_multi": at guide_points random target positions
                                //   of each sequence the student samples a guide_k-token
                                //   continuation, the loss sums the full-vocabulary KL over those
                                //   k steps (the guide scores the continuation every step)
  double guide_kl_weight = 1.0; // kl, kl_multi: L = kl_weight * KL + ce_weight * CE (CE on the guide's targets)
  double guide_ce_weight = 0.0;
  int guide_max_tokens = 256;   // tokens per guide answer (greedy, stops at a blank line / end-of-text)
  bool guide_filter = true;     // keep only answers whose extracted answer matches the reference
                                // (scorer: gsm8k when a reference has ####, choice for letters, else
                                // exact); questions without a reference are always kept
  int guide_topk = 64;          // kl: guide probabilities cached per target token (>= vocab: all, exact KL)
  int guide_k = 4;              // kl_multi: continuation length k
  int guide_points = 4;         // kl_multi: branch points per sequence per step
  // Evaluation and stopping
  int eval_every = 50;          // optimizer steps between eval-loss passes; 0 = only at the end
  int early_stop_patience = 0;  // stop after this many evals without improvement; 0 = off
  // Run control
  uint64_t seed = 42;
  int autosave_every = 100;     // optimizer steps; 0 = only on cancel/finish
  std::string device = "cpu";   // "cpu", "cuda"
  // Observation
  int snapshot_every = 10;      // steps between state snapshots sent to the observer; 0 = off
  std::vector<std::pair<int, int>> snapshot_heads;  // (layer, head); empty = (0,0) and (L-1,0)
  int snapshot_size = 32;       // snapshots are downsampled to at most size x size

  // Throws Error(Argument) with a message naming the field for invalid values
  // (ctx_len < 2, lr <= 0, micro_bsz < 1, eval_fraction outside [0, 0.9], ...).
  void validate() const;
  std::string to_json() const;
  static TuneConfig from_json(const std::string& json);  // unknown keys -> Error(Argument)
  std::vector<std::string> to_command_line() const;     // {"rwkv-tune", "tune", "--model", ...}
};

}  // namespace rwkv
