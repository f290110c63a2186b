// Decorrelated backpropagation (method note section 3): the gradient of R in loss mode against
// fp64 finite differences (the note's literal L = CE-like + alpha L_decor, and R from L_decor
// only, our default); the statistics on covariances with known answers; the update rule on fixed
// features; and short tuning runs on demo-small where loss mode and update mode both lower the
// mean |off-diagonal correlation| and keep R finite, while DBP off leaves R = I.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "dbp.h"
#include "fixtures.h"
#include "kernel_state.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

struct Recorder : rwkv::TuneObserver {
  std::vector<rwkv::DecorMetrics> decor;
  void on_decor(const rwkv::DecorMetrics& m) override { decor.push_back(m); }
};

double mean_corr(const rwkv::DecorMetrics& m) {
  double s = 0;
  for (const auto& l : m.layers) s += l.mean_abs_corr;
  return s / double(m.layers.size());
}

rwkv::TuneConfig demo_config(const QString& dir, const std::string& dbp) {
  rwkv::TuneConfig c;
  c.model = (fixtures::sourceDir() + "/resources/models/demo-small.safetensors").toStdString();
  c.data = (fixtures::sourceDir() + "/resources/tasks/format_train.jsonl").toStdString();
  c.out = (dir + "/s.rwkvstate").toStdString();
  c.method = "kernel";
  c.kernel_m = 32;
  c.dbp = dbp;
  c.max_steps = 60;
  c.micro_bsz = 4;
  c.lr = 0.2;
  c.lr_final = 0.01;
  c.eval_fraction = 0.2;
  c.eval_every = 0;
  c.autosave_every = 0;
  return c;
}

}  // namespace

class TestDbp : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void lossModeGradientOfR_data();
  void lossModeGradientOfR();
  void statisticsOnKnownCovariances();
  void updateRuleOnFixedFeatures();
  void tuningRuns_data();
  void tuningRuns();
};

void TestDbp::lossModeGradientOfR_data() {
  QTest::addColumn<bool>("task_grad");
  QTest::newRow("R from L_decor only (default)") << false;
  QTest::newRow("R from CE + alpha L_decor (literal)") << true;
}

void TestDbp::lossModeGradientOfR() {
  QFETCH(bool, task_grad);
  namespace F = torch::nn::functional;
  const int64_t B = 2, T = 9, H = 2, N = 6, M = 8;
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(41);
  const auto r = torch::randn({B, T, H, N}, g, f64), v = torch::randn({B, T, H, N}, g, f64);
  const auto w = torch::exp(-0.6 * torch::rand({B, T, H, N}, g, f64));
  const auto kk = F::normalize(torch::randn({B, T, H, N}, g, f64), F::NormalizeFuncOptions().dim(-1));
  const auto u = torch::randn({B, H, M, M}, g, f64) * 0.3;
  const auto c = torch::randn({B, T, H, N}, g, f64);
  rwkv::KernelLayer p;
  p.C = F::normalize(torch::randn({H, M, N}, g, f64), F::NormalizeFuncOptions().dim(-1));
  p.Q = torch::randn({H, N, M}, g, f64) / std::sqrt(double(M));
  p.R = (torch::eye(M, f64).repeat({H, 1, 1}) + 0.2 * torch::randn({H, M, M}, g, f64)).set_requires_grad(true);
  p.gamma = torch::full({H}, 1.5, f64);
  p.beta = torch::full({H}, 0.4, f64);
  const double alpha = 3.0, lambda = 0.5;
  // The loss of loss mode, with the task part as a smooth stand-in for CE; in the default mode
  // the output sees R detached, so the task part contributes no gradient to R.
  const auto loss_of = [&](bool attach_task) {
    const auto o = rwkv::kernel_head_output(p, true, r, w, kk, v, u, true, false, !attach_task);
    const auto z = o.z.reshape({B * T, H, M});
    return (c * torch::tanh(o.extra)).sum() + alpha * rwkv::decor_loss(z, lambda);
  };
  loss_of(task_grad).backward();
  const auto grad = p.R.grad().clone();
  // Finite differences of the matching scalar: the full loss (literal), or alpha L_decor (default).
  const auto fd_loss = [&] {
    torch::NoGradGuard ng;
    if (task_grad) return loss_of(true).item<double>();
    const auto o = rwkv::kernel_head_output(p, true, r, w, kk, v, u, true, false);
    return alpha * rwkv::decor_loss(o.z.reshape({B * T, H, M}), lambda).item<double>();
  };
  const double h = 1e-6;
  auto flat = p.R.detach().view({-1});
  for (int64_t k : {0L, 9L, 37L, 70L, 127L}) {
    const double old = flat[k].item<double>();
    flat[k] = old + h;
    const double up = fd_loss();
    flat[k] = old - h;
    const double down = fd_loss();
    flat[k] = old;
    const double fd = (up - down) / (2 * h), ours = grad.view({-1})[k].item<double>();
    const double rel = std::abs(fd - ours) / std::max(std::abs(fd), 1e-8);
    qInfo("R[%ld]: autograd %+.10e  fd %+.10e  rel %.2e", long(k), ours, fd, rel);
    QVERIFY2(rel < 1e-6, qPrintable(QString("relative error %1").arg(rel)));
  }
}

void TestDbp::statisticsOnKnownCovariances() {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(42);
  // Independent features with variances 1..4: correlations ~0, off/diag ~0, cond ~4.
  const int64_t n = 200000, M = 4;
  auto z = torch::randn({n, 1, M}, g, f64) * torch::sqrt(torch::arange(1, M + 1, f64)).view({1, 1, M}) + 3.0;
  rwkv::DecorSums s;
  s.add(z.narrow(0, 0, n / 2));
  s.add(z.narrow(0, n / 2, n / 2));  // accumulation equals one batch
  auto st = rwkv::decor_stats(s);
  qInfo("independent: |corr| %.4f off/diag %.4f var %.3f..%.3f cond %.3f", st.mean_abs_corr, st.offdiag_ratio,
        st.min_var, st.max_var, st.condition);
  QVERIFY(st.mean_abs_corr < 0.01);
  QVERIFY(st.offdiag_ratio < 1e-3);
  QVERIFY(std::abs(st.min_var - 1) < 0.02 && std::abs(st.max_var - 4) < 0.05);
  QVERIFY(std::abs(st.condition - 4) < 0.1);
  // Two copies of one feature: correlation 1 between them, singular covariance (capped cond).
  auto x = torch::randn({1000, 1, 1}, g, f64);
  rwkv::DecorSums d;
  d.add(torch::cat({x, x, torch::randn({1000, 1, 1}, g, f64)}, 2));
  st = rwkv::decor_stats(d);
  QVERIFY(std::abs(st.mean_abs_corr - 1.0 / 3.0) < 0.03);  // pairs (0,1),(1,0) of 6 are 1
  QVERIFY(st.condition >= 1e11);
  // L_decor from the sums equals decor_loss on the tokens.
  const auto zz = torch::rand({300, 2, 5}, g, f64);
  rwkv::DecorSums e;
  e.add(zz);
  QVERIFY(std::abs(rwkv::decor_loss_value(e, 0.7) - rwkv::decor_loss(zz, 0.7).item<double>()) < 1e-12);
  int size = 0;
  const auto hm = rwkv::covariance_heatmap(e, 1, 3, &size);
  QCOMPARE(size, 3);
  QCOMPARE(int(hm.size()), 9);
}

void TestDbp::updateRuleOnFixedFeatures() {
  // Positive, correlated features (like Gaussian kernel features): a shared factor plus noise.
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(43);
  const int64_t n = 4000, H = 2, M = 16;
  const auto common = torch::rand({n, H, 1}, g, f64);
  const auto phi = torch::exp(-2 * (common + 0.5 * torch::rand({n, H, M}, g, f64)));
  auto R = torch::eye(M, f64).repeat({H, 1, 1});
  const auto stats_of = [&] {
    rwkv::DecorSums s;
    s.add(torch::matmul(phi.unsqueeze(-2), R.transpose(-1, -2)).squeeze(-2));
    return s;
  };
  const auto offdiag2 = [](const rwkv::DecorSums& s) {
    const auto A = s.second_moment();
    return (A.square().sum() - A.diagonal(0, 1, 2).square().sum()).item<double>();
  };
  const auto first = stats_of();
  const double corr0 = rwkv::decor_stats(first).mean_abs_corr, off0 = offdiag2(first);
  for (int it = 0; it < 300; ++it) rwkv::dbp_update(R, stats_of(), 0.05);
  const auto last = stats_of();
  const double corr1 = rwkv::decor_stats(last).mean_abs_corr, off1 = offdiag2(last);
  qInfo("update rule: |corr| %.4f -> %.4f, off-diagonal E[zz^T] energy %.4g -> %.4g", corr0, corr1, off0, off1);
  QVERIFY(torch::isfinite(R).all().item<bool>());
  QVERIFY(off1 < 0.1 * off0);
  QVERIFY(corr1 < corr0);
}

void TestDbp::tuningRuns_data() {
  QTest::addColumn<QString>("mode");
  QTest::newRow("loss") << "loss";
  QTest::newRow("update") << "update";
  QTest::newRow("off") << "off";
}

void TestDbp::tuningRuns() {
  QFETCH(QString, mode);
  QTemporaryDir dir;
  rwkv::Tuner t(demo_config(dir.path(), mode.toStdString()));
  Recorder rec;
  const auto sum = t.run(&rec);
  QVERIFY(!sum.cancelled);
  QCOMPARE(int(rec.decor.size()), 60);
  for (const auto& m : rec.decor) QCOMPARE(QString::fromStdString(m.mode), mode);
  const double first = mean_corr(rec.decor.front());
  double last = 0;
  for (size_t i = rec.decor.size() - 5; i < rec.decor.size(); ++i) last += mean_corr(rec.decor[i]) / 5;
  qInfo("%s: mean |off-diagonal corr| %.4f -> %.4f (mean of the last 5 steps); L_decor %.3g -> %.3g",
        qPrintable(mode), first, last, rec.decor.front().decor_loss, rec.decor.back().decor_loss);
  const auto f = rwkv::load_state(demo_config(dir.path(), "off").out);
  QVERIFY(f.s0.kernel);
  const auto& R = f.s0.kernel->R;
  for (float v : R) QVERIFY(std::isfinite(v));
  const int M = f.s0.kernel->m;
  if (mode == "off") {
    for (size_t i = 0; i < R.size(); ++i) QCOMPARE(R[i], (i % (M * M)) / M == (i % M) ? 1.0f : 0.0f);
  } else {
    // Loss mode decorrelates fast (measured 0.40 -> 0.27 at M=32); the update rule at its default
    // eta more slowly (0.40 -> 0.37); DBP off stays at 0.40.
    QVERIFY2(last < (mode == "loss" ? 0.85 : 0.95) * first, "the off-diagonal correlation did not fall");
    double moved = 0;
    for (size_t i = 0; i < R.size(); ++i)
      moved = std::max(moved, double(std::abs(R[i] - ((i % (M * M)) / M == (i % M) ? 1.0f : 0.0f))));
    QVERIFY(moved > 1e-3);
  }
}

QTEST_GUILESS_MAIN(TestDbp)
#include "test_dbp.moc"
