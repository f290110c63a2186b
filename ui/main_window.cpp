// MainWindow: layout, menus and shortcuts, the engine session's model/dataset results, drag and drop.
#include "main_window.h"

#include <QAction>
#include <algorithm>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QLocale>
#include <QMenuBar>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QSettings>
#include <QStandardPaths>
#include <QTabWidget>
#include <QVBoxLayout>

#include "analysis_session.h"
#include "command_preview.h"
#include "dataset_view.h"
#include "engine_session.h"
#include "file_field.h"
#include "files_panel.h"
#include "history_view.h"
#include "hyperparam_form.h"
#include "message_banner.h"
#include "decor_panel.h"
#include "monitor_panel.h"
#include "run_controls.h"
#include "run_record.h"
#include "rwkv/tuner.h"
#include "setup_panel.h"

// rwkv_ui is a static library: its compiled-in resources need an explicit init.
static void initStudioResources() { Q_INIT_RESOURCE(resources); }

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      session_(new EngineSession(this)),
      setup_(new SetupPanel),
      monitor_(new MonitorPanel),
      dataset_(new DatasetView),
      history_(new HistoryView),
      controls_(new RunControls),
      banner_(new MessageBanner),
      tabs_(new QTabWidget),
      log_(new QPlainTextEdit) {
  initStudioResources();
  setObjectName("mainWindow");
  setWindowTitle("RWKV State Tuning Studio");
  setWindowIcon(QIcon(":/icons/app.svg"));
  setAcceptDrops(true);
  buildLayout();
  buildAnalysis();
  buildMenus();
  connectSession();
  history_->setRecords(RunHistoryStore().load());

  previewDebounce_.setSingleShot(true);
  previewDebounce_.setInterval(400);
  connect(&previewDebounce_, &QTimer::timeout, this, &MainWindow::previewDataset);
  FilesPanel* files = setup_->files();
  connect(files, &FilesPanel::modelChosen, this, [this](const QString& p) {
    model_ = p.isEmpty() ? Load::None : Load::Loading;
    previewStale_ = data_ != Load::None;  // tokenized for the previous model
    setup_->files()->setModelStatus(p.isEmpty() ? "no model open" : "loading…", true);
    if (!p.isEmpty()) {
      log("opening model " + p);
      session_->loadModel(p);
    }
    revalidate();
  });
  connect(files, &FilesPanel::dataChosen, this, [this] { previewDataset(); });
  connect(files, &FilesPanel::tokenizerChanged, this, [this] { previewDebounce_.start(); });
  connect(setup_, &SetupPanel::changed, this, [this] {
    revalidate();
    analysisDebounce_.start();
    QStringList ignored;
    if (setup_->config(&ignored).ctx_len != previewCtx_ && data_ != Load::None) previewDebounce_.start();
  });
  connect(history_, &HistoryView::useConfig, this, [this](const QString& json) {
    try {
      setup_->setConfig(rwkv::TuneConfig::from_json(json.toStdString()));
    } catch (const std::exception& e) {
      banner_->showMessage(MessageBanner::Error, QString("That run's config cannot be used: ") + e.what());
    }
  });
  restoreSettings();
  revalidate();
}

// The analysis worker shares the engine thread: cancel what it does before that thread is joined.
MainWindow::~MainWindow() { analysis_->cancel(); }

void MainWindow::buildLayout() {
  tabs_->setObjectName("mainTabs");
  tabs_->addTab(dataset_, "Dataset");
  tabs_->addTab(monitor_, "Live");
  tabs_->addTab(history_, "History");
  tabs_->setCurrentWidget(monitor_);
  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(banner_);
  layout->addWidget(tabs_, 1);
  layout->addWidget(controls_);
  setCentralWidget(central);

  auto* scroll = new QScrollArea;
  scroll->setWidget(setup_);
  scroll->setWidgetResizable(true);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(std::max(400, setup_->sizeHint().width() + 24));
  auto* setupDock = new QDockWidget("Setup");
  setupDock->setObjectName("setupDock");
  setupDock->setWidget(scroll);
  setupDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  addDockWidget(Qt::LeftDockWidgetArea, setupDock);

  log_->setObjectName("logPane");
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);
  log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  auto* logDock = new QDockWidget("Log");
  logDock->setObjectName("logDock");
  logDock->setWidget(log_);
  addDockWidget(Qt::BottomDockWidgetArea, logDock);
  resizeDocks({logDock}, {110}, Qt::Vertical);
  resize(1400, 900);
}

void MainWindow::buildMenus() {
  const auto act = [this](QMenu* menu, const QString& text, const QKeySequence& key, auto slot, const char* icon = nullptr) {
    QAction* a = menu->addAction(icon ? QIcon(icon) : QIcon(), text);
    if (!key.isEmpty()) a->setShortcut(key);
    connect(a, &QAction::triggered, this, slot);
    addAction(a);  // shortcuts work wherever the focus is
    return a;
  };
  QMenu* file = menuBar()->addMenu("&File");
  act(file, "Open &model…", QKeySequence::Open, [this] { setup_->files()->model()->browse(); }, ":/icons/open.svg");
  act(file, "Open &dataset…", QKeySequence("Ctrl+D"), [this] { setup_->files()->data()->browse(); });
  act(file, "Open start &state…", {}, [this] { setup_->files()->initState()->browse(); });
  file->addSeparator();
  act(file, "&Load run config…", QKeySequence("Ctrl+L"), [this] {
    const QString p = QFileDialog::getOpenFileName(this, "Load run config", {}, "Run configs (*.json);;All files (*)");
    if (!p.isEmpty()) loadRunConfig(p);
  });
  act(file, "Save run &config…", QKeySequence("Ctrl+Shift+S"), [this] {
    const QString p = QFileDialog::getSaveFileName(this, "Save run config", "run.json", "Run configs (*.json)");
    if (!p.isEmpty()) saveRunConfig(p);
  });
  saveStateAct_ = act(file, "Save tuned s&tate…", QKeySequence::Save, [this] {
    const QString p = QFileDialog::getSaveFileName(
        this, "Save tuned state", "tuned.rwkvstate",
        "Our state (*.rwkvstate);;RWKV-PEFT state (*.pth);;Ai00 state (*.st)");
    if (!p.isEmpty()) saveStateTo(p);
  }, ":/icons/save.svg");
  file->addSeparator();
  act(file, "Export plots (PNG + PDF)…", {}, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, "Export plots to folder");
    if (!d.isEmpty()) exportPlots(d);
  });
  act(file, "Export metrics (CSV)…", {}, [this] {
    const QString p = QFileDialog::getSaveFileName(this, "Export metrics", "metrics.csv", "CSV (*.csv)");
    if (!p.isEmpty()) exportMetricsCsv(p);
  });
  file->addSeparator();
  act(file, "&Quit", QKeySequence::Quit, [this] { close(); });

  QMenu* run = menuBar()->addMenu("&Run");
  startAct_ = act(run, "&Start", QKeySequence("Ctrl+Return"), [this] { startRun(); }, ":/icons/start.svg");
  startAct_->setShortcuts({QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")});
  pauseAct_ = act(run, "&Pause / Resume", QKeySequence(Qt::Key_Space), [this] { togglePause(); }, ":/icons/pause.svg");
  stopAct_ = act(run, "S&top", QKeySequence(Qt::Key_Escape), [this] { stopRun(); }, ":/icons/stop.svg");
  run->addSeparator();
  act(run, "&Resume a stopped run…", {}, [this] {
    const QString p = QFileDialog::getOpenFileName(this, "Resume from autosave", {}, "Autosaves (*.autosave);;All files (*)");
    if (!p.isEmpty()) resumeFrom(p);
  });
  resumeLastAct_ = act(run, "Resume the &last stopped run", {}, [this] { resumeFrom(lastAutosave_); });
  resumeLastAct_->setEnabled(false);
  QMenu* presets = run->addMenu("Presets");
  for (const QString& p : HyperparamForm::presetNames())
    presets->addAction(p, this, [this, p] { setup_->form()->applyPreset(p); });

  QMenu* view = menuBar()->addMenu("&View");
  for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());

  connect(controls_, &RunControls::startClicked, this, [this] { startRun(); });
  connect(controls_, &RunControls::pauseClicked, this, &MainWindow::setPaused);
  connect(controls_, &RunControls::stopClicked, this, &MainWindow::stopRun);
  connect(controls_, &RunControls::saveClicked, saveStateAct_, &QAction::trigger);
  onRunningChanged(false);
  saveStateAct_->setEnabled(false);
}

void MainWindow::connectSession() {
  connect(session_, &EngineSession::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(session_, &EngineSession::datasetPreviewed, this, [this](const DatasetSummary& d) {
    data_ = Load::Ok;
    dataError_.clear();
    previewWithoutModel_ = !d.note.isEmpty();
    dataset_->showSummary(d);
    log(QString("dataset %1: %2 usable samples, %3 unusable lines").arg(d.path).arg(d.nSamples).arg(d.issues.size()));
    revalidate();
    analysisDebounce_.start();
  });
  connect(session_, &EngineSession::failed, this, &MainWindow::onFailed);
  connect(session_, &EngineSession::batchReady, this, &MainWindow::onBatch);
  connect(monitor_->decorPanel(), &DecorPanel::covarianceRequested, this, [this](int layer, int head) {
    auto& ctl = session_->worker()->control();  // atomics: read by the tuner at its next step
    if (ctl.covariance_layer.load() >= 0) ctl.covariance_layer = layer;
    ctl.covariance_head = head;
  });
  connect(session_, &EngineSession::runFinished, this, &MainWindow::onRunFinished);
  connect(session_, &EngineSession::runFailed, this, &MainWindow::onRunFailed);
  connect(session_, &EngineSession::runningChanged, this, &MainWindow::onRunningChanged);
  connect(session_, &EngineSession::stateSaved, this, [this](const QString& path, const QString& format) {
    log(QString("saved the tuned state to %1 (%2)").arg(path, format));
    banner_->showMessage(MessageBanner::Info, QString("Saved the tuned state to %1 (%2).").arg(path, format));
  });
}

void MainWindow::log(const QString& line) {
  log_->appendPlainText(QTime::currentTime().toString("hh:mm:ss  ") + line);
}

QString MainWindow::logText() const { return log_->toPlainText(); }

void MainWindow::openModel(const QString& path) { setup_->files()->model()->setPath(path, true); }
void MainWindow::openDataset(const QString& path) { setup_->files()->data()->setPath(path, true); }
void MainWindow::openInitState(const QString& path) { setup_->files()->initState()->setPath(path, true); }

void MainWindow::previewDataset() {
  QStringList ignored;
  const rwkv::TuneConfig c = setup_->config(&ignored);
  const QString path = setup_->files()->data()->path();
  data_ = path.isEmpty() ? Load::None : Load::Loading;
  if (path.isEmpty()) {
    dataset_->clear();
    return revalidate();
  }
  previewCtx_ = c.ctx_len;
  previewStale_ = false;
  session_->previewDataset(path, setup_->files()->tokenizerSpec(), c.ctx_len);
  revalidate();
}

void MainWindow::onModelLoaded(const ModelSummary& m) {
  model_ = Load::Ok;
  modelError_.clear();
  const auto& d = m.info.dims;
  setup_->files()->setModelStatus(QString("%1 · %2 layers · %3 of %4 · vocab %5 · %6 params · %7")
                                      .arg(QString::fromStdString(m.info.format))
                                      .arg(d.n_layer).arg(QString("%1 head%2").arg(d.n_head).arg(d.n_head == 1 ? "" : "s"))
                                      .arg(d.head_size).arg(d.n_vocab)
                                      .arg(QLocale().toString(qlonglong(m.info.n_params)))
                                      .arg(QString::fromStdString(m.info.stored_dtype)),
                                  true);
  setup_->files()->setTokenizerNote(m.tokenizerNote);
  log("model loaded: " + QString::fromStdString(m.info.path));
  analysisDebounce_.start();
  // Tokenize with this model's tokenizer (a preview still queued runs after the load anyway).
  if (data_ == Load::Failed || previewStale_ || (data_ == Load::Ok && previewWithoutModel_)) previewDataset();
  revalidate();
}

void MainWindow::onFailed(const ErrorReport& r) {
  if (r.operation == "Open model") {
    model_ = Load::Failed;
    modelError_ = r.message;
    setup_->files()->setModelStatus(r.message, false);
  } else if (r.operation == "Open dataset") {
    data_ = Load::Failed;
    dataError_ = r.message;
    dataset_->showError(r.details, r.message);
  }
  log(QString("%1 failed: %2").arg(r.operation, r.message));
  banner_->showMessage(MessageBanner::Error, QString("%1 failed: %2").arg(r.operation, r.message));
  if (r.operation != "Open dataset") showErrorDialog(this, r);  // the Dataset tab shows dataset problems
  revalidate();
}

void MainWindow::closeEvent(QCloseEvent* e) {
  saveSettings();
  if (session_->isRunning()) session_->stop();
  e->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  for (const QUrl& url : e->mimeData()->urls()) {
    const QString path = url.toLocalFile();
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext == "jsonl" || ext == "json") openDataset(path);
    else if (ext == "rwkvstate" || ext == "st" || ext == "state") openInitState(path);
    else if (ext == "txt" || ext == "model") setup_->files()->setTokenizerSpec(path);
    else openModel(path);  // .pth, .safetensors, .bin
  }
  e->acceptProposedAction();
}
