// EngineWorker: the only object that calls the engine. It lives on its own QThread; the window
// talks to it through queued slots and signals only. It owns the rwkv::Tuner during a run; the
// run's metrics go to a MetricsQueue (observer adapter) that the GUI drains on a timer. Pause and
// cancel are rwkv::TuneControl atomics that the GUI thread sets directly.
#pragma once
#include <QObject>
#include <QString>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "engine_types.h"
#include "metrics_queue.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  explicit EngineWorker(MetricsQueue* queue, QObject* parent = nullptr);
  ~EngineWorker() override;

  rwkv::TuneControl& control() { return control_; }  // any thread
  bool isTuning() const { return tuning_.load(); }   // any thread

  // The state the last run ended with (any thread, after tuneFinished): the file the engine wrote
  // (the best-eval state) for a finished run, the current state for a cancelled one.
  rwkv::StateFile finalState() const;
  // Tuner::state() as it was when run() returned (the last optimizer step's S0).
  rwkv::InitialState lastState() const;

 public Q_SLOTS:
  void loadModel(const QString& path);
  // Tokenizes the file as the run would; tokenizer "" = auto (needs the model for anything but bytes).
  void previewDataset(const QString& path, const QString& tokenizer, int ctxLen);
  void startTuning(const rwkv::TuneConfig& cfg);
  // Writes finalState() in the format the extension names (.rwkvstate, .pth, .st).
  void saveState(const QString& path);

 Q_SIGNALS:
  void modelLoaded(const ModelSummary& model);
  void datasetPreviewed(const DatasetSummary& data);
  void tuneFinished(const rwkv::TuneSummary& summary);
  void stateSaved(const QString& path, const QString& format);
  void failed(const ErrorReport& report);

 private:
  void storeResult(const rwkv::Tuner& tuner, const rwkv::TuneSummary& sum, const rwkv::TuneConfig& cfg,
                   const rwkv::ModelInfo& known);

  MetricsQueue* queue_;
  rwkv::TuneControl control_;
  std::atomic<bool> tuning_{false};
  // The last model opened: only its info is kept (tokenizer detection, state metadata); the
  // weights are freed at once, the tuner loads its own copy.
  std::optional<rwkv::ModelInfo> model_;
  mutable std::mutex mu_;
  rwkv::StateFile final_;
  rwkv::InitialState last_;
};
