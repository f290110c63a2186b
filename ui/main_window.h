// The studio's main window: assembles the panels, routes the engine session's results to them,
// refuses invalid runs with a message, and persists layout, files and settings (QSettings).
// Every engine call goes through EngineSession (worker thread): nothing here blocks.
#pragma once
#include <QMainWindow>
#include <QStringList>
#include <QTimer>

#include "engine_types.h"
#include "metrics_queue.h"
#include "run_data.h"

class AnalysisSession;
class CompareView;
class DatasetView;
class InspectorView;
class EngineSession;
class HistoryView;
class MessageBanner;
class MonitorPanel;
class QAction;
class QPlainTextEdit;
class QTabWidget;
class RunControls;
class SetupPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  EngineSession* session() const { return session_; }
  SetupPanel* setup() const { return setup_; }
  MonitorPanel* monitor() const { return monitor_; }
  DatasetView* datasetView() const { return dataset_; }
  HistoryView* history() const { return history_; }
  RunControls* controls() const { return controls_; }
  MessageBanner* banner() const { return banner_; }
  CompareView* compare() const { return compare_; }
  InspectorView* inspector() const { return inspector_; }
  AnalysisSession* analysis() const { return analysis_; }
  QTabWidget* tabs() const { return tabs_; }
  void showPage(QWidget* page);  // the tab holding page (Compare and Inspect sit in scroll areas)
  const RunData& runData() const { return runData_; }
  QString logText() const;

  // Why Start would be refused now (empty = it would start).
  QStringList startProblems() const;
  // The last model/dataset of the previous session, if they still exist. Returns what it opened.
  QStringList restoreLastFiles();

 public Q_SLOTS:
  void openModel(const QString& path);
  void openDataset(const QString& path);
  void openInitState(const QString& path);
  bool startRun();  // false (with a message in the window) when the choices are invalid
  void setPaused(bool paused);
  void togglePause();
  void stopRun();
  void saveStateTo(const QString& path);  // no dialog (tests, scripts)
  bool loadRunConfig(const QString& path);
  bool saveRunConfig(const QString& path);
  bool exportMetricsCsv(const QString& path);
  bool exportPlots(const QString& folder);  // every plot as PNG and PDF
  // Loads a stopped run's settings from its autosave; the next Start resumes it bit-identically.
  bool resumeFrom(const QString& autosavePath);

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  enum class Load { None, Loading, Ok, Failed };
  void buildLayout();
  void buildMenus();
  void connectSession();
  void log(const QString& line);
  void revalidate();
  void previewDataset();
  void onModelLoaded(const ModelSummary& m);
  void onFailed(const ErrorReport& r);
  void onBatch(const MetricsBatch& b);
  void onRunFinished(const rwkv::TuneSummary& s);
  void onRunFailed(const ErrorReport& r);
  void onRunningChanged(bool running);
  void buildAnalysis();           // main_window_analysis.cpp: the Compare and Inspect tabs
  void updateAnalysisContext();   // model, tokenizer, data set and split settings -> those tabs
  void setDemoMode(bool on);
  void offerTunedState(const QString& path);  // a finished run's state becomes a compare column
  void saveSettings() const;
  void restoreSettings();
  QString autoOutPath() const;

  EngineSession* session_;
  SetupPanel* setup_;
  MonitorPanel* monitor_;
  DatasetView* dataset_;
  HistoryView* history_;
  RunControls* controls_;
  MessageBanner* banner_;
  QTabWidget* tabs_;
  QPlainTextEdit* log_;
  QAction *startAct_, *pauseAct_, *stopAct_, *saveStateAct_, *resumeLastAct_;
  QTimer previewDebounce_;
  QTimer analysisDebounce_;
  AnalysisSession* analysis_ = nullptr;
  CompareView* compare_ = nullptr;
  InspectorView* inspector_ = nullptr;
  QByteArray preDemoState_, preDemoGeometry_;  // dock layout and window before demo mode
  RunData runData_;
  rwkv::TuneConfig runConfig_;
  Load model_ = Load::None, data_ = Load::None;
  QString modelError_, dataError_;
  int previewCtx_ = 0;
  bool previewWithoutModel_ = false;  // the last preview used the byte tokenizer for want of a model
  bool previewStale_ = false;         // the model changed since the last preview request
  QString resume_;                    // autosave the next Start resumes from ("" = a fresh run)
  QString lastAutosave_;              // of the last stopped run
};
