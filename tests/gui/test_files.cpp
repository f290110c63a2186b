// Files in and out of the window: drag and drop sorts files by kind, recent files are kept,
// settings and the last files persist between launches (QSettings), and the equivalent command
// line follows the form.
#include <QComboBox>
#include <QDropEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QTest>
#include <QUrl>

#include "command_preview.h"
#include "fixtures.h"
#include "gui_support.h"
#include "recent_files.h"
#include "setup_panel.h"

class Files : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  static void drop(QWidget& w, const QStringList& paths) {
    QMimeData mime;
    QList<QUrl> urls;
    for (const QString& p : paths) urls << QUrl::fromLocalFile(p);
    mime.setUrls(urls);
    QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent dropEvent(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &dropEvent);
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
  }

  void dropSortsFilesByKind() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString data = tmp_.filePath("drop.jsonl");
    QVERIFY(gui::writeQaDataset(data, 10));
    MainWindow w;
    w.show();
    drop(w, {model, data});
    QCOMPARE(gui::child<QLineEdit>(&w, "modelPath")->text(), model);
    QCOMPARE(gui::child<QLineEdit>(&w, "dataPath")->text(), data);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "modelStatus")->text().contains("12 layers"), 30000);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w, "datasetSummary")->text().contains("10 usable samples"), 30000);
    QCOMPARE(RecentFiles::list("models").value(0), model);
    QCOMPARE(RecentFiles::list("datasets").value(0), data);
  }

  void settingsAndFilesPersist() {
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    const QString data = tmp_.filePath("persist.jsonl");
    QVERIFY(gui::writeQaDataset(data, 8));
    {
      MainWindow w;
      w.show();
      QVERIFY(gui::openFiles(w, model, data));
      gui::setText(&w, "lr", "0.0123");
      gui::setInt(&w, "ctxLen", 200);
      w.resize(1111, 777);
      w.close();  // saves layout, settings and files
    }
    MainWindow w2;
    QCOMPARE(gui::child<QLineEdit>(&w2, "lr")->text(), QString("0.0123"));
    QCOMPARE(gui::child<QSpinBox>(&w2, "ctxLen")->value(), 200);
    QCOMPARE(w2.size(), QSize(1111, 777));
    const QStringList reopened = w2.restoreLastFiles();
    QCOMPARE(reopened, QStringList({model, data}));
    QCOMPARE(gui::child<QLineEdit>(&w2, "modelPath")->text(), model);
    QTRY_VERIFY_WITH_TIMEOUT(gui::child<QLabel>(&w2, "modelStatus")->text().contains("layers"), 30000);
  }

  void everyFieldHasATooltip() {
    MainWindow w;
    int fields = 0;
    for (QWidget* f : w.setup()->findChildren<QWidget*>()) {
      const bool field = qobject_cast<QLineEdit*>(f) || qobject_cast<QAbstractSpinBox*>(f) || qobject_cast<QComboBox*>(f);
      // the line edits inside spin boxes and editable combo boxes belong to those
      if (!field || qobject_cast<QAbstractSpinBox*>(f->parent()) || qobject_cast<QComboBox*>(f->parent())) continue;
      ++fields;
      QVERIFY2(!f->toolTip().isEmpty(),
               qPrintable(QString("no tooltip on %1 %2").arg(f->metaObject()->className(), f->objectName())));
    }
    QVERIFY(fields >= 25);
  }

  void commandLineFollowsTheForm() {
    MainWindow w;
    gui::setText(&w, "lr", "0.25");
    gui::setInt(&w, "epochs", 3);
    const QString cmd = gui::child<QPlainTextEdit>(&w, "commandLine")->toPlainText();
    QVERIFY2(cmd.startsWith("rwkv-tune tune"), qPrintable(cmd));
    QVERIFY2(cmd.contains("--lr 0.25") && cmd.contains("--epochs 3"), qPrintable(cmd));
    // It is the engine's own command line for this config.
    QStringList problems;
    rwkv::TuneConfig c = w.setup()->config(&problems);
    c.out = "tuned.rwkvstate";
    QStringList argv;
    for (const auto& a : c.to_command_line()) argv << CommandPreview::shellQuote(QString::fromStdString(a));
    QCOMPARE(cmd, argv.join(' '));
  }
};

QTEST_MAIN(Files)
#include "test_files.moc"
