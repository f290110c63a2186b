// Screenshots of the studio's main states (empty, Start refused, dataset, running with curves
// and heatmap, finished, history; the compare, batch compare, demo and inspector views), grabbed
// with QWidget::grab. With RWKV_SCREENSHOT_DIR set
// (scripts/dev screenshots, under Xvfb) they go there for the docs; otherwise into a temporary
// folder, and the test still checks that every image was written and is not blank.
#include <QDir>
#include <QFile>
#include <QImage>
#include <QListWidget>
#include <QComboBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTest>

#include "batch_compare.h"
#include "compare_view.h"
#include "engine_session.h"
#include "inspector_view.h"
#include "rwkv/dataset.h"
#include "rwkv/tuner.h"
#include "fixtures.h"
#include "gui_support.h"
#include "history_view.h"
#include "decor_panel.h"
#include "monitor_panel.h"
#include "series_plot.h"
#include "state_heatmap.h"

namespace {

// Distinct colours in a coarse sample of the image: a blank or single-colour grab has very few.
int distinctColours(const QImage& img) {
  QSet<QRgb> seen;
  for (int y = 0; y < img.height(); y += 7)
    for (int x = 0; x < img.width(); x += 7) seen.insert(img.pixel(x, y));
  return seen.size();
}

// The demo: demo-small and the format task (its tuned state answers "<name> | <field> = <value>"
// where the base model answers with a sentence).
QString demoModel() { return fixtures::sourceDir() + "/resources/models/demo-small.safetensors"; }
QString demoData() { return fixtures::sourceDir() + "/resources/tasks/format_train.jsonl"; }

}  // namespace

class Screenshots : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString outDir_;

  void shoot(QWidget& w, const QString& name) {
    QTest::qWait(120);  // queued replots and layouts settle
    const QString path = QDir(outDir_).filePath(name + ".png");
    const QImage img = w.grab().toImage();
    QVERIFY2(img.save(path), qPrintable("cannot write " + path));
    QVERIFY2(distinctColours(img) > 20, qPrintable(name + " looks blank"));
    qInfo("wrote %s (%dx%d)", qPrintable(path), img.width(), img.height());
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
    const QByteArray env = qgetenv("RWKV_SCREENSHOT_DIR");
    outDir_ = env.isEmpty() ? tmp_.filePath("shots") : QString::fromLocal8Bit(env);
    QVERIFY(QDir().mkpath(outDir_));
  }

  void mainStates() {
    const QString model = demoModel(), data = demoData();
    QVERIFY2(QFileInfo::exists(model) && QFileInfo::exists(data), qPrintable(model + " / " + data));
    MainWindow w;
    w.resize(1440, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* tabs = gui::child<QTabWidget>(&w, "mainTabs");
    MonitorPanel* monitor = w.monitor();

    shoot(w, "empty");
    QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);  // refused: no files
    shoot(w, "start_refused");

    QVERIFY(gui::openFiles(w, model, data));
    tabs->setCurrentIndex(0);
    shoot(w, "dataset");

    gui::typePath(&w, "outPath", tmp_.filePath("shot.rwkvstate"));
    gui::setInt(&w, "ctxLen", 64);
    // Long enough for readable curves in the docs; short in ctest (the images are only checked).
    const int steps = qEnvironmentVariableIsSet("RWKV_SCREENSHOT_DIR") ? 90 : 24;
    gui::setInt(&w, "maxSteps", steps);
    gui::setInt(&w, "microBsz", 4);
    gui::setInt(&w, "evalEvery", 10);
    gui::setInt(&w, "snapshotEvery", 3);
    gui::setText(&w, "lr", "0.2");
    QSignalSpy finished(w.session(), &EngineSession::runFinished);
    QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(int(w.runData().steps().size()) >= steps / 2, 120000);
    monitor->setCurrentIndex(0);
    shoot(w, "running");
    monitor->setCurrentWidget(monitor->heatmap());
    shoot(w, "running_heatmap");
    monitor->setCurrentIndex(2);
    shoot(w, "running_gradnorm");

    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 300000);
    monitor->setCurrentIndex(0);
    shoot(w, "finished");
    monitor->setCurrentWidget(monitor->stateNormPlot());
    shoot(w, "finished_state_norm");
    tabs->setCurrentIndex(2);
    w.history()->table()->selectRow(0);
    shoot(w, "history");
  }

  void compareAndInspect();
  void dbpRun();
};

// A kernel run with DBP in loss mode on demo-small: the Decorrelation tab while it runs.
void Screenshots::dbpRun() {
  const QString model = demoModel(), data = demoData();
  MainWindow w;
  w.resize(1440, 900);
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QVERIFY(gui::openFiles(w, model, data));
  gui::typePath(&w, "outPath", tmp_.filePath("dbp.rwkvstate"));
  const int steps = qEnvironmentVariableIsSet("RWKV_SCREENSHOT_DIR") ? 150 : 16;
  gui::setInt(&w, "maxSteps", steps);
  gui::setInt(&w, "microBsz", 4);
  gui::setInt(&w, "evalEvery", 10);
  gui::setText(&w, "lr", "0.2");
  gui::setText(&w, "lrFinal", "0.01");
  gui::setText(&w, "evalFraction", "0.2");
  gui::child<QComboBox>(&w, "method")->setCurrentText("kernel");
  gui::setInt(&w, "kernelM", 64);
  gui::child<QComboBox>(&w, "dbp")->setCurrentText("loss");
  QSignalSpy finished(w.session(), &EngineSession::runFinished);
  QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);
  w.monitor()->setCurrentWidget(w.monitor()->decorPanel());
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 600000);
  QTest::qWait(200);
  shoot(w, "dbp");
}

// The compare and inspector views on the demo: a state tuned here on the format task, shown on
// questions it was not tuned on (the eval split, and format_eval.jsonl's people).
void Screenshots::compareAndInspect() {
  const QString model = demoModel(), data = demoData();
  rwkv::TuneConfig cfg;
  cfg.model = model.toStdString();
  cfg.data = data.toStdString();
  cfg.out = tmp_.filePath("format.rwkvstate").toStdString();
  cfg.ctx_len = 64;
  cfg.epochs = 30;
  cfg.micro_bsz = 4;
  cfg.lr = 0.2;
  cfg.lr_final = 0.01;
  cfg.eval_every = 0;
  cfg.eval_fraction = 0.25;
  cfg.seed = 7;
  cfg.autosave_every = 0;
  cfg.snapshot_every = 0;
  const QString state = QString::fromStdString(rwkv::Tuner(cfg).run().out_path);
  QVERIFY(!state.isEmpty());
  const QStringList questions{"Where does Kleenzem live?", "What is Drubren's job?"};  // format_eval.jsonl

  MainWindow w;
  w.resize(1440, 900);
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QVERIFY(gui::openFiles(w, model, data));
  gui::setText(&w, "evalFraction", "0.25");
  gui::setText(&w, "seed", "7");
  CompareView* cmp = w.compare();
  w.showPage(cmp);
  cmp->addState(state);
  QTRY_VERIFY_WITH_TIMEOUT(cmp->promptList()->count() > 0, 30000);
  const QString prompt = QString::fromStdString(rwkv::chat_prompt(questions[1].toStdString()));
  cmp->setPrompt(prompt);
  cmp->setMaxTokens(24);
  QTest::mouseClick(gui::child<QPushButton>(cmp, "compareRun"), Qt::LeftButton);
  QTRY_VERIFY_WITH_TIMEOUT(!cmp->isRunning(), 60000);
  shoot(w, "compare");

  cmp->tabs()->setCurrentIndex(1);
  QSignalSpy batchDone(cmp->batch(), &BatchCompare::finished);
  QTest::mouseClick(gui::child<QPushButton>(cmp->batch(), "batchRun"), Qt::LeftButton);
  QVERIFY(batchDone.wait(120000));
  shoot(w, "compare_batch");
  cmp->tabs()->setCurrentIndex(0);

  cmp->setDemoMode(true);
  QTRY_VERIFY_WITH_TIMEOUT(!cmp->isRunning(), 60000);
  cmp->setPrompt(QString::fromStdString(rwkv::chat_prompt(questions[0].toStdString())));
  cmp->run();
  QTRY_VERIFY_WITH_TIMEOUT(!cmp->isRunning(), 60000);
  shoot(w, "compare_demo");
  cmp->setDemoMode(false);
  w.resize(1440, 900);

  InspectorView* ins = w.inspector();
  w.showPage(ins);
  ins->setPrompt(prompt);
  ins->setStatePath(state);
  ins->setAnswerTokens(12);
  QSignalSpy inspected(ins, &InspectorView::inspected);
  QTest::mouseClick(gui::child<QPushButton>(ins, "inspectRun"), Qt::LeftButton);
  QVERIFY(inspected.wait(60000));
  ins->setToken(ins->inspection()->n_prompt_tokens - 3);
  shoot(w, "inspect");
}

QTEST_MAIN(Screenshots)
#include "test_screenshots.moc"
