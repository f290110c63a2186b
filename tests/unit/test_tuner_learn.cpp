// State tuning learns: on question/answer pairs with made-up facts ("What color is the fikef?" ->
// "Blue."), tuning S0 through the public Tuner (JSON Lines file -> state file) lowers the held-out
// eval loss by >= 30%, and greedy decoding from the saved state reproduces >= 80% of the training
// answers exactly while the base model reproduces none.
//
// Model: a small random RWKV-7 .pth made with torch by tests/python/tuner_make_model.py whose
// attention path is strong enough for the state to steer it. The tiny rwkv.cpp fixture cannot
// show this: its attention output weights are ~0.003 (barely trained), so no initial state moves
// its logits by more than ~0.07; its run is still made and printed (tinyFixtureRun) and must at
// least lower the eval loss a little.
#include <ATen/Parallel.h>

#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <random>
#include <set>

#include "fixtures.h"
#include "python.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "rwkv/tuner.h"

namespace {

struct Fact {
  std::string question, answer;
};

// n facts about made-up five-letter things, each with one of four colours (seeded, portable).
std::vector<Fact> make_facts(int n, uint64_t seed) {
  const std::string cons = "bdfgklmnprstvz", vow = "aeiou";
  const char* colors[] = {"Red", "Blue", "Green", "Pink"};
  std::mt19937_64 r(seed);
  std::vector<Fact> out;
  std::set<std::string> seen;
  while (static_cast<int>(out.size()) < n) {
    std::string w{cons[r() % 14], vow[r() % 5], cons[r() % 14], vow[r() % 5], cons[r() % 14]};
    const std::string color = colors[r() % 4];
    if (!seen.insert(w).second) continue;
    out.push_back({"What color is the " + w + "?", color + "."});
  }
  return out;
}

void write_jsonl(const std::string& path, const std::vector<Fact>& facts) {
  std::ofstream f(path);
  for (const auto& x : facts) f << R"({"question": ")" << x.question << R"(", "answer": ")" << x.answer << "\"}\n";
}

// Greedy continuation of the chat prompt, exactly as many bytes as the rendered answer " A".
std::string greedy_answer(const std::shared_ptr<const rwkv::Model>& model, const rwkv::InitialState& s0,
                          const rwkv::Tokenizer& tok, const Fact& f) {
  rwkv::Context ctx(model);
  ctx.set_initial_state(s0);
  auto logits = ctx.eval(tok.encode(rwkv::chat_prompt(f.question)));
  const size_t want = tok.encode(" " + f.answer).size();
  std::vector<int> out;
  while (out.size() < want) {
    const int t = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(t);
    logits = ctx.step(t);
  }
  return tok.decode(out);
}

struct Outcome {
  rwkv::TuneSummary sum;
  int tuned_exact = 0, base_exact = 0, n_train = 0;
};

// Tunes on `facts`, then checks the saved state on the training questions.
Outcome tune_and_check(const std::string& model_path, const std::string& dir, const std::vector<Fact>& facts,
                       rwkv::TuneConfig cfg) {
  cfg.model = model_path;
  cfg.data = dir + "/facts.jsonl";
  cfg.out = dir + "/tuned.rwkvstate";
  write_jsonl(cfg.data, facts);
  rwkv::Tuner tuner(cfg);
  Outcome o;
  o.sum = tuner.run();

  // The training split, recomputed with the public functions and the run's seed.
  const auto tok = rwkv::make_byte_tokenizer();
  const rwkv::Dataset all = rwkv::load_jsonl(cfg.data, *tok, cfg.ctx_len);
  std::vector<rwkv::Sample> train, eval;
  rwkv::split_dataset(all, cfg.eval_fraction, cfg.seed, &train, &eval);
  o.n_train = static_cast<int>(train.size());
  const auto model = rwkv::Model::load(model_path);
  const rwkv::StateFile tuned = rwkv::load_state(o.sum.out_path);
  int shown = 0;
  for (const auto& s : train) {
    const Fact& f = facts.at(s.line - 1);
    const std::string want = " " + f.answer;
    const std::string got = greedy_answer(model, tuned.s0, *tok, f);
    const std::string base = greedy_answer(model, {}, *tok, f);
    o.tuned_exact += got == want;
    o.base_exact += base == want;
    if (shown++ < 3)
      qInfo("  %s -> tuned \"%s\", base \"%s\" (want \"%s\")", f.question.c_str(), got.c_str(),
            QByteArray::fromStdString(base).toPercentEncoding(" .").constData(), want.c_str());
  }
  qInfo("  %d steps in %.1f s (%.0f tok/s): eval loss %.4f -> best %.4f (%.1f%% lower), train loss %.4f; "
        "exact answers tuned %d/%d, base %d/%d",
        o.sum.steps_done, o.sum.wall_s, o.sum.tokens_per_s, o.sum.first_eval_loss, o.sum.best_eval_loss,
        100.0 * (1.0 - o.sum.best_eval_loss / o.sum.first_eval_loss), o.sum.final_loss, o.tuned_exact, o.n_train,
        o.base_exact, o.n_train);
  return o;
}

rwkv::TuneConfig learn_config() {
  rwkv::TuneConfig c;
  c.ctx_len = 128;
  c.eval_fraction = 0.25;
  c.lr = 0.3;
  c.lr_final = 0.03;
  c.warmup_steps = 5;
  c.schedule = "cosine";
  c.max_steps = 300;
  c.micro_bsz = 4;
  c.eval_every = 0;  // baseline and final eval: the saved (best-eval) state is the last one
  c.autosave_every = 0;
  c.snapshot_every = 0;
  c.seed = 7;
  return c;
}

}  // namespace

class TestTunerLearn : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { at::set_num_threads(1); }  // small tensors: one thread is several times faster
  void learnsMadeUpFacts();
  void tinyFixtureRun();
};

void TestTunerLearn::learnsMadeUpFacts() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const QString model = dir.filePath("steerable.pth");
  RUN_PYTHON("tuner_make_model.py", (QStringList{"--out", model, "--embd", "64", "--layers", "2", "--head-size", "16",
                                                 "--head-scale", "4", "--gate-scale", "1.5", "--ffn-scale", "0.2",
                                                 "--seed", "0"}));
  const auto facts = make_facts(24, 1);
  const Outcome o = tune_and_check(model.toStdString(), dir.path().toStdString(), facts, learn_config());
  QVERIFY(!o.sum.cancelled);
  QVERIFY(o.n_train >= 12);
  QVERIFY2(o.sum.best_eval_loss <= 0.7 * o.sum.first_eval_loss, "held-out eval loss fell by less than 30%");
  QVERIFY2(o.tuned_exact * 10 >= o.n_train * 8, "the tuned state reproduces fewer than 80% of the answers");
  QCOMPARE(o.base_exact, 0);
}

void TestTunerLearn::tinyFixtureRun() {
  REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  rwkv::TuneConfig cfg = learn_config();
  cfg.max_steps = 40;
  cfg.lr = 1.0;
  cfg.lr_final = 0.1;
  const Outcome o = tune_and_check(tiny.toStdString(), dir.path().toStdString(), make_facts(24, 1), cfg);
  QCOMPARE(o.base_exact, 0);
  QVERIFY(o.sum.final_eval_loss < o.sum.first_eval_loss);  // it moves, a little
}

QTEST_GUILESS_MAIN(TestTunerLearn)
#include "test_tuner_learn.moc"
