#include "decor_panel.h"

#include "qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <cmath>

#include "plot_common.h"
#include "series_plot.h"

namespace {

struct Stat {
  const char* name;
  const char* axis;
  bool log;
};
const Stat kStats[] = {
    {"mean |off-diagonal correlation|", "mean |corr(z_i, z_j)|, i ≠ j", false},
    {"off-diagonal / diagonal energy", "Σ Cz_ij² / Σ Cz_ii²", true},
    {"condition number of Cz", "λmax / λmin (max over heads)", true},
    {"smallest variance", "min Cz_ii", true},
    {"largest variance", "max Cz_ii", true},
    {"decorrelation loss (all layers)", "L_decor", true},
};

QCPColorGradient diverging() {
  QCPColorGradient g;
  g.clearColorStops();
  g.setColorStopAt(0.0, QColor(33, 102, 172));
  g.setColorStopAt(0.5, QColor(247, 247, 247));
  g.setColorStopAt(1.0, QColor(178, 24, 43));
  return g;
}

}  // namespace

DecorPanel::DecorPanel(QWidget* parent) : QWidget(parent) {
  stack_ = new QStackedWidget;
  auto* hint = new QLabel(
      "Decorrelation statistics appear here while a run uses the kernel method\n"
      "(Setup → Method: kernel; DBP off, loss or update).\n\n"
      "They describe the kernel features z = R φ(r/|r|) of every layer: how correlated they are,\n"
      "and how well conditioned their covariance Cz is. DBP (decorrelated backpropagation) lowers them.");
  hint->setObjectName("decorHint");
  hint->setAlignment(Qt::AlignCenter);
  hint->setWordWrap(true);
  hint->setStyleSheet("color: gray");

  stat_ = new QComboBox;
  stat_->setObjectName("decorStat");
  for (const auto& s : kStats) stat_->addItem(s.name);
  stat_->setToolTip("Statistic per layer over the recent steps' tokens (about 4M tokens). Lower is more decorrelated.");
  status_ = new QLabel;
  status_->setObjectName("decorStatus");
  plot_ = new SeriesPlot(kStats[0].axis, false);
  plot_->setObjectName("decorPlot");

  covPlot_ = new QCustomPlot;
  covPlot_->setObjectName("covariancePlot");
  stylePlot(covPlot_, "feature j (block)", "feature i (block)");
  covPlot_->setInteractions(QCP::Interactions());
  covPlot_->yAxis->setRangeReversed(true);
  map_ = new QCPColorMap(covPlot_->xAxis, covPlot_->yAxis);
  map_->setInterpolate(false);
  scale_ = new QCPColorScale(covPlot_);
  covPlot_->plotLayout()->addElement(0, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->setGradient(diverging());
  scale_->setLabel("Cz (block mean)");
  scale_->setBarWidth(12);
  map_->setColorScale(scale_);
  auto* group = new QCPMarginGroup(covPlot_);
  covPlot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  layer_ = new QSpinBox;
  layer_->setObjectName("covarianceLayer");
  layer_->setRange(0, 0);
  layer_->setToolTip("Layer whose feature covariance Cz is shown");
  head_ = new QSpinBox;
  head_->setObjectName("covarianceHead");
  head_->setRange(0, 0);
  head_->setToolTip("Head whose feature covariance Cz is shown");
  covLabel_ = new QLabel("no covariance yet");
  covLabel_->setObjectName("covarianceLabel");

  auto* top = new QWidget;
  auto* tl = new QVBoxLayout(top);
  tl->setContentsMargins(0, 0, 0, 0);
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel("Statistic"));
  row->addWidget(stat_);
  row->addStretch();
  row->addWidget(status_);
  tl->addLayout(row);
  tl->addWidget(plot_, 1);
  auto* bottom = new QWidget;
  auto* bl = new QVBoxLayout(bottom);
  bl->setContentsMargins(0, 0, 0, 0);
  auto* crow = new QHBoxLayout;
  crow->addWidget(new QLabel("Covariance Cz: layer"));
  crow->addWidget(layer_);
  crow->addWidget(new QLabel("head"));
  crow->addWidget(head_);
  crow->addWidget(covLabel_, 1);
  bl->addLayout(crow);
  bl->addWidget(covPlot_, 1);
  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(top);
  split->addWidget(bottom);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);

  stack_->addWidget(hint);
  stack_->addWidget(split);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(stack_);

  connect(stat_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    rebuildSeries();
    refresh();
  });
  const auto request = [this] { Q_EMIT covarianceRequested(layer_->value(), head_->value()); };
  connect(layer_, qOverload<int>(&QSpinBox::valueChanged), this, request);
  connect(head_, qOverload<int>(&QSpinBox::valueChanged), this, request);
  clear();
}

void DecorPanel::clear() {
  history_.clear();
  nLayer_ = 0;
  plot_->setSeries({});
  map_->data()->clear();
  covLabel_->setText("no covariance yet");
  status_->clear();
  stack_->setCurrentIndex(0);
}

bool DecorPanel::showingData() const { return stack_->currentIndex() == 1; }
int DecorPanel::covarianceLayer() const { return layer_->value(); }
int DecorPanel::covarianceHead() const { return head_->value(); }

void DecorPanel::setShape(int n_layer, int n_head) {
  layer_->setRange(0, std::max(0, n_layer - 1));
  head_->setRange(0, std::max(0, n_head - 1));
}

double DecorPanel::statOf(const rwkv::DecorMetrics& m, int layer, int which) {
  if (which == 5) return m.decor_loss;
  if (layer >= static_cast<int>(m.layers.size())) return NAN;
  const auto& s = m.layers[layer];
  switch (which) {
    case 0: return s.mean_abs_corr;
    case 1: return s.offdiag_ratio;
    case 2: return s.condition;
    case 3: return s.min_var;
    default: return s.max_var;
  }
}

void DecorPanel::rebuildSeries() {
  const int which = stat_->currentIndex();
  QStringList names;
  if (which == 5) {
    names << "L_decor";
  } else {
    for (int l = 0; l < nLayer_; ++l) names << QString("layer %1").arg(l);
  }
  plot_->setSeries(names);
  plot_->setLogScale(kStats[which].log);
  plot_->plot()->yAxis->setLabel(kStats[which].axis);
  for (const auto& m : history_) {
    std::vector<double> ys;
    for (int l = 0; l < names.size(); ++l) ys.push_back(statOf(m, l, which));
    plot_->append(m.step, ys);
  }
}

void DecorPanel::add(const rwkv::DecorMetrics& m) {
  history_.push_back(m);
  if (static_cast<int>(m.layers.size()) != nLayer_) {
    nLayer_ = static_cast<int>(m.layers.size());
    if (layer_->maximum() < nLayer_ - 1) layer_->setRange(0, nLayer_ - 1);
    rebuildSeries();
  } else {
    const int which = stat_->currentIndex();
    std::vector<double> ys;
    for (int l = 0; l < (which == 5 ? 1 : nLayer_); ++l) ys.push_back(statOf(m, l, which));
    plot_->append(m.step, ys);
  }
  status_->setText(QString("DBP %1 · step %2 · %3 tokens").arg(QString::fromStdString(m.mode)).arg(m.step).arg(m.tokens));
  stack_->setCurrentIndex(1);
}

void DecorPanel::setCovariance(const rwkv::CovarianceSnapshot& c) {
  if (c.size <= 0 || static_cast<int>(c.values.size()) != c.size * c.size) return;
  const int n = c.size;
  map_->data()->setSize(n, n);
  map_->data()->setRange(QCPRange(0, n - 1), QCPRange(0, n - 1));
  double range = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double v = c.values[i * n + j];
      map_->data()->setCell(j, i, v);
      if (std::isfinite(v)) range = std::max(range, std::abs(v));
    }
  if (!(range > 0)) range = 1;
  map_->setDataRange(QCPRange(-range, range));
  covPlot_->xAxis->setRange(-0.5, n - 0.5);
  covPlot_->yAxis->setRange(-0.5, n - 0.5);
  covLabel_->setText(QString("step %1, %2×%2 blocks").arg(c.step).arg(n));
  covPlot_->replot(QCustomPlot::rpQueuedReplot);
}

void DecorPanel::refresh() { plot_->refresh(); }
