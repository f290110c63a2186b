// The metrics of the current run, kept for CSV export and the history's final figures
// (per-layer aggregates only: memory stays small for long runs of large models).
#pragma once
#include <QString>

#include <vector>

#include "metrics_queue.h"

class RunData {
 public:
  struct Step {
    int step = 0, epoch = 0;
    double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, elapsed_s = 0;
    qint64 memory_bytes = 0;
    bool skipped = false;
    std::vector<float> grad_norm_layer;   // [L]
    std::vector<float> state_norm_layer;  // [L] over all heads
  };

  void clear();
  void add(const MetricsBatch& batch);
  const rwkv::TuneInfo& info() const { return info_; }
  const std::vector<Step>& steps() const { return steps_; }
  const std::vector<rwkv::EvalMetrics>& evals() const { return evals_; }

  // One row per optimizer step: step, epoch, loss, eval_loss (where one was taken), lr, grad_norm,
  // tokens_per_s, memory_bytes, elapsed_s, skipped, grad_norm_l<i>..., state_norm_l<i>...
  bool writeCsv(const QString& path, QString* error) const;

 private:
  rwkv::TuneInfo info_;
  std::vector<Step> steps_;
  std::vector<rwkv::EvalMetrics> evals_;
};
