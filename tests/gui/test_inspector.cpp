// The inspector view on the tiny rwkv.cpp fixture with a random initial state, through the real
// worker thread: the heatmap at token t shows the engine's state after t single steps
// (Context::step), the spectrum plot at token t shows numpy's eigenvalues of diag(w_t) + a_t b_t^T
// from the float64 reference forward (tests/python/inspect_oracle.py), the norm curves and the
// trajectory against the zero state follow the step forward, and changing the layer re-runs.
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "analysis_session.h"
#include "fixtures.h"
#include "gui_support.h"
#include "inspector_view.h"
#include "python.h"
#include "qcp.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/inspect.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "series_plot.h"
#include "state_heatmap.h"

class TestInspector : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gui::isolateAppDirs(tmp_.path());
  }

  void heatmapSpectrumAndCurves() {
    REQUIRE_FIXTURE(modelPath, fixtures::kTinyFp32);
    auto model = rwkv::Model::load(modelPath.toStdString());
    const auto& d = model->dims();
    auto s0 = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    for (float& x : s0.wkv) x = nd(rng);
    const QString statePath = tmp_.filePath("s.rwkvstate");
    rwkv::save_state(statePath.toStdString(), s0, rwkv::StateFormat::Ours);

    AnalysisSession session;
    InspectorView view(&session);
    view.resize(1300, 850);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const std::string prompt = rwkv::chat_prompt("Where is the key?");
    view.setModel({modelPath, ""});
    view.setPrompt(QString::fromStdString(prompt));
    view.setStatePath(statePath);
    view.setAnswerTokens(6);
    const int layer = 7;
    view.setLayer(layer);
    QSignalSpy shown(&view, &InspectorView::inspected);
    QTest::mouseClick(gui::child<QPushButton>(&view, "inspectRun"), Qt::LeftButton);
    QVERIFY(shown.wait(60000));
    const auto in = view.inspection();
    QVERIFY(in);
    const int T = in->n_tokens, N = d.head_size;
    QVERIFY(T > in->n_prompt_tokens);  // the answer tokens are there
    QCOMPARE(view.scrubber()->maximum(), T);

    // The numpy oracle for the same tokens and S0.
    const QString s0Raw = tmp_.filePath("s0.f32"), oracle = tmp_.filePath("oracle.json");
    {
      std::ofstream f(s0Raw.toStdString(), std::ios::binary);
      f.write(reinterpret_cast<const char*>(s0.wkv.data()), static_cast<std::streamsize>(s0.wkv.size() * 4));
    }
    QStringList ids;
    for (int t : in->tokens) ids << QString::number(t);
    RUN_PYTHON("inspect_oracle.py", (QStringList{"--model", modelPath, "--tokens", ids.join(','), "--s0", s0Raw, "--out", oracle}));
    std::ifstream of(oracle.toStdString());
    const auto j = nlohmann::json::parse(of);

    rwkv::Context ctx(model);
    ctx.set_initial_state(s0);
    for (int t = 0; t <= T; ++t) {
      if (t > 0) ctx.step(in->tokens[t - 1]);
      view.setToken(t);
      // Heatmap = S_t of the layer, head 0, from the step forward.
      const rwkv::InitialState s = ctx.wkv_state();
      const QVector<double>& shownValues = view.heatmap()->shownValues();
      QCOMPARE(shownValues.size(), N * N);
      QCOMPARE(view.heatmap()->shownStep(), t);
      double err = 0, scale = 1e-3;
      for (int k = 0; k < N * N; ++k) {
        const double want = s.wkv[s.index(layer, 0, 0, 0) + k];
        scale = std::max(scale, std::fabs(want));
        err = std::max(err, std::fabs(shownValues[k] - want));
      }
      QVERIFY2(err / scale < 1e-4, qPrintable(QString("heatmap at t=%1 differs by %2 (scale %3)").arg(t).arg(err).arg(scale)));

      // Spectrum plot = numpy's eigenvalues of the transition applied at token t.
      QCustomPlot* sp = view.spectrumPlot();
      if (t == 0) {
        QCOMPARE(sp->graphCount(), 0);
        continue;
      }
      QCOMPARE(sp->graphCount(), d.n_head);
      std::vector<std::pair<double, double>> got, want;
      for (auto it = sp->graph(0)->data()->constBegin(); it != sp->graph(0)->data()->constEnd(); ++it)
        got.push_back({it->key, it->value});
      for (const auto& z : j["eig"][t - 1][layer][0]) want.push_back({z[0].get<double>(), z[1].get<double>()});
      QCOMPARE(got.size(), want.size());
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      double eerr = 0;
      for (size_t i = 0; i < got.size(); ++i)
        eerr = std::max({eerr, std::fabs(got[i].first - want[i].first), std::fabs(got[i].second - want[i].second)});
      QVERIFY2(eerr < 2e-4, qPrintable(QString("spectrum at t=%1 differs from numpy by %2").arg(t).arg(eerr)));
    }

    // Norm curves: one per layer, T+1 points, ending at the reference's norms.
    QCOMPARE(view.normPlot()->seriesCount(), d.n_layer);
    QCOMPARE(view.normPlot()->dataCount(), T + 1);
    for (int l = 0; l < d.n_layer; ++l) {
      const double got = (view.normPlot()->plot()->graph(l)->data()->constEnd() - 1)->value;
      const double want = j["norm"][T][l].get<double>();
      QVERIFY2(std::fabs(got - want) < 1e-3 * std::max(1.0, want), qPrintable(QString("layer %1: %2 vs %3").arg(l).arg(got).arg(want)));
    }
    QCOMPARE(view.deltaPlot()->dataCount(), T);
    // Trajectory: tuned, zero, distance; the distance starts at ||S0[layer]||.
    QCustomPlot* tr = view.trajectoryPlot();
    QCOMPARE(tr->graphCount(), 3);
    double s0norm = 0;
    for (int k = 0; k < N * N; ++k) s0norm += double(s0.wkv[s0.index(layer, 0, 0, 0) + k]) * s0.wkv[s0.index(layer, 0, 0, 0) + k];
    QVERIFY(std::fabs(tr->graph(2)->data()->constBegin()->value - std::sqrt(s0norm)) < 1e-3 * std::sqrt(s0norm));
    QCOMPARE(tr->graph(1)->data()->constBegin()->value, 0.0);  // the zero run starts at zero

    // Another layer: a new run for it.
    shown.clear();
    view.setLayer(2);
    QVERIFY(shown.wait(60000));
    QCOMPARE(view.inspection()->matrices_layer, 2);
  }

  // Compare with guide (method note section 5): the demo student and the demo guide on the same
  // prompt; the guide reads the student's tokens (prompt and answer) from its zero state, and both
  // series pairs hold the engine's numbers (inspect / inspect_tokens) at every token and layer.
  void compareWithGuide() {
    const QString student = fixtures::sourceDir() + "/resources/models/demo-small.safetensors";
    const QString guide = fixtures::sourceDir() + "/resources/models/demo-guide.safetensors";
    const QString spm = fixtures::sourceDir() + "/resources/models/demo.model";
    AnalysisSession session;
    InspectorView view(&session);
    view.resize(1300, 850);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const std::string prompt = rwkv::chat_prompt("Where does Kleenzem live?");
    view.setModel({student, ""});
    view.setPrompt(QString::fromStdString(prompt));
    view.setAnswerTokens(8);
    view.setLayer(0);
    QVERIFY(!view.guideNormPlot()->isVisible());
    view.setCompareWithGuide(true);
    view.setGuidePath(guide);
    QVERIFY(view.guideNormPlot()->isVisibleTo(&view));
    QSignalSpy shown(&view, &InspectorView::inspected);
    QTest::mouseClick(gui::child<QPushButton>(&view, "inspectRun"), Qt::LeftButton);
    QVERIFY(shown.wait(60000));
    const auto in = view.inspection();
    const auto gin = view.guideInspection();
    QVERIFY(in && gin);
    QCOMPARE(gin->tokens, in->tokens);  // the same text, answer included
    QVERIFY(in->n_tokens > in->n_prompt_tokens);

    // The engine's numbers, computed here independently of the worker.
    const auto tok = rwkv::load_tokenizer(spm.toStdString());
    const auto sm = rwkv::Model::load(student.toStdString()), gm = rwkv::Model::load(guide.toStdString());
    rwkv::InspectOptions so;
    so.answer_tokens = 8;
    const rwkv::Inspection want_s = rwkv::inspect(sm, *tok, prompt, {}, so);
    const rwkv::Inspection want_g = rwkv::inspect_tokens(gm, *tok, want_s.tokens, want_s.n_prompt_tokens, {});
    QCOMPARE(want_s.tokens, in->tokens);
    QCOMPARE(gin->n_layer, gm->dims().n_layer);
    QVERIFY(gin->n_layer != in->n_layer);  // 6 and 4 layers: two plots side by side, not one
    const int T = in->n_tokens;
    const auto check = [&](SeriesPlot* plot, const rwkv::Inspection& want, const std::vector<float>& v, bool delta) {
      QCOMPARE(plot->seriesCount(), want.n_layer);
      QCOMPARE(plot->dataCount(), delta ? T : T + 1);
      for (int l = 0; l < want.n_layer; ++l) {
        auto it = plot->plot()->graph(l)->data()->constBegin();
        for (int t = delta ? 1 : 0; t <= T; ++t, ++it) {
          QCOMPARE(it->key, double(t));
          const double w = v[want.traj_index(t, l)];
          QVERIFY2(std::fabs(it->value - w) <= 1e-5 * std::max(1.0, std::fabs(w)),
                   qPrintable(QString("layer %1 t %2: %3 vs the engine's %4").arg(l).arg(t).arg(it->value).arg(w)));
        }
      }
    };
    check(view.normPlot(), want_s, want_s.norm, false);
    check(view.deltaPlot(), want_s, want_s.delta, true);
    check(view.guideNormPlot(), want_g, want_g.norm, false);
    check(view.guideDeltaPlot(), want_g, want_g.delta, true);
    QVERIFY(gui::child<QLabel>(&view, "inspectStatus")->text().contains("guide demo-guide.safetensors"));

    // Unticked: a plain run, the guide plots hidden and emptied.
    view.setCompareWithGuide(false);
    shown.clear();
    QTest::mouseClick(gui::child<QPushButton>(&view, "inspectRun"), Qt::LeftButton);
    QVERIFY(shown.wait(60000));
    QVERIFY(!view.guideInspection());
    QCOMPARE(view.guideNormPlot()->dataCount(), 0);
    QVERIFY(!view.guideNormPlot()->isVisible());
  }
};

QTEST_MAIN(TestInspector)
#include "test_inspector.moc"
