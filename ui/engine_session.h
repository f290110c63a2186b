// EngineSession: the GUI-thread side of the engine bridge. Owns the worker thread, the
// EngineWorker and the MetricsQueue, and drains the queue on a single-shot timer (at most one
// drain per kDrainMs, whatever the step rate). Every call returns at once; results come back as
// signals on the GUI thread.
#pragma once
#include <QObject>
#include <QThread>
#include <QTimer>

#include "engine_types.h"
#include "engine_worker.h"
#include "metrics_queue.h"

class EngineSession : public QObject {
  Q_OBJECT
 public:
  static constexpr int kDrainMs = 40;

  explicit EngineSession(QObject* parent = nullptr);
  ~EngineSession() override;  // cancels a run and joins the thread

  void loadModel(const QString& path);
  void previewDataset(const QString& path, const QString& tokenizer, int ctxLen);
  void start(const rwkv::TuneConfig& cfg);
  void setPaused(bool paused);
  void stop();
  void saveState(const QString& path);

  bool isRunning() const { return running_; }
  bool isPaused() const { return paused_; }
  EngineWorker* worker() const { return worker_; }
  QThread* engineThread() { return &thread_; }  // the compare and inspector workers live here too

 Q_SIGNALS:
  void modelLoaded(const ModelSummary& model);
  void datasetPreviewed(const DatasetSummary& data);
  void batchReady(const MetricsBatch& batch);  // drained metrics, in arrival order per kind
  void runStarted(const rwkv::TuneConfig& cfg);
  void runFinished(const rwkv::TuneSummary& summary);
  void runFailed(const ErrorReport& report);
  void stateSaved(const QString& path, const QString& format);
  void failed(const ErrorReport& report);  // model, dataset or save failures
  void runningChanged(bool running);

 private:
  void drain();
  void onWorkerFailed(const ErrorReport& report);
  void onFinished(const rwkv::TuneSummary& summary);

  QThread thread_;
  MetricsQueue queue_;
  EngineWorker* worker_;  // lives on thread_, deleted when it finishes
  QTimer drainTimer_;
  bool running_ = false, paused_ = false;
};
