// The tuner under trouble: cancel from another thread (and at an eval boundary) then resume,
// pause, a kill -9 of a running `rwkv-tune tune` then --resume, NaN injected into the loss, a
// read-only output folder, bad settings. Resumed runs must give a final state bit-identical to an
// uninterrupted run, and the same config must always give the same state.
#include <ATen/Parallel.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QFile>
#include <QObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "fixtures.h"
#include "python.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"
#include "state_stats.h"

namespace {

using namespace std::chrono_literals;

// Records everything an observer sees (called on the tuning thread; read after run() or under mu).
struct Recorder : rwkv::TuneObserver {
  std::mutex mu;
  std::atomic<int> last_step{0};
  std::vector<rwkv::StepMetrics> steps;
  std::vector<rwkv::EvalMetrics> evals;
  std::vector<std::string> logs;
  int snapshots = 0;
  bool started = false, finished = false;
  std::function<void(const rwkv::StepMetrics&)> hook;

  void on_start(const rwkv::TuneInfo&) override { started = true; }
  void on_step(const rwkv::StepMetrics& m) override {
    {
      std::lock_guard<std::mutex> g(mu);
      steps.push_back(m);
    }
    last_step = m.step;
    if (hook) hook(m);
  }
  void on_eval(const rwkv::EvalMetrics& e) override {
    std::lock_guard<std::mutex> g(mu);
    evals.push_back(e);
  }
  void on_snapshot(const rwkv::StateSnapshot&) override { ++snapshots; }
  void on_log(const std::string& s) override {
    std::lock_guard<std::mutex> g(mu);
    logs.push_back(s);
  }
  void on_finish(const rwkv::TuneSummary&) override { finished = true; }
  bool logged(const std::string& needle) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& l : logs)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
};

bool identical(const rwkv::InitialState& a, const rwkv::InitialState& b) {
  return a.n_layer == b.n_layer && a.n_head == b.n_head && a.head_size == b.head_size && a.wkv.size() == b.wkv.size() &&
         std::memcmp(a.wkv.data(), b.wkv.data(), a.wkv.size() * sizeof(float)) == 0;
}

bool all_finite(const rwkv::InitialState& s) {
  for (float v : s.wkv)
    if (!std::isfinite(v)) return false;
  return true;
}

QByteArray read_bytes(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Makes `dir` unwritable for this process (chmod 555, plus the immutable flag when running as
// root, who ignores permissions). Returns false if the folder stays writable.
bool make_read_only(const QString& dir) {
  ::chmod(dir.toLocal8Bit().constData(), 0555);
  if (geteuid() == 0) QProcess::execute("chattr", {"+i", dir});
  const QString probe = dir + "/probe";
  QFile f(probe);
  if (f.open(QIODevice::WriteOnly)) {
    f.close();
    QFile::remove(probe);
    return false;
  }
  return true;
}
void make_writable(const QString& dir) {
  if (geteuid() == 0) QProcess::execute("chattr", {"-i", dir});
  ::chmod(dir.toLocal8Bit().constData(), 0755);
}

}  // namespace

class TestTunerRobust : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase();
  void deterministic();
  void observerMetrics();
  void cancelFromAnotherThreadThenResume();
  void cancelAtEvalBoundaryThenResume();
  void pauseHoldsAndResumes();
  void killNineThenResume();
  void ctrlCCancelsCleanly();
  void earlyStopKeepsBestState();
  void nanLossIsSkipped();
  void readOnlyLocation();
  void badConfigsNameTheField();

 private:
  rwkv::TuneConfig config(const QString& out_name) const;
  rwkv::InitialState reference();  // the uninterrupted run of config("ref")

  QTemporaryDir dir_;
  QString model_, data_;
  rwkv::InitialState ref_;
  rwkv::TuneSummary ref_sum_;
  rwkv::InitialState unbroken_;  // the long CLI run of killNineThenResume
};

void TestTunerRobust::initTestCase() {
  at::set_num_threads(1);  // small tensors: one thread is fastest, and the child processes match it
  QVERIFY(dir_.isValid());
  model_ = dir_.filePath("model.pth");
  RUN_PYTHON("tuner_make_model.py", (QStringList{"--out", model_, "--embd", "64", "--layers", "2", "--head-size",
                                                 "16", "--head-scale", "4", "--gate-scale", "1.5", "--ffn-scale",
                                                 "0.2", "--seed", "3"}));
  data_ = dir_.filePath("facts.jsonl");
  std::ofstream f(data_.toStdString());
  std::mt19937_64 r(5);
  const char* colors[] = {"Red", "Blue", "Green", "Pink"};
  for (int i = 0; i < 20; ++i) {
    std::string w;
    for (int k = 0; k < 5; ++k) w += static_cast<char>('a' + r() % 26);
    f << R"({"question": "What color is the )" << w << R"(?", "answer": ")" << colors[r() % 4] << ".\"}\n";
  }
}

rwkv::TuneConfig TestTunerRobust::config(const QString& out_name) const {
  rwkv::TuneConfig c;
  c.model = model_.toStdString();
  c.data = data_.toStdString();
  c.out = dir_.filePath(out_name + ".rwkvstate").toStdString();
  c.ctx_len = 64;
  c.eval_fraction = 0.25;
  c.lr = 0.2;
  c.lr_final = 0.02;
  c.warmup_steps = 2;
  c.max_steps = 12;
  c.micro_bsz = 2;
  c.accum = 3;
  c.eval_every = 4;
  c.autosave_every = 0;
  c.snapshot_every = 5;
  c.seed = 11;
  return c;
}

rwkv::InitialState TestTunerRobust::reference() {
  if (ref_.empty()) {
    rwkv::Tuner t(config("ref"));
    Recorder rec;
    ref_sum_ = t.run(&rec);
    ref_ = rwkv::load_state(ref_sum_.out_path).s0;
    if (!rec.started || !rec.finished || rec.steps.size() != 12 || rec.snapshots == 0) ref_ = {};
  }
  return ref_;
}

void TestTunerRobust::deterministic() {
  const auto a = reference();
  QVERIFY(!a.empty());
  QVERIFY(all_finite(a));
  double norm = 0;
  for (float v : a.wkv) norm += double(v) * v;
  QVERIFY(norm > 0);  // it moved
  rwkv::Tuner t(config("again"));
  const auto sum = t.run();
  QVERIFY(identical(rwkv::load_state(sum.out_path).s0, a));
  QCOMPARE(sum.best_eval_loss, ref_sum_.best_eval_loss);
  // A different seed gives a different state (the seed is used).
  auto c = config("seed12");
  c.seed = 12;
  rwkv::Tuner t2(c);
  QVERIFY(!identical(rwkv::load_state(t2.run().out_path).s0, a));
}

void TestTunerRobust::observerMetrics() {
  auto cfg = config("observed");
  cfg.snapshot_every = 4;
  cfg.snapshot_size = 4;                       // N = 16 -> 4x4 blocks of 4x4
  cfg.snapshot_heads = {{1, 2}};
  rwkv::Tuner t(cfg);
  struct Snapper : Recorder {
    rwkv::Tuner* tuner = nullptr;
    std::vector<std::pair<rwkv::StateSnapshot, rwkv::InitialState>> snaps;
    void on_snapshot(const rwkv::StateSnapshot& s) override { snaps.emplace_back(s, tuner->state()); }
  } rec;
  rec.tuner = &t;
  const auto sum = t.run(&rec);
  const auto& d = t.info();
  QCOMPARE(d.n_layer, 2);
  QCOMPARE(d.n_head, 4);
  QCOMPARE(int(rec.steps.size()), 12);
  for (const auto& m : rec.steps) {
    QCOMPARE(m.total_steps, 12);
    QCOMPARE(int(m.grad_norm_layer.size()), 2);
    QCOMPARE(int(m.state_norm.size()), 8);
    QCOMPARE(int(m.eff_rank.size()), 8);
    double sq = 0;
    for (float g : m.grad_norm_layer) sq += double(g) * g;
    QVERIFY(std::abs(std::sqrt(sq) - m.grad_norm) <= 1e-5 * m.grad_norm);
    QVERIFY(m.tokens_per_s > 0);
    QVERIFY(m.memory_bytes > 0);
    QVERIFY(m.eta_s >= 0);
    QVERIFY(m.epoch >= 1);
    for (float r : m.eff_rank) QVERIFY(r >= 0 && r <= 16.0001f);
  }
  QCOMPARE(rec.steps.back().eta_s, 0.0);
  // The last step's state norms are those of the final state (no eval split ties here: compare to state()).
  const auto s = t.state();
  for (int lh = 0; lh < 8; ++lh) {
    double sq = 0;
    for (int k = 0; k < 256; ++k) sq += double(s.wkv[lh * 256 + k]) * s.wkv[lh * 256 + k];
    QVERIFY(std::abs(std::sqrt(sq) - rec.steps.back().state_norm[lh]) <= 1e-4 * std::sqrt(sq) + 1e-6);
  }
  // Snapshots at steps 1, 4, 8, 12 of (layer 1, head 2), block means of the state at that time.
  QCOMPARE(int(rec.snaps.size()), 4);
  QCOMPARE(rec.snaps[1].first.step, 4);
  for (const auto& [snap, st] : rec.snaps) {
    QCOMPARE(snap.layer, 1);
    QCOMPARE(snap.head, 2);
    QCOMPARE(snap.size, 4);
    QCOMPARE(int(snap.values.size()), 16);
    for (int bi = 0; bi < 4; ++bi)
      for (int bj = 0; bj < 4; ++bj) {
        double mean = 0;
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) mean += st.wkv[st.index(1, 2, bi * 4 + i, bj * 4 + j)] / 16.0;
        QVERIFY(std::abs(mean - snap.values[bi * 4 + bj]) <= 1e-6 + 1e-5 * std::abs(mean));
      }
  }
  // Evals at 0 (baseline), 4, 8, 12; the best is the minimum.
  QCOMPARE(int(rec.evals.size()), 4);
  double best = 1e300;
  for (const auto& e : rec.evals) best = std::min(best, e.eval_loss);
  QCOMPARE(sum.best_eval_loss, best);
  QCOMPARE(sum.first_eval_loss, rec.evals.front().eval_loss);

  // Effective rank = exp(entropy of the normalised singular values), on matrices with known ones:
  // a rotated diag(3, 1, 0, ...) has p = (3/4, 1/4); the identity has rank N; zero gives 0.
  auto q = std::get<0>(torch::linalg_qr(torch::randn({16, 16}, torch::kFloat64)));
  auto diag = torch::zeros({16}, torch::kFloat64);
  diag[0] = 3;
  diag[1] = 1;
  auto m = torch::matmul(q, torch::matmul(torch::diag(diag), q.t())).to(torch::kFloat32);
  auto layer = torch::stack({m, torch::eye(16), torch::zeros({16, 16})});  // [H=3,N,N]
  const auto r = rwkv::effective_ranks({layer});
  const double want = std::exp(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25)));
  QVERIFY(std::abs(r[0] - want) < 1e-4);
  QVERIFY(std::abs(r[1] - 16.0) < 1e-4);
  QCOMPARE(r[2], 0.0f);
}

void TestTunerRobust::cancelFromAnotherThreadThenResume() {
  const auto ref = reference();
  QVERIFY(!ref.empty());
  const auto cfg = config("cancel");
  rwkv::Tuner t(cfg);
  rwkv::TuneControl ctl;
  Recorder rec;
  rwkv::TuneSummary sum;
  std::thread worker([&] { sum = t.run(&rec, &ctl); });
  const auto t0 = std::chrono::steady_clock::now();
  while (rec.last_step < 5 && std::chrono::steady_clock::now() - t0 < 120s) std::this_thread::sleep_for(1ms);
  ctl.cancel = true;
  worker.join();
  QVERIFY(sum.cancelled);
  QVERIFY2(sum.steps_done >= 5 && sum.steps_done < 12, qPrintable(QString::number(sum.steps_done)));
  QVERIFY(sum.out_path.empty());
  QVERIFY(!QFile::exists(QString::fromStdString(cfg.out)));
  QVERIFY(rec.finished);
  const QString autosave = QString::fromStdString(cfg.out + ".autosave");
  QVERIFY(QFile::exists(autosave));
  QCOMPARE(rwkv::autosave_config(autosave.toStdString()).lr, cfg.lr);

  auto again = cfg;
  again.resume = autosave.toStdString();
  rwkv::Tuner t2(again);
  QCOMPARE(t2.info().start_step, sum.steps_done);
  Recorder rec2;
  const auto sum2 = t2.run(&rec2);
  QVERIFY(!sum2.cancelled);
  QCOMPARE(sum2.steps_done, 12);
  QCOMPARE(rec2.steps.front().step, sum.steps_done + 1);
  QVERIFY(identical(rwkv::load_state(sum2.out_path).s0, ref));
  QCOMPARE(sum2.best_eval_loss, ref_sum_.best_eval_loss);
  QCOMPARE(sum2.first_eval_loss, ref_sum_.first_eval_loss);
}

void TestTunerRobust::cancelAtEvalBoundaryThenResume() {
  // Cancel while the eval of step 8 runs: the autosave marks it pending and resume runs it first.
  const auto ref = reference();
  const auto cfg = config("evalcancel");
  rwkv::Tuner t(cfg);
  rwkv::TuneControl ctl;
  Recorder rec;
  rec.hook = [&](const rwkv::StepMetrics& m) {
    if (m.step == 8) ctl.cancel = true;
  };
  const auto sum = t.run(&rec, &ctl);
  QVERIFY(sum.cancelled);
  QCOMPARE(sum.steps_done, 8);
  for (const auto& e : rec.evals) QVERIFY(e.step < 8);
  auto again = cfg;
  again.resume = cfg.out + ".autosave";
  rwkv::Tuner t2(again);
  Recorder rec2;
  const auto sum2 = t2.run(&rec2);
  QVERIFY(!rec2.evals.empty());
  QCOMPARE(rec2.evals.front().step, 8);
  QVERIFY(identical(rwkv::load_state(sum2.out_path).s0, ref));
}

void TestTunerRobust::pauseHoldsAndResumes() {
  const auto ref = reference();
  rwkv::Tuner t(config("pause"));
  rwkv::TuneControl ctl;
  Recorder rec;
  rec.hook = [&](const rwkv::StepMetrics& m) {
    if (m.step == 3) ctl.pause = true;
  };
  rwkv::TuneSummary sum;
  std::thread worker([&] { sum = t.run(&rec, &ctl); });
  const auto t0 = std::chrono::steady_clock::now();
  while (rec.last_step < 3 && std::chrono::steady_clock::now() - t0 < 120s) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(400ms);
  QCOMPARE(rec.last_step.load(), 3);  // held
  QVERIFY(rec.logged("paused"));
  ctl.pause = false;
  worker.join();
  QVERIFY(!sum.cancelled);
  QCOMPARE(sum.steps_done, 12);
  QVERIFY(identical(rwkv::load_state(sum.out_path).s0, ref));

  // Cancel works while paused.
  rwkv::Tuner t2(config("pausecancel"));
  rwkv::TuneControl ctl2;
  ctl2.pause = true;
  rwkv::TuneSummary sum2;
  std::thread w2([&] { sum2 = t2.run(nullptr, &ctl2); });
  std::this_thread::sleep_for(300ms);
  const auto c0 = std::chrono::steady_clock::now();
  ctl2.cancel = true;
  w2.join();
  QVERIFY(std::chrono::steady_clock::now() - c0 < 5s);
  QVERIFY(sum2.cancelled);
  QCOMPARE(sum2.steps_done, 0);
}

void TestTunerRobust::killNineThenResume() {
  // Long enough that the kill lands mid-run: 300 steps, autosave every 3.
  auto cfg = config("unbroken");
  cfg.max_steps = 300;
  cfg.accum = 1;
  cfg.eval_every = 25;
  cfg.autosave_every = 3;
  const auto args = [](const rwkv::TuneConfig& c) {
    QStringList a;
    const auto v = c.to_command_line();
    for (size_t i = 1; i < v.size(); ++i) a << QString::fromStdString(v[i]);
    return a;
  };
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert("OMP_NUM_THREADS", "1");  // same threading in every run
  const auto run_child = [&](const QStringList& a, QString* out) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(RWKV_TUNE_EXE, a);
    const bool ok = p.waitForFinished(300000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    *out = QString::fromUtf8(p.readAll());
    return ok;
  };
  QString log;
  QVERIFY2(run_child(args(cfg), &log), qPrintable(log));
  const auto unbroken = rwkv::load_state(cfg.out).s0;
  unbroken_ = unbroken;

  auto crash = cfg;
  crash.out = dir_.filePath("crashed.rwkvstate").toStdString();
  const QString autosave = QString::fromStdString(crash.out + ".autosave");
  QProcess p;
  p.setProcessEnvironment(env);
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(RWKV_TUNE_EXE, args(crash));
  QVERIFY(p.waitForStarted());
  const auto t0 = std::chrono::steady_clock::now();
  // Wait for the second autosave (so one autosave replaced another), then kill -9.
  QByteArray seen;
  while (p.state() == QProcess::Running && std::chrono::steady_clock::now() - t0 < 240s) {
    p.waitForReadyRead(5);
    seen += p.readAll();
    if (seen.contains("autosaved step 6")) break;
  }
  QVERIFY2(p.state() == QProcess::Running, "the child ended before it could be killed");
  ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
  QVERIFY(p.waitForFinished(30000));
  QCOMPARE(p.exitStatus(), QProcess::CrashExit);
  QVERIFY(!QFile::exists(QString::fromStdString(crash.out)));  // it did not finish
  const auto saved = rwkv::autosave_config(autosave.toStdString());
  QCOMPARE(saved.max_steps, 300);

  // Resume from the autosave alone: its settings are used.
  QVERIFY2(run_child({"tune", "--resume", autosave}, &log), qPrintable(log));
  QVERIFY2(log.contains("resum"), qPrintable(log));
  qInfo("%s", qPrintable(log.section('\n', 0, 3)));
  QVERIFY(identical(rwkv::load_state(crash.out).s0, unbroken));
}

void TestTunerRobust::ctrlCCancelsCleanly() {
  QVERIFY2(!unbroken_.empty(), "needs killNineThenResume's uninterrupted run");
  auto cfg = config("interrupted");
  cfg.max_steps = 300;
  cfg.accum = 1;
  cfg.eval_every = 25;
  cfg.autosave_every = 0;  // only the autosave of the cancel
  QStringList a;
  for (size_t i = 1; i < cfg.to_command_line().size(); ++i) a << QString::fromStdString(cfg.to_command_line()[i]);
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert("OMP_NUM_THREADS", "1");
  QProcess p;
  p.setProcessEnvironment(env);
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(RWKV_TUNE_EXE, a);
  QVERIFY(p.waitForStarted());
  QByteArray seen;
  const auto t0 = std::chrono::steady_clock::now();
  while (p.state() == QProcess::Running && !seen.contains("step 1/") && std::chrono::steady_clock::now() - t0 < 240s) {
    p.waitForReadyRead(5);
    seen += p.readAll();
  }
  QVERIFY2(p.state() == QProcess::Running, "the child ended before Ctrl-C");
  ::kill(static_cast<pid_t>(p.processId()), SIGINT);
  QVERIFY(p.waitForFinished(60000));
  seen += p.readAll();
  QCOMPARE(p.exitStatus(), QProcess::NormalExit);
  QVERIFY2(p.exitCode() == 130, seen.constData());
  QVERIFY2(seen.contains("cancelled at step"), seen.constData());
  QVERIFY(!QFile::exists(QString::fromStdString(cfg.out)));
  const QString autosave = QString::fromStdString(cfg.out + ".autosave");
  QVERIFY(QFile::exists(autosave));
  // Resume it to the end: the same state as the uninterrupted CLI run.
  QProcess r;
  r.setProcessEnvironment(env);
  r.start(RWKV_TUNE_EXE, {"tune", "--resume", autosave});
  QVERIFY(r.waitForFinished(300000));
  QCOMPARE(r.exitCode(), 0);
  QVERIFY(identical(rwkv::load_state(cfg.out).s0, unbroken_));
}

void TestTunerRobust::earlyStopKeepsBestState() {
  // A high constant rate overfits: the held-out loss turns up and patience 2 stops the run. The
  // saved state must be the one of the best eval (captured when that eval was reported).
  auto cfg = config("early");
  cfg.lr = 1.0;
  cfg.schedule = "constant";
  cfg.max_steps = 200;
  cfg.eval_every = 2;
  cfg.early_stop_patience = 2;
  rwkv::Tuner t(cfg);
  struct EvalCapture : Recorder {
    rwkv::Tuner* tuner = nullptr;
    std::vector<std::pair<rwkv::EvalMetrics, rwkv::InitialState>> at_eval;
    void on_eval(const rwkv::EvalMetrics& e) override {
      Recorder::on_eval(e);
      at_eval.emplace_back(e, tuner->state());
    }
  } rec;
  rec.tuner = &t;
  const auto sum = t.run(&rec);
  QVERIFY(sum.early_stopped);
  QVERIFY2(sum.steps_done < 200, qPrintable(QString::number(sum.steps_done)));
  QVERIFY(rec.logged("early stop at step"));
  const int n = int(rec.at_eval.size());
  QVERIFY(n >= 4);
  // The last two evals did not improve on the best; the best is the minimum of all evals.
  size_t best = 0;
  for (size_t i = 0; i < rec.at_eval.size(); ++i)
    if (rec.at_eval[i].first.eval_loss < rec.at_eval[best].first.eval_loss) best = i;
  QCOMPARE(int(best), n - 3);
  QCOMPARE(sum.best_eval_loss, rec.at_eval[best].first.eval_loss);
  QCOMPARE(sum.final_eval_loss, rec.at_eval.back().first.eval_loss);
  const auto saved = rwkv::load_state(sum.out_path);
  QVERIFY(identical(saved.s0, rec.at_eval[best].second));
  QVERIFY(!identical(saved.s0, t.state()));  // not the last state
  QVERIFY(saved.meta.count("metrics"));
  QVERIFY(QString::fromStdString(saved.meta.at("metrics")).contains("\"best_eval\""));
  QVERIFY(saved.meta.count("config"));
  QCOMPARE(rwkv::TuneConfig::from_json(saved.meta.at("config")).early_stop_patience, 2);
}

void TestTunerRobust::nanLossIsSkipped() {
  auto plain = config("nanref");
  rwkv::Tuner t0(plain);
  Recorder rec0;
  t0.run(&rec0);

  rwkv::Tuner t(config("nan"));
  rwkv::TuneControl ctl;
  ctl.inject_nan_step = 3;
  Recorder rec;
  const auto sum = t.run(&rec, &ctl);
  QVERIFY(!sum.cancelled);
  QCOMPARE(sum.skipped_steps, 1);
  QCOMPARE(sum.steps_done, 12);
  QVERIFY(rec.steps.at(2).skipped);
  QVERIFY(std::isnan(rec.steps.at(2).loss));
  QVERIFY(!rec.steps.at(1).skipped && !rec.steps.at(3).skipped);
  QVERIFY(rec.logged("step 3: non-finite loss"));
  // Steps 1-2 are identical to the plain run; from step 4 the learning rate is halved.
  QCOMPARE(rec.steps.at(1).loss, rec0.steps.at(1).loss);
  for (int i = 3; i < 12; ++i) QCOMPARE(rec.steps.at(i).lr, 0.5 * rec0.steps.at(i).lr);
  const auto s = rwkv::load_state(sum.out_path).s0;
  QVERIFY(all_finite(s));
  QVERIFY(all_finite(t.state()));
}

void TestTunerRobust::readOnlyLocation() {
  QTemporaryDir ro;
  QVERIFY(ro.isValid());
  const QString out = ro.filePath("tuned.rwkvstate");
  {
    QFile f(out);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("the old state file");
  }
  const QByteArray old = read_bytes(out);

  // 1. Refused before tuning starts.
  auto cfg = config("unused");
  cfg.out = out.toStdString();
  QVERIFY2(make_read_only(ro.path()), "could not make a read-only folder");
  try {
    rwkv::Tuner t(cfg);
    QFAIL("a Tuner writing into a read-only folder was constructed");
  } catch (const rwkv::Error& e) {
    QCOMPARE(e.kind(), rwkv::ErrorKind::Io);
    QVERIFY2(QString(e.what()).contains(ro.path()), e.what());
    QVERIFY2(QString(e.what()).contains("not writable"), e.what());
  }
  QCOMPARE(read_bytes(out), old);

  // 2. The folder becomes read-only during the run: run() reports the error, the old file stays.
  make_writable(ro.path());
  cfg.max_steps = 4;
  cfg.eval_every = 0;
  rwkv::Tuner t(cfg);
  QVERIFY(make_read_only(ro.path()));
  Recorder rec;
  bool threw = false;
  try {
    t.run(&rec);
  } catch (const rwkv::Error& e) {
    threw = true;
    QCOMPARE(e.kind(), rwkv::ErrorKind::Io);
    QVERIFY2(QString(e.what()).contains(ro.path()), e.what());
  }
  make_writable(ro.path());
  QVERIFY(threw);
  QVERIFY(rec.logged("could not save the tuned state"));
  QVERIFY(rec.logged("autosave failed"));
  QCOMPARE(read_bytes(out), old);
  QVERIFY(all_finite(t.state()));  // the result is still there to save elsewhere
  QCOMPARE(QDir(ro.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);  // no temp files left
}

void TestTunerRobust::badConfigsNameTheField() {
  const auto expect = [](const rwkv::TuneConfig& c, rwkv::ErrorKind kind, const QString& needle) {
    try {
      rwkv::Tuner t(c);
      QFAIL(qPrintable("accepted; expected an error naming " + needle));
    } catch (const rwkv::Error& e) {
      QVERIFY2(e.kind() == kind, e.what());
      QVERIFY2(QString(e.what()).contains(needle), e.what());
    }
  };
  auto c = config("bad");
  c.lr = -1;
  expect(c, rwkv::ErrorKind::Argument, "lr must be");
  c = config("bad");
  c.micro_bsz = 0;
  expect(c, rwkv::ErrorKind::Argument, "micro_bsz");
  c = config("bad");
  c.eval_fraction = 0.95;
  expect(c, rwkv::ErrorKind::Argument, "eval_fraction");
  c = config("bad");
  c.schedule = "exp";
  expect(c, rwkv::ErrorKind::Argument, "schedule");
  c = config("bad");
  c.snapshot_heads = {{2, 0}};  // the model has layers 0..1
  expect(c, rwkv::ErrorKind::Argument, "snapshot_heads");
  c = config("bad");
  c.data = dir_.filePath("missing.jsonl").toStdString();
  expect(c, rwkv::ErrorKind::Io, "missing.jsonl");
  c = config("bad");
  c.model = dir_.filePath("missing.pth").toStdString();
  expect(c, rwkv::ErrorKind::Io, "missing.pth");
  c = config("bad");
  c.out = dir_.filePath("no/such/folder/x.rwkvstate").toStdString();
  expect(c, rwkv::ErrorKind::Io, "does not exist");

  // Resuming with a setting that changes the result is refused, naming it.
  auto first = config("resumecheck");
  first.max_steps = 2;
  rwkv::Tuner(first).run();
  auto changed = first;
  changed.resume = first.out + ".autosave";
  changed.lr = 0.5;
  expect(changed, rwkv::ErrorKind::Mismatch, "lr differs");
  // A file that is not an autosave.
  changed = first;
  changed.resume = data_.toStdString();
  expect(changed, rwkv::ErrorKind::Format, "autosave");
}

QTEST_GUILESS_MAIN(TestTunerRobust)
#include "test_tuner_robust.moc"
