// The demo of state tuning on the project's own model (issue #8 acceptance 2; issue #4
// acceptance 2, which the tiny rwkv.cpp fixture cannot show because its outputs barely depend on
// the state): demo-small answers the format task's questions in sentences; tuned for a few
// seconds on format_train.jsonl, it answers held-out questions in the registry-card form
// "<name> | <field> = <value>" with the right value, and reproduces its training answers.
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "fixtures.h"
#include "rwkv/context.h"
#include "rwkv/evaluate.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "rwkv/tuner.h"

namespace {

QString demo(const QString& rel) { return fixtures::sourceDir() + "/resources/" + rel; }

struct Scores {
  int n = 0, exact = 0, card_form = 0;
};

// Greedy answers from `state` ("" = zero state) to every item of `data`.
Scores answer_all(const std::shared_ptr<const rwkv::Model>& model, const rwkv::Tokenizer& tok,
                  const std::string& state, const QString& data) {
  rwkv::Context ctx(model);
  if (!state.empty()) ctx.set_initial_state(rwkv::load_state(state).s0);
  rwkv::EvalParams p;
  p.score = rwkv::ScoreMode::Exact;
  p.max_tokens = 32;
  const auto report = rwkv::evaluate(ctx, tok, rwkv::load_eval_set(data.toStdString()), p);
  static const QRegularExpression card(R"(^\S+ \| (city|job|pet|colour) = \S+$)");
  Scores s;
  for (const auto& r : report.items) {
    ++s.n;
    s.exact += r.score.exact;
    s.card_form += card.match(QString::fromStdString(r.output).trimmed()).hasMatch();
  }
  return s;
}

}  // namespace

class TestDemoTuning : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void tunedStateFollowsTheFormat() {
    const QString model_path = demo("models/demo-small.safetensors");
    QVERIFY2(QFile::exists(model_path), qPrintable("missing demo model " + model_path));
    auto model = rwkv::Model::load(model_path.toStdString());
    auto tok = rwkv::load_tokenizer(demo("models/demo.model").toStdString());
    const QString train = demo("tasks/format_train.jsonl"), held_out = demo("tasks/format_eval.jsonl");

    const Scores base_train = answer_all(model, *tok, "", train), base_eval = answer_all(model, *tok, "", held_out);
    qInfo("base model: card form %d/%d held-out, exact %d/%d train", base_eval.card_form, base_eval.n,
          base_train.exact, base_train.n);
    QCOMPARE(base_eval.card_form, 0);
    QCOMPARE(base_train.exact, 0);

    QTemporaryDir dir;
    rwkv::TuneConfig cfg;
    cfg.model = model_path.toStdString();
    cfg.data = train.toStdString();
    cfg.out = (dir.path() + "/format.rwkvstate").toStdString();
    cfg.ctx_len = 64;
    cfg.epochs = 30;
    cfg.lr = 0.2;
    cfg.lr_final = 0.01;
    cfg.micro_bsz = 4;
    cfg.eval_fraction = 0.2;
    cfg.eval_every = 50;
    cfg.snapshot_every = 0;
    rwkv::Tuner tuner(cfg);
    const auto sum = tuner.run();
    qInfo("tuning: %d steps, eval loss %.4f -> %.4f (best %.4f)", sum.steps_done, sum.first_eval_loss,
          sum.final_eval_loss, sum.best_eval_loss);
    QVERIFY2(sum.best_eval_loss < 0.7 * sum.first_eval_loss, "held-out eval loss did not fall by 30%");

    const Scores tuned_train = answer_all(model, *tok, cfg.out, train), tuned_eval = answer_all(model, *tok, cfg.out, held_out);
    qInfo("tuned state: card form %d/%d held-out (exact %d), training answers exact %d/%d", tuned_eval.card_form,
          tuned_eval.n, tuned_eval.exact, tuned_train.exact, tuned_train.n);
    QVERIFY2(tuned_train.exact >= 0.8 * tuned_train.n, "fewer than 80% of the training answers reproduced");
    QVERIFY2(tuned_eval.card_form >= 0.6 * tuned_eval.n, "fewer than 60% of held-out answers in the card form");
    QVERIFY2(tuned_eval.exact >= 0.5 * tuned_eval.n, "fewer than 50% of held-out answers exactly right");
  }
};

QTEST_GUILESS_MAIN(TestDemoTuning)
#include "test_demo_tuning.moc"
