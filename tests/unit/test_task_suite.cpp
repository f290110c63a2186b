// The demo task suite is reproducible (issue #8 acceptance 3, first half): regenerating it with
// the committed seed gives byte-identical files, the corpus has the sha256 the model recipes
// name, and retraining the tokenizer on it gives the committed demo.model byte for byte.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "fixtures.h"

namespace {

QByteArray read(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.readAll();
}

// Runs a script of the repo with the project's Python; fails the test with its output otherwise.
bool run_python(const QStringList& args, QString* err) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(QString(RWKV_PYTHON), args);
  if (!p.waitForFinished(300000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
    *err = QString(RWKV_PYTHON) + " " + args.join(' ') + " failed:\n" + QString::fromUtf8(p.readAll());
    return false;
  }
  return true;
}

}  // namespace

class TestTaskSuite : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void regeneratesByteIdentical() {
    const QString res = fixtures::sourceDir() + "/resources";
    QTemporaryDir dir;
    QString err;
    QVERIFY2(run_python({res + "/tasks/make_tasks.py", "--out", dir.path(), "--corpus", dir.path() + "/corpus.jsonl"}, &err),
             qPrintable(err));
    const QStringList files{"arith_train.jsonl", "arith_eval.jsonl", "facts_train.jsonl", "facts_eval.jsonl",
                            "facts_eval.csv", "format_train.jsonl", "format_eval.jsonl", "arith_short_train.jsonl",
                            "arith_short_eval.jsonl"};
    for (const auto& f : files) {
      const QByteArray committed = read(res + "/tasks/" + f), fresh = read(dir.path() + "/" + f);
      QVERIFY2(!committed.isEmpty(), qPrintable("missing committed " + f));
      QVERIFY2(committed == fresh, qPrintable(f + " differs from the committed file"));
    }
    const QString corpus_sha =
        QCryptographicHash::hash(read(dir.path() + "/corpus.jsonl"), QCryptographicHash::Sha256).toHex();
    for (const char* recipe : {"demo-small", "demo-guide"}) {
      const auto r = QJsonDocument::fromJson(read(res + "/models/" + recipe + ".recipe.json")).object();
      QCOMPARE(r["corpus_sha256"].toString(), corpus_sha);
    }
    QVERIFY2(run_python({res + "/tasks/train_tokenizer.py", "--corpus", dir.path() + "/corpus.jsonl", "--out",
                         dir.path() + "/demo.model"},
                        &err),
             qPrintable(err));
    QVERIFY2(read(dir.path() + "/demo.model") == read(res + "/models/demo.model"),
             "the retrained tokenizer differs from resources/models/demo.model");
  }
};

QTEST_GUILESS_MAIN(TestTaskSuite)
#include "test_task_suite.moc"
