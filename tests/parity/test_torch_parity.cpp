// Parity with independent implementations on checkpoints written by real torch: a random RWKV-7
// (L=2, C=256, H=4, vocab 1000, LoRA widths all different, layer 0 without v0/v1/v2) saved as
// .pth fp32, .pth bf16, .pth OrderedDict and .safetensors by tests/python/make_random_model.py,
// compared over 64 tokens with the numpy oracle (float64) and the PyPI `rwkv` package.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "fixtures.h"
#include "python.h"
#include "rwkv/context.h"
#include "rwkv/model.h"

namespace {

// Flattens nested JSON arrays of numbers.
void flatten(const QJsonValue& v, std::vector<double>* out) {
  if (v.isArray())
    for (const auto& x : v.toArray()) flatten(x, out);
  else
    out->push_back(v.toDouble());
}

std::vector<double> flat(const QJsonValue& v) {
  std::vector<double> out;
  flatten(v, &out);
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

class TorchParity : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QJsonObject ref_;
  std::vector<int> tokens_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    RUN_PYTHON("make_random_model.py", (QStringList{"--out", dir_.path()}));
    QFile f(dir_.filePath("reference.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    ref_ = QJsonDocument::fromJson(f.readAll()).object();
    for (const auto& t : ref_["tokens"].toArray()) tokens_.push_back(t.toInt());
    QCOMPARE(tokens_.size(), size_t(64));
  }

  void logitsAndStates_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("precision");
    QTest::addColumn<QString>("impl");
    QTest::newRow("pth fp32 vs oracle") << "model_fp32.pth" << "fp32" << "oracle";
    QTest::newRow("pth fp32 vs rwkv package") << "model_fp32.pth" << "fp32" << "rwkv_pkg";
    QTest::newRow("pth OrderedDict vs oracle") << "model_od.pth" << "fp32" << "oracle";
    QTest::newRow("safetensors vs oracle") << "model_fp32.safetensors" << "fp32" << "oracle";
    QTest::newRow("pth bf16 vs oracle") << "model_bf16.pth" << "bf16" << "oracle";
  }

  void logitsAndStates() {
    QFETCH(QString, file);
    QFETCH(QString, precision);
    QFETCH(QString, impl);
    const auto r = ref_[precision].toObject()[impl].toObject();
    QVERIFY2(!r.isEmpty(), qPrintable("reference has no " + precision + "/" + impl));
    auto m = rwkv::Model::load(dir_.filePath(file).toStdString());
    const auto& d = m->dims();
    QCOMPARE(d.n_layer, 2);
    QCOMPARE(d.n_embd, 256);
    QCOMPARE(d.n_head, 4);
    QCOMPARE(d.n_vocab, 1000);
    QCOMPARE(d.d_decay, 40);
    QCOMPARE(d.d_aaa, 24);
    QCOMPARE(d.d_mv, 16);
    QCOMPARE(d.d_gate, 56);

    rwkv::Context ctx(m);
    const auto logits = ctx.eval(tokens_, true);
    const auto st = ctx.full_state();
    const double e_logits = max_abs_diff(logits, flat(r["logits"]));
    const double e_wkv = max_abs_diff(st.wkv.wkv, flat(r["wkv"]));
    const double e_att = max_abs_diff(st.att_shift, flat(r["att_shift"]));
    const double e_ffn = max_abs_diff(st.ffn_shift, flat(r["ffn_shift"]));
    qInfo("max abs error: logits %.3g, wkv %.3g, att_shift %.3g, ffn_shift %.3g", e_logits, e_wkv, e_att, e_ffn);
    QVERIFY2(e_logits <= 1e-3, qPrintable(QString("logits off by %1").arg(e_logits)));
    QVERIFY2(e_wkv <= 1e-3, qPrintable(QString("wkv state off by %1").arg(e_wkv)));
    QVERIFY(e_att <= 1e-3);
    QVERIFY(e_ffn <= 1e-3);

    // The step forward over the same tokens lands on the same logits.
    rwkv::Context stepper(m);
    std::vector<float> last;
    for (int t : tokens_) last = stepper.step(t);
    const std::vector<float> seq_last(logits.end() - d.n_vocab, logits.end());
    double e_step = 0;
    for (size_t i = 0; i < last.size(); ++i) e_step = std::max(e_step, double(std::abs(last[i] - seq_last[i])));
    QVERIFY2(e_step <= 1e-4, qPrintable(QString("step vs sequence %1").arg(e_step)));
  }
};

QTEST_GUILESS_MAIN(TorchParity)
#include "test_torch_parity.moc"
