// The autosave file of a tuning run: everything needed to continue bit-identically after a
// cancel or a crash. A safetensors container (readable with Python `safetensors`):
//   tensors  s0.{l}, adam_m.{l}, adam_v.{l} and, once an eval has run, best_s0.{l}: F32 [H,N,N]
//   __metadata__ {"format": "rwkv-tune-autosave", "version": "1", "run": <JSON string>}
// where run holds the step, the optimizer's update count, the lr multiplier (NaN guard), the
// early-stopping state, the config, the data and model fingerprints and the metric history.
// The batch order is a pure function of (seed, step), so the step fixes the shuffle position.
// Written with atomic_write_file (temp file, fsync, rename): a crash leaves the previous file.
#pragma once
#include <torch/torch.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "rwkv/tune_config.h"

namespace rwkv {

struct StepRecord {
  int step = 0, epoch = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  bool skipped = false;
};
struct EvalRecord {
  int step = 0;
  double loss = 0;
};

struct TuneHistory {
  std::vector<StepRecord> steps;
  std::vector<EvalRecord> evals;
  std::string to_json() const;  // {"steps": [{"step","epoch","loss","lr","grad_norm","skipped"}], "evals": [{"step","loss"}]}
  static TuneHistory from_json(const std::string& text, const std::string& where);
};

struct AutosaveData {
  TuneConfig config;
  std::string model_sha256, data_sha256;
  int step = 0;                  // optimizer steps done
  int64_t adam_t = 0;            // optimizer updates done (skipped steps do not count)
  double lr_mult = 1.0;          // halved by every skipped step
  int skipped_steps = 0;
  int best_step = 0;             // step of best_s0 (0 = none yet)
  double best_eval_loss = std::numeric_limits<double>::infinity();
  double first_eval_loss = std::numeric_limits<double>::quiet_NaN();
  int evals_since_best = 0;      // early-stopping counter
  bool finished = false;         // the run ended (all steps or early stop)
  bool early_stopped = false;
  bool eval_pending = false;     // a cancel interrupted the eval of `step`: resume runs it first
  TuneHistory history;
  std::vector<torch::Tensor> s0, adam_m, adam_v, best_s0;  // L x [H,N,N] fp32 CPU (best_s0 may be empty)
  // Further named fp32 tensors (the kernel method's parameters and optimizer moments), stored
  // as "x.<name>".
  std::map<std::string, torch::Tensor> extra;
};

void write_autosave(const std::string& path, const AutosaveData& a);
// Throws Error(Io) if unreadable, Error(Format) naming the file and key if it is not ours or corrupt.
AutosaveData read_autosave(const std::string& path);

// Refuses (Error(Mismatch), naming the field and both values) to resume with settings that would
// change the result. Paths (out, resume, autosave), device, autosave_every and the snapshot
// options may differ.
void check_resume_compatible(const TuneConfig& saved, const TuneConfig& given);

}  // namespace rwkv
