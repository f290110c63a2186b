// MainWindow: the Compare and Inspect tabs. Their worker shares the engine thread (a request waits
// while a tuning run holds it; Start cancels them). They follow the setup: model, tokenizer, data
// set and its eval split; a finished run's state becomes a tuned column. Demo mode: the compare
// view alone, full screen.
#include <QDockWidget>
#include <QMenuBar>
#include <QScrollArea>
#include <QTabBar>
#include <QTabWidget>

#include "analysis_session.h"
#include "compare_view.h"
#include "engine_session.h"
#include "file_field.h"
#include "files_panel.h"
#include "inspector_view.h"
#include "main_window.h"
#include "message_banner.h"
#include "run_controls.h"
#include "setup_panel.h"

void MainWindow::buildAnalysis() {
  analysis_ = new AnalysisSession(session_->engineThread(), this);
  compare_ = new CompareView(analysis_);
  inspector_ = new InspectorView(analysis_);
  // In scroll areas: their minimum sizes must not set the window's (it can be small).
  for (auto [page, title] : {std::pair<QWidget*, const char*>{compare_, "Compare"}, {inspector_, "Inspect"}}) {
    auto* scroll = new QScrollArea;
    scroll->setWidget(page);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    tabs_->addTab(scroll, title);
  }
  analysisDebounce_.setSingleShot(true);
  analysisDebounce_.setInterval(300);
  connect(&analysisDebounce_, &QTimer::timeout, this, &MainWindow::updateAnalysisContext);
  connect(compare_, &CompareView::demoModeChanged, this, &MainWindow::setDemoMode);
  // A prompt picked for comparing can be inspected as it is.
  connect(tabs_, &QTabWidget::currentChanged, this, [this] {
    if (tabs_->currentWidget()->isAncestorOf(inspector_) && !inspector_->inspection() && !compare_->prompt().isEmpty())
      inspector_->setPrompt(compare_->prompt());
  });
}

void MainWindow::showPage(QWidget* page) {
  for (int i = 0; i < tabs_->count(); ++i)
    if (tabs_->widget(i) == page || tabs_->widget(i)->isAncestorOf(page)) tabs_->setCurrentIndex(i);
}

void MainWindow::updateAnalysisContext() {
  QStringList ignored;
  const rwkv::TuneConfig c = setup_->config(&ignored);
  CompareContext ctx;
  ctx.model = {model_ == Load::Ok ? setup_->files()->model()->path() : QString(), setup_->files()->tokenizerSpec()};
  ctx.dataPath = data_ == Load::Ok ? setup_->files()->data()->path() : QString();
  ctx.ctxLen = c.ctx_len;
  ctx.evalFraction = c.eval_fraction;
  ctx.seed = c.seed;
  compare_->setContext(ctx);
  inspector_->setModel(ctx.model);
}

void MainWindow::offerTunedState(const QString& path) {
  compare_->addState(path);
  inspector_->setStatePath(path);
}

void MainWindow::setDemoMode(bool on) {
  if (on) {
    preDemoState_ = saveState();
    preDemoGeometry_ = saveGeometry();
    for (QDockWidget* d : findChildren<QDockWidget*>()) d->hide();
    showPage(compare_);
    tabs_->tabBar()->hide();
    menuBar()->hide();
    controls_->hide();
    banner_->hide();
    showFullScreen();
  } else {
    tabs_->tabBar()->show();
    menuBar()->show();
    controls_->show();
    showNormal();
    restoreGeometry(preDemoGeometry_);
    restoreState(preDemoState_);
  }
}
