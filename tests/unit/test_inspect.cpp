// The inspector's engine API (rwkv/inspect.h) and `rwkv-tune inspect`, on the tiny rwkv.cpp fixture
// with a random initial state: the state matrices and norms at every token equal the engine's
// state after t single steps (Context::step), the zero-state trajectory equals a zero-state
// context's, the transition spectra equal numpy's eigenvalues of diag(w) + a b^T computed by the
// float64 reference in ../shared/spec/reference (tests/python/inspect_oracle.py), an answer is the
// greedy generate() continuation, and the CLI's JSON carries the same numbers.
#include <QObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "fixtures.h"
#include "python.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/generate.h"
#include "rwkv/inspect.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"

namespace {

const std::string kPrompt = rwkv::chat_prompt("Hi, how are you?");

rwkv::InitialState random_state(const rwkv::ModelDims& d, float scale, unsigned seed) {
  auto s = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  for (float& x : s.wkv) x = nd(rng);
  return s;
}

// ||S[l]||_F over all heads, and S[l][h] of a context's current state.
double layer_norm(const rwkv::InitialState& s, int l) {
  double acc = 0;
  const size_t n = static_cast<size_t>(s.n_head) * s.head_size * s.head_size;
  for (size_t i = 0; i < n; ++i) acc += double(s.wkv[s.index(l, 0, 0, 0) + i]) * s.wkv[s.index(l, 0, 0, 0) + i];
  return std::sqrt(acc);
}

double max_rel(const float* a, const float* b, size_t n) {
  double m = 0, scale = 1e-3;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(double(b[i])));
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m / scale;
}

// (re, im) pairs sorted the engine's way: real part descending, then imaginary part descending.
std::vector<std::pair<double, double>> sorted_pairs(std::vector<std::pair<double, double>> v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  return v;
}

}  // namespace

class TestInspect : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString model_path_;
  std::shared_ptr<const rwkv::Model> model_;
  rwkv::InitialState s0_;

 private Q_SLOTS:
  void initTestCase() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    model_path_ = tiny;
    model_ = rwkv::Model::load(tiny.toStdString());
    s0_ = random_state(model_->dims(), 0.5f, 3);
  }

  // S_t and the norms of every t equal the engine's state after t single steps.
  void statesEqualStepForward() {
    auto tok = rwkv::make_byte_tokenizer();
    const int layer = 5;
    rwkv::InspectOptions opt;
    opt.matrices_layer = layer;
    opt.spectra_layer = -2;
    const rwkv::Inspection in = rwkv::inspect(model_, *tok, kPrompt, s0_, opt);
    const std::vector<int> ids = tok->encode(kPrompt);
    QCOMPARE(in.n_tokens, static_cast<int>(ids.size()));
    QCOMPARE(in.tokens, ids);
    QCOMPARE(in.n_prompt_tokens, in.n_tokens);
    const int L = in.n_layer, N = in.head_size;

    rwkv::Context tuned(model_), zero(model_);
    tuned.set_initial_state(s0_);
    for (int t = 0; t <= in.n_tokens; ++t) {
      if (t > 0) {
        tuned.step(ids[t - 1]);
        zero.step(ids[t - 1]);
      }
      const rwkv::InitialState s = tuned.wkv_state(), z = zero.wkv_state();
      const double err = max_rel(in.matrix(t, 0), s.wkv.data() + s.index(layer, 0, 0, 0), static_cast<size_t>(N) * N);
      QVERIFY2(err < 1e-4, qPrintable(QString("S_%1 of layer %2 differs from the step forward by %3").arg(t).arg(layer).arg(err)));
      for (int l = 0; l < L; ++l) {
        const double want = layer_norm(s, l), got = in.norm[in.traj_index(t, l)];
        QVERIFY2(std::fabs(got - want) <= 1e-4 * std::max(1.0, want),
                 qPrintable(QString("norm t=%1 l=%2: %3 vs %4").arg(t).arg(l).arg(got).arg(want)));
        const double zw = layer_norm(z, l);
        QVERIFY(std::fabs(in.zero_norm[in.traj_index(t, l)] - zw) <= 1e-4 * std::max(1.0, zw));
        double dist = 0;
        for (int i = 0; i < N * N; ++i) {
          const double dd = double(s.wkv[s.index(l, 0, 0, 0) + i]) - z.wkv[z.index(l, 0, 0, 0) + i];
          dist += dd * dd;
        }
        QVERIFY(std::fabs(in.zero_distance[in.traj_index(t, l)] - std::sqrt(dist)) <= 1e-4 * std::max(1.0, std::sqrt(dist)));
      }
    }
    // The change per token is the distance between consecutive states.
    QCOMPARE(in.delta[in.traj_index(0, 0)], 0.0f);
    QVERIFY(in.delta[in.traj_index(3, layer)] > 0);
    // The tuned and the zero runs start apart and stay apart.
    QVERIFY(in.zero_distance[in.traj_index(0, layer)] > 1.0f);
  }

  // Transition spectra equal numpy's eigenvalues from the float64 reference forward.
  void spectraEqualNumpy() {
    auto tok = rwkv::make_byte_tokenizer();
    const rwkv::Inspection in = rwkv::inspect(model_, *tok, kPrompt, s0_, {});
    QCOMPARE(in.spectra_layer, -1);
    const QString s0_path = dir_.filePath("s0.f32"), out = dir_.filePath("oracle.json");
    {
      std::ofstream f(s0_path.toStdString(), std::ios::binary);
      f.write(reinterpret_cast<const char*>(s0_.wkv.data()), static_cast<std::streamsize>(s0_.wkv.size() * 4));
    }
    QStringList ids;
    for (int t : in.tokens) ids << QString::number(t);
    RUN_PYTHON("inspect_oracle.py", (QStringList{"--model", model_path_, "--tokens", ids.join(','), "--s0", s0_path,
                                                  "--out", out}));
    std::ifstream f(out.toStdString());
    const auto j = nlohmann::json::parse(f);
    const int T = in.n_tokens, L = in.n_layer, H = in.n_head, N = in.head_size;
    QCOMPARE(static_cast<int>(j["eig"].size()), T);
    double worst = 0, most_negative = 1, smallest_max = 1;
    for (int t = 0; t < T; ++t)
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
          std::vector<std::pair<double, double>> want;
          for (const auto& z : j["eig"][t][l][h]) want.push_back({z[0].get<double>(), z[1].get<double>()});
          want = sorted_pairs(want);
          const float* got = in.eigenvalues(t, l, h);
          for (int i = 0; i < N; ++i)
            worst = std::max({worst, std::fabs(got[2 * i] - want[i].first), std::fabs(got[2 * i + 1] - want[i].second)});
          most_negative = std::min(most_negative, want.back().first);
          smallest_max = std::min(smallest_max, want.front().first);
        }
    qInfo("spectra vs numpy: max |diff| %.2e over %d tokens x %d layers; eigenvalues in [%.3f, ...], top >= %.4f", worst,
          T, L, most_negative, smallest_max);
    QVERIFY2(worst < 2e-4, qPrintable(QString("max |diff| %1").arg(worst)));
    // The reference's own norms agree with ours too (float64 vs float32).
    for (int l = 0; l < L; ++l)
      QVERIFY(std::fabs(j["norm"][T][l].get<double>() - in.norm[in.traj_index(T, l)]) <
              1e-3 * std::max(1.0, j["norm"][T][l].get<double>()));
  }

  void answerIsGreedyContinuation() {
    auto tok = rwkv::make_byte_tokenizer();
    rwkv::InspectOptions opt;
    opt.answer_tokens = 12;
    const rwkv::Inspection in = rwkv::inspect(model_, *tok, kPrompt, s0_, opt);
    rwkv::Context ctx(model_);
    ctx.set_initial_state(s0_);
    const rwkv::GenerateResult g = rwkv::generate(ctx, *tok, kPrompt, rwkv::eval_generate_params(12));
    std::vector<int> want = tok->encode(kPrompt);
    want.insert(want.end(), g.tokens.begin(), g.tokens.end());
    QCOMPARE(in.tokens, want);
    QCOMPARE(in.n_prompt_tokens, static_cast<int>(tok->encode(kPrompt).size()));
    QCOMPARE(static_cast<int>(in.pieces.size()), in.n_tokens);

    opt.matrices_layer = 99;
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::inspect(model_, *tok, kPrompt, s0_, opt));
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::inspect(model_, *tok, "", s0_, {}));
  }

  // `rwkv-tune inspect --json` reports what the API computes.
  void cliJsonEqualsApi() {
    const QString state = dir_.filePath("s.rwkvstate");
    rwkv::save_state(state.toStdString(), s0_, rwkv::StateFormat::Ours);
    const QStringList args{"inspect", "--model", model_path_, "--state", state, "--prompt",
                           QString::fromStdString(kPrompt), "--matrices-layer", "2", "--answer-tokens", "3", "--json"};
    QProcess p;
    p.start(QString(RWKV_TUNE_EXE), args);
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());

    auto tok = rwkv::make_byte_tokenizer();
    rwkv::InspectOptions opt;
    opt.matrices_layer = 2;
    opt.answer_tokens = 3;
    const rwkv::Inspection in = rwkv::inspect(model_, *tok, kPrompt, s0_, opt);
    QCOMPARE(j["n_tokens"].get<int>(), in.n_tokens);
    QCOMPARE(j["tokens"].size(), in.tokens.size());
    for (size_t t = 0; t < in.tokens.size(); ++t) QCOMPARE(j["tokens"][t]["id"].get<int>(), in.tokens[t]);
    const int T = in.n_tokens;
    for (int t : {0, T / 2, T})
      for (int l = 0; l < in.n_layer; ++l) {
        QCOMPARE(j["norm"][t][l].get<float>(), in.norm[in.traj_index(t, l)]);
        QCOMPARE(j["zero_distance"][t][l].get<float>(), in.zero_distance[in.traj_index(t, l)]);
      }
    QCOMPARE(j["matrices"].size(), static_cast<size_t>(T + 1));
    QCOMPARE(j["matrices"][T][0][7][9].get<float>(), in.matrix(T, 0)[7 * in.head_size + 9]);
    QCOMPARE(j["spectra"][T - 1][4][0][0][0].get<float>(), in.eigenvalues(T - 1, 4, 0)[0]);

    QProcess table;
    table.start(QString(RWKV_TUNE_EXE), QStringList{"inspect", "--model", model_path_, "--prompt", "abc"});
    QVERIFY(table.waitForFinished(60000));
    QCOMPARE(table.exitCode(), 0);
    QCOMPARE(table.readAllStandardOutput().count('\n'), 5);  // header, S0, three tokens
  }
};

QTEST_GUILESS_MAIN(TestInspect)
#include "test_inspect.moc"
