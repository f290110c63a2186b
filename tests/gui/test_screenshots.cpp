// Screenshots of the studio's main states (empty, Start refused, dataset, running with curves
// and heatmap, finished, history; the compare, batch compare, demo and inspector views), grabbed
// with QWidget::grab. With RWKV_SCREENSHOT_DIR set
// (scripts/dev screenshots, under Xvfb) they go there for the docs; otherwise into a temporary
// folder, and the test still checks that every image was written and is not blank.
#include <QDir>
#include <QFile>
#include <random>
#include <QImage>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTest>

#include "batch_compare.h"
#include "compare_view.h"
#include "engine_session.h"
#include "inspector_view.h"
#include "python.h"
#include "rwkv/dataset.h"
#include "rwkv/tuner.h"
#include "fixtures.h"
#include "gui_support.h"
#include "history_view.h"
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

// Made-up facts ("What color is the fuzak?" -> "Red."), one JSON line each; returns the questions.
QStringList writeFacts(const QString& path, int n) {
  const std::string cons = "bdfgklmnprstvz", vow = "aeiou";
  const char* colors[] = {"Red", "Blue", "Green", "Pink"};
  std::mt19937_64 r(1);
  QFile f(path);
  f.open(QIODevice::WriteOnly);
  QStringList questions;
  while (questions.size() < n) {
    const std::string w{cons[r() % 14], vow[r() % 5], cons[r() % 14], vow[r() % 5], cons[r() % 14]};
    const QString q = QString("What color is the %1?").arg(QString::fromStdString(w));
    if (questions.contains(q)) continue;
    questions << q;
    f.write(QString("{\"question\": \"%1\", \"answer\": \"%2.\"}\n").arg(q, colors[r() % 4]).toUtf8());
  }
  return questions;
}

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
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString data = fixtures::sourceDir() + "/resources/data/sample_qa.jsonl";
    QVERIFY2(QFileInfo::exists(data), qPrintable(data));
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
    gui::setInt(&w, "ctxLen", 128);
    // Long enough for readable curves in the docs; short in ctest (the images are only checked).
    const int steps = qEnvironmentVariableIsSet("RWKV_SCREENSHOT_DIR") ? 90 : 24;
    gui::setInt(&w, "maxSteps", steps);
    gui::setInt(&w, "microBsz", 4);
    gui::setInt(&w, "evalEvery", 10);
    gui::setInt(&w, "snapshotEvery", 3);
    gui::setText(&w, "lr", "0.05");
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
};

// The compare and inspector views. The tiny fixture answers " the the the..." whatever its state
// (its attention path is barely trained), so these use a small torch-made model whose attention
// responds to the state (tests/python/tuner_make_model.py), its S0 tuned here on made-up facts: the
// base model babbles bytes, the tuned state answers the colours it was trained on.
void Screenshots::compareAndInspect() {
  const QString model = tmp_.filePath("steerable.pth"), data = tmp_.filePath("facts.jsonl");
  RUN_PYTHON("tuner_make_model.py", (QStringList{"--out", model, "--embd", "64", "--layers", "2", "--head-size", "16",
                                                 "--head-scale", "4", "--gate-scale", "1.5", "--ffn-scale", "0.2",
                                                 "--seed", "0"}));
  const QStringList questions = writeFacts(data, 24);
  rwkv::TuneConfig cfg;
  cfg.model = model.toStdString();
  cfg.data = data.toStdString();
  cfg.out = tmp_.filePath("facts.rwkvstate").toStdString();
  cfg.ctx_len = 128;
  cfg.max_steps = 300;
  cfg.micro_bsz = 4;
  cfg.lr = 0.3;
  cfg.lr_final = 0.03;
  cfg.eval_every = 0;
  cfg.eval_fraction = 0.25;
  cfg.seed = 7;
  cfg.autosave_every = 0;
  cfg.snapshot_every = 0;
  const QString state = QString::fromStdString(rwkv::Tuner(cfg).run().out_path);
  QVERIFY(!state.isEmpty());

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
  // A question the state was tuned on (the eval split's are held out: made-up facts cannot be guessed).
  const QString prompt = QString::fromStdString(rwkv::chat_prompt(questions[1].toStdString()));
  cmp->setPrompt(prompt);
  cmp->setMaxTokens(6);  // the answer; the random model babbles after it
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
  ins->setAnswerTokens(6);
  QSignalSpy inspected(ins, &InspectorView::inspected);
  QTest::mouseClick(gui::child<QPushButton>(ins, "inspectRun"), Qt::LeftButton);
  QVERIFY(inspected.wait(60000));
  ins->setToken(ins->inspection()->n_prompt_tokens - 3);
  shoot(w, "inspect");
}

QTEST_MAIN(Screenshots)
#include "test_screenshots.moc"
