// AnalysisWorker: the engine side of the compare and inspector views. It lives on the studio's
// engine thread (beside EngineWorker; a request waits while a tuning run holds the thread) and is
// reached through queued slots only. Every request carries an id; the GUI cancels requests on a
// shared CancelBoard, which the streaming callbacks poll between tokens.
#pragma once
#include <QObject>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "analysis_types.h"
#include "engine_types.h"
#include "rwkv/model.h"
#include "rwkv/state.h"
#include "rwkv/tokenizer.h"

// Which requests are cancelled: every one up to an id (Start, closing the window), or single ones
// (a view's Stop, or its next run), so the compare and batch views do not stop each other.
class CancelBoard {
 public:
  void cancelUpTo(int id) {
    int cur = upTo_.load();
    while (cur < id && !upTo_.compare_exchange_weak(cur, id)) {
    }
  }
  void cancel(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.insert(id);
  }
  bool cancelled(int id) const {
    if (id <= upTo_.load()) return true;
    std::lock_guard<std::mutex> lock(mu_);
    return ids_.count(id) > 0;
  }

 private:
  std::atomic<int> upTo_{0};
  mutable std::mutex mu_;
  std::set<int> ids_;
};

class AnalysisWorker : public QObject {
  Q_OBJECT
 public:
  explicit AnalysisWorker(std::shared_ptr<const CancelBoard> cancels, QObject* parent = nullptr);
  ~AnalysisWorker() override;

 public Q_SLOTS:
  void compare(const CompareRequest& r);
  void batch(const BatchRequest& r);
  void inspect(const InspectRequest& r);
  void loadEvalSplit(const ModelChoice& m, const QString& path, int ctxLen, double fraction, quint64 seed);

 Q_SIGNALS:
  void compareToken(const CompareToken& t);
  void compareColumnDone(const CompareColumnDone& d);
  void compareFinished(int request, bool cancelled);
  void batchItem(const BatchItem& item);
  void batchColumnDone(const BatchColumnDone& d);
  void batchFinished(int request, bool cancelled);
  void inspected(const InspectResult& r);
  void evalSplitLoaded(const EvalSplitResult& r);
  void failed(int request, const ErrorReport& report);  // operation: "Compare", "Batch compare", "Inspect", "Eval split"

 private:
  bool cancelled(int request) const { return cancels_->cancelled(request); }
  std::shared_ptr<const rwkv::Model> model(const QString& path);  // cached: one model at a time
  std::unique_ptr<rwkv::Tokenizer> tokenizer(const ModelChoice& m, const rwkv::ModelInfo& info) const;
  rwkv::InitialState state(const QString& path, const rwkv::ModelInfo& info) const;  // "" = empty (zeros)

  std::shared_ptr<const CancelBoard> cancels_;
  QString modelPath_;
  std::shared_ptr<const rwkv::Model> model_;
  QString guidePath_;  // the inspector's guide model (kept apart from the compared model)
  std::shared_ptr<const rwkv::Model> guide_;
};
