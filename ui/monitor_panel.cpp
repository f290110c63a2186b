#include "monitor_panel.h"

#include "qcp.h"

#include <QLabel>
#include <cmath>

#include "decor_panel.h"
#include "loss_plot.h"
#include "series_plot.h"
#include "state_heatmap.h"

MonitorPanel::MonitorPanel(QWidget* parent)
    : QTabWidget(parent),
      loss_(new LossPlot),
      lr_(new SeriesPlot("learning rate", false)),
      grad_(new SeriesPlot("gradient norm (before clipping)", true)),
      norm_(new SeriesPlot("‖S0‖ Frobenius norm", false)),
      rank_(new SeriesPlot("effective rank (mean over heads)", false)),
      heatmap_(new StateHeatmap),
      decor_(new DecorPanel) {
  setObjectName("monitorTabs");
  loss_->setObjectName("lossPlot");
  lr_->setObjectName("lrPlot");
  grad_->setObjectName("gradPlot");
  norm_->setObjectName("stateNormPlot");
  rank_->setObjectName("rankPlot");
  heatmap_->setObjectName("stateHeatmap");
  addTab(loss_, "Loss");
  addTab(lr_, "Learning rate");
  addTab(grad_, "Grad norm / layer");
  addTab(heatmap_, "State heatmap");
  addTab(norm_, "State norm / layer");
  addTab(rank_, "Effective rank / layer");
  decor_->setObjectName("decorPanel");
  addTab(decor_, "Decorrelation");
  setTabToolTip(indexOf(decor_), "DBP: decorrelation statistics of the kernel features per layer, and their covariance");
  lr_->setSeries({"lr"});
  clear();
}

void MonitorPanel::clear() {
  loss_->clear();
  lr_->clear();
  setLayers(0);
  heatmap_->clear();
  decor_->clear();
}

void MonitorPanel::setLayers(int n_layer) {
  nLayer_ = n_layer;
  QStringList names;
  for (int l = 0; l < n_layer; ++l) names << QString("layer %1").arg(l);
  grad_->setSeries(names);
  norm_->setSeries(names);
  rank_->setSeries(names);
}

void MonitorPanel::apply(const MetricsBatch& batch) {
  if (batch.info) {
    nHead_ = std::max(1, batch.info->n_head);
    if (batch.info->n_layer != nLayer_) setLayers(batch.info->n_layer);
    decor_->setShape(batch.info->n_layer, batch.info->n_head);
  }
  for (const auto& d : batch.decor) decor_->add(d);
  if (batch.covariance) decor_->setCovariance(*batch.covariance);
  if (!batch.decor.empty()) decor_->refresh();
  for (const auto& m : batch.steps) {
    const double x = m.step;
    if (!m.skipped) loss_->addTrain(x, m.loss);
    lr_->append(x, {m.lr});
    grad_->append(x, std::vector<double>(m.grad_norm_layer.begin(), m.grad_norm_layer.end()));
    std::vector<double> norm(nLayer_, 0.0), rank(nLayer_, 0.0);
    for (int l = 0; l < nLayer_; ++l)
      for (int h = 0; h < nHead_; ++h) {
        const size_t k = static_cast<size_t>(l) * nHead_ + h;
        if (k < m.state_norm.size()) norm[l] += double(m.state_norm[k]) * m.state_norm[k];
        if (k < m.eff_rank.size()) rank[l] += m.eff_rank[k] / double(nHead_);
      }
    for (double& v : norm) v = std::sqrt(v);  // ‖S0[l]‖ over all heads
    norm_->append(x, norm);
    if (!m.eff_rank.empty()) rank_->append(x, rank);
  }
  for (const auto& e : batch.evals) loss_->addEval(e.step, e.eval_loss);
  for (const auto& s : batch.snapshots) heatmap_->addSnapshot(s);
  if (!batch.steps.empty() || !batch.evals.empty()) {
    loss_->refresh();
    lr_->refresh();
    grad_->refresh();
    norm_->refresh();
    rank_->refresh();
  }
  if (!batch.snapshots.empty()) heatmap_->refresh();
}

QCustomPlot* MonitorPanel::currentPlot() const {
  for (const auto& [name, plot] : namedPlots())
    if (currentWidget() && currentWidget()->isAncestorOf(plot)) return plot;
  return nullptr;
}

QList<QPair<QString, QCustomPlot*>> MonitorPanel::namedPlots() const {
  return {{"loss", loss_->plot()},           {"learning_rate", lr_->plot()},
          {"grad_norm_per_layer", grad_->plot()}, {"state_heatmap", heatmap_->plot()},
          {"state_norm_per_layer", norm_->plot()}, {"effective_rank_per_layer", rank_->plot()},
          {"decorrelation", decor_->statPlot()->plot()}, {"covariance", decor_->covariancePlot()}};
}
