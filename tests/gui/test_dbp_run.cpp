// A DBP run from the studio on demo-small (CPU): the setup form's Method group selects the kernel
// method with DBP in loss mode, the run starts, and the Decorrelation tab's statistics plot and
// covariance heatmap receive data (the hint they replace goes away); then the run is stopped and
// the saved state carries the kernel part.
#include "qcp.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

#include "decor_panel.h"
#include "engine_session.h"
#include "fixtures.h"
#include "gui_support.h"
#include "monitor_panel.h"
#include "rwkv/state_file.h"
#include "series_plot.h"

class DbpRun : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
  }

  void decorrelationPlotReceivesData() {
    const QString model = fixtures::sourceDir() + "/resources/models/demo-small.safetensors";
    const QString data = fixtures::sourceDir() + "/resources/tasks/format_train.jsonl";
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(gui::openFiles(w, model, data));
    gui::smallRun(w, 100000, tmp_.filePath("dbp.rwkvstate"));  // long: stopped by hand
    gui::setInt(&w, "microBsz", 4);

    // Kernel fields are disabled until the kernel method is chosen.
    auto* method = gui::child<QComboBox>(&w, "method");
    auto* dbp = gui::child<QComboBox>(&w, "dbp");
    QVERIFY(!dbp->isEnabled());
    method->setCurrentText("kernel");
    QVERIFY(dbp->isEnabled());
    QVERIFY(!gui::child<QSpinBox>(&w, "kernelM")->toolTip().isEmpty());
    gui::setInt(&w, "kernelM", 32);
    dbp->setCurrentText("loss");
    QVERIFY(gui::child<QLineEdit>(&w, "dbpAlpha")->isEnabled());
    QVERIFY(!gui::child<QLineEdit>(&w, "dbpEta")->isEnabled());
    QVERIFY2(w.startProblems().isEmpty(), qPrintable(w.startProblems().join("; ")));

    DecorPanel* panel = w.monitor()->decorPanel();
    QVERIFY(!panel->showingData());
    QSignalSpy finished(w.session(), &EngineSession::runFinished);
    QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);
    QVERIFY(w.session()->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(panel->statPlot()->dataCount() > 3, 120000);
    QVERIFY(panel->showingData());
    QCOMPARE(panel->statPlot()->seriesCount(), 4);  // demo-small's layers
    QVERIFY(gui::child<QLabel>(&w, "decorStatus")->text().contains("DBP loss"));
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "covarianceLabel")->text().startsWith("step"), 30000);
    auto* cov = panel->covariancePlot();
    auto* map = qobject_cast<QCPColorMap*>(cov->plottable(0));
    QVERIFY(map && map->data()->keySize() == 32);
    // Another statistic redraws from the history.
    gui::child<QComboBox>(&w, "decorStat")->setCurrentIndex(2);
    QVERIFY(panel->statPlot()->dataCount() > 3);

    QTest::mouseClick(gui::child<QPushButton>(&w, "stopButton"), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const QString out = tmp_.filePath("saved.rwkvstate");
    QSignalSpy saved(w.session(), &EngineSession::stateSaved);
    w.session()->saveState(out);
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 30000);
    const auto f = rwkv::load_state(out.toStdString());
    QVERIFY(f.s0.kernel);
    QCOMPARE(f.s0.kernel->m, 32);
    // Saving it as an RWKV-PEFT file warns that the kernel part is dropped.
    w.session()->saveState(tmp_.filePath("saved.pth"));
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 2, 30000);
    QVERIFY(saved.at(1).at(1).toString().contains("dropped"));
  }
};

QTEST_MAIN(DbpRun)
#include "test_dbp_run.moc"
