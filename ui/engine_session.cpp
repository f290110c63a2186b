#include "engine_session.h"

EngineSession::EngineSession(QObject* parent) : QObject(parent), worker_(new EngineWorker(&queue_)) {
  registerEngineMetaTypes();
  thread_.setObjectName("engine");
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &EngineWorker::modelLoaded, this, &EngineSession::modelLoaded);
  connect(worker_, &EngineWorker::datasetPreviewed, this, &EngineSession::datasetPreviewed);
  connect(worker_, &EngineWorker::stateSaved, this, &EngineSession::stateSaved);
  connect(worker_, &EngineWorker::tuneFinished, this, &EngineSession::onFinished);
  connect(worker_, &EngineWorker::failed, this, &EngineSession::onWorkerFailed);

  drainTimer_.setSingleShot(true);
  drainTimer_.setInterval(kDrainMs);
  connect(&drainTimer_, &QTimer::timeout, this, &EngineSession::drain);
  connect(&queue_, &MetricsQueue::dataReady, this, [this] {
    if (!drainTimer_.isActive()) drainTimer_.start();
  });
  thread_.start();
}

EngineSession::~EngineSession() {
  worker_->control().cancel = true;
  worker_->control().pause = false;
  thread_.quit();
  thread_.wait();
}

void EngineSession::loadModel(const QString& path) {
  QMetaObject::invokeMethod(worker_, "loadModel", Qt::QueuedConnection, Q_ARG(QString, path));
}

void EngineSession::previewDataset(const QString& path, const QString& tokenizer, int ctxLen) {
  QMetaObject::invokeMethod(worker_, "previewDataset", Qt::QueuedConnection, Q_ARG(QString, path),
                            Q_ARG(QString, tokenizer), Q_ARG(int, ctxLen));
}

void EngineSession::start(const rwkv::TuneConfig& cfg) {
  if (running_) return;
  queue_.take();  // nothing of an earlier run may leak into this one
  worker_->control().cancel = false;
  worker_->control().pause = false;
  running_ = true;
  paused_ = false;
  QMetaObject::invokeMethod(worker_, "startTuning", Qt::QueuedConnection, Q_ARG(rwkv::TuneConfig, cfg));
  Q_EMIT runStarted(cfg);
  Q_EMIT runningChanged(true);
}

void EngineSession::setPaused(bool paused) {
  if (!running_) return;
  paused_ = paused;
  worker_->control().pause = paused;
  queue_.pushLog(paused ? "pause requested: the run holds after the current step"
                        : "resume requested");
}

void EngineSession::stop() {
  if (!running_) return;
  worker_->control().cancel = true;
  worker_->control().pause = false;
  queue_.pushLog("stop requested: the run ends at the next micro-batch and autosaves");
}

void EngineSession::saveState(const QString& path) {
  QMetaObject::invokeMethod(worker_, "saveState", Qt::QueuedConnection, Q_ARG(QString, path));
}

void EngineSession::drain() {
  MetricsBatch batch = queue_.take();
  if (!batch.empty()) Q_EMIT batchReady(batch);
}

void EngineSession::onFinished(const rwkv::TuneSummary& summary) {
  drainTimer_.stop();
  drain();  // the last metrics come before the summary
  running_ = paused_ = false;
  Q_EMIT runFinished(summary);
  Q_EMIT runningChanged(false);
}

void EngineSession::onWorkerFailed(const ErrorReport& report) {
  if (report.operation != "Tuning") {
    Q_EMIT failed(report);
    return;
  }
  drainTimer_.stop();
  drain();
  running_ = paused_ = false;
  Q_EMIT runFailed(report);
  Q_EMIT runningChanged(false);
}
