// The compare view through the real worker thread and event loop, with states tuned in the test
// (rwkv::Tuner on a small Q/A file):
//   the base column equals `rwkv-tune generate` without a state and the tuned column equals it with
//   the state, token for token at temperature 0, and the columns differ (divergence marked);
//   the hover tooltip lists every column's token and top alternatives;
//   the batch compare reports the numbers of `rwkv-tune eval` on a small eval file, and exports CSV;
//   the prompt list holds the data set's eval split; demo mode runs the next prompt with one key.
// Models: the tiny rwkv.cpp fixture for everything, but it cannot show "the columns differ": its
// attention output weights are ~0.003, so even its tuned state scaled by 5000 leaves its greedy
// answer (" the the the ...") unchanged. For that check the same test also runs on a small
// torch-made model whose attention path responds to the state (tests/python/tuner_make_model.py,
// as in test_tuner_learn).
#include <QFile>
#include <QFileInfo>
#include <algorithm>
#include <cmath>
#include <QLabel>
#include <QListWidget>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>
#include <QTextBrowser>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "analysis_session.h"
#include "answer_column.h"
#include "batch_compare.h"
#include "compare_view.h"
#include "fixtures.h"
#include "gui_support.h"
#include "python.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/generate.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"

namespace {

constexpr int kMaxTokens = 40;

QByteArray tuneCli(const QStringList& args, int* code) {
  QProcess p;
  p.start(QString(RWKV_TUNE_EXE), args);
  if (!p.waitForFinished(300000)) {
    *code = -1;
    return {};
  }
  *code = p.exitCode();
  if (*code != 0) qWarning("rwkv-tune %s: %s", qPrintable(args.join(' ')), p.readAllStandardError().constData());
  return p.readAllStandardOutput();
}

}  // namespace

class TestCompare : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString model_, data_, tuned_;

  // Columns finished: the view is idle again.
  static bool waitIdle(CompareView& v, int ms = 120000) {
    return QTest::qWaitFor([&] { return !v.isRunning(); }, ms);
  }

 private Q_SLOTS:
  // Tunes S0 of `model` on data_ for a few steps; returns the state file.
  QString tune(const QString& model, const QString& out, double lr) {
    rwkv::TuneConfig cfg;
    cfg.model = model.toStdString();
    cfg.data = data_.toStdString();
    cfg.out = out.toStdString();
    cfg.ctx_len = 64;
    cfg.max_steps = 10;
    cfg.micro_bsz = 4;
    cfg.lr = lr;
    cfg.eval_every = 0;
    cfg.eval_fraction = 0.2;
    cfg.autosave_every = 0;
    cfg.snapshot_every = 0;
    rwkv::Tuner tuner(cfg);
    const rwkv::TuneSummary sum = tuner.run();
    return QString::fromStdString(sum.out_path);
  }

  // Runs the compare view on `model` with base and `state` columns; checks both against the CLI
  // and the engine's generate(); returns whether the two columns differ.
  bool compareAgainstGenerate(const QString& model, const QString& state, bool* ok) {
    *ok = false;
    AnalysisSession session;
    CompareView view(&session);
    view.resize(1200, 700);
    view.show();
    if (!QTest::qWaitForWindowExposed(&view)) return false;
    view.setContext({{model, ""}, data_, 64, 0.2, 42});
    view.setStates({state});
    if (view.columns().size() != 2) return false;
    const std::string prompt = rwkv::chat_prompt("What is the code of locker 3?");
    view.setPrompt(QString::fromStdString(prompt));
    view.setMaxTokens(kMaxTokens);
    view.setTemperature(0);
    QTest::mouseClick(gui::child<QPushButton>(&view, "compareRun"), Qt::LeftButton);
    if (!view.isRunning() || !waitIdle(view)) return false;
    AnswerColumn* base = view.columns()[0];
    AnswerColumn* tuned = view.columns()[1];
    if (!base->finished() || !tuned->finished()) return false;

    // The CLI, greedy, same length and stop: byte for byte.
    int code = 0;
    const QStringList common{"generate", "--model", model, "--prompt", QString::fromStdString(prompt),
                             "--temperature", "0", "--max-tokens", QString::number(kMaxTokens), "--stop", "\n\n"};
    const QByteArray cliBase = tuneCli(common, &code);
    if (code != 0) return false;
    const QByteArray cliTuned = tuneCli(common + QStringList{"--state", state}, &code);
    if (code != 0) return false;
    if (base->finalBytes() != cliBase || tuned->finalBytes() != cliTuned) {
      qWarning("column / CLI differ:\n base  %s\n cli   %s\n tuned %s\n cli   %s", base->finalBytes().toHex().constData(),
               cliBase.toHex().constData(), tuned->finalBytes().toHex().constData(), cliTuned.toHex().constData());
      return false;
    }
    // Token for token: the ids equal the engine's generate() ids; the shown text is the answer.
    auto m = rwkv::Model::load(model.toStdString());
    auto tok = rwkv::make_byte_tokenizer();
    const rwkv::GenerateParams p = view.params();
    if (p.sampler.temperature != 0.0f) return false;
    for (int c = 0; c < 2; ++c) {
      rwkv::Context ctx(m);
      if (c == 1) ctx.set_initial_state(rwkv::load_state(state.toStdString()).s0);
      const auto g = rwkv::generate(ctx, *tok, prompt, p);
      if (view.columns()[c]->ids() != QVector<int>(g.tokens.begin(), g.tokens.end())) {
        qWarning("column %d ids differ from generate()", c);
        return false;
      }
      if (view.columns()[c]->text() != QString::fromUtf8(QByteArray::fromStdString(g.text))) return false;
    }
    // The first divergent token is marked in both columns (-1 when equal).
    const QVector<int> a = base->ids(), b = tuned->ids();
    int d = 0;
    while (d < std::min(a.size(), b.size()) && a[d] == b[d]) ++d;
    const int want = a == b ? -1 : d;
    if (tuned->divergence() != want || base->divergence() != want) {
      qWarning("divergence %d / %d, want %d", base->divergence(), tuned->divergence(), want);
      return false;
    }
    if (!tuned->browser()->toHtml().contains("background-color")) return false;  // coloured by probability

    // Hover text: both columns with their token and top alternatives; greedy picks the top one.
    const int at = std::min(d, static_cast<int>(a.size()) - 1);
    const QString html = view.alternativesHtml(at);
    if (!html.contains("Base (zero state)") || !html.contains("Tuned: ") || !html.contains("top:")) {
      qWarning("tooltip: %s", qPrintable(html));
      return false;
    }
    for (AnswerColumn* c : view.columns()) {
      if (at >= c->tokens().size()) continue;
      const CompareToken& t = c->tokens()[at];
      if (t.top.size() != 5 || t.top[0].first != t.bytes || std::fabs(t.top[0].second - t.prob) > 1e-6) return false;
    }
    qInfo("%s\n  base:  %s\n  tuned: %s\n  diverge at token %d", qPrintable(QFileInfo(model).fileName()),
          base->finalBytes().toPercentEncoding(" .:").constData(), tuned->finalBytes().toPercentEncoding(" .:").constData(),
          want);
    *ok = true;
    return a != b;
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
    REQUIRE_FIXTURE(model, fixtures::kTinyFp32);
    model_ = model;
    data_ = tmp_.filePath("qa.jsonl");
    QVERIFY(gui::writeQaDataset(data_, 30));
    at::set_num_threads(1);
    tuned_ = tune(model_, tmp_.filePath("tiny.rwkvstate"), 1.0);
    QVERIFY(!tuned_.isEmpty());
  }

  void columnsEqualGenerate() {
    bool ok = false;
    compareAgainstGenerate(model_, tuned_, &ok);  // the fixture: equal to the CLI (its columns may not differ)
    QVERIFY(ok);

    const QString steerable = tmp_.filePath("steerable.pth");
    RUN_PYTHON("tuner_make_model.py", (QStringList{"--out", steerable, "--embd", "64", "--layers", "2", "--head-size", "16",
                                                   "--head-scale", "4", "--gate-scale", "1.5", "--ffn-scale", "0.2",
                                                   "--seed", "0"}));
    const QString state = tune(steerable, tmp_.filePath("steerable.rwkvstate"), 0.3);
    QVERIFY(!state.isEmpty());
    const bool differ = compareAgainstGenerate(steerable, state, &ok);
    QVERIFY(ok);
    QVERIFY2(differ, "the base and tuned columns are equal on the steerable model");
  }

  void batchEqualsEvalCli() {
    const QString evalFile = tmp_.filePath("eval.jsonl");
    QFile f(evalFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    for (int i = 0; i < 4; ++i)
      f.write(QString("{\"question\": \"What is the code of locker %1?\", \"answer\": \"Locker %1 opens with 00%1%1.\"}\n")
                  .arg(i)
                  .toUtf8());
    f.close();

    AnalysisSession session;
    CompareView view(&session);
    view.show();
    view.setContext({{model_, ""}, data_, 64, 0.2, 42});
    view.setStates({tuned_});
    view.setMaxTokens(16);
    BatchCompare* batch = view.batch();
    batch->setSourceFile(evalFile);
    QSignalSpy done(batch, &BatchCompare::finished);
    QTest::mouseClick(gui::child<QPushButton>(batch, "batchRun"), Qt::LeftButton);
    // A side-by-side run started meanwhile waits its turn; neither cancels the other.
    view.setPrompt(QString::fromStdString(rwkv::chat_prompt("What is the code of locker 1?")));
    QTest::mouseClick(gui::child<QPushButton>(&view, "compareRun"), Qt::LeftButton);
    QVERIFY(done.wait(120000));
    QCOMPARE(done.first().first().toBool(), false);
    QVERIFY(waitIdle(view));
    QVERIFY(view.columns()[0]->finished() && view.columns()[1]->finished());

    QTableWidget* table = batch->table();
    QCOMPARE(table->rowCount(), 4);
    for (int c = 0; c < 2; ++c) {
      QStringList args{"eval", "--model", model_, "--data", evalFile, "--max-tokens", "16", "--json"};
      if (c == 1) args << "--state" << tuned_;
      int code = 0;
      const auto j = nlohmann::json::parse(tuneCli(args, &code).toStdString());
      QCOMPARE(code, 0);
      const rwkv::EvalTotals& t = batch->totals()[c];
      QCOMPARE(t.n, j["totals"]["n"].get<int>());
      QCOMPARE(t.correct, j["totals"]["correct"].get<int>());
      QCOMPARE(t.exact, j["totals"]["exact"].get<int>());
      QCOMPARE(t.contains, j["totals"]["contains"].get<int>());
      QCOMPARE(t.format_failures, j["totals"]["format_failures"].get<int>());
      QCOMPARE(QString(rwkv::score_mode_name(t.score)), QString::fromStdString(j["score"].get<std::string>()));
      for (int r = 0; r < 4; ++r) {
        const QString answer = table->item(r, 4 + 4 * c)->data(Qt::UserRole).toString();
        QCOMPARE(answer, QString::fromStdString(j["items"][r]["output"].get<std::string>()));
        QCOMPARE(table->item(r, 4 + 4 * c + 2)->data(Qt::UserRole).toString(),
                 QString(j["items"][r]["contains"].get<bool>() ? "1" : "0"));
      }
    }
    QVERIFY(batch->totalsLabel()->text().contains("exact"));
    const QString csv = tmp_.filePath("compare.csv");
    QString err;
    QVERIFY2(batch->exportCsv(csv, &err), qPrintable(err));
    QFile in(csv);
    QVERIFY(in.open(QIODevice::ReadOnly));
    const QByteArray bytes = in.readAll();
    QVERIFY(bytes.startsWith("index,line,prompt,reference,Base,Base exact"));
    QCOMPARE(bytes.count("\ntotal,"), 2);
  }

  void evalSplitListAndDemoMode() {
    AnalysisSession session;
    CompareView view(&session);
    view.resize(1000, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setContext({{model_, ""}, data_, 64, 0.2, 42});
    QListWidget* list = view.promptList();
    // The split the tuner makes with these settings.
    auto tok = rwkv::make_byte_tokenizer();
    const rwkv::Dataset all = rwkv::load_jsonl(data_.toStdString(), *tok, 64);
    std::vector<rwkv::Sample> train, eval;
    rwkv::split_dataset(all, 0.2, 42, &train, &eval);
    QVERIFY(eval.size() >= 2);
    QTRY_COMPARE_WITH_TIMEOUT(list->count(), static_cast<int>(eval.size()), 30000);
    std::vector<int> lines;
    for (const auto& s : eval) lines.push_back(s.line);
    std::sort(lines.begin(), lines.end());
    const QString first = list->item(0)->data(Qt::UserRole).toString();
    QCOMPARE(first, QString::fromStdString(rwkv::chat_prompt("What is the code of locker " + std::to_string(lines[0] - 1) + "?")));

    view.setMaxTokens(6);
    const double before = view.columns()[0]->browser()->font().pointSizeF();
    view.setDemoMode(true);
    QVERIFY(view.columns()[0]->browser()->font().pointSizeF() > 1.5 * before);
    list->setCurrentRow(0);
    QTest::keyClick(&view, Qt::Key_N);  // one key: the next prompt, run
    QCOMPARE(list->currentRow(), 1);
    QCOMPARE(view.prompt(), list->item(1)->data(Qt::UserRole).toString());
    QVERIFY(view.isRunning());
    QVERIFY(waitIdle(view));
    QVERIFY(view.columns()[0]->finished());
    view.setDemoMode(false);
    QCOMPARE(view.columns()[0]->browser()->font().pointSizeF(), before);
  }
};

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
