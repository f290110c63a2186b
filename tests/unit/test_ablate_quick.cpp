// `rwkv-tune ablate --quick` as a separate process (RWKV_TUNE_EXE) on the demo models and tasks:
// every configuration of the full list (base, plain, kernel with and without DBP, guided cot and
// kl, the guide alone) appears in the Markdown table with a value per task, the guided runs report
// the guide's cost, and the loss curves come out as CSV and one SVG per task.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "fixtures.h"

class TestAblateQuick : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void quickAblationWritesTableCurvesAndPlots() {
    QTemporaryDir dir;
    const QString src = fixtures::sourceDir();
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QString(RWKV_TUNE_EXE),
            {"ablate", "--quick", "--model", src + "/resources/models/demo-small.safetensors", "--guide",
             src + "/resources/models/demo-guide.safetensors", "--tasks-dir", src + "/resources/tasks", "--out",
             dir.filePath("out")});
    QVERIFY(p.waitForFinished(300000));
    const QString log = QString::fromUtf8(p.readAll());
    if (p.exitCode() != 0) qWarning("%s", qPrintable(log));
    QCOMPARE(p.exitCode(), 0);

    QFile md(dir.filePath("out/results.md"));
    QVERIFY(md.open(QIODevice::ReadOnly));
    const QString table = QString::fromUtf8(md.readAll());
    for (const char* c : {"base", "plain", "kernel16", "kernel16+dbp", "cot", "kl", "guide"}) {
      const QString row = "\n| " + QString(c) + " |";
      QVERIFY2(table.contains(row), c);
      const QString line = table.mid(table.indexOf(row) + 1).section('\n', 0, 0);
      QCOMPARE(line.count('|'), 4);  // config, arith, facts
      QVERIFY2(!line.contains("| - |"), qPrintable("no value: " + line));
    }
    QVERIFY(table.contains("±"));                    // two seeds: a spread
    QVERIFY(table.contains("| arith | cot | 1 |"));  // every run is listed
    QVERIFY(table.contains("(guide "));              // the guide's seconds in the cost table
    QVERIFY(table.contains(" in all.") && !table.contains("incomplete"));  // rewritten after every run; final
    QVERIFY(!QFile::exists(dir.filePath("out/results.md.tmp")));
    QFile csv(dir.filePath("out/curves.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QString curves = QString::fromUtf8(csv.readAll());
    QVERIFY(curves.startsWith("task,config,seed,step,kind,value\n"));
    QVERIFY(curves.contains("\narith,kl,2,2,train,"));
    QVERIFY(curves.contains(",eval,"));
    for (const char* t : {"arith", "facts"}) {
      QFile svg(dir.filePath(QString("out/loss_%1.svg").arg(t)));
      QVERIFY(svg.open(QIODevice::ReadOnly));
      const QString s = QString::fromUtf8(svg.readAll());
      QVERIFY(s.startsWith("<svg") && s.contains("<polyline") && s.contains(">kernel16+dbp<"));
    }
  }
};

QTEST_GUILESS_MAIN(TestAblateQuick)
#include "test_ablate_quick.moc"
