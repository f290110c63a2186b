// Parity with the real tiny RWKV-7 model (rwkv.cpp's expected logits) and with the numpy oracle's
// vectors in ../shared/spec/reference/vectors, through the sequence and the step forward.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>

#include "fixtures.h"
#include "rwkv/context.h"
#include "rwkv/model.h"

namespace {

std::vector<float> read_f32(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  const QByteArray b = f.readAll();
  std::vector<float> v(b.size() / 4);
  memcpy(v.data(), b.constData(), v.size() * 4);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

std::vector<double> to_doubles(const QJsonArray& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(x.toDouble());
  return v;
}

QJsonObject read_json(const QString& path) {
  QFile f(path);
  f.open(QIODevice::ReadOnly);
  return QJsonDocument::fromJson(f.readAll()).object();
}

// The oracle's deterministic S0: 0.05*sin(0.37*flat + seed), flat over [L][H][N][N].
rwkv::InitialState sine_state(const rwkv::ModelDims& d, int seed) {
  auto s = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
  for (size_t i = 0; i < s.wkv.size(); ++i) s.wkv[i] = float(0.05 * std::sin(0.37 * double(i) + seed));
  return s;
}

double frobenius(const std::vector<float>& v, size_t begin, size_t count) {
  double s = 0;
  for (size_t i = begin; i < begin + count; ++i) s += double(v[i]) * v[i];
  return std::sqrt(s);
}

}  // namespace

class FixtureParity : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void expectedLogits_data() {
    QTest::addColumn<QString>("model");
    QTest::newRow("fp32") << QString(fixtures::kTinyFp32);
    QTest::newRow("fp16") << QString(fixtures::kTinyFp16);
  }

  // rwkv.cpp's test: bytes '"', 'i', 'n' from the zero state; we require max |diff| <= 1e-4.
  void expectedLogits() {
    QFETCH(QString, model);
    REQUIRE_FIXTURE(modelPath, model);
    REQUIRE_FIXTURE(expectedPath, fixtures::kTinyExpected);
    const auto expected = read_f32(expectedPath);
    QCOMPARE(expected.size(), size_t(256));
    const std::vector<double> exp_d(expected.begin(), expected.end());

    auto m = rwkv::Model::load(modelPath.toStdString());
    rwkv::Context seq(m);
    const auto via_seq = seq.eval({34, 105, 110});
    rwkv::Context step(m);
    std::vector<float> via_step;
    for (int t : {34, 105, 110}) via_step = step.step(t);

    const double e_seq = max_abs_diff(via_seq, exp_d), e_step = max_abs_diff(via_step, exp_d);
    qInfo("max |logit - expected|: sequence %.3g, step %.3g", e_seq, e_step);
    QVERIFY2(e_seq <= 1e-4, qPrintable(QString("sequence forward off by %1").arg(e_seq)));
    QVERIFY2(e_step <= 1e-4, qPrintable(QString("step forward off by %1").arg(e_step)));
    QCOMPARE(int(std::max_element(via_seq.begin(), via_seq.end()) - via_seq.begin()), 32);
  }

  void oracleVectors_data() {
    QTest::addColumn<QString>("vector");
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("seed");  // -1 = zero state
    QTest::newRow("tiny zero") << "spec/reference/vectors/tiny_hello_zero.json" << QString(fixtures::kTinyFp32) << -1;
    QTest::newRow("tiny s0 seed 7") << "spec/reference/vectors/tiny_hello_s0seed7.json" << QString(fixtures::kTinyFp32) << 7;
    QTest::newRow("random 2-head s0 seed 3") << "spec/reference/vectors/random2h_hello_s0seed3.json"
                                             << QString(fixtures::kRandom2h) << 3;
  }

  // Logits of the first and last token, final state norms, mean CE, with a non-zero S0 too.
  void oracleVectors() {
    QFETCH(QString, vector);
    QFETCH(QString, model);
    QFETCH(int, seed);
    REQUIRE_FIXTURE(vecPath, vector);
    REQUIRE_FIXTURE(modelPath, model);
    const auto ref = read_json(vecPath);
    std::vector<int> tokens;
    for (const auto& t : ref["tokens"].toArray()) tokens.push_back(t.toInt());

    auto m = rwkv::Model::load(modelPath.toStdString());
    const auto& d = m->dims();
    rwkv::Context ctx(m);
    if (seed >= 0) ctx.set_initial_state(sine_state(d, seed));
    const auto all = ctx.eval(tokens, /*all_logits=*/true);
    const size_t V = d.n_vocab, T = tokens.size();
    QCOMPARE(all.size(), T * V);
    const std::vector<float> first(all.begin(), all.begin() + V), last(all.end() - V, all.end());
    const double e_first = max_abs_diff(first, to_doubles(ref["logits_first"].toArray()));
    const double e_last = max_abs_diff(last, to_doubles(ref["logits_last"].toArray()));
    qInfo("max |logit - oracle|: first %.3g, last %.3g", e_first, e_last);
    QVERIFY(e_first <= 1e-4);
    QVERIFY(e_last <= 1e-4);

    // Final wkv state norms per layer.
    const auto st = ctx.wkv_state();
    const auto norms = to_doubles(ref["final_state"].toObject()["wkv_fro_norm_per_layer"].toArray());
    const size_t per_layer = size_t(d.n_head) * d.head_size * d.head_size;
    for (int l = 0; l < d.n_layer; ++l) {
      const double ours = frobenius(st.wkv, l * per_layer, per_layer);
      QVERIFY2(std::abs(ours - norms[l]) <= 1e-4 * std::max(1.0, norms[l]),
               qPrintable(QString("layer %1 wkv norm %2 vs oracle %3").arg(l).arg(ours).arg(norms[l])));
    }
    // Mean next-token cross-entropy.
    double ce = 0;
    for (size_t t = 0; t + 1 < T; ++t) {
      const float* lg = all.data() + t * V;
      const double mx = *std::max_element(lg, lg + V);
      double se = 0;
      for (size_t v = 0; v < V; ++v) se += std::exp(double(lg[v]) - mx);
      ce += mx + std::log(se) - lg[tokens[t + 1]];
    }
    ce /= double(T - 1);
    QVERIFY2(std::abs(ce - ref["loss_mean_ce"].toDouble()) < 1e-5,
             qPrintable(QString("loss %1 vs oracle %2").arg(ce).arg(ref["loss_mean_ce"].toDouble())));
  }

  // Sequence and step forwards agree, and splitting a sequence carries the whole state.
  void sequenceEqualsSteps() {
    REQUIRE_FIXTURE(modelPath, fixtures::kRandom2h);
    auto m = rwkv::Model::load(modelPath.toStdString());
    const std::vector<int> toks = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100};
    rwkv::Context a(m), b(m), c(m);
    a.set_initial_state(sine_state(m->dims(), 1));
    b.set_initial_state(sine_state(m->dims(), 1));
    c.set_initial_state(sine_state(m->dims(), 1));
    const auto la = a.eval(toks);
    std::vector<float> lb;
    for (int t : toks) lb = b.step(t);
    c.eval({toks.begin(), toks.begin() + 5});
    const auto lc = c.eval({toks.begin() + 5, toks.end()});
    double e_ab = 0, e_ac = 0;
    for (size_t i = 0; i < la.size(); ++i) {
      e_ab = std::max(e_ab, double(std::abs(la[i] - lb[i])));
      e_ac = std::max(e_ac, double(std::abs(la[i] - lc[i])));
    }
    qInfo("sequence vs step %.3g, sequence vs 5+7 split %.3g", e_ab, e_ac);
    QVERIFY(e_ab < 1e-4);
    QVERIFY(e_ac < 1e-4);
    const auto sa = a.full_state(), sb = b.full_state();
    for (size_t i = 0; i < sa.att_shift.size(); ++i) QVERIFY(std::abs(sa.att_shift[i] - sb.att_shift[i]) < 1e-5);
    for (size_t i = 0; i < sa.wkv.wkv.size(); ++i) QVERIFY(std::abs(sa.wkv.wkv[i] - sb.wkv.wkv[i]) < 1e-4);
    // reset() returns to the initial state exactly.
    a.reset();
    const auto again = a.eval(toks);
    QCOMPARE(again, la);
  }
};

QTEST_GUILESS_MAIN(FixtureParity)
#include "test_fixture_parity.moc"
