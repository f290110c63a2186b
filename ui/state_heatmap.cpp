#include "state_heatmap.h"

#include "qcp.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "plot_common.h"

namespace {

QCPColorGradient diverging() {  // blue (negative) - white (0) - red (positive)
  QCPColorGradient g;
  g.clearColorStops();
  g.setColorStopAt(0.0, QColor(33, 102, 172));
  g.setColorStopAt(0.25, QColor(146, 197, 222));
  g.setColorStopAt(0.5, QColor(247, 247, 247));
  g.setColorStopAt(0.75, QColor(244, 165, 130));
  g.setColorStopAt(1.0, QColor(178, 24, 43));
  return g;
}

}  // namespace

StateHeatmap::StateHeatmap(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  stylePlot(plot_, "key j (block)", "value i (block)");
  plot_->setInteractions(QCP::Interactions());  // fixed square view of the whole matrix
  plot_->yAxis->setRangeReversed(true);  // row 0 on top, as the matrix is written
  map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
  map_->setInterpolate(false);
  scale_ = new QCPColorScale(plot_);
  plot_->plotLayout()->addElement(0, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->setGradient(diverging());
  scale_->setLabel("S0 value");
  scale_->setBarWidth(12);
  map_->setColorScale(scale_);
  auto* group = new QCPMarginGroup(plot_);
  plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);

  head_ = new QComboBox;
  head_->setObjectName("heatmapHead");
  head_->setToolTip("Layer and head to show (the run snapshots the heads set under Heatmap heads)");
  head_->setMinimumContentsLength(13);
  diff_ = new QCheckBox("Diff vs initial");
  diff_->setObjectName("heatmapDiff");
  diff_->setToolTip("Show S0 minus the starting state (what the tuning changed)");
  scrub_ = new QSlider(Qt::Horizontal);
  scrub_->setObjectName("heatmapScrubber");
  scrub_->setToolTip("Scrub through the snapshots taken during the run");
  scrub_->setRange(0, 0);
  stepLabel_ = new QLabel("no snapshot yet");
  stepLabel_->setObjectName("heatmapStep");
  stepLabel_->setMinimumWidth(120);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Head"));
  controls->addWidget(head_);
  controls->addWidget(diff_);
  scrubLabel_ = new QLabel("Snapshot");
  controls->addWidget(scrubLabel_);
  controls->addWidget(scrub_, 1);
  controls->addWidget(stepLabel_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  auto* centre = new QHBoxLayout;  // the plot is kept about square, centred (see resizeEvent)
  centre->addStretch();
  centre->addWidget(plot_, 100);
  centre->addStretch();
  layout->addLayout(centre, 1);

  // Square cells: after every layout, widen the x range to the axis rect's aspect ratio.
  connect(plot_, &QCustomPlot::afterLayout, this, [this] {
    if (shown_.isEmpty()) return;
    const int size = map_->data()->keySize();
    plot_->yAxis->setRange(-0.5, size - 0.5);
    plot_->xAxis->setRange(-0.5, size - 0.5);
    if (plot_->axisRect()->width() > plot_->axisRect()->height()) plot_->xAxis->setScaleRatio(plot_->yAxis, 1.0);
    else plot_->yAxis->setScaleRatio(plot_->xAxis, 1.0);
  });
  connect(head_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { refresh(); });
  connect(diff_, &QCheckBox::toggled, this, [this] { showCurrent(); });
  connect(scrub_, &QSlider::valueChanged, this, [this] { showCurrent(); });
}

void StateHeatmap::resizeEvent(QResizeEvent* e) {
  QWidget::resizeEvent(e);
  // Room for the square matrix plus the tick labels (left) and the colour scale (right).
  plot_->setMaximumWidth(std::max(240, plot_->height() + 120));
}

void StateHeatmap::clear() {
  byHead_.clear();
  ranges_.clear();
  head_->clear();
  scrub_->setRange(0, 0);
  map_->data()->clear();
  shown_.clear();
  shownStep_ = -1;
  stepLabel_->setText("no snapshot yet");
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void StateHeatmap::addSnapshot(const rwkv::StateSnapshot& s) {
  auto& snaps = byHead_[{s.layer, s.head}];
  snaps.push_back(s);
  const rwkv::StateSnapshot& ref = snaps.first();
  Range& r = ranges_[{s.layer, s.head}];
  for (size_t k = 0; k < s.values.size(); ++k) {
    r.raw = std::max(r.raw, double(std::fabs(s.values[k])));
    if (k < ref.values.size()) r.diff = std::max(r.diff, std::fabs(double(s.values[k]) - ref.values[k]));
  }
}

void StateHeatmap::setTerms(const QString& stepWord, const QString& valueLabel, const QString& diffLabel) {
  stepWord_ = stepWord;
  valueLabel_ = valueLabel;
  diffLabel_ = diffLabel;
  scrubLabel_->setText(stepWord.left(1).toUpper() + stepWord.mid(1));
  showCurrent();
}

int StateHeatmap::snapshotCount() const {
  int n = 0;
  for (const auto& v : byHead_) n += v.size();
  return n;
}

StateHeatmap::Key StateHeatmap::currentKey() const {
  const QVariant d = head_->currentData();
  return d.isValid() ? Key(d.toPoint().x(), d.toPoint().y()) : Key(-1, -1);
}

void StateHeatmap::refresh() {
  if (head_->count() != byHead_.size()) {  // new heads appeared: rebuild the combo, keep the choice
    const Key keep = currentKey();
    const QSignalBlocker block(head_);
    head_->clear();
    for (auto it = byHead_.cbegin(); it != byHead_.cend(); ++it)
      head_->addItem(QString("layer %1, head %2").arg(it.key().first).arg(it.key().second),
                     QPoint(it.key().first, it.key().second));
    const int i = head_->findData(QPoint(keep.first, keep.second));
    head_->setCurrentIndex(i >= 0 ? i : 0);
  }
  const int n = byHead_.value(currentKey()).size();
  const bool atEnd = scrub_->value() >= scrub_->maximum();
  {
    const QSignalBlocker block(scrub_);
    scrub_->setRange(0, qMax(0, n - 1));
    if (atEnd) scrub_->setValue(scrub_->maximum());
  }
  showCurrent();
}

void StateHeatmap::showCurrent() {
  const Key key = currentKey();
  const auto& snaps = byHead_.value(key);
  if (snaps.isEmpty()) return;
  const int idx = qBound(0, scrub_->value(), snaps.size() - 1);
  const rwkv::StateSnapshot& s = snaps[idx];
  const rwkv::StateSnapshot& ref = snaps.first();
  const bool diff = diff_->isChecked() && ref.size == s.size;
  // One colour range for every snapshot of this head, so that scrubbing shows growth.
  double range = diff ? ranges_.value(key).diff : ranges_.value(key).raw;
  if (!(range > 0) || !std::isfinite(range)) range = 1;

  const int size = s.size;
  shown_.resize(size * size);
  map_->data()->setSize(size, size);
  map_->data()->setRange(QCPRange(0, size - 1), QCPRange(0, size - 1));
  for (int i = 0; i < size; ++i)
    for (int j = 0; j < size; ++j) {
      const int k = i * size + j;
      const double v = s.values[k] - (diff ? ref.values[k] : 0.0);
      shown_[k] = v;
      map_->data()->setCell(j, i, v);  // x = key j, y = value i
    }
  map_->setDataRange(QCPRange(-range, range));
  // The matrix range now, not only after the next layout: tick vectors are made before afterLayout.
  plot_->xAxis->setRange(-0.5, size - 0.5);
  plot_->yAxis->setRange(-0.5, size - 0.5);
  scale_->setLabel(diff ? diffLabel_ : valueLabel_);
  // Ticks only on the matrix (the view may be wider than it): every 1, 2, 4, ... blocks.
  const int every = size <= 8 ? 1 : size <= 16 ? 2 : size <= 40 ? 5 : 10;
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
    auto ticks = QSharedPointer<QCPAxisTickerText>::create();
    for (int t = 0; t < size; t += every) ticks->addTick(t, QString::number(t));
    axis->setTicker(ticks);
  }
  shownStep_ = s.step;
  stepLabel_->setText(QString("%1 %2 (%3 of %4)%5").arg(stepWord_).arg(s.step).arg(idx + 1).arg(snaps.size())
                          .arg(diff ? QString(" − %1 %2").arg(stepWord_).arg(ref.step) : QString()));
  plot_->replot(QCustomPlot::rpQueuedReplot);
}
