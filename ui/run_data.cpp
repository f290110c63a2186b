#include "run_data.h"

#include <QFile>
#include <QMap>
#include <QTextStream>
#include <cmath>

void RunData::clear() {
  info_ = {};
  steps_.clear();
  evals_.clear();
}

void RunData::add(const MetricsBatch& batch) {
  if (batch.info) info_ = *batch.info;
  const int heads = std::max(1, info_.n_head);
  for (const auto& m : batch.steps) {
    Step s{m.step, m.epoch, m.loss, m.lr, m.grad_norm, m.tokens_per_s, m.elapsed_s, m.memory_bytes, m.skipped,
           m.grad_norm_layer, {}};
    const size_t layers = m.state_norm.size() / heads;
    s.state_norm_layer.assign(layers, 0.0f);
    for (size_t l = 0; l < layers; ++l) {
      double sq = 0;
      for (int h = 0; h < heads; ++h) sq += double(m.state_norm[l * heads + h]) * m.state_norm[l * heads + h];
      s.state_norm_layer[l] = static_cast<float>(std::sqrt(sq));
    }
    steps_.push_back(std::move(s));
  }
  evals_.insert(evals_.end(), batch.evals.begin(), batch.evals.end());
}

bool RunData::writeCsv(const QString& path, QString* error) const {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
    if (error) *error = QString("cannot write %1: %2").arg(path, f.errorString());
    return false;
  }
  QMap<int, double> evalAt;
  for (const auto& e : evals_) evalAt[e.step] = e.eval_loss;
  const size_t layers = steps_.empty() ? 0 : steps_.front().grad_norm_layer.size();
  QTextStream out(&f);
  out << "step,epoch,loss,eval_loss,lr,grad_norm,tokens_per_s,memory_bytes,elapsed_s,skipped";
  for (size_t l = 0; l < layers; ++l) out << ",grad_norm_l" << l;
  for (size_t l = 0; l < layers; ++l) out << ",state_norm_l" << l;
  out << "\n";
  const auto g = [](double v) { return QString::number(v, 'g', 9); };
  // An eval before the first step (the baseline) gets a row of its own.
  if (evalAt.contains(0)) out << "0,0,," << g(evalAt[0]) << ",,,,,,0" << QString(",").repeated(2 * layers) << "\n";
  for (const Step& s : steps_) {
    out << s.step << "," << s.epoch << "," << g(s.loss) << "," << (evalAt.contains(s.step) ? g(evalAt[s.step]) : "")
        << "," << g(s.lr) << "," << g(s.grad_norm) << "," << g(s.tokens_per_s) << "," << s.memory_bytes << ","
        << g(s.elapsed_s) << "," << (s.skipped ? 1 : 0);
    for (size_t l = 0; l < layers; ++l) out << "," << (l < s.grad_norm_layer.size() ? g(s.grad_norm_layer[l]) : "");
    for (size_t l = 0; l < layers; ++l) out << "," << (l < s.state_norm_layer.size() ? g(s.state_norm_layer[l]) : "");
    out << "\n";
  }
  out.flush();
  if (f.error() != QFile::NoError) {
    if (error) *error = QString("writing %1 failed: %2").arg(path, f.errorString());
    return false;
  }
  return true;
}
