// Train and eval loss over optimizer steps: raw train loss (faint), its smoothed curve
// (TensorBoard-style debiased EMA, slider 0..0.99), eval loss points; log-scale toggle; zoom and
// pan with the mouse (double-click fits again). Works from the first point.
#pragma once
#include <QVector>
#include <QWidget>

class QCheckBox;
class QCustomPlot;
class QCPGraph;
class QCPItemText;
class QLabel;
class QSlider;
class PlotFollow;

class LossPlot : public QWidget {
  Q_OBJECT
 public:
  explicit LossPlot(QWidget* parent = nullptr);

  void clear();
  void addTrain(double step, double loss);  // non-finite losses are skipped
  void addEval(double step, double loss);
  void refresh();  // fit (if following) and schedule one replot

  QCustomPlot* plot() const { return plot_; }
  int trainCount() const { return steps_.size(); }
  int evalCount() const;
  int smoothing() const;  // 0..99

 public Q_SLOTS:
  void setSmoothing(int percent);  // 0..99
  void setLogScale(bool on);

 private:
  void appendSmoothed(double step, double loss);
  void rebuildSmoothed();

  QCustomPlot* plot_;
  QCPGraph *raw_, *smooth_, *eval_;
  QCPItemText* empty_;  // hint shown until the first point
  QSlider* smoothing_;
  QLabel* smoothingValue_;
  QCheckBox* log_;
  PlotFollow* follow_;
  bool logY_ = false;
  QVector<double> steps_, losses_;
  double weight_ = 0.8, ema_ = 0;
  int emaCount_ = 0;
};
