// The kernel-upscaled state (method note section 2): the causal T x T form of the head output
// equals an explicit token loop with M x M states; with U0 = 0 (and beta = 0) a kernel state
// gives exactly the base model's logits; fp64 finite differences of U0, beta and R agree with
// autograd; support vectors and gamma; the state file round trip (and the plain export with its
// warning); a short kernel tuning run on demo-small saves a state that generate/eval can run.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>

#include "fixtures.h"
#include "forward.h"
#include "kernel_state.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"
#include "tune_batches.h"
#include "tune_loss.h"

namespace {

using torch::indexing::Slice;

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

struct Inputs {
  torch::Tensor r, w, kk, v, u_in;
};

Inputs random_inputs(int64_t B, int64_t T, int64_t H, int64_t N, int64_t M, uint64_t seed) {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  namespace F = torch::nn::functional;
  Inputs in;
  in.r = torch::randn({B, T, H, N}, g, f64);
  in.w = torch::exp(-0.6 * torch::rand({B, T, H, N}, g, f64)) * 0.999;  // decays in (0.54, 1)
  in.kk = F::normalize(torch::randn({B, T, H, N}, g, f64), F::NormalizeFuncOptions().dim(-1));
  in.v = torch::randn({B, T, H, N}, g, f64);
  in.u_in = torch::randn({B, H, M, M}, g, f64) * 0.3;
  return in;
}

rwkv::KernelLayer random_layer(int64_t H, int64_t N, int64_t M, bool write, uint64_t seed) {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  namespace F = torch::nn::functional;
  rwkv::KernelLayer p;
  p.C = F::normalize(torch::randn({H, M, N}, g, f64), F::NormalizeFuncOptions().dim(-1));
  p.Q = torch::randn({H, N, M}, g, f64) / std::sqrt(double(M));
  p.R = torch::eye(M, f64).unsqueeze(0).repeat({H, 1, 1}) + 0.1 * torch::randn({H, M, M}, g, f64);
  p.gamma = 0.5 + torch::rand({H}, g, f64);
  if (write) p.beta = torch::randn({H}, g, f64);
  return p;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// A plain-float kernel state for a model, U0 from `u0_scale` (0 = zeros), seeded.
std::shared_ptr<rwkv::KernelState> kernel_for(const rwkv::ModelDims& d, int M, bool write, double u0_scale,
                                              uint64_t seed) {
  auto k = std::make_shared<rwkv::KernelState>();
  k->n_layer = d.n_layer;
  k->n_head = d.n_head;
  k->head_size = d.head_size;
  k->m = M;
  k->write = write;
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  namespace F = torch::nn::functional;
  const auto vec = [](const torch::Tensor& t) {
    auto c = t.to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  const int64_t L = d.n_layer, H = d.n_head, N = d.head_size;
  k->C = vec(F::normalize(torch::randn({L, H, M, N}, g), F::NormalizeFuncOptions().dim(-1)));
  k->Q = vec(torch::randn({L, H, N, M}, g) / std::sqrt(double(M)));
  k->R = vec(torch::eye(M).expand({L, H, M, M}) + 0.05 * torch::randn({L, H, M, M}, g));
  k->U0 = vec(torch::randn({L, H, M, M}, g) * u0_scale);
  k->gamma = vec(1 + torch::rand({L, H}, g));
  k->beta = vec(torch::zeros({L, H}));
  return k;
}

QString demoSmall() { return fixtures::sourceDir() + "/resources/models/demo-small.safetensors"; }

}  // namespace

class TestKernelState : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void causalFormEqualsTokenLoop_data();
  void causalFormEqualsTokenLoop();
  void zeroU0GivesTheBaseModelExactly();
  void finiteDifferencesU0BetaR();
  void finiteDifferencesThroughTheModel();
  void supportsAndGamma();
  void stateFileRoundTripAndPlainExport();
  void tuneKernelOnDemoSmall();
};

void TestKernelState::causalFormEqualsTokenLoop_data() {
  QTest::addColumn<bool>("write");
  QTest::addColumn<bool>("with_u_in");
  QTest::newRow("read only") << false << true;
  QTest::newRow("write") << true << true;
  QTest::newRow("write from zero U") << true << false;
}

void TestKernelState::causalFormEqualsTokenLoop() {
  QFETCH(bool, write);
  QFETCH(bool, with_u_in);
  const int64_t B = 2, T = 7, H = 3, N = 8, M = 12;
  const auto in = random_inputs(B, T, H, N, M, 11);
  const auto p = random_layer(H, N, M, write, 12);
  const auto u = with_u_in ? in.u_in : torch::Tensor();
  const auto fast = rwkv::kernel_head_output(p, write, in.r, in.w, in.kk, in.v, u, true, true);
  const auto loop = rwkv::kernel_head_output_loop(p, write, in.r, in.w, in.kk, in.v, u);
  const double scale = max_abs(loop.extra);
  QVERIFY(scale > 1e-3);
  qInfo("max |extra diff| %.3g (scale %.3g), max |U diff| %.3g", max_abs(fast.extra - loop.extra), scale,
        max_abs(fast.u_out - loop.u_out));
  QVERIFY(max_abs(fast.extra - loop.extra) < 1e-12 * std::max(1.0, scale));
  QVERIFY(max_abs(fast.u_out - loop.u_out) < 1e-12 * std::max(1.0, max_abs(loop.u_out)));
  QVERIFY(max_abs(fast.z - loop.z) < 1e-12);
  // Splitting the sequence and carrying U gives the same as one pass (the Context's eval + step).
  const auto a = rwkv::kernel_head_output(p, write, in.r.narrow(1, 0, 4), in.w.narrow(1, 0, 4),
                                          in.kk.narrow(1, 0, 4), in.v.narrow(1, 0, 4), u, false, true);
  const auto b = rwkv::kernel_head_output(p, write, in.r.narrow(1, 4, 3), in.w.narrow(1, 4, 3),
                                          in.kk.narrow(1, 4, 3), in.v.narrow(1, 4, 3), a.u_out, false, true);
  QVERIFY(max_abs(torch::cat({a.extra, b.extra}, 1) - fast.extra) < 1e-12 * std::max(1.0, scale));
  QVERIFY(max_abs(b.u_out - fast.u_out) < 1e-12 * std::max(1.0, max_abs(fast.u_out)));
}

void TestKernelState::zeroU0GivesTheBaseModelExactly() {
  const auto model = rwkv::Model::load(demoSmall().toStdString());
  const auto& d = model->dims();
  const std::vector<int> tokens{5, 17, 200, 3, 99, 42, 7, 1, 64, 300, 12};
  const auto run = [&](const rwkv::InitialState& s) {
    rwkv::Context ctx(model);
    ctx.set_initial_state(s);
    auto all = ctx.eval(std::vector<int>(tokens.begin(), tokens.end() - 3), true);
    for (size_t i = tokens.size() - 3; i < tokens.size(); ++i) {  // then token steps (the generate path)
      const auto l = ctx.step(tokens[i]);
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  };
  // A random plain S0, and the same S0 with kernel parts whose U0 (and beta) are zero.
  rwkv::InitialState plain = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
  for (size_t i = 0; i < plain.wkv.size(); ++i) plain.wkv[i] = 0.3f * std::sin(0.7f * float(i));
  const auto base_zero = run(rwkv::InitialState());
  const auto base = run(plain);
  for (bool write : {false, true}) {
    rwkv::InitialState k = plain;
    k.kernel = kernel_for(d, 24, write, 0.0, 3);
    const auto got = run(k);
    QCOMPARE(got.size(), base.size());
    QVERIFY2(std::memcmp(got.data(), base.data(), got.size() * sizeof(float)) == 0,
             write ? "write: logits differ from the plain state's" : "logits differ from the plain state's");
    rwkv::InitialState kz = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
    kz.kernel = k.kernel;
    const auto got0 = run(kz);
    QVERIFY(std::memcmp(got0.data(), base_zero.data(), got0.size() * sizeof(float)) == 0);
  }
  // And a nonzero U0 does change them (the kernel term is wired in).
  rwkv::InitialState k = plain;
  k.kernel = kernel_for(d, 24, false, 0.5, 4);
  const auto moved = run(k);
  double diff = 0;
  for (size_t i = 0; i < moved.size(); ++i) diff = std::max(diff, double(std::abs(moved[i] - base[i])));
  qInfo("max |logit change| with a random U0: %.3g", diff);
  QVERIFY(diff > 1e-2);
}

void TestKernelState::finiteDifferencesU0BetaR() {
  // Loss = sum(c * tanh(extra)) + sum(e * z) over a write layer, all in fp64; U0, beta and R are
  // perturbed by +-h and compared with autograd.
  const int64_t B = 2, T = 6, H = 2, N = 6, M = 10;
  const auto in = random_inputs(B, T, H, N, M, 21);
  auto p = random_layer(H, N, M, true, 22);
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(23);
  const auto c = torch::randn({B, T, H, N}, g, f64), e = torch::randn({B, T, H, M}, g, f64);
  auto u0 = (torch::randn({H, M, M}, g, f64) * 0.2).set_requires_grad(true);
  p.beta = p.beta.clone().set_requires_grad(true);
  p.R = p.R.clone().set_requires_grad(true);
  const auto loss_of = [&](const rwkv::KernelLayer& q, const torch::Tensor& u) {
    const auto o = rwkv::kernel_head_output(q, true, in.r, in.w, in.kk, in.v, u.unsqueeze(0).expand({B, -1, -1, -1}),
                                            true, false);
    return (c * torch::tanh(o.extra)).sum() + (e * o.z).sum();
  };
  loss_of(p, u0).backward();
  const auto gu = u0.grad().clone(), gb = p.beta.grad().clone(), gr = p.R.grad().clone();
  QVERIFY(max_abs(gu) > 0 && max_abs(gb) > 0 && max_abs(gr) > 0);
  const double h = 1e-6;
  int checked = 0;
  const auto check = [&](torch::Tensor& param, const torch::Tensor& grad, std::vector<int64_t> idx, const char* what) {
    torch::NoGradGuard ng;
    auto flat = param.view({-1});
    int64_t k = 0, stride = 1;
    for (int i = int(idx.size()) - 1; i >= 0; --i) {
      k += idx[i] * stride;
      stride *= param.size(i);
    }
    const double old = flat[k].item<double>();
    flat[k] = old + h;
    const double up = loss_of(p, u0).item<double>();
    flat[k] = old - h;
    const double down = loss_of(p, u0).item<double>();
    flat[k] = old;
    const double fd = (up - down) / (2 * h), ours = grad.view({-1})[k].item<double>();
    const double rel = std::abs(fd - ours) / std::max(std::abs(fd), 1e-6);
    qInfo("%s[%ld]: autograd %+.10e  fd %+.10e  rel %.2e", what, long(k), ours, fd, rel);
    QVERIFY2(rel < 1e-6, qPrintable(QString("%1: relative error %2").arg(what).arg(rel)));
    ++checked;
  };
  for (auto idx : std::vector<std::vector<int64_t>>{{0, 0, 0}, {1, 3, 7}, {0, 9, 2}, {1, 5, 5}}) check(u0, gu, idx, "U0");
  check(p.beta, gb, {0}, "beta");
  check(p.beta, gb, {1}, "beta");
  for (auto idx : std::vector<std::vector<int64_t>>{{0, 0, 0}, {1, 2, 8}, {0, 7, 3}}) check(p.R, gr, idx, "R");
  QCOMPARE(checked, 9);
}

void TestKernelState::finiteDifferencesThroughTheModel() {
  // The tuner's own loss (micro_batch_ce_sum with a kernel state) on demo-small: dLoss/dU0 and
  // dLoss/dbeta from autograd against fp32 central differences (coarser tolerance: the model runs
  // in fp32; the fp64 check of the term itself is above).
  const auto model = rwkv::Model::load(demoSmall().toStdString());
  const auto& d = model->dims();
  rwkv::Sample s1, s2;
  s1.tokens = {5, 17, 200, 3, 99, 42, 7, 1, 64, 300, 12, 8};
  s2.tokens = {9, 8, 7, 6, 5, 4, 3};
  s1.target.assign(s1.tokens.size(), 1);
  s2.target.assign(s2.tokens.size(), 1);
  s1.target[0] = s2.target[0] = 0;
  const auto mb = rwkv::make_micro_batch({&s1, &s2}, torch::kCPU);
  auto ks = kernel_for(d, 16, true, 0.0, 5);
  for (auto& b : ks->beta) b = 0.5f;
  std::vector<torch::Tensor> u0;
  auto ext = rwkv::kernel_ext_from_state(*ks, torch::kCPU, &u0);
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(6);
  for (auto& u : u0) u = (torch::randn(u.sizes(), g) * 0.5).set_requires_grad(true);
  for (auto& p : ext->layers) p.beta.set_requires_grad(true);
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l) s0.push_back(torch::zeros({d.n_head, d.head_size, d.head_size}));
  rwkv::KernelTrain kt{ext, &u0};
  const auto loss_of = [&] { return rwkv::micro_batch_ce_sum(model->impl(), mb, s0, kt, nullptr).item<double>(); };
  auto loss = rwkv::micro_batch_ce_sum(model->impl(), mb, s0, kt, nullptr);
  loss.backward();
  // Directional derivatives (single entries drown in fp32 rounding): along the gradient itself
  // and along a random direction, over all of U0 and over all betas.
  std::vector<torch::Tensor> betas;
  for (auto& p : ext->layers) betas.push_back(p.beta);
  const auto directional = [&](std::vector<torch::Tensor>& ps, const std::vector<torch::Tensor>& dirs, double h) {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(dirs[i], h);
    const double up = loss_of();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(dirs[i], -2 * h);
    const double down = loss_of();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(dirs[i], h);
    return (up - down) / (2 * h);
  };
  int ok = 0, n = 0;
  for (auto* group : {&u0, &betas}) {
    std::vector<torch::Tensor> grads, rnd;
    double gn = 0, rn = 0;
    for (auto& p : *group) {
      grads.push_back(p.grad().clone());
      rnd.push_back(torch::randn(p.sizes(), g));
      gn += grads.back().square().sum().item<double>();
      rn += rnd.back().square().sum().item<double>();
    }
    for (auto& t : grads) t /= std::sqrt(gn);
    for (auto& t : rnd) t /= std::sqrt(rn);
    for (const auto* dirs : {&grads, &rnd}) {
      double ours = 0;
      for (size_t i = 0; i < group->size(); ++i) ours += ((*group)[i].grad() * (*dirs)[i]).sum().item<double>();
      const double fd = directional(*group, *dirs, 1e-2);
      const double rel = std::abs(fd - ours) / std::max(std::abs(fd), 0.1 * std::sqrt(gn));
      qInfo("%s along %s: autograd %+.6e  fd %+.6e  rel %.2e", group == &u0 ? "U0" : "beta",
            dirs == &grads ? "the gradient" : "a random direction", ours, fd, rel);
      ++n;
      if (rel < 1e-2) ++ok;
    }
  }
  QVERIFY2(ok == n, qPrintable(QString("%1 of %2 directional derivatives agree").arg(ok).arg(n)));
}

void TestKernelState::supportsAndGamma() {
  namespace F = torch::nn::functional;
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(31);
  // Keys around 4 directions: k-means++ must find all four clusters with M = 4.
  const auto dirs = F::normalize(torch::randn({4, 16}, g), F::NormalizeFuncOptions().dim(-1));
  const auto idx = torch::arange(400) % 4;
  const auto keys = F::normalize(dirs.index_select(0, idx) + 0.05 * torch::randn({400, 16}, g),
                                 F::NormalizeFuncOptions().dim(-1));
  const auto C = rwkv::choose_supports(keys, 4, "kmeans", 7);
  QCOMPARE(C.size(0), 4);
  QVERIFY(max_abs(C.norm(2, 1) - 1) < 1e-5);
  const auto sim = torch::matmul(C, dirs.t());  // each direction has a centre within ~0.05
  QVERIFY2(std::get<0>(sim.max(0)).min().item<double>() > 0.98, "k-means++ missed a cluster");
  QVERIFY(rwkv::choose_supports(keys, 4, "kmeans", 7).equal(C));  // seeded
  // random: M distinct rows of the keys.
  const auto Rnd = rwkv::choose_supports(keys, 10, "random", 3);
  const auto d2 = std::get<0>(torch::cdist(Rnd.to(torch::kFloat64), keys.to(torch::kFloat64)).min(1));
  QVERIFY(max_abs(d2) < 1e-6);
  QCOMPARE(std::get<0>(torch::_unique(torch::cdist(Rnd, keys).argmin(1))).size(0), 10);
  // gamma: 1 / median squared distance.
  const double gm = rwkv::median_gamma(keys, C);
  const auto dd = torch::cdist(keys.to(torch::kFloat64), C.to(torch::kFloat64)).square().flatten();
  QVERIFY(std::abs(gm * dd.median().item<double>() - 1) < 1e-6);
  QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::choose_supports(keys.narrow(0, 0, 3), 4, "kmeans", 1));
}

void TestKernelState::stateFileRoundTripAndPlainExport() {
  QTemporaryDir dir;
  rwkv::ModelDims d;
  d.n_layer = 2;
  d.n_head = 3;
  d.head_size = 8;
  rwkv::InitialState s = rwkv::InitialState::zeros(2, 3, 8);
  for (size_t i = 0; i < s.wkv.size(); ++i) s.wkv[i] = float(i % 13) * 0.1f;
  s.kernel = kernel_for(d, 5, true, 1.0, 9);
  const std::string ours = dir.filePath("k.rwkvstate").toStdString();
  rwkv::save_state(ours, s, rwkv::StateFormat::Ours);
  const auto back = rwkv::load_state(ours);
  QVERIFY(back.s0.wkv == s.wkv);
  QVERIFY(back.s0.kernel);
  const auto& a = *s.kernel;
  const auto& b = *back.s0.kernel;
  QCOMPARE(b.m, 5);
  QVERIFY(b.write);
  QVERIFY(a.C == b.C && a.Q == b.Q && a.R == b.R && a.U0 == b.U0 && a.gamma == b.gamma && a.beta == b.beta);
  QCOMPARE(QString::fromStdString(rwkv::state_export_warning(s, rwkv::StateFormat::Ours)), QString());
  for (auto fmt : {rwkv::StateFormat::PeftPth, rwkv::StateFormat::Ai00}) {
    const QString warn = QString::fromStdString(rwkv::state_export_warning(s, fmt));
    QVERIFY2(warn.contains("dropped"), qPrintable(warn));
    const std::string p = dir.filePath(fmt == rwkv::StateFormat::Ai00 ? "k.st" : "k.pth").toStdString();
    rwkv::save_state(p, s, fmt);
    const auto plain = rwkv::load_state(p);
    QVERIFY(!plain.s0.kernel);
    QCOMPARE(plain.s0.wkv.size(), s.wkv.size());
  }
  // A non-finite kernel value is refused.
  auto bad = std::make_shared<rwkv::KernelState>(a);
  bad->U0[3] = NAN;
  s.kernel = bad;
  QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::save_state(dir.filePath("bad.rwkvstate").toStdString(), s,
                                                         rwkv::StateFormat::Ours));
}

namespace {
struct Recorder : rwkv::TuneObserver {
  std::vector<rwkv::DecorMetrics> decor;
  std::vector<rwkv::StepMetrics> steps;
  std::vector<rwkv::CovarianceSnapshot> cov;
  std::vector<std::string> logs;
  void on_step(const rwkv::StepMetrics& m) override { steps.push_back(m); }
  void on_decor(const rwkv::DecorMetrics& m) override { decor.push_back(m); }
  void on_covariance(const rwkv::CovarianceSnapshot& c) override { cov.push_back(c); }
  void on_log(const std::string& s) override { logs.push_back(s); }
};
}  // namespace

void TestKernelState::tuneKernelOnDemoSmall() {
  QTemporaryDir dir;
  rwkv::TuneConfig c;
  c.model = demoSmall().toStdString();
  c.data = (fixtures::sourceDir() + "/resources/tasks/format_train.jsonl").toStdString();
  c.out = dir.filePath("k.rwkvstate").toStdString();
  c.method = "kernel";
  c.kernel_m = 32;
  c.kernel_write = true;
  c.max_steps = 12;
  c.micro_bsz = 4;
  c.lr = 0.1;
  c.eval_fraction = 0.2;
  c.eval_every = 6;
  c.warmup_steps = 2;
  rwkv::Tuner t(c);
  QCOMPARE(QString::fromStdString(t.info().method), QString("kernel"));
  QCOMPARE(t.info().kernel_m, 32);
  Recorder rec;
  rwkv::TuneControl ctl;
  ctl.covariance_layer = 1;
  ctl.covariance_size = 16;
  const auto sum = t.run(&rec, &ctl);
  QVERIFY(!sum.cancelled);
  qInfo("eval loss %.4f -> %.4f", sum.first_eval_loss, sum.best_eval_loss);
  QVERIFY(sum.best_eval_loss < sum.first_eval_loss);
  QCOMPARE(int(rec.decor.size()), 12);  // every step
  QCOMPARE(int(rec.decor[0].layers.size()), 4);
  QCOMPARE(int(rec.cov.size()), 12);
  QCOMPARE(rec.cov[0].size, 16);
  QCOMPARE(int(rec.cov[0].values.size()), 16 * 16);
  const auto f = rwkv::load_state(c.out);
  QVERIFY(f.s0.kernel);
  QCOMPARE(f.s0.kernel->m, 32);
  double u0 = 0, beta = 0;
  for (float v : f.s0.kernel->U0) u0 = std::max(u0, double(std::abs(v)));
  for (float v : f.s0.kernel->beta) beta = std::max(beta, double(std::abs(v)));
  QVERIFY2(u0 > 0 && beta > 0, "U0 and beta were not trained");
  // The saved state runs, and its kernel part matters.
  const auto model = rwkv::Model::load(c.model);
  rwkv::Context a(model), b(model);
  a.set_initial_state(f.s0);
  rwkv::InitialState plain = f.s0;
  plain.kernel.reset();
  b.set_initial_state(plain);
  const auto la = a.eval({5, 6, 7, 8}), lb = b.eval({5, 6, 7, 8});
  double diff = 0;
  for (size_t i = 0; i < la.size(); ++i) diff = std::max(diff, double(std::abs(la[i] - lb[i])));
  QVERIFY(diff > 0);
  // The autosave holds the kernel tensors: resuming the finished run restores and saves the same state.
  rwkv::TuneConfig r = c;
  r.resume = c.out + ".autosave";
  r.out = dir.filePath("k2.rwkvstate").toStdString();
  rwkv::Tuner t2(r);
  const auto s2 = t2.run();
  QCOMPARE(s2.steps_done, 12);
  const auto f2 = rwkv::load_state(r.out);
  QVERIFY(f2.s0.kernel);
  QVERIFY(f2.s0.kernel->U0 == f.s0.kernel->U0 && f2.s0.kernel->R == f.s0.kernel->R &&
          f2.s0.kernel->C == f.s0.kernel->C && f2.s0.wkv == f.s0.wkv);
}

QTEST_GUILESS_MAIN(TestKernelState)
#include "test_kernel_state.moc"
