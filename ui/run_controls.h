// Start / Pause-Resume / Stop / Save state, and the progress line: a bar with step of total,
// tokens per second, ETA and memory in use.
#pragma once
#include <QWidget>

#include "rwkv/tuner.h"

class QLabel;
class QProgressBar;
class QPushButton;

class RunControls : public QWidget {
  Q_OBJECT
 public:
  explicit RunControls(QWidget* parent = nullptr);

  void setRunning(bool running);  // enables the right buttons
  void setPaused(bool paused);    // "Pause" <-> "Resume"
  void setCanSave(bool can);
  void setPhase(const QString& text);  // e.g. "loading model and data…", "finished"
  void showInfo(const rwkv::TuneInfo& info);
  void showStep(const rwkv::StepMetrics& m);

  QPushButton* startButton() const { return start_; }
  QPushButton* pauseButton() const { return pause_; }
  QPushButton* stopButton() const { return stop_; }
  QPushButton* saveButton() const { return save_; }
  QProgressBar* progress() const { return bar_; }

  static QString formatDuration(double seconds);  // "1 h 02 min", "3 min 05 s", "42 s"
  static QString formatBytes(qint64 bytes);       // "512 MiB", "1.3 GiB"

 Q_SIGNALS:
  void startClicked();
  void pauseClicked(bool pause);
  void stopClicked();
  void saveClicked();

 private:
  QPushButton *start_, *pause_, *stop_, *save_;
  QProgressBar* bar_;
  QLabel *step_, *speed_, *eta_, *memory_;
  bool paused_ = false;
};
