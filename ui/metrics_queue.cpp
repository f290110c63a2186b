#include "metrics_queue.h"

template <class F>
void MetricsQueue::push(F&& add) {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    add(pending_);
    notify = !notified_;
    notified_ = true;
  }
  if (notify) Q_EMIT dataReady();  // queued to the GUI thread (the receiver lives there)
}

void MetricsQueue::on_start(const rwkv::TuneInfo& info) {
  push([&](MetricsBatch& b) { b.info = info; });
}

void MetricsQueue::on_step(const rwkv::StepMetrics& m) {
  push([&](MetricsBatch& b) { b.steps.push_back(m); });
}

void MetricsQueue::on_eval(const rwkv::EvalMetrics& m) {
  push([&](MetricsBatch& b) { b.evals.push_back(m); });
}

void MetricsQueue::on_snapshot(const rwkv::StateSnapshot& s) {
  push([&](MetricsBatch& b) { b.snapshots.push_back(s); });
}

void MetricsQueue::on_decor(const rwkv::DecorMetrics& m) {
  push([&](MetricsBatch& b) { b.decor.push_back(m); });
}

void MetricsQueue::on_covariance(const rwkv::CovarianceSnapshot& c) {
  push([&](MetricsBatch& b) { b.covariance = c; });
}

void MetricsQueue::on_log(const std::string& line) { pushLog(QString::fromStdString(line)); }

void MetricsQueue::pushLog(const QString& line) {
  push([&](MetricsBatch& b) { b.logs.push_back(line); });
}

MetricsBatch MetricsQueue::take() {
  std::lock_guard<std::mutex> lock(mu_);
  MetricsBatch out = std::move(pending_);
  pending_ = MetricsBatch{};
  notified_ = false;
  return out;
}
