// AnalysisSession: the GUI-thread side of AnalysisWorker. It puts the worker on the studio's
// engine thread (or, with none given, on a thread of its own: tests, a standalone view), numbers
// the requests and cancels them through a shared CancelBoard. Every call returns at once; results come
// back as signals on the GUI thread.
#pragma once
#include <QObject>
#include <QThread>

#include <atomic>
#include <memory>

#include "analysis_types.h"
#include "engine_types.h"

class AnalysisWorker;
class CancelBoard;

class AnalysisSession : public QObject {
  Q_OBJECT
 public:
  explicit AnalysisSession(QThread* engineThread = nullptr, QObject* parent = nullptr);
  ~AnalysisSession() override;  // cancels what is queued or running

  // Each returns the request id that its results carry.
  int compare(CompareRequest r);
  int batch(BatchRequest r);
  int inspect(InspectRequest r);
  void loadEvalSplit(const ModelChoice& m, const QString& path, int ctxLen, double fraction, quint64 seed);
  void cancel();            // every request issued so far
  void cancel(int request);  // that one only

 Q_SIGNALS:
  void compareToken(const CompareToken& t);
  void compareColumnDone(const CompareColumnDone& d);
  void compareFinished(int request, bool cancelled);
  void batchItem(const BatchItem& item);
  void batchColumnDone(const BatchColumnDone& d);
  void batchFinished(int request, bool cancelled);
  void inspected(const InspectResult& r);
  void evalSplitLoaded(const EvalSplitResult& r);
  void failed(int request, const ErrorReport& report);

 private:
  std::shared_ptr<CancelBoard> cancels_;
  int lastId_ = 0;
  QThread* ownThread_ = nullptr;
  AnalysisWorker* worker_;  // deleted on its thread when that thread finishes
};
