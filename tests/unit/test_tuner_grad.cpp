// The state tuner's gradient dLoss/dS0 (micro_batch_ce_sum + autograd through the wkv op) against
// independent float64 finite differences of the numpy oracle: on a random multi-head model made
// by tests/python/tuner_grad_oracle.py with a masked, right-padded batch (the tuner's own loss),
// and on the reference vectors' dloss_ds0_samples (mean CE over all next tokens).
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "fixtures.h"
#include "python.h"
#include "rwkv/model.h"
#include "tune_batches.h"
#include "tune_loss.h"
#include "weights.h"

namespace {

using json = nlohmann::json;

json read_json(const QString& path) {
  std::ifstream f(path.toStdString());
  return json::parse(f);
}

// S0 parameters from flat [L*H*N*N] values, as fp32 leaves that require grad.
std::vector<torch::Tensor> make_s0(const std::vector<double>& flat, const rwkv::ModelDims& d) {
  auto all = torch::tensor(flat, torch::kFloat64).to(torch::kFloat32).view({d.n_layer, d.n_head, d.head_size, d.head_size});
  std::vector<torch::Tensor> s0;
  for (int l = 0; l < d.n_layer; ++l) s0.push_back(all[l].clone().set_requires_grad(true));
  return s0;
}

// Loss = sum CE over the batches' targets / total targets; backward; returns the loss.
double loss_and_grad(const rwkv::Model& m, const std::vector<std::vector<const rwkv::Sample*>>& groups,
                     std::vector<torch::Tensor>& s0) {
  std::vector<rwkv::MicroBatch> mbs;
  int64_t total = 0;
  for (const auto& g : groups) {
    mbs.push_back(rwkv::make_micro_batch(g, torch::kCPU));
    total += mbs.back().n_targets;
  }
  for (auto& p : s0) p.mutable_grad() = torch::Tensor();
  double loss = 0;
  for (const auto& mb : mbs) {
    auto l = rwkv::micro_batch_ce_sum(m.impl(), mb, s0) / double(total);
    l.backward();
    loss += l.item<double>();
  }
  return loss;
}

// Every weight of the model: none may require grad or have received one.
void check_weights_frozen(const rwkv::Model::Impl& m) {
  std::vector<torch::Tensor> all{m.emb, m.ln0_w, m.ln0_b, m.ln_out_w, m.ln_out_b, m.head};
  for (const auto& l : m.layers) {
    const auto& a = l.att;
    for (const auto& t : {l.ln1_w, l.ln1_b, l.ln2_w, l.ln2_b, a.x_r, a.x_w, a.x_k, a.x_v, a.x_a, a.x_g, a.w0, a.w1,
                          a.w2, a.a0, a.a1, a.a2, a.v0, a.v1, a.v2, a.g1, a.g2, a.k_k, a.k_a, a.r_k, a.Wr, a.Wk, a.Wv,
                          a.Wo, a.ln_x_w, a.ln_x_b, l.ffn.x_k, l.ffn.Wkey, l.ffn.Wval})
      all.push_back(t);
  }
  int n = 0;
  for (const auto& t : all) {
    if (!t.defined()) continue;
    ++n;
    QVERIFY2(!t.requires_grad(), "a weight tensor requires grad");
    QVERIFY2(!t.grad().defined(), "a weight tensor received a gradient");
  }
  QVERIFY(n > 30);
}

}  // namespace

class TestTunerGrad : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void maskedBatchMatchesFiniteDifferences();
  void referenceVectors_data();
  void referenceVectors();
};

void TestTunerGrad::maskedBatchMatchesFiniteDifferences() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  RUN_PYTHON("tuner_grad_oracle.py", (QStringList{"--out", dir.path(), "--seed", "5"}));
  const json ref = read_json(dir.filePath("grad.json"));
  const auto model = rwkv::Model::load(dir.filePath("model.bin").toStdString());
  const auto& d = model->dims();
  QCOMPARE(d.n_head, 4);
  QCOMPARE(d.n_layer, 3);

  std::vector<rwkv::Sample> samples;
  for (const auto& s : ref["samples"]) {
    rwkv::Sample x;
    x.tokens = s["tokens"].get<std::vector<int>>();
    for (int v : s["target"].get<std::vector<int>>()) x.target.push_back(static_cast<uint8_t>(v));
    samples.push_back(x);
  }
  const std::vector<const rwkv::Sample*> all{&samples[0], &samples[1], &samples[2]};
  auto s0 = make_s0(ref["s0"].get<std::vector<double>>(), d);

  // One right-padded batch of three samples of different lengths.
  const double loss = loss_and_grad(*model, {all}, s0);
  qInfo("loss: ours %.7f, oracle (float64) %.7f", loss, ref["loss"].get<double>());
  QVERIFY(std::abs(loss - ref["loss"].get<double>()) < 2e-5);
  check_weights_frozen(model->impl());

  std::vector<torch::Tensor> grad;
  for (const auto& p : s0) grad.push_back(p.grad().clone());
  int checked = 0;
  std::vector<int> per_layer(d.n_layer, 0);
  for (const auto& e : ref["fd"]) {
    const int l = e["layer"], h = e["head"], i = e["i"], j = e["j"];
    const double fd = e["grad"], ours = grad[l][h][i][j].item<double>();
    // Relative to the entry, floored at 1e-3 of the layer's largest gradient entry (entries that
    // are nearly zero have no meaningful relative error in fp32).
    const double floor = 1e-3 * grad[l].abs().max().item<double>();
    const double rel = std::abs(ours - fd) / std::max(std::abs(fd), floor);
    qInfo("S0[%d][%d][%2d][%2d]: autograd %+.8e  fd %+.8e  rel %.2e", l, h, i, j, ours, fd, rel);
    QVERIFY2(rel < 1e-4, qPrintable(QString("relative error %1 at layer %2").arg(rel).arg(l)));
    ++checked;
    ++per_layer[l];
  }
  for (int l = 0; l < d.n_layer; ++l) QVERIFY(per_layer[l] >= 3);
  QVERIFY(checked >= 12);

  // Accumulation over micro-batches ([s0, s1] then [s2]) equals the one big batch.
  auto s0b = make_s0(ref["s0"].get<std::vector<double>>(), d);
  const double loss2 = loss_and_grad(*model, {{&samples[0], &samples[1]}, {&samples[2]}}, s0b);
  QVERIFY(std::abs(loss2 - loss) < 1e-6);
  for (int l = 0; l < d.n_layer; ++l) {
    const double diff = (s0b[l].grad() - grad[l]).abs().max().item<double>();
    const double scale = grad[l].abs().max().item<double>();
    QVERIFY2(diff <= 1e-5 * scale, qPrintable(QString("layer %1: accumulated grads differ by %2").arg(l).arg(diff)));
  }
}

void TestTunerGrad::referenceVectors_data() {
  QTest::addColumn<QString>("vectors");
  QTest::addColumn<QString>("model");
  QTest::newRow("tiny zero S0") << "spec/reference/vectors/tiny_hello_zero.json" << fixtures::kTinyFp32;
  QTest::newRow("tiny S0 seed 7") << "spec/reference/vectors/tiny_hello_s0seed7.json" << fixtures::kTinyFp32;
  QTest::newRow("random 2-head S0 seed 3") << "spec/reference/vectors/random2h_hello_s0seed3.json" << fixtures::kRandom2h;
}

void TestTunerGrad::referenceVectors() {
  QFETCH(QString, vectors);
  QFETCH(QString, model);
  REQUIRE_FIXTURE(vpath, vectors);
  REQUIRE_FIXTURE(mpath, model);
  const json ref = read_json(vpath);
  QVERIFY(ref.contains("dloss_ds0_samples"));
  const auto m = rwkv::Model::load(mpath.toStdString());
  const auto& d = m->dims();

  // S0 as the vectors' README defines it: 0.05*sin(0.37*flat + seed), or zeros.
  std::vector<double> flat(static_cast<size_t>(d.n_layer) * d.n_head * d.head_size * d.head_size, 0.0);
  const std::string s0desc = ref["s0"];
  if (s0desc != "zero") {
    const auto plus = s0desc.find("+ ");
    QVERIFY(plus != std::string::npos);
    const double seed = std::stod(s0desc.substr(plus + 2));
    for (size_t k = 0; k < flat.size(); ++k) flat[k] = static_cast<float>(0.05 * std::sin(0.37 * double(k) + seed));
  }
  auto s0 = make_s0(flat, d);
  rwkv::Sample s;
  s.tokens = ref["tokens"].get<std::vector<int>>();
  s.target.assign(s.tokens.size(), 1);
  s.target[0] = 0;  // every next token of the sequence
  const double loss = loss_and_grad(*m, {{&s}}, s0);
  qInfo("loss: ours %.7f, oracle %.7f", loss, ref["loss_mean_ce"].get<double>());
  QVERIFY(std::abs(loss - ref["loss_mean_ce"].get<double>()) < 1e-4);
  for (const auto& e : ref["dloss_ds0_samples"]) {
    const int l = e["layer"], h = e["head"], i = e["value_i"], j = e["key_j"];
    const double fd = e["dloss_ds0"], ours = s0[l].grad()[h][i][j].item<double>();
    const double rel = std::abs(ours - fd) / std::abs(fd);
    qInfo("S0[%d][%d][%2d][%2d]: autograd %+.6e  fd %+.6e  rel %.2e", l, h, i, j, ours, fd, rel);
    QVERIFY2(rel < 1e-3, qPrintable(QString("relative error %1").arg(rel)));
  }
}

QTEST_GUILESS_MAIN(TestTunerGrad)
#include "test_tuner_grad.moc"
