// Activation recomputation (TuneConfig::recompute, layer_recompute.h) changes memory, not math:
// on demo-small the loss of one micro-batch and the gradients of S0 (plain), of U0, beta and R
// (kernel with write and DBP loss mode, with z attached) equal those without recompute, and a
// short tune run with recompute ends at the same loss.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include "fixtures.h"
#include "forward.h"
#include "kernel_state.h"
#include "rwkv/model.h"
#include "rwkv/tuner.h"
#include "tune_batches.h"
#include "tune_loss.h"
#include "weights.h"

namespace {

QString demoSmall() { return fixtures::sourceDir() + "/resources/models/demo-small.safetensors"; }

// Two right-padded samples, the first token of each not a target.
struct Batch {
  rwkv::Sample s1, s2;
  rwkv::MicroBatch mb;
  Batch() {
    s1.tokens = {5, 17, 200, 3, 99, 42, 7, 1, 64, 300, 12, 8};
    s2.tokens = {9, 8, 7, 6, 5, 4, 3};
    s1.target.assign(s1.tokens.size(), 1);
    s2.target.assign(s2.tokens.size(), 1);
    s1.target[0] = s2.target[0] = 0;
    mb = rwkv::make_micro_batch({&s1, &s2}, torch::kCPU);
  }
};

double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

void clear(std::vector<torch::Tensor>& ps) {
  for (auto& p : ps) p.mutable_grad() = torch::Tensor();
}

std::vector<torch::Tensor> grads(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> g;
  for (const auto& p : ps) g.push_back(p.grad().clone());
  return g;
}

}  // namespace

class TestTunerRecompute : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void plainGradientsMatch();
  void kernelGradientsMatch();
  void tuneRunMatches();
};

void TestTunerRecompute::plainGradientsMatch() {
  const auto model = rwkv::Model::load(demoSmall().toStdString());
  const auto& d = model->dims();
  const Batch b;
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(11);
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l)
    s0.push_back((torch::randn({d.n_head, d.head_size, d.head_size}, g) * 0.3).set_requires_grad(true));
  std::vector<double> loss;
  std::vector<std::vector<torch::Tensor>> gs;
  for (bool rc : {false, true}) {
    clear(s0);
    rwkv::KernelTrain kt;
    kt.recompute = rc;
    auto l = rwkv::micro_batch_ce_sum(model->impl(), b.mb, s0, kt, nullptr);
    l.backward();
    loss.push_back(l.item<double>());
    gs.push_back(grads(s0));
  }
  qInfo("loss %.9g vs %.9g", loss[0], loss[1]);
  QVERIFY(std::abs(loss[1] - loss[0]) <= 1e-6 * std::abs(loss[0]));
  // The recompute path is the one taken: the last layer's output comes from its custom node.
  rwkv::RecurrentState in = rwkv::RecurrentState::zeros(model->impl(), 2);
  for (int l = 0; l < d.n_layer; ++l) in.wkv[l] = s0[l].unsqueeze(0).expand({2, -1, -1, -1});
  const auto hidden = rwkv::forward_hidden(model->impl(), b.mb.tokens, in, nullptr, nullptr, true);
  QVERIFY(hidden.grad_fn()->name().find("LayerFunction") != std::string::npos);
  for (int l = 0; l < d.n_layer; ++l) {
    const double r = max_rel(gs[1][l], gs[0][l]);
    QVERIFY2(r < 1e-6, qPrintable(QString("layer %1: dS0 relative error %2").arg(l).arg(r)));
    QVERIFY(gs[0][l].abs().max().item<double>() > 0);
  }
}

void TestTunerRecompute::kernelGradientsMatch() {
  // Kernel method with write (beta) and trainable R, the loss plus a term on z (as DBP's loss
  // mode adds): gradients reach S0, U0, beta and R through the recomputed layers.
  const auto model = rwkv::Model::load(demoSmall().toStdString());
  const auto& d = model->dims();
  const Batch b;
  const int64_t M = 16;
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(5);
  rwkv::KernelState ks;
  ks.n_layer = d.n_layer;
  ks.n_head = d.n_head;
  ks.head_size = d.head_size;
  ks.m = M;
  ks.write = true;
  const int64_t L = d.n_layer, H = d.n_head, N = d.head_size;
  const auto vec = [](const torch::Tensor& t) {
    auto c = t.to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  namespace F = torch::nn::functional;
  ks.C = vec(F::normalize(torch::randn({L, H, M, N}, g), F::NormalizeFuncOptions().dim(-1)));
  ks.Q = vec(torch::randn({L, H, N, M}, g) / std::sqrt(double(M)));
  ks.R = vec(torch::eye(M).expand({L, H, M, M}) + 0.05 * torch::randn({L, H, M, M}, g));
  ks.U0 = vec(torch::randn({L, H, M, M}, g) * 0.5);
  ks.gamma = vec(1 + torch::rand({L, H}, g));
  ks.beta = vec(torch::full({L, H}, 0.5));
  std::vector<torch::Tensor> u0;
  auto ext = rwkv::kernel_ext_from_state(ks, torch::kCPU, &u0);
  for (auto& u : u0) u.set_requires_grad(true);
  std::vector<torch::Tensor> betas, rs;
  for (auto& p : ext->layers) {
    betas.push_back(p.beta.set_requires_grad(true));
    rs.push_back(p.R.set_requires_grad(true));
  }
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l)
    s0.push_back((torch::randn({H, N, N}, g) * 0.3).set_requires_grad(true));
  std::vector<double> loss;
  std::vector<std::vector<std::vector<torch::Tensor>>> gs;  // [run][group][layer]
  for (bool rc : {false, true}) {
    for (auto* ps : {&s0, &u0, &betas, &rs}) clear(*ps);
    rwkv::KernelTrain kt{ext, &u0};
    kt.recompute = rc;
    std::vector<torch::Tensor> z;
    auto l = rwkv::micro_batch_ce_sum(model->impl(), b.mb, s0, kt, &z);
    QCOMPARE(int(z.size()), d.n_layer);
    for (const auto& zl : z) l = l + zl.square().mean();  // [n,H,M]
    l.backward();
    loss.push_back(l.item<double>());
    gs.push_back({grads(s0), grads(u0), grads(betas), grads(rs)});
  }
  qInfo("loss %.9g vs %.9g", loss[0], loss[1]);
  QVERIFY(std::abs(loss[1] - loss[0]) <= 1e-6 * std::abs(loss[0]));
  const char* names[] = {"S0", "U0", "beta", "R"};
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < d.n_layer; ++l) {
      const double r = max_rel(gs[1][k][l], gs[0][k][l]);
      QVERIFY2(r < 1e-6, qPrintable(QString("%1 layer %2: relative error %3").arg(names[k]).arg(l).arg(r)));
      QVERIFY2(gs[0][k][l].abs().max().item<double>() > 0, names[k]);
    }
}

void TestTunerRecompute::tuneRunMatches() {
  QTemporaryDir dir;
  std::vector<double> final_loss, eval_loss;
  for (bool rc : {false, true}) {
    rwkv::TuneConfig c;
    c.model = demoSmall().toStdString();
    c.data = (fixtures::sourceDir() + "/resources/tasks/format_train.jsonl").toStdString();
    c.out = (dir.path() + (rc ? "/rc.rwkvstate" : "/plain.rwkvstate")).toStdString();
    c.ctx_len = 128;
    c.max_steps = 4;
    c.micro_bsz = 2;
    c.accum = 2;
    c.lr = 0.1;
    c.eval_fraction = 0.2;
    c.eval_every = 0;
    c.autosave_every = 0;
    c.snapshot_every = 0;
    c.seed = 3;
    c.recompute = rc;
    rwkv::Tuner t(c);
    const auto s = t.run();
    QCOMPARE(s.steps_done, 4);
    final_loss.push_back(s.final_loss);
    eval_loss.push_back(s.final_eval_loss);
  }
  qInfo("final loss %.9g vs %.9g, eval %.9g vs %.9g", final_loss[0], final_loss[1], eval_loss[0], eval_loss[1]);
  QVERIFY(std::abs(final_loss[1] - final_loss[0]) < 1e-5);
  QVERIFY(std::abs(eval_loss[1] - eval_loss[0]) < 1e-5);
}

QTEST_GUILESS_MAIN(TestTunerRecompute)
#include "test_tuner_recompute.moc"
