// Guided tuning inside the tuner (method note section 4; TuneConfig::guided): the guide model,
// its answers to the training questions (which replace the training samples), the cached guide
// probabilities of "kl" and the loss of one micro-batch for "kl" and "kl_multi" ("cot" trains
// with the ordinary cross-entropy on the replaced samples). Also counts what the guide cost.
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "guide_kl.h"
#include "guide_targets.h"
#include "rwkv/tune_config.h"
#include "tune_batches.h"
#include "tune_loss.h"
#include "tune_setup.h"

namespace rwkv {

struct GuideCost {
  int questions = 0, kept = 0;
  std::string scorer;          // of the filter: "gsm8k", "choice", "exact" or "none"
  int64_t generated = 0;       // tokens the guide wrote (its answers)
  int64_t scored = 0;          // tokens the guide read to score sequences (kl: once; kl_multi: every step)
  double seconds = 0;          // wall time of the guide's work (GPU work is timed without a device sync
                               // for kl_multi's scoring, so there it is approximate)
};

class GuidedTuning {
 public:
  // Loads cfg.guide on the student's device (bf16 on the GPU like the student) and checks that
  // it shares the student's vocabulary: Error(Mismatch) naming both files and both sizes.
  GuidedTuning(const TuneConfig& cfg, const Model& student, const Tokenizer& tok);

  // Replaces in.train by the guide's kept answers to the training questions (guided_sample) and,
  // for "kl", caches the guide's top-k probabilities of their target tokens. Progress lines go to
  // `log`. Throws Error(Cancelled) on cancel, Error(Argument) when no answer is kept.
  void prepare(TuneInputs& in, const std::function<void(const std::string&)>& log, const std::atomic<bool>* cancel);

  bool kl_loss() const { return cfg_.guided == "kl" || cfg_.guided == "kl_multi"; }
  // The KL rows of one optimizer step over train[groups...] (kl: its target tokens; kl_multi:
  // branch_rows per sample), the normaliser of the KL term.
  int64_t kl_rows(const std::vector<Sample>& train, const std::vector<std::vector<int>>& groups) const;
  // The loss of one micro-batch (mb = make_micro_batch of train[idx]), already normalised:
  //   kl_weight * sum KL / kl_rows + ce_weight * sum CE / targets.
  // *kl_sum receives the detached sum of KL. z: as micro_batch_ce_sum (from the KL forward).
  torch::Tensor loss(const Model::Impl& student, const std::vector<Sample>& train, const std::vector<int>& idx,
                     const MicroBatch& mb, const std::vector<torch::Tensor>& s0, const KernelTrain& kt,
                     std::vector<torch::Tensor>* z, int step, int64_t targets, int64_t kl_rows, torch::Tensor* kl_sum);

  const GuideCost& cost() const { return cost_; }
  const GuideAnswers& answers() const { return answers_; }

 private:
  TuneConfig cfg_;
  std::shared_ptr<const Model> guide_;
  const Tokenizer* tok_;
  GuideAnswers answers_;
  std::vector<GuideTopK> cache_;  // kl: per training sample
  GuideCost cost_;
};

}  // namespace rwkv
