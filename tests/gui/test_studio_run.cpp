// Clicks through a whole tuning run in the studio on the tiny fixture model (CPU): open model and
// data, start, watch metrics land in the loss plot and the heatmap, pause, resume, stop, save the
// state in the three formats and reload it with rwkv::load_state; then a run that finishes.
#include "qcp.h"

#include <QCheckBox>
#include <QLabel>
#include <QSlider>
#include <algorithm>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

#include "dataset_view.h"
#include "engine_session.h"
#include "fixtures.h"
#include "gui_support.h"
#include "history_view.h"
#include "loss_plot.h"
#include "message_banner.h"
#include "monitor_panel.h"
#include "rwkv/state_file.h"
#include "series_plot.h"
#include "state_heatmap.h"

namespace {

double maxAbsDiff(const rwkv::InitialState& a, const rwkv::InitialState& b) {
  if (a.wkv.size() != b.wkv.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.wkv.size(); ++i) m = std::max(m, std::fabs(double(a.wkv[i]) - b.wkv[i]));
  return m;
}

double maxAbs(const rwkv::InitialState& a) {
  double m = 0;
  for (float v : a.wkv) m = std::max(m, std::fabs(double(v)));
  return m;
}

int stepsSeen(const MainWindow& w) { return static_cast<int>(w.runData().steps().size()); }

}  // namespace

class StudioRun : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
  }

  void pauseResumeStopSave() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString data = tmp_.filePath("qa.jsonl");
    QVERIFY(gui::writeQaDataset(data, 40));
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(gui::openFiles(w, model, data));
    gui::smallRun(w, 100000, tmp_.filePath("run1.rwkvstate"));  // long: it is stopped by hand
    QVERIFY2(w.startProblems().isEmpty(), qPrintable(w.startProblems().join("; ")));

    QSignalSpy finished(w.session(), &EngineSession::runFinished);
    QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);
    QVERIFY(w.session()->isRunning());

    // Metrics arrive in the loss plot and the heatmap.
    LossPlot* loss = w.monitor()->lossPlot();
    StateHeatmap* heat = w.monitor()->heatmap();
    QTRY_VERIFY_WITH_TIMEOUT(loss->plot()->graph(0)->dataCount() > 3, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(heat->snapshotCount() >= 2 && heat->shownStep() >= 0, 60000);
    QVERIFY(heat->colorMap()->data()->keySize() > 0);
    QVERIFY(w.monitor()->gradPlot()->dataCount() > 0);
    QCOMPARE(w.monitor()->gradPlot()->seriesCount(), 12);  // the fixture's 12 layers

    // Pause: the engine holds; no step arrives while paused.
    auto* pause = gui::child<QPushButton>(&w, "pauseButton");
    QTest::mouseClick(pause, Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(w.logText().contains("paused at step"), 30000);
    QCOMPARE(pause->text(), QString("Resume"));
    QTest::qWait(150);  // the last step's metrics drain
    const int held = stepsSeen(w);
    QTest::qWait(600);
    QCOMPARE(stepsSeen(w), held);
    QVERIFY(w.session()->isRunning());

    // Resume: steps come again.
    QTest::mouseClick(pause, Qt::LeftButton);
    QCOMPARE(pause->text(), QString("Pause"));
    QTRY_VERIFY_WITH_TIMEOUT(stepsSeen(w) > held + 2, 30000);

    // Stop: the run ends cancelled and goes to the history.
    QTest::mouseClick(gui::child<QPushButton>(&w, "stopButton"), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto summary = finished.at(0).at(0).value<rwkv::TuneSummary>();
    QVERIFY(summary.cancelled);
    QVERIFY(!w.session()->isRunning());
    QCOMPARE(w.history()->count(), 1);
    QVERIFY(w.banner()->text().contains("cancelled"));
    QVERIFY(gui::child<QPushButton>(&w, "saveStateButton")->isEnabled());

    // Heatmap: the scrubber goes back to the starting (zero) state; the diff against it is then
    // zero everywhere, and at the newest snapshot it equals the values themselves.
    auto* scrub = gui::child<QSlider>(&w, "heatmapScrubber");
    auto* diff = gui::child<QCheckBox>(&w, "heatmapDiff");
    QCOMPARE(scrub->value(), scrub->maximum());  // it followed the newest snapshot
    const QVector<double> newest = heat->shownValues();
    QVERIFY(std::any_of(newest.begin(), newest.end(), [](double v) { return v != 0; }));
    diff->setChecked(true);
    QCOMPARE(heat->shownValues(), newest);
    scrub->setValue(0);
    QCOMPARE(heat->shownStep(), 0);
    QVERIFY(std::all_of(heat->shownValues().begin(), heat->shownValues().end(), [](double v) { return v == 0; }));
    diff->setChecked(false);

    // The worker's final state of a cancelled run is the tuner's current state, which moved.
    const rwkv::StateFile final = w.session()->worker()->finalState();
    QCOMPARE(final.s0.n_layer, 12);
    QCOMPARE(maxAbsDiff(final.s0, w.session()->worker()->lastState()), 0.0);
    QVERIFY2(maxAbs(final.s0) > 1e-6, "the tuned state is still zero");

    // Save in the three formats through the window; reload with the engine.
    QSignalSpy saved(w.session(), &EngineSession::stateSaved);
    const QString ours = tmp_.filePath("gui.rwkvstate"), peft = tmp_.filePath("gui.pth"), ai00 = tmp_.filePath("gui.st");
    for (const QString& p : {ours, peft, ai00}) w.saveStateTo(p);
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 3, 30000);
    const rwkv::StateFile a = rwkv::load_state(ours.toStdString());
    QCOMPARE(a.format, rwkv::StateFormat::Ours);
    QCOMPARE(maxAbsDiff(a.s0, final.s0), 0.0);
    QVERIFY(!a.meta.at("config").empty());
    const rwkv::StateFile b = rwkv::load_state(peft.toStdString());
    QCOMPARE(b.format, rwkv::StateFormat::PeftPth);
    QVERIFY2(maxAbsDiff(b.s0, final.s0) <= 1e-2 * std::max(1.0, maxAbs(final.s0)), "PEFT .pth differs");
    const rwkv::StateFile c = rwkv::load_state(ai00.toStdString());
    QCOMPARE(c.format, rwkv::StateFormat::Ai00);
    QVERIFY2(maxAbsDiff(c.s0, final.s0) <= 2e-3 * std::max(1.0, maxAbs(final.s0)), "Ai00 .st differs beyond fp16");

    // Resume the stopped run from its autosave: it continues at the step where it stopped.
    const QString autosave = tmp_.filePath("run1.rwkvstate.autosave");
    QVERIFY(QFileInfo::exists(autosave));
    QVERIFY(w.resumeFrom(autosave));
    QVERIFY(w.startRun());
    QTRY_VERIFY_WITH_TIMEOUT(stepsSeen(w) > 0, 60000);
    QCOMPARE(w.runData().info().start_step, summary.steps_done);
    QCOMPARE(w.runData().steps().front().step, summary.steps_done + 1);
    QTest::keyClick(&w, Qt::Key_Space);  // Space pauses and resumes
    QVERIFY(w.session()->isPaused());
    QTest::keyClick(&w, Qt::Key_Space);
    QVERIFY(!w.session()->isPaused());
    QTest::keyClick(&w, Qt::Key_Escape);  // Esc stops
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QVERIFY(finished.at(1).at(0).value<rwkv::TuneSummary>().cancelled);
    QCOMPARE(w.history()->count(), 2);
  }

  void finishedRunKeepsTheEnginesState() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString data = tmp_.filePath("qa2.jsonl");
    QVERIFY(gui::writeQaDataset(data, 24));
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(gui::openFiles(w, model, data));
    const QString out = tmp_.filePath("run2.rwkvstate");
    gui::smallRun(w, 8, out);
    QSignalSpy finished(w.session(), &EngineSession::runFinished);
    QTest::keyClick(&w, Qt::Key_Return, Qt::ControlModifier);  // Ctrl+Return starts
    QVERIFY(w.session()->isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto summary = finished.at(0).at(0).value<rwkv::TuneSummary>();
    QVERIFY(!summary.cancelled);
    QCOMPARE(summary.steps_done, 8);
    QCOMPARE(QString::fromStdString(summary.out_path), out);

    // Every step and the evals reached the plots.
    QCOMPARE(w.monitor()->lossPlot()->trainCount(), 8);
    QVERIFY(w.monitor()->lossPlot()->evalCount() >= 2);  // baseline, step 4, step 8
    QCOMPARE(stepsSeen(w), 8);

    // The worker's final state is what the engine wrote; saving it again keeps the values.
    const rwkv::StateFile engine = rwkv::load_state(out.toStdString());
    const rwkv::StateFile final = w.session()->worker()->finalState();
    QCOMPARE(maxAbsDiff(engine.s0, final.s0), 0.0);
    QSignalSpy saved(w.session(), &EngineSession::stateSaved);
    const QString copy = tmp_.filePath("copy.rwkvstate");
    w.saveStateTo(copy);
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 30000);
    QCOMPARE(maxAbsDiff(rwkv::load_state(copy.toStdString()).s0, engine.s0), 0.0);

    // Metrics CSV: a header and one row per step (plus the baseline eval's row).
    const QString csv = tmp_.filePath("metrics.csv");
    QVERIFY(w.exportMetricsCsv(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    QVERIFY(lines.first().startsWith("step,epoch,loss,eval_loss"));
    QCOMPARE(lines.size(), 1 + 8 + (w.runData().evals().front().step == 0 ? 1 : 0));

    // Plots export as PNG and PDF.
    QVERIFY(w.exportPlots(tmp_.filePath("plots")));
    QVERIFY(QFileInfo(tmp_.filePath("plots/loss.png")).size() > 1000);
    QVERIFY(QFileInfo(tmp_.filePath("plots/loss.pdf")).size() > 500);

    // After the run the dataset preview still tokenizes with the model's tokenizer.
    gui::setInt(&w, "ctxLen", 300);
    QTRY_VERIFY2_WITH_TIMEOUT(gui::child<QLabel>(&w, "datasetSummary")->text().contains("at ctx_len 300"),
                              qPrintable(gui::child<QLabel>(&w, "datasetSummary")->text() + " / " + w.logText()), 30000);
    QVERIFY(gui::child<QLabel>(&w, "datasetSummary")->text().contains("the model has 256 tokens"));

    // The run config round-trips through a file.
    const QString cfgPath = tmp_.filePath("run.json");
    QVERIFY(w.saveRunConfig(cfgPath));
    gui::setText(&w, "lr", "0.3");
    QVERIFY(w.loadRunConfig(cfgPath));
    QCOMPARE(gui::child<QLineEdit>(&w, "lr")->text(), QString("0.05"));
  }
};

QTEST_MAIN(StudioRun)
#include "test_studio_run.moc"
