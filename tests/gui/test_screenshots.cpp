// Screenshots of the studio's main states (empty, Start refused, dataset, running with curves
// and heatmap, finished, history), grabbed with QWidget::grab. With RWKV_SCREENSHOT_DIR set
// (scripts/dev screenshots, under Xvfb) they go there for the docs; otherwise into a temporary
// folder, and the test still checks that every image was written and is not blank.
#include <QDir>
#include <QImage>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTest>

#include "engine_session.h"
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
};

QTEST_MAIN(Screenshots)
#include "test_screenshots.moc"
