// Full-weight training of a fresh RWKV-7 from a recipe: only used to make the project's demo
// models (weights unfrozen, the same forward/backward as state tuning). The recipe file fixes
// everything that decides the result, so `rwkv-tune pretrain --recipe R` reproduces a model.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "rwkv/model.h"

namespace rwkv {

struct PretrainRecipe {
  std::string name;              // "demo-small"
  // Shape. n_vocab 0 = the tokenizer's size; dim_ffn 0 = 4C; LoRA widths 0 = by width.
  ModelDims dims;
  // Data: the corpus (JSON Lines, rendered as the tuner renders them; every document ends with the
  // end-of-text id) and, optionally, held-out JSON Lines whose loss is reported as eval loss.
  std::string corpus, corpus_sha256;  // sha256 "" = not checked
  std::string eval_data;
  std::string tokenizer;         // sentencepiece .model / World vocab / "bytes"
  int ctx_len = 256;             // tokens per training window
  int micro_bsz = 32;            // windows per step
  int steps = 2000;              // optimizer steps
  double lr = 3e-3, lr_final = 1e-4;
  int warmup_steps = 100;
  double weight_decay = 0.1;     // on matrices only
  double grad_clip = 1.0;
  double beta1 = 0.9, beta2 = 0.99, adam_eps = 1e-8;
  uint64_t seed = 1;             // initial weights and the windows of every step
  int eval_every = 250;          // steps between eval-loss passes (and checkpoints)

  static PretrainRecipe load(const std::string& path);       // paths in it are relative to its folder
  static PretrainRecipe from_json(const std::string& json);  // unknown keys -> Error(Argument)
  std::string to_json() const;
  void validate() const;
};

struct PretrainProgress {
  int step = 0, steps = 0;
  double loss = 0;       // mean token cross-entropy of this step's windows
  double eval_loss = -1; // < 0 when not measured at this step
  double lr = 0;
  double tokens_per_s = 0, eta_s = 0, elapsed_s = 0;
};

struct PretrainResult {
  int steps = 0;
  double loss = 0;       // mean train loss over the last 5% of steps
  double eval_loss = -1;
  double wall_s = 0;
  int64_t tokens = 0;
  int64_t n_params = 0;
};

struct PretrainOptions {
  std::string tokenizer;    // "" = the recipe's
  std::string out;          // model file to write (our safetensors; bf16 matrices)
  std::string device = "cpu";
  bool resume = false;      // continue from <out>.ckpt (weights, moments, step) if it exists
  int stop_after = 0;       // > 0: stop (with a checkpoint) after this many steps of this call
  std::function<void(const PretrainProgress&)> on_progress;
  const std::atomic<bool>* cancel = nullptr;
};

// Trains, checkpointing to <out>.ckpt every eval_every steps and on cancel/stop_after, and writes
// the final model to `out` (atomic) with the recipe and results in its metadata.
PretrainResult pretrain(const PretrainRecipe& recipe, const PretrainOptions& opt);

}  // namespace rwkv
