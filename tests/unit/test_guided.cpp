// Guided tuning (method note section 4) on the project's demo models: the KL loss's gradient
// against central finite differences, KL = 0 when the guide is the student (same model, same
// state) and > 0 otherwise, the CoT filter keeps exactly the answers evaluate() scores correct,
// a short kl run lowers the KL, kl_multi runs and counts the guide's work, and a guide with
// another vocabulary is refused with a message naming both files.
#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <set>

#include "fixtures.h"
#include "guide_kl.h"
#include "guide_targets.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"
#include "rwkv/tuner.h"
#include "tune_batches.h"
#include "tune_loss.h"
#include "weights.h"

namespace {

std::string res(const std::string& rel) { return fixtures::sourceDir().toStdString() + "/resources/" + rel; }
const std::string kStudent = res("models/demo-small.safetensors"), kGuide = res("models/demo-guide.safetensors");

// The first n lines of a real task file, with the references of `wrong` (0-based) replaced by a
// number no answer has ("#### 99999") or written as is.
void write_lines(const std::string& src, const std::string& dst, int n, const std::set<int>& wrong = {}) {
  std::ifstream in(src);
  std::ofstream out(dst);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) {
    if (wrong.count(i)) {
      const auto p = line.rfind("#### ");
      QVERIFY(p != std::string::npos);
      line = line.substr(0, p) + "#### 99999\"}";
    }
    out << line << "\n";
  }
}

// Two QA samples of a task's training file, tokenized as the tuner does.
std::vector<rwkv::Sample> two_samples(const rwkv::Tokenizer& tok, const std::string& dir,
                                      const std::string& task = "facts") {
  const std::string f = dir + "/two.jsonl";
  write_lines(res("tasks/" + task + "_train.jsonl"), f, 2);
  return rwkv::load_jsonl(f, tok, 512).samples;
}

std::vector<torch::Tensor> random_s0(const rwkv::ModelDims& d, double scale, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l)
    s0.push_back((torch::randn({d.n_head, d.head_size, d.head_size}) * scale).set_requires_grad(true));
  return s0;
}

double kl_mean(const rwkv::Model& student, const rwkv::MicroBatch& mb, const std::vector<torch::Tensor>& s0,
               const rwkv::GuideTopK& g) {
  torch::NoGradGuard ng;
  const auto logits = rwkv::micro_batch_logits(student.impl(), mb, s0, rwkv::KernelTrain{}, nullptr);
  return rwkv::topk_kl_sum(logits, g).item<double>() / double(mb.n_targets);
}

struct Steps : rwkv::TuneObserver {
  std::vector<rwkv::StepMetrics> steps;
  rwkv::TuneInfo info;
  std::vector<std::string> logs;
  void on_start(const rwkv::TuneInfo& i) override { info = i; }
  void on_step(const rwkv::StepMetrics& m) override { steps.push_back(m); }
  void on_log(const std::string& s) override { logs.push_back(s); }
  void on_eval(const rwkv::EvalMetrics& e) override { evals.push_back(e.eval_loss); }
  std::vector<double> evals;
};

// A short run of the student on `data` writing `out`: no snapshots, no autosaves.
rwkv::TuneConfig student_run(const std::string& data, const std::string& out) {
  rwkv::TuneConfig c;
  c.model = kStudent;
  c.data = data;
  c.out = out;
  c.snapshot_every = 0;
  c.autosave_every = 0;
  return c;
}

}  // namespace

class TestGuided : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void klGradientMatchesFiniteDifferences() {
    QTemporaryDir dir;
    const auto student = rwkv::Model::load(kStudent), guide = rwkv::Model::load(kGuide);
    const auto tok = rwkv::load_tokenizer(res("models/demo.model"));
    const auto samples = two_samples(*tok, dir.path().toStdString(), "format");
    const rwkv::MicroBatch mb = rwkv::make_micro_batch({&samples[0], &samples[1]}, torch::kCPU);
    rwkv::GuideTopK g;
    {
      torch::NoGradGuard ng;
      g = rwkv::guide_topk(rwkv::micro_batch_logits(guide->impl(), mb, {}, rwkv::KernelTrain{}, nullptr), 64);
    }
    auto s0 = random_s0(student->dims(), 1.0, 7);
    const auto logits = rwkv::micro_batch_logits(student->impl(), mb, s0, rwkv::KernelTrain{}, nullptr);
    auto loss = rwkv::topk_kl_sum(logits, g) / double(mb.n_targets);
    loss.backward();
    // Directional derivative along a random unit direction u, and the largest-gradient entries.
    torch::manual_seed(11);
    std::vector<torch::Tensor> u;
    double uu = 0;
    for (const auto& p : s0) {
      u.push_back(torch::randn_like(p));
      uu += u.back().square().sum().item<double>();
    }
    double analytic = 0;
    for (size_t l = 0; l < s0.size(); ++l) {
      u[l] /= std::sqrt(uu);
      analytic += (s0[l].grad() * u[l]).sum().item<double>();
    }
    const auto at = [&](double eps) {
      std::vector<torch::Tensor> s;
      for (size_t l = 0; l < s0.size(); ++l) s.push_back(s0[l].detach() + eps * u[l]);
      return kl_mean(*student, mb, s, g);
    };
    const double eps = 0.05, fd = (at(eps) - at(-eps)) / (2 * eps);
    qInfo("KL %.6f, directional derivative: autograd %.6g, central difference %.6g", loss.item<double>(), analytic, fd);
    QVERIFY(std::abs(analytic) > 1e-6);
    QVERIFY2(std::abs(fd - analytic) < 0.02 * std::abs(analytic), "directional derivative differs by more than 2%");
    int checked = 0;
    for (int l : {0, student->dims().n_layer - 1}) {
      const auto gl = s0[l].grad().flatten();
      const int64_t i = gl.abs().argmax().item<int64_t>();
      const double e = 0.02;
      std::vector<torch::Tensor> plus, minus;
      for (size_t k = 0; k < s0.size(); ++k) {
        plus.push_back(s0[k].detach().clone());
        minus.push_back(s0[k].detach().clone());
      }
      plus[l].view(-1)[i] += e;
      minus[l].view(-1)[i] -= e;
      const double fdi = (kl_mean(*student, mb, plus, g) - kl_mean(*student, mb, minus, g)) / (2 * e);
      qInfo("layer %d entry %lld: autograd %.6g, central difference %.6g", l, static_cast<long long>(i),
            gl[i].item<double>(), fdi);
      QVERIFY(std::abs(fdi - gl[i].item<double>()) < 0.03 * std::abs(gl[i].item<double>()) + 1e-6);
      ++checked;
    }
    QCOMPARE(checked, 2);
  }

  void klZeroForTheSameModelAndState() {
    QTemporaryDir dir;
    const auto student = rwkv::Model::load(kStudent), guide = rwkv::Model::load(kGuide);
    const auto tok = rwkv::load_tokenizer(res("models/demo.model"));
    const auto samples = two_samples(*tok, dir.path().toStdString(), "format");
    const rwkv::MicroBatch mb = rwkv::make_micro_batch({&samples[0], &samples[1]}, torch::kCPU);
    torch::NoGradGuard ng;
    const auto own = rwkv::micro_batch_logits(student->impl(), mb, {}, rwkv::KernelTrain{}, nullptr);
    const auto other = rwkv::micro_batch_logits(guide->impl(), mb, {}, rwkv::KernelTrain{}, nullptr);
    const int V = student->dims().n_vocab;
    const double n = double(mb.n_targets);
    // Student == guide (same model, zero state): 0, top-k bucketed and exact.
    const double same_topk = rwkv::topk_kl_sum(own, rwkv::guide_topk(own, 64)).item<double>() / n;
    const double same_full = rwkv::full_kl_sum(own, own).item<double>() / n;
    // Another state, or another model: > 0. K = V is the exact KL and equals full_kl_sum.
    const auto tuned = rwkv::micro_batch_logits(student->impl(), mb, random_s0(student->dims(), 1.0, 3),
                                                rwkv::KernelTrain{}, nullptr);
    const double state_topk = rwkv::topk_kl_sum(tuned, rwkv::guide_topk(own, 64)).item<double>() / n;
    const double guide_topk = rwkv::topk_kl_sum(own, rwkv::guide_topk(other, 64)).item<double>() / n;
    const double guide_exact = rwkv::topk_kl_sum(own, rwkv::guide_topk(other, V)).item<double>() / n;
    const double guide_full = rwkv::full_kl_sum(own, other).item<double>() / n;
    qInfo("KL per token: same %.3g (top-64) %.3g (full); other state %.4f; guide %.4f (top-64) %.4f (top-V) %.4f (full)",
          same_topk, same_full, state_topk, guide_topk, guide_exact, guide_full);
    QVERIFY(std::abs(same_topk) < 1e-5);
    QVERIFY(std::abs(same_full) < 1e-5);
    QVERIFY(state_topk > 1e-5);
    QVERIFY(guide_topk > 1e-4);
    QVERIFY(std::abs(guide_exact - guide_full) < 1e-4 * guide_full + 1e-6);
    QVERIFY(guide_topk <= guide_full + 1e-5);  // coarsening never raises the KL (data processing inequality)
  }

  void cotFilterKeepsExactlyTheMatchingAnswers() {
    QTemporaryDir dir;
    const std::string f = dir.filePath("arith.jsonl").toStdString();
    write_lines(res("tasks/arith_eval.jsonl"), f, 6, {1, 4});  // two references made wrong
    const auto guide = rwkv::Model::load(kGuide);
    const auto tok = rwkv::load_tokenizer(res("models/demo.model"));
    const auto qs = rwkv::guide_questions(f, {1, 2, 3, 4, 5, 6});
    QCOMPARE(int(qs.size()), 6);
    const auto ans = rwkv::guide_answer(guide, *tok, qs, 96, true);
    QCOMPARE(ans.scorer, std::string("gsm8k"));
    rwkv::Context ctx(guide);
    rwkv::EvalParams p;
    p.max_tokens = 96;
    const auto rep = rwkv::evaluate(ctx, *tok, rwkv::load_eval_set(f), p);
    QCOMPARE(int(ans.answers.size()), int(rep.items.size()));
    int kept = 0;
    for (size_t i = 0; i < rep.items.size(); ++i) {
      QCOMPARE(ans.answers[i].output, rep.items[i].output);
      QCOMPARE(ans.answers[i].kept, rep.items[i].score.correct);
      kept += ans.answers[i].kept;
      qInfo("line %d: kept %d, extracted %s", ans.answers[i].question.line, int(ans.answers[i].kept),
            ans.answers[i].extracted.c_str());
    }
    QVERIFY(!ans.answers[1].kept && !ans.answers[4].kept);
    QCOMPARE(ans.n_kept, kept);
    QVERIFY(ans.tokens_generated > 0 && ans.seconds > 0);
    // Without the filter every non-empty answer is kept; a question-only line has no reference.
    std::ofstream(f, std::ios::app) << "{\"question\": \"What is 2 + 3?\"}\n";
    const auto qs2 = rwkv::guide_questions(f, {1});
    QCOMPARE(int(qs2.size()), 2);
    QVERIFY(qs2[1].reference.empty());
    const auto all = rwkv::guide_answer(guide, *tok, qs2, 32, false);
    QCOMPARE(all.scorer, std::string("none"));
    QCOMPARE(all.n_kept, 2);
  }

  void shortKlRunLowersTheKl() {
    QTemporaryDir dir;
    const std::string data = dir.filePath("arith.jsonl").toStdString();
    write_lines(res("tasks/format_train.jsonl"), data, 6);  // where the two demo models differ most
    rwkv::TuneConfig c = student_run(data, dir.filePath("kl.rwkvstate").toStdString());
    c.guide = kGuide;
    c.guided = "kl";
    c.guide_filter = false;  // the guide answers format questions in sentences, not in the reference's card form
    c.eval_fraction = 0;
    c.micro_bsz = 6;  // one step = every kept answer, so the step KLs are comparable
    c.max_steps = 8;
    c.lr = 0.2;
    c.lr_final = 0.2;
    c.warmup_steps = 0;
    c.guide_max_tokens = 96;
    Steps obs;
    rwkv::Tuner t(c, &obs);
    const auto sum = t.run(&obs);
    QCOMPARE(obs.info.guided, std::string("kl"));
    QCOMPARE(obs.info.guide.questions, 6);
    QCOMPARE(obs.info.guide.kept, 6);
    QCOMPARE(obs.info.n_train, obs.info.guide.kept);
    QVERIFY(obs.info.guide.tokens_generated > 0 && obs.info.guide.tokens_scored > 0 && obs.info.guide.seconds > 0);
    QCOMPARE(sum.guide.tokens_scored, obs.info.guide.tokens_scored);  // kl scores once
    QCOMPARE(int(obs.steps.size()), 8);
    const double first = obs.steps.front().guide_kl, last = obs.steps.back().guide_kl;
    qInfo("kept %d/%d, KL per token step 1 %.4f -> step 8 %.4f; guide %lld tokens written, %lld scored, %.2f s",
          obs.info.guide.kept, obs.info.guide.questions, first, last, (long long)sum.guide.tokens_generated,
          (long long)sum.guide.tokens_scored, sum.guide.seconds);
    QVERIFY(first > 0);
    QVERIFY(std::abs(obs.steps.front().loss - first) < 1e-6 * first);  // ce_weight 0: the loss is the KL
    QVERIFY2(last < 0.8 * first, "8 steps did not lower the KL by 20%");
    bool logged = false;
    for (const auto& s : obs.logs) logged = logged || s.find("kept") != std::string::npos;
    QVERIFY(logged);
  }

  // The guide answers the held-out questions too, and the held-out loss (which picks the state
  // the tuner keeps) is measured on those answers: on arith_short, whose references are the bare
  // "#### N", the zero state's loss on the guide's worked answers is low, on the references high.
  void heldOutLossIsOnTheGuidesAnswers() {
    QTemporaryDir dir;
    const std::string data = dir.filePath("short.jsonl").toStdString();
    write_lines(res("tasks/arith_short_train.jsonl"), data, 10);
    rwkv::TuneConfig c = student_run(data, dir.filePath("p.rwkvstate").toStdString());
    c.eval_fraction = 0.3;
    c.micro_bsz = 4;
    c.max_steps = 1;
    c.lr = 1e-9;  // the held-out losses below are the zero state's
    c.lr_final = 1e-9;
    Steps plain;
    rwkv::Tuner(c, &plain).run(&plain);
    c.guided = "cot";
    c.guide = kGuide;
    c.guide_max_tokens = 144;
    c.out = dir.filePath("c.rwkvstate").toStdString();
    Steps cot;
    rwkv::Tuner(c, &cot).run(&cot);
    QCOMPARE(plain.info.n_eval, 3);
    QCOMPARE(cot.info.guide.questions, 10);  // 7 training + 3 held-out
    QVERIFY(cot.info.n_eval >= 1);
    QCOMPARE(cot.info.n_train + cot.info.n_eval, cot.info.guide.kept);
    QVERIFY(!plain.evals.empty() && !cot.evals.empty());
    qInfo("zero-state held-out loss: references %.3f, guide's answers %.3f (%d of 3 kept)", plain.evals.front(),
          cot.evals.front(), cot.info.n_eval);
    QVERIFY(cot.evals.front() < 0.5 * plain.evals.front());
  }

  void klMultiRunsAndIsZeroAgainstItself() {
    QTemporaryDir dir;
    const std::string data = dir.filePath("arith.jsonl").toStdString();
    write_lines(res("tasks/arith_train.jsonl"), data, 2);
    rwkv::TuneConfig c = student_run(data, dir.filePath("m.rwkvstate").toStdString());
    c.guide = kStudent;  // the guide is the student: at S0 = 0 every continuation's KL is 0
    c.guided = "kl_multi";
    c.guide_filter = false;
    c.eval_fraction = 0;
    c.micro_bsz = 2;
    c.max_steps = 2;
    c.guide_max_tokens = 48;
    Steps obs;
    rwkv::Tuner t(c, &obs);
    const auto sum = t.run(&obs);
    QCOMPARE(int(obs.steps.size()), 2);
    qInfo("kl_multi against itself: step 1 KL %.3g; scored %lld tokens", obs.steps[0].guide_kl,
          (long long)sum.guide.tokens_scored);
    QVERIFY(std::abs(obs.steps[0].guide_kl) < 1e-5);
    QVERIFY(obs.steps[1].guide.tokens_scored > obs.steps[0].guide.tokens_scored);  // the guide scores every step
    QCOMPARE(obs.info.guide.tokens_scored, int64_t(0));

    c.guide = kGuide;  // a real guide: positive and finite
    c.guide_filter = true;
    c.out = dir.filePath("m2.rwkvstate").toStdString();
    Steps obs2;
    rwkv::Tuner t2(c, &obs2);
    t2.run(&obs2);
    QVERIFY(obs2.steps[0].guide_kl > 1e-3 && std::isfinite(obs2.steps[1].guide_kl));
  }

  void guideWithAnotherVocabularyIsRefused() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    QTemporaryDir dir;
    const std::string data = dir.filePath("a.jsonl").toStdString();
    write_lines(res("tasks/arith_train.jsonl"), data, 2);
    rwkv::TuneConfig c;
    c.model = kStudent;
    c.guide = tiny.toStdString();
    c.guided = "cot";
    c.data = data;
    c.out = dir.filePath("x.rwkvstate").toStdString();
    try {
      rwkv::Tuner t(c);
      QFAIL("a guide with another vocabulary was accepted");
    } catch (const rwkv::Error& e) {
      const std::string m = e.what();
      qInfo("%s", m.c_str());
      QVERIFY(e.kind() == rwkv::ErrorKind::Mismatch);
      QVERIFY(m.find(c.guide) != std::string::npos && m.find(c.model) != std::string::npos);
      QVERIFY(m.find("4096") != std::string::npos);
    }
  }
};

QTEST_GUILESS_MAIN(TestGuided)
#include "test_guided.moc"
