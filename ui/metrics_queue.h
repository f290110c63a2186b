// The observer adapter between the tuning thread and the GUI (PlotJuggler pattern): the engine's
// callbacks append to a mutex-protected batch and post at most one dataReady() notification until
// the GUI takes the batch. The GUI drains on a short single-shot timer, so plots redraw at a
// bounded rate whatever the step rate. Only value types cross (snapshots are downsampled copies).
#pragma once
#include <QMetaType>
#include <QObject>
#include <QStringList>

#include <mutex>
#include <optional>
#include <vector>

#include "rwkv/tuner.h"

struct MetricsBatch {
  std::optional<rwkv::TuneInfo> info;
  std::vector<rwkv::StepMetrics> steps;
  std::vector<rwkv::EvalMetrics> evals;
  std::vector<rwkv::StateSnapshot> snapshots;
  std::vector<rwkv::DecorMetrics> decor;
  std::optional<rwkv::CovarianceSnapshot> covariance;  // the latest only
  QStringList logs;
  bool empty() const {
    return !info && steps.empty() && evals.empty() && snapshots.empty() && decor.empty() && !covariance &&
           logs.isEmpty();
  }
};

Q_DECLARE_METATYPE(MetricsBatch)

class MetricsQueue : public QObject, public rwkv::TuneObserver {
  Q_OBJECT
 public:
  using QObject::QObject;

  // rwkv::TuneObserver, called on the tuning thread.
  void on_start(const rwkv::TuneInfo& info) override;
  void on_step(const rwkv::StepMetrics& m) override;
  void on_eval(const rwkv::EvalMetrics& m) override;
  void on_snapshot(const rwkv::StateSnapshot& s) override;
  void on_decor(const rwkv::DecorMetrics& m) override;
  void on_covariance(const rwkv::CovarianceSnapshot& c) override;
  void on_log(const std::string& line) override;

  void pushLog(const QString& line);  // from any thread
  // Everything queued since the last take (GUI thread). Re-arms the notification.
  MetricsBatch take();

 Q_SIGNALS:
  void dataReady();  // at most one pending per take()

 private:
  template <class F>
  void push(F&& add);

  std::mutex mu_;
  MetricsBatch pending_;
  bool notified_ = false;
};
