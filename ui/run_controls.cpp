#include "run_controls.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>
#include <cmath>

namespace {

QPushButton* button(const char* name, const QString& text, const QString& icon, const QString& tip) {
  auto* b = new QPushButton(QIcon(icon), text);
  b->setObjectName(name);
  b->setToolTip(tip);
  return b;
}

QLabel* field(const char* name, const QString& tip, int minWidth) {
  auto* l = new QLabel("—");
  l->setObjectName(name);
  l->setToolTip(tip);
  l->setMinimumWidth(minWidth);
  return l;
}

}  // namespace

RunControls::RunControls(QWidget* parent) : QWidget(parent) {
  start_ = button("startButton", "Start", ":/icons/start.svg", "Start tuning with these settings (Ctrl+Return)");
  pause_ = button("pauseButton", "Pause", ":/icons/pause.svg", "Pause after the current step / resume (Space)");
  stop_ = button("stopButton", "Stop", ":/icons/stop.svg",
                 "Stop at the next micro-batch; the run autosaves so it can be resumed (Esc)");
  save_ = button("saveStateButton", "Save state…", ":/icons/save.svg",
                 "Save the tuned state as ours .rwkvstate, RWKV-PEFT .pth or Ai00 .st (Ctrl+S)");
  bar_ = new QProgressBar;
  bar_->setObjectName("progressBar");
  bar_->setRange(0, 1);
  bar_->setValue(0);
  bar_->setFormat("idle");
  bar_->setMinimumWidth(120);
  step_ = field("stepLabel", "Optimizer step of total, epoch", 60);
  speed_ = field("speedLabel", "Training throughput (tokens per second, averaged)", 60);
  eta_ = field("etaLabel", "Estimated time to the end of the run", 60);
  memory_ = field("memoryLabel", "Memory in use: process RSS on the CPU, allocated GPU memory on CUDA", 50);

  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(4, 2, 4, 2);
  for (QWidget* w : {static_cast<QWidget*>(start_), static_cast<QWidget*>(pause_), static_cast<QWidget*>(stop_)})
    layout->addWidget(w);
  auto* figures = new QHBoxLayout;  // under the bar: step, speed, ETA, memory
  figures->setContentsMargins(0, 0, 0, 0);
  for (QLabel* l : {step_, speed_, eta_, memory_}) figures->addWidget(l, 1);
  auto* progress = new QVBoxLayout;
  progress->setSpacing(1);
  progress->addWidget(bar_);
  progress->addLayout(figures);
  layout->addLayout(progress, 1);
  layout->addWidget(save_);

  connect(start_, &QPushButton::clicked, this, &RunControls::startClicked);
  connect(pause_, &QPushButton::clicked, this, [this] { Q_EMIT pauseClicked(!paused_); });
  connect(stop_, &QPushButton::clicked, this, &RunControls::stopClicked);
  connect(save_, &QPushButton::clicked, this, &RunControls::saveClicked);
  setRunning(false);
  setCanSave(false);
}

void RunControls::setRunning(bool running) {
  start_->setEnabled(!running);
  pause_->setEnabled(running);
  stop_->setEnabled(running);
  if (!running) setPaused(false);
}

void RunControls::setPaused(bool paused) {
  const bool was = paused_;
  paused_ = paused;
  pause_->setText(paused ? "Resume" : "Pause");
  pause_->setIcon(QIcon(paused ? ":/icons/start.svg" : ":/icons/pause.svg"));
  if (paused) bar_->setFormat("paused at step %v of %m");
  else if (was) bar_->setFormat("step %v of %m (%p%)");
}

void RunControls::setCanSave(bool can) { save_->setEnabled(can); }

void RunControls::setPhase(const QString& text) { bar_->setFormat(text); }

void RunControls::showInfo(const rwkv::TuneInfo& info) {
  bar_->setRange(0, std::max(1, info.total_steps));
  bar_->setValue(info.start_step);
  bar_->setFormat("step %v of %m (%p%)");
  step_->setText(QString("step %1 / %2").arg(info.start_step).arg(info.total_steps));
}

void RunControls::showStep(const rwkv::StepMetrics& m) {
  if (bar_->maximum() != m.total_steps) bar_->setRange(0, std::max(1, m.total_steps));
  bar_->setValue(m.step);
  if (!paused_) bar_->setFormat("step %v of %m (%p%)");
  step_->setText(QString("step %1 / %2 · epoch %3").arg(m.step).arg(m.total_steps).arg(m.epoch));
  speed_->setText(QLocale().toString(m.tokens_per_s, 'f', 0) + " tok/s");
  eta_->setText("ETA " + formatDuration(m.eta_s));
  memory_->setText(formatBytes(m.memory_bytes));
}

QString RunControls::formatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "—";
  const qint64 t = qRound64(s);
  if (t >= 3600) return QString("%1 h %2 min").arg(t / 3600).arg((t % 3600) / 60, 2, 10, QChar('0'));
  if (t >= 60) return QString("%1 min %2 s").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
  return QString("%1 s").arg(t);
}

QString RunControls::formatBytes(qint64 b) {
  if (b <= 0) return "—";
  const double mib = b / (1024.0 * 1024.0);
  return mib >= 1024 ? QString::number(mib / 1024, 'f', 1) + " GiB" : QString::number(mib, 'f', 0) + " MiB";
}
