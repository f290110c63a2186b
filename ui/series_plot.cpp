#include "series_plot.h"

#include "qcp.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>
#include <cmath>

#include "plot_common.h"

namespace {

QCPColorGradient layerGradient() {  // viridis-like, without the last pale yellow (unreadable on white)
  QCPColorGradient g;
  g.clearColorStops();
  g.setColorStopAt(0.0, QColor(68, 1, 84));
  g.setColorStopAt(0.25, QColor(59, 82, 139));
  g.setColorStopAt(0.5, QColor(33, 145, 140));
  g.setColorStopAt(0.75, QColor(94, 180, 80));
  g.setColorStopAt(1.0, QColor(215, 160, 20));
  return g;
}

}  // namespace

QColor seriesColor(int i, int n) {
  if (n <= 1) return QColor(31, 119, 180);
  return QColor::fromRgb(layerGradient().color(i, QCPRange(0, n - 1)));
}

SeriesPlot::SeriesPlot(const QString& yLabel, bool logByDefault, QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)) {
  stylePlot(plot_, "optimizer step", yLabel);
  follow_ = new PlotFollow(plot_, &logY_);
  log_ = new QCheckBox("Log scale");
  log_->setToolTip("Logarithmic value axis");
  QLabel* hint = interactionHint();
  auto* controls = new QHBoxLayout;
  controls->addWidget(log_);
  controls->addWidget(hint, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(plot_, 1);
  connect(log_, &QCheckBox::toggled, this, &SeriesPlot::setLogScale);
  setLogScale(logByDefault);
}

void SeriesPlot::setSeries(const QStringList& names, const QString& legendTitle) {
  plot_->clearGraphs();
  const int n = names.size();
  for (int i = 0; i < n; ++i) {
    QCPGraph* g = plot_->addGraph();
    g->setName(names[i]);
    g->setPen(QPen(seriesColor(i, n), n > 1 ? 1.4 : 2));
  }
  if (scale_) {
    plot_->plotLayout()->remove(scale_);
    plot_->plotLayout()->simplify();
    scale_ = nullptr;
  }
  if (n > 1) {
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(0, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    scale_->setGradient(layerGradient());
    scale_->setDataRange(QCPRange(0, n - 1));
    scale_->setLabel(legendTitle);
    scale_->axis()->setTicker(QSharedPointer<QCPAxisTickerFixed>::create());
    auto fixed = qSharedPointerCast<QCPAxisTickerFixed>(scale_->axis()->ticker());
    fixed->setTickStep(n <= 12 ? 1 : std::ceil((n - 1) / 8.0));
    scale_->setBarWidth(10);
    auto* group = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  }
  refresh();
}

void SeriesPlot::clear() {
  for (int i = 0; i < plot_->graphCount(); ++i) plot_->graph(i)->data()->clear();
  refresh();
}

void SeriesPlot::append(double x, const std::vector<double>& ys) {
  const int n = std::min<int>(plot_->graphCount(), static_cast<int>(ys.size()));
  for (int i = 0; i < n; ++i)
    if (std::isfinite(ys[i])) plot_->graph(i)->addData(x, ys[i]);
}

void SeriesPlot::refresh() {
  follow_->update();
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

int SeriesPlot::seriesCount() const { return plot_->graphCount(); }

int SeriesPlot::dataCount() const { return plot_->graphCount() ? plot_->graph(0)->dataCount() : 0; }

void SeriesPlot::setLogScale(bool on) {
  logY_ = on;
  if (log_->isChecked() != on) log_->setChecked(on);
  setLogAxis(plot_->yAxis, on);
  fitAxes(plot_, logY_);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}
