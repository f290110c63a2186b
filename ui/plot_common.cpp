#include "plot_common.h"

#include "qcp.h"

#include <QLabel>
#include <cmath>

void stylePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel) {
  plot->setAntialiasedElements(QCP::aeAll);
  plot->setNotAntialiasedElements(QCP::aeAxes | QCP::aeGrid);
  plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot->setBackground(Qt::white);
  plot->setMinimumSize(240, 160);
  QFont f = plot->font();
  f.setPointSize(9);
  for (QCPAxis* a : {plot->xAxis, plot->yAxis}) {
    a->setTickLabelFont(f);
    a->setLabelFont(f);
    a->grid()->setPen(QPen(QColor(225, 225, 225), 1));
    a->grid()->setSubGridVisible(false);
    a->setBasePen(QPen(QColor(90, 90, 90)));
    a->setTickPen(QPen(QColor(90, 90, 90)));
    a->setSubTickPen(QPen(QColor(140, 140, 140)));
  }
  plot->xAxis->setLabel(xLabel);
  plot->yAxis->setLabel(yLabel);
  plot->legend->setFont(f);
  plot->legend->setBrush(QColor(255, 255, 255, 220));
  plot->legend->setBorderPen(QPen(QColor(200, 200, 200)));
}

void setLogAxis(QCPAxis* axis, bool log) {
  if (log) {
    axis->setScaleType(QCPAxis::stLogarithmic);
    axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    axis->setNumberFormat("gb");
    axis->setNumberPrecision(3);
  } else {
    axis->setScaleType(QCPAxis::stLinear);
    axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    axis->setNumberFormat("g");
    axis->setNumberPrecision(4);
  }
}

void fitAxes(QCustomPlot* plot, bool logY) {
  bool anyKey = false, anyValue = false;
  QCPRange keys, values;
  const auto unite = [](QCPRange& acc, bool& any, const QCPRange& r) {
    acc = any ? QCPRange(qMin(acc.lower, r.lower), qMax(acc.upper, r.upper)) : r;
    any = true;
  };
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    if (!g->visible() || g->dataCount() == 0) continue;
    bool found = false;
    const QCPRange k = g->getKeyRange(found);
    if (found) unite(keys, anyKey, k);
    const QCPRange v = g->getValueRange(found, logY ? QCP::sdPositive : QCP::sdBoth);
    if (found) unite(values, anyValue, v);
  }
  if (!anyKey) return;
  if (keys.size() <= 0) keys = QCPRange(keys.lower - 1, keys.upper + 1);
  plot->xAxis->setRange(keys.lower, keys.upper + keys.size() * 0.02);
  if (!anyValue) return;
  if (logY) {
    const double lo = values.lower, hi = values.upper;
    plot->yAxis->setRange(lo / (hi > lo * 1.01 ? 1.15 : 1.6), hi * (hi > lo * 1.01 ? 1.15 : 1.6));
  } else {
    const double pad = values.size() > 0 ? values.size() * 0.08 : qMax(std::fabs(values.upper) * 0.1, 1e-3);
    plot->yAxis->setRange(values.lower - pad, values.upper + pad);
  }
}

bool exportPlot(QCustomPlot* plot, const QString& path, QString* error) {
  const bool pdf = path.endsWith(".pdf", Qt::CaseInsensitive);
  const bool ok = pdf ? plot->savePdf(path, 0, 0, QCP::epNoCosmetic) : plot->savePng(path, 0, 0, 2.0);
  if (!ok && error) *error = QString("could not write %1 (folder missing or not writable?)").arg(path);
  return ok;
}

PlotFollow::PlotFollow(QCustomPlot* plot, bool* logY) : QObject(plot), plot_(plot), logY_(logY) {
  connect(plot, &QCustomPlot::mousePress, this, [this] { following_ = false; });
  connect(plot, &QCustomPlot::mouseWheel, this, [this] { following_ = false; });
  connect(plot, &QCustomPlot::mouseDoubleClick, this, [this] {
    following_ = true;
    update();
    plot_->replot(QCustomPlot::rpQueuedReplot);
  });
}

void PlotFollow::update() {
  if (following_) fitAxes(plot_, *logY_);
}

QLabel* interactionHint() {
  auto* hint = new QLabel("drag: pan · wheel: zoom · double-click: fit");
  hint->setStyleSheet("color: gray");
  hint->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // may be cut on narrow windows
  hint->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return hint;
}
