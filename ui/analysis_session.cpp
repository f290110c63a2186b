#include "analysis_session.h"

#include "analysis_worker.h"

AnalysisSession::AnalysisSession(QThread* engineThread, QObject* parent)
    : QObject(parent), cancels_(std::make_shared<CancelBoard>()), worker_(new AnalysisWorker(cancels_)) {
  registerAnalysisMetaTypes();
  registerEngineMetaTypes();
  QThread* thread = engineThread;
  if (!thread) {
    ownThread_ = new QThread(this);
    ownThread_->setObjectName("analysis");
    thread = ownThread_;
  }
  worker_->moveToThread(thread);
  connect(thread, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &AnalysisWorker::compareToken, this, &AnalysisSession::compareToken);
  connect(worker_, &AnalysisWorker::compareColumnDone, this, &AnalysisSession::compareColumnDone);
  connect(worker_, &AnalysisWorker::compareFinished, this, &AnalysisSession::compareFinished);
  connect(worker_, &AnalysisWorker::batchItem, this, &AnalysisSession::batchItem);
  connect(worker_, &AnalysisWorker::batchColumnDone, this, &AnalysisSession::batchColumnDone);
  connect(worker_, &AnalysisWorker::batchFinished, this, &AnalysisSession::batchFinished);
  connect(worker_, &AnalysisWorker::inspected, this, &AnalysisSession::inspected);
  connect(worker_, &AnalysisWorker::evalSplitLoaded, this, &AnalysisSession::evalSplitLoaded);
  connect(worker_, &AnalysisWorker::failed, this, &AnalysisSession::failed);
  if (ownThread_) ownThread_->start();
}

AnalysisSession::~AnalysisSession() {
  cancel();
  if (ownThread_) {
    ownThread_->quit();
    ownThread_->wait();
  }
}

int AnalysisSession::compare(CompareRequest r) {
  r.id = ++lastId_;
  QMetaObject::invokeMethod(worker_, "compare", Qt::QueuedConnection, Q_ARG(CompareRequest, r));
  return r.id;
}

int AnalysisSession::batch(BatchRequest r) {
  r.id = ++lastId_;
  QMetaObject::invokeMethod(worker_, "batch", Qt::QueuedConnection, Q_ARG(BatchRequest, r));
  return r.id;
}

int AnalysisSession::inspect(InspectRequest r) {
  r.id = ++lastId_;
  QMetaObject::invokeMethod(worker_, "inspect", Qt::QueuedConnection, Q_ARG(InspectRequest, r));
  return r.id;
}

void AnalysisSession::loadEvalSplit(const ModelChoice& m, const QString& path, int ctxLen, double fraction,
                                    quint64 seed) {
  QMetaObject::invokeMethod(worker_, "loadEvalSplit", Qt::QueuedConnection, Q_ARG(ModelChoice, m),
                            Q_ARG(QString, path), Q_ARG(int, ctxLen), Q_ARG(double, fraction), Q_ARG(quint64, seed));
}

void AnalysisSession::cancel() { cancels_->cancelUpTo(lastId_); }
void AnalysisSession::cancel(int request) { cancels_->cancel(request); }
