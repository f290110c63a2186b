// MainWindow: the run itself. Checks the choices before Start, starts, pauses, resumes and stops
// the engine session, feeds drained metrics to the panels and records how runs end.
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTabWidget>

#include "analysis_session.h"
#include "command_preview.h"
#include "engine_session.h"
#include "history_view.h"
#include "main_window.h"
#include "message_banner.h"
#include "decor_panel.h"
#include "monitor_panel.h"
#include "run_controls.h"
#include "run_record.h"
#include "rwkv/tuner.h"
#include "setup_panel.h"

QStringList MainWindow::startProblems() const {
  QStringList p;
  QStringList formProblems;
  setup_->config(&formProblems);
  if (model_ == Load::None) p << "No model: open one (File ▸ Open model, Ctrl+O, or drop a file here).";
  if (model_ == Load::Failed) p << "The model cannot be used: " + modelError_;
  if (data_ == Load::None) p << "No dataset: open a JSON Lines file (File ▸ Open dataset).";
  if (data_ == Load::Failed) p << "The dataset cannot be used: " + dataError_;
  return p + formProblems;
}

void MainWindow::revalidate() {
  const QStringList problems = startProblems();
  setup_->showProblems(problems);
  // A refusal banner from an earlier Start goes once its problems are solved.
  if (problems.isEmpty() && banner_->isVisible() && banner_->text().startsWith("Cannot start:")) banner_->hide();
}

QString MainWindow::autoOutPath() const {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs/" +
                      QDateTime::currentDateTime().toString("yyyyMMdd-hhmmss");
  QDir().mkpath(dir);
  return dir + "/state.rwkvstate";
}

bool MainWindow::startRun() {
  if (session_->isRunning()) return false;
  const QStringList problems = startProblems();
  if (!problems.isEmpty()) {
    banner_->showMessage(MessageBanner::Error, "Cannot start:\n• " + problems.join("\n• "));
    log("start refused: " + problems.join(" "));
    return false;
  }
  QStringList ignored;
  runConfig_ = setup_->config(&ignored);
  if (runConfig_.out.empty()) runConfig_.out = autoOutPath().toStdString();
  runConfig_.resume = resume_.toStdString();
  resume_.clear();
  analysis_->cancel();  // the engine thread is needed now: compare / inspect requests give way
  monitor_->clear();
  runData_.clear();
  tabs_->setCurrentWidget(monitor_);
  banner_->hide();
  controls_->setPhase("loading model and data…");
  QStringList argv;
  for (const auto& a : runConfig_.to_command_line()) argv << CommandPreview::shellQuote(QString::fromStdString(a));
  log("starting: " + argv.join(' '));
  // Kernel runs send the covariance of the layer and head the Decorrelation tab shows.
  auto& ctl = session_->worker()->control();
  ctl.covariance_layer = runConfig_.method == "kernel" ? monitor_->decorPanel()->covarianceLayer() : -1;
  ctl.covariance_head = monitor_->decorPanel()->covarianceHead();
  ctl.covariance_size = 64;
  session_->start(runConfig_);
  return true;
}

void MainWindow::setPaused(bool paused) {
  if (!session_->isRunning() || session_->isPaused() == paused) return;
  session_->setPaused(paused);
  controls_->setPaused(paused);
}

void MainWindow::togglePause() { setPaused(!session_->isPaused()); }

void MainWindow::stopRun() {
  if (!session_->isRunning()) return;
  session_->stop();
  controls_->setPhase("stopping…");
}

void MainWindow::onRunningChanged(bool running) {
  controls_->setRunning(running);
  startAct_->setEnabled(!running);
  pauseAct_->setEnabled(running);
  stopAct_->setEnabled(running);
  setup_->setEnabled(!running);
}

void MainWindow::onBatch(const MetricsBatch& b) {
  runData_.add(b);
  monitor_->apply(b);
  if (b.info) {
    controls_->showInfo(*b.info);
    log(QString("tuning %1 train / %2 eval samples, %3 steps").arg(b.info->n_train).arg(b.info->n_eval)
            .arg(b.info->total_steps));
    if (!b.info->data_issues.empty())
      log(QString("%1 samples or lines were left out (see the Dataset tab)").arg(b.info->data_issues.size()));
  }
  if (!b.steps.empty()) controls_->showStep(b.steps.back());
  if (session_->isPaused()) controls_->setPaused(true);
  for (const QString& line : b.logs) log(line);
}

void MainWindow::onRunFinished(const rwkv::TuneSummary& s) {
  const RunRecord r = RunRecord::make(runConfig_, s, runData_.info().total_steps);
  RunHistoryStore().append(r);
  history_->add(r);
  controls_->setPhase(r.status + " · step %v of %m");
  controls_->setCanSave(true);
  saveStateAct_->setEnabled(true);
  QString text = QString("Run %1 after %2 steps in %3: final loss %4")
                     .arg(r.status).arg(s.steps_done).arg(RunControls::formatDuration(s.wall_s))
                     .arg(s.final_loss, 0, 'f', 4);
  if (s.best_eval_loss > 0)
    text += QString(", eval %1 → best %2").arg(s.first_eval_loss, 0, 'f', 4).arg(s.best_eval_loss, 0, 'f', 4);
  text += s.out_path.empty() ? QString(". The state is kept: Save state… to write it.")
                             : QString(". Saved to %1.").arg(QString::fromStdString(s.out_path));
  if (s.cancelled) {
    lastAutosave_ = QString::fromStdString(runConfig_.autosave.empty() ? runConfig_.out + ".autosave" : runConfig_.autosave);
    resumeLastAct_->setEnabled(QFileInfo::exists(lastAutosave_));
    if (resumeLastAct_->isEnabled()) text += " Run ▸ Resume the last stopped run continues it.";
  }
  banner_->showMessage(s.cancelled ? MessageBanner::Warning : MessageBanner::Info, text);
  log(text);
  if (!s.out_path.empty()) offerTunedState(QString::fromStdString(s.out_path));
}

void MainWindow::onRunFailed(const ErrorReport& r) {
  const RunRecord rec = RunRecord::failed(runConfig_, r.message);
  RunHistoryStore().append(rec);
  history_->add(rec);
  controls_->setPhase("failed");
  banner_->showMessage(MessageBanner::Error, "Tuning failed: " + r.message);
  log("tuning failed: " + r.message);
  showErrorDialog(this, r);
}

void MainWindow::saveStateTo(const QString& path) { session_->saveState(path); }

bool MainWindow::resumeFrom(const QString& autosavePath) {
  try {
    setup_->setConfig(rwkv::autosave_config(autosavePath.toStdString()));
  } catch (const std::exception& e) {
    banner_->showMessage(MessageBanner::Error, QString("Cannot resume: ") + e.what());
    return false;
  }
  resume_ = autosavePath;
  banner_->showMessage(MessageBanner::Info, "Loaded the stopped run's settings from " + autosavePath +
                                                ". Start resumes it where it stopped.");
  log("next start resumes from " + autosavePath);
  return true;
}

