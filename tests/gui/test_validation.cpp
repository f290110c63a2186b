// Invalid choices are refused before anything runs, with a message in the window that says what
// is wrong: no model, an unusable dataset, ctx_len 0, a negative learning rate, a model file that
// does not load (an error dialog, and the window stays usable). Also the memory option's
// round trip through the form.
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QTest>

#include <algorithm>

#include "engine_session.h"
#include "fixtures.h"
#include "gui_support.h"
#include "message_banner.h"
#include "setup_panel.h"

namespace {

// Clicks Start; true if the run was refused (nothing started) with `expected` in the banner.
bool refusedWith(MainWindow& w, const QString& expected) {
  QTest::mouseClick(gui::child<QPushButton>(&w, "startButton"), Qt::LeftButton);
  if (w.session()->isRunning()) {
    qWarning("the run started");
    return false;
  }
  const QString text = w.banner()->text();
  if (!w.banner()->isVisible() || w.banner()->level() != MessageBanner::Error || !text.contains(expected)) {
    qWarning("banner (visible %d): %s", w.banner()->isVisible(), qPrintable(text));
    return false;
  }
  return true;
}

}  // namespace

class Validation : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString data_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
    data_ = tmp_.filePath("qa.jsonl");
    QVERIFY(gui::writeQaDataset(data_, 12));
  }

  void noModel() {
    MainWindow w;
    w.show();
    gui::typePath(&w, "dataPath", data_);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "datasetSummary")->text().contains("usable samples"), 30000);
    QVERIFY(refusedWith(w, "No model"));
    QVERIFY(gui::child<QLabel>(&w, "validationLabel")->text().contains("No model"));
  }

  void badDataset() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString bad = tmp_.filePath("bad.jsonl");
    QVERIFY(gui::writeFile(bad, "this is not json\n{\"unknown_field\": 1}\n"));
    MainWindow w;
    w.show();
    gui::typePath(&w, "modelPath", model);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "modelStatus")->text().contains("layers"), 30000);
    gui::typePath(&w, "dataPath", bad);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "datasetNote")->text().contains("line 1"), 30000);
    QVERIFY(refusedWith(w, "dataset cannot be used"));
    QVERIFY(w.banner()->text().contains("line 1"));  // the engine's reason, with the line
  }

  void ctxLenZero() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    MainWindow w;
    w.show();
    QVERIFY(gui::openFiles(w, model, data_));
    gui::typePath(&w, "outPath", tmp_.filePath("x.rwkvstate"));
    QVERIFY(w.startProblems().isEmpty());
    gui::setInt(&w, "ctxLen", 0);
    QVERIFY(gui::child<QLabel>(&w, "validationLabel")->text().contains("Context length"));  // before Start
    QVERIFY(refusedWith(w, "Context length (ctx_len) must be at least 2 (found 0)"));
  }

  void negativeLearningRate() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    MainWindow w;
    w.show();
    QVERIFY(gui::openFiles(w, model, data_));
    auto* lr = gui::child<QLineEdit>(&w, "lr");
    lr->clear();
    QTest::keyClicks(lr, "-0.01");
    QVERIFY(gui::child<QLabel>(&w, "validationLabel")->text().contains("Learning rate"));
    QVERIFY(refusedWith(w, "Learning rate must be greater than 0 (found -0.01)"));
    QTest::keyClick(lr, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClicks(lr, "abc");
    QVERIFY(refusedWith(w, "Learning rate: \"abc\" is not a number"));
  }

  // Guided tuning: the mode needs a guide model that exists, and the weights must be numbers >= 0;
  // every message names its field.
  void guidedFields() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    MainWindow w;
    w.show();
    QVERIFY(gui::openFiles(w, model, data_));
    gui::typePath(&w, "outPath", tmp_.filePath("g.rwkvstate"));
    QVERIFY(w.startProblems().isEmpty());
    auto* mode = gui::child<QComboBox>(&w, "guided");
    QVERIFY(!mode->toolTip().isEmpty() && !gui::child<QLineEdit>(&w, "guideKlWeight")->toolTip().isEmpty());
    mode->setCurrentText("kl");
    QVERIFY(gui::child<QLabel>(&w, "validationLabel")->text().contains("Guide model"));
    QVERIFY(refusedWith(w, "Guide model: choose the guide checkpoint for guided tuning (kl)"));
    gui::typePath(&w, "guidePath", tmp_.filePath("missing.safetensors"));
    QVERIFY(refusedWith(w, "Guide model: " + tmp_.filePath("missing.safetensors") + " does not exist"));
    gui::typePath(&w, "guidePath", model);
    auto* kl = gui::child<QLineEdit>(&w, "guideKlWeight");
    kl->clear();
    QTest::keyClicks(kl, "-1");
    QVERIFY(refusedWith(w, "KL weight must be 0 or more (found -1)"));
    kl->clear();
    QTest::keyClicks(kl, "1");
    QVERIFY(w.startProblems().isEmpty());
    mode->setCurrentText("off");
    QVERIFY(w.startProblems().isEmpty());
  }

  // The memory option: the checkbox sets TuneConfig::recompute, the command preview shows the CLI
  // flag, and a config written back into the form (a loaded run) sets the checkbox.
  void recomputeOption() {
    MainWindow w;
    w.show();
    QStringList problems;  // no model or data yet: not asked here
    auto* box = gui::child<QCheckBox>(&w, "recompute");
    QVERIFY(!box->toolTip().isEmpty() && !box->isChecked());
    QVERIFY(!w.setup()->config(&problems).recompute);
    box->click();
    QVERIFY(w.setup()->config(&problems).recompute);
    const auto argv = w.setup()->config(&problems).to_command_line();
    QVERIFY(std::find(argv.begin(), argv.end(), "--recompute") != argv.end());
    rwkv::TuneConfig c = w.setup()->config(&problems);
    c.recompute = false;
    w.setup()->setConfig(c);
    QVERIFY(!box->isChecked());
    c.recompute = true;
    w.setup()->setConfig(c);
    QVERIFY(box->isChecked());
  }

  void modelThatDoesNotLoad() {
    const QString junk = tmp_.filePath("junk.pth");
    QVERIFY(gui::writeFile(junk, QByteArray(4096, 'x')));
    MainWindow w;
    w.show();
    gui::typePath(&w, "modelPath", junk);
    QTRY_VERIFY_WITH_TIMEOUT(w.findChild<QMessageBox*>("errorDialog") != nullptr, 30000);
    auto* box = w.findChild<QMessageBox*>("errorDialog");
    QVERIFY(box->informativeText().contains("junk.pth"));  // the engine names the file
    QVERIFY(w.isVisible());
    box->accept();
    QVERIFY(refusedWith(w, "model cannot be used"));
  }
};

QTEST_MAIN(Validation)
#include "test_validation.moc"
