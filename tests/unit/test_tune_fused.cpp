// The hand-written state-tuning passes (tune_fused.h) in their reference implementation
// (tune_ops in torch ops, on the CPU) compute the same loss and the same S0 gradients as autograd
// through the model's forward (the path the CPU tuner takes), on demo-small and on a random
// model whose sequences are longer than a wkv span; recompute changes nothing; the no-grad
// forward gives the same loss. The CUDA kernels are checked against this reference in
// tests/gpu/test_tune_fused_cuda.cpp.
#include <QObject>
#include <QTest>

#include "fixtures.h"
#include "rwkv/model.h"
#include "random_batch.h"
#include "tune_batches.h"
#include "tune_fused.h"
#include "tune_loss.h"
#include "weights.h"

namespace {


std::vector<torch::Tensor> random_s0(const rwkv::ModelDims& d, uint64_t seed) {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l)
    s0.push_back((torch::randn({d.n_head, d.head_size, d.head_size}, g) * 0.3).set_requires_grad(true));
  return s0;
}

struct LossGrads {
  double loss = 0;
  std::vector<torch::Tensor> grads;
};

template <typename F>
LossGrads run(std::vector<torch::Tensor>& s0, F loss_fn) {
  for (auto& p : s0) p.mutable_grad() = torch::Tensor();
  torch::Tensor l = loss_fn();
  l.backward();
  LossGrads r;
  r.loss = l.item<double>();
  for (const auto& p : s0) r.grads.push_back(p.grad().clone());
  return r;
}

double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  return ((a - ref).norm() / ref.norm().clamp_min(1e-30)).item<double>();
}

// Fused (reference ops) against autograd on one model and batch.
void compare_with_autograd(const rwkv::Model& model, const RandomBatch& b, uint64_t seed) {
  const auto& m = model.impl();
  auto s0 = random_s0(model.dims(), seed);
  const auto ref = run(s0, [&] {
    return torch::nn::functional::cross_entropy(
        rwkv::micro_batch_logits(m, b.mb, s0, rwkv::KernelTrain{}, nullptr), b.mb.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  });
  const auto got = run(s0, [&] { return rwkv::fused_ce_sum(m, b.mb, s0, false, rwkv::tune_ops::Impl::Reference); });
  qInfo("loss autograd %.9g fused %.9g", ref.loss, got.loss);
  QVERIFY(std::abs(got.loss - ref.loss) <= 1e-5 * std::abs(ref.loss));
  for (size_t l = 0; l < s0.size(); ++l) {
    const double e = rel_err(got.grads[l], ref.grads[l]);
    qInfo("layer %zu: |dS0| %.4g, relative error %.2e", l, ref.grads[l].norm().item<double>(), e);
    QVERIFY(ref.grads[l].norm().item<double>() > 0);
    QVERIFY2(e < 1e-4, qPrintable(QString("layer %1 dS0 rel err %2").arg(l).arg(e)));
  }
  // Recompute: the same ops again, the same bits.
  const auto rc = run(s0, [&] { return rwkv::fused_ce_sum(m, b.mb, s0, true, rwkv::tune_ops::Impl::Reference); });
  QCOMPARE(rc.loss, got.loss);
  for (size_t l = 0; l < s0.size(); ++l) QVERIFY(torch::equal(rc.grads[l], got.grads[l]));
  // Without grad: the forward alone, the same loss.
  torch::NoGradGuard ng;
  const double nograd = rwkv::fused_ce_sum(m, b.mb, s0, false, rwkv::tune_ops::Impl::Reference).item<double>();
  QCOMPARE(nograd, got.loss);
}

}  // namespace

class TestTuneFused : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void demoSmallMatchesAutograd();
  void longSequencesMatchAutograd();
};

void TestTuneFused::demoSmallMatchesAutograd() {
  const auto model = rwkv::Model::load((fixtures::sourceDir() + "/resources/models/demo-small.safetensors").toStdString());
  const RandomBatch b({12, 7, 20}, int(model->dims().n_vocab), 5);
  compare_with_autograd(*model, b, 11);
}

void TestTuneFused::longSequencesMatchAutograd() {
  rwkv::ModelDims d;
  d.n_layer = 3;
  d.n_embd = 128;
  d.head_size = 64;
  d.n_vocab = 300;
  const auto model = rwkv::Model::random(d, 3);
  const RandomBatch b({150, 70}, int(d.n_vocab), 8);
  compare_with_autograd(*model, b, 12);
}

QTEST_APPLESS_MAIN(TestTuneFused)
#include "test_tune_fused.moc"
