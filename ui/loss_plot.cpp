#include "loss_plot.h"

#include "qcp.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>
#include <cmath>

#include "plot_common.h"

LossPlot::LossPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  stylePlot(plot_, "optimizer step", "loss (mean token cross-entropy)");
  raw_ = plot_->addGraph();
  raw_->setName("train (raw)");
  raw_->setPen(QPen(QColor(31, 119, 180, 70), 1));
  smooth_ = plot_->addGraph();
  smooth_->setName("train (smoothed)");
  smooth_->setPen(QPen(QColor(31, 119, 180), 2));
  eval_ = plot_->addGraph();
  eval_->setName("eval");
  eval_->setPen(QPen(QColor(230, 110, 20), 2));
  eval_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(230, 110, 20), Qt::white, 6));
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  follow_ = new PlotFollow(plot_, &logY_);
  empty_ = new QCPItemText(plot_);
  empty_->position->setType(QCPItemPosition::ptAxisRectRatio);
  empty_->position->setCoords(0.5, 0.5);
  empty_->setText("No run yet: open a model and a dataset, then Start (Ctrl+Return).\n"
                  "The loss appears here from the first step.");
  empty_->setColor(QColor(120, 120, 120));
  empty_->setTextAlignment(Qt::AlignCenter);

  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setObjectName("lossSmoothing");
  smoothing_->setRange(0, 99);
  smoothing_->setValue(80);
  smoothing_->setMinimumWidth(120);
  smoothing_->setMaximumWidth(220);
  smoothing_->setToolTip("Exponential smoothing of the train loss (0 = raw). The faint line is always the raw loss.");
  smoothingValue_ = new QLabel("0.80");
  log_ = new QCheckBox("Log scale");
  log_->setObjectName("lossLogScale");
  log_->setToolTip("Logarithmic loss axis");
  QLabel* hint = interactionHint();

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Smoothing"));
  controls->addWidget(smoothing_);
  controls->addWidget(smoothingValue_);
  controls->addSpacing(12);
  controls->addWidget(log_);
  controls->addWidget(hint, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(plot_, 1);

  connect(smoothing_, &QSlider::valueChanged, this, &LossPlot::setSmoothing);
  connect(log_, &QCheckBox::toggled, this, &LossPlot::setLogScale);
}

void LossPlot::clear() {
  steps_.clear();
  losses_.clear();
  raw_->data()->clear();
  smooth_->data()->clear();
  eval_->data()->clear();
  ema_ = 0;
  emaCount_ = 0;
  refresh();
}

int LossPlot::evalCount() const { return eval_->dataCount(); }

int LossPlot::smoothing() const { return smoothing_->value(); }

void LossPlot::addTrain(double step, double loss) {
  if (!std::isfinite(loss)) return;
  steps_.push_back(step);
  losses_.push_back(loss);
  raw_->addData(step, loss);
  appendSmoothed(step, loss);
}

void LossPlot::addEval(double step, double loss) {
  if (std::isfinite(loss)) eval_->addData(step, loss);
}

void LossPlot::appendSmoothed(double step, double loss) {
  ema_ = ema_ * weight_ + (1 - weight_) * loss;
  ++emaCount_;
  const double debias = 1 - std::pow(weight_, emaCount_);
  smooth_->addData(step, debias > 0 ? ema_ / debias : loss);
}

void LossPlot::rebuildSmoothed() {
  smooth_->data()->clear();
  ema_ = 0;
  emaCount_ = 0;
  for (int i = 0; i < steps_.size(); ++i) appendSmoothed(steps_[i], losses_[i]);
}

void LossPlot::setSmoothing(int percent) {
  weight_ = qBound(0, percent, 99) / 100.0;
  smoothingValue_->setText(QString::number(weight_, 'f', 2));
  if (smoothing_->value() != percent) smoothing_->setValue(percent);
  raw_->setVisible(percent > 0);
  rebuildSmoothed();
  refresh();
}

void LossPlot::setLogScale(bool on) {
  logY_ = on;
  if (log_->isChecked() != on) log_->setChecked(on);
  setLogAxis(plot_->yAxis, on);
  fitAxes(plot_, logY_);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void LossPlot::refresh() {
  empty_->setVisible(steps_.isEmpty() && eval_->dataCount() == 0);
  follow_->update();
  plot_->replot(QCustomPlot::rpQueuedReplot);
}
