// Sampler: greedy, determinism per seed, top-k / top-p truncation, the sampled distribution
// against softmax(logits / T) (chi-square), the repetition penalty and non-finite logits.
// Expected distributions are computed here from the definitions, not taken from the sampler.
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/sampler.h"

using rwkv::Sampler;
using rwkv::SamplerParams;

namespace {

std::vector<float> random_logits(std::mt19937& g, int V, float scale = 3.0f) {
  std::normal_distribution<float> n(0.0f, scale);
  std::vector<float> z(V);
  for (auto& v : z) v = n(g);
  return z;
}

std::vector<double> softmax(const std::vector<double>& z) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  std::vector<double> p(z.size());
  double s = 0;
  for (size_t i = 0; i < z.size(); ++i) s += (p[i] = std::exp(z[i] - m));
  for (auto& v : p) v /= s;
  return p;
}

std::vector<double> counts_of(Sampler& s, const std::vector<float>& logits, int n,
                              const std::vector<int>& history = {}) {
  std::vector<double> c(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) c[s.sample(logits, history)] += 1;
  return c;
}

// Pearson chi-square of observed counts against expected probabilities; ids with p == 0 must
// never be drawn (returns +inf if one was).
double chi_square(const std::vector<double>& counts, const std::vector<double>& p, int n) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      if (counts[i] > 0) return std::numeric_limits<double>::infinity();
      continue;
    }
    const double e = p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

// Upper 0.1% points of chi-square for the degrees of freedom used below.
double chi_crit(int df) {
  switch (df) {
    case 1: return 10.83;
    case 2: return 13.82;
    case 3: return 16.27;
    case 5: return 20.52;
    case 7: return 24.32;
    case 9: return 27.88;
  }
  return 1e9;
}

}  // namespace

class TestSampler : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void greedyIsArgmax() {
    std::mt19937 g(1);
    SamplerParams p;
    p.temperature = 0.0f;
    Sampler s(p);
    for (int trial = 0; trial < 50; ++trial) {
      auto z = random_logits(g, 300);
      int best = 0;
      for (int i = 1; i < 300; ++i)
        if (z[i] > z[best]) best = i;
      QCOMPARE(s.sample(z, {}), best);
    }
    // Ties go to the lowest id; negative temperature is greedy as well.
    p.temperature = -1.0f;
    Sampler neg(p);
    QCOMPARE(neg.sample({0.5f, 2.0f, -1.0f, 2.0f, 2.0f}, {}), 1);
    QCOMPARE(neg.sample({-3.0f, -3.0f}, {}), 0);
  }

  // The repetition penalty also steers greedy decoding: a seen leader loses to the runner-up.
  void greedyAppliesRepetitionPenalty() {
    SamplerParams p;
    p.temperature = 0.0f;
    p.repetition_penalty = 2.0f;
    Sampler s(p);
    const std::vector<float> z = {3.0f, 2.0f, -1.0f};
    QCOMPARE(s.sample(z, {}), 0);      // nothing seen: plain argmax
    QCOMPARE(s.sample(z, {0}), 1);     // 3/2 = 1.5 < 2
    QCOMPARE(s.sample(z, {0, 1}), 0);  // both seen: 1.5 > 1.0
  }

  void sameSeedSameSequence() {
    std::mt19937 g(2);
    const auto z = random_logits(g, 50, 1.0f);  // flat enough that draws vary
    auto run = [&](uint64_t seed) {
      SamplerParams p;
      p.seed = seed;
      p.temperature = 1.0f;
      Sampler s(p);
      std::vector<int> out;
      for (int i = 0; i < 200; ++i) out.push_back(s.sample(z, {}));
      return out;
    };
    const auto a = run(7), b = run(7), c = run(8);
    QCOMPARE(a, b);
    QVERIFY(a != c);
    // The sequence actually varies (it is not stuck on one id).
    QVERIFY(std::count(a.begin(), a.end(), a[0]) < 200);
  }

  // The draw is the inverse CDF at u = top 53 bits of one mt19937_64 output / 2^53, so it is the
  // same with every standard library. With two equal logits, id 0 <=> u < 0.5 <=> top bit 0.
  void drawIsPortable() {
    SamplerParams p;
    p.seed = 12345;
    Sampler s(p);
    std::mt19937_64 engine(12345);
    for (int i = 0; i < 256; ++i) QCOMPARE(s.sample({1.5f, 1.5f}, {}), static_cast<int>(engine() >> 63));
  }

  void topK1IsGreedy() {
    std::mt19937 g(3);
    SamplerParams p;
    p.top_k = 1;
    p.temperature = 1.5f;
    Sampler s(p);
    SamplerParams gp;
    gp.temperature = 0;
    Sampler greedy(gp);
    for (int trial = 0; trial < 100; ++trial) {
      auto z = random_logits(g, 200, 0.5f);
      QCOMPARE(s.sample(z, {}), greedy.sample(z, {}));
    }
  }

  void tinyTopPIsGreedy() {
    std::mt19937 g(4);
    SamplerParams p;
    p.top_p = 1e-6f;
    p.temperature = 2.0f;
    Sampler s(p);
    SamplerParams gp;
    gp.temperature = 0;
    Sampler greedy(gp);
    for (int trial = 0; trial < 100; ++trial) {
      auto z = random_logits(g, 200, 0.5f);
      QCOMPARE(s.sample(z, {}), greedy.sample(z, {}));
    }
  }

  void frequenciesMatchSoftmax_data() {
    QTest::addColumn<float>("temperature");
    QTest::newRow("T=1") << 1.0f;
    QTest::newRow("T=0.6") << 0.6f;
    QTest::newRow("T=2.5") << 2.5f;
  }
  void frequenciesMatchSoftmax() {
    QFETCH(float, temperature);
    const std::vector<float> z = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.3f, -1.0f, 0.7f};
    std::vector<double> zt;
    for (float v : z) zt.push_back(static_cast<double>(v) / temperature);
    const auto expected = softmax(zt);
    SamplerParams p;
    p.temperature = temperature;
    p.seed = 99;
    Sampler s(p);
    const int n = 200000;
    const auto c = counts_of(s, z, n);
    const double chi = chi_square(c, expected, n);
    QVERIFY2(chi < chi_crit(7), qPrintable(QString("chi-square %1 >= %2").arg(chi).arg(chi_crit(7))));
    // A wrong temperature would be detected: the same counts against softmax(z) (T = 1) fail.
    if (temperature != 1.0f) {
      std::vector<double> z1(z.begin(), z.end());
      QVERIFY(chi_square(c, softmax(z1), n) > 10 * chi_crit(7));
    }
  }

  // top-k keeps the k largest, renormalised; top-p keeps the shortest sorted prefix reaching p.
  void truncatedFrequencies() {
    const std::vector<float> z = {0.1f, 2.0f, 1.0f, -1.0f, 1.5f, 0.0f};
    const int n = 100000;
    {
      SamplerParams p;
      p.top_k = 3;  // ids 1, 4, 2
      Sampler s(p);
      auto e = softmax({-1e300, 2.0, 1.0, -1e300, 1.5, -1e300});
      for (int i : {0, 3, 5}) e[i] = 0;
      QVERIFY(chi_square(counts_of(s, z, n), e, n) < chi_crit(2));
    }
    {
      // softmax(z): id1 .433, id4 .263, id2 .159, id0 .065, id5 .059, id3 .022.
      // top_p 0.8: .433 + .263 = .696 < .8, + .159 = .855 >= .8 -> keep ids 1, 4, 2.
      std::vector<double> full(z.begin(), z.end());
      const auto pf = softmax(full);
      QVERIFY(pf[1] + pf[4] < 0.8 && pf[1] + pf[4] + pf[2] >= 0.8);
      SamplerParams p;
      p.top_p = 0.8f;
      Sampler s(p);
      std::vector<double> e(6, 0.0);
      for (int i : {1, 4, 2}) e[i] = pf[i] / (pf[1] + pf[4] + pf[2]);
      QVERIFY(chi_square(counts_of(s, z, n), e, n) < chi_crit(2));
    }
  }

  void repetitionPenalty() {
    // Token 0 (positive logit) and token 2 (negative logit) were seen; CTRL-style penalty 1.8
    // gives 1.2 / 1.8 and -1.5 * 1.8. Token 0 appears twice in the history but counts once.
    const std::vector<float> z = {1.2f, 0.9f, -1.5f, 0.3f};
    const std::vector<int> history = {0, 2, 0};
    const int n = 200000;
    SamplerParams p;
    p.repetition_penalty = 1.8f;
    p.seed = 5;
    Sampler s(p);
    const auto c = counts_of(s, z, n, history);
    const auto e = softmax({1.2 / 1.8, 0.9, -1.5 * 1.8, 0.3});
    QVERIFY(chi_square(c, e, n) < chi_crit(3));

    SamplerParams off;
    off.seed = 5;
    Sampler plain(off);
    const auto c0 = counts_of(plain, z, n, history);
    QVERIFY2(c[0] < 0.8 * c0[0], "the penalty lowers a seen positive-logit token");
    QVERIFY2(c[2] < 0.8 * c0[2], "the penalty lowers a seen negative-logit token");
    QVERIFY2(c[1] > c0[1], "unseen tokens gain");
  }

  void nonFiniteLogitsThrow() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (float temperature : {0.0f, 1.0f}) {
      SamplerParams p;
      p.temperature = temperature;
      Sampler s(p);
      for (float bad : {nan, inf, -inf}) {
        try {
          s.sample({0.1f, bad, 0.3f}, {});
          QFAIL("expected rwkv::Error(NonFinite)");
        } catch (const rwkv::Error& e) {
          QCOMPARE(e.kind(), rwkv::ErrorKind::NonFinite);
          QVERIFY2(QString(e.what()).contains("token 1"), e.what());
        }
      }
    }
  }

  void badParamsThrow() {
    auto expect_argument = [](SamplerParams p) {
      try {
        Sampler s(p);
        QFAIL("expected rwkv::Error(Argument)");
      } catch (const rwkv::Error& e) {
        QCOMPARE(e.kind(), rwkv::ErrorKind::Argument);
      }
    };
    SamplerParams p;
    p.top_p = 0.0f;
    expect_argument(p);
    p = {};
    p.top_k = -1;
    expect_argument(p);
    p = {};
    p.repetition_penalty = 0.0f;
    expect_argument(p);
  }
};

QTEST_GUILESS_MAIN(TestSampler)
#include "test_sampler.moc"
