// The Decorrelation tab: the DBP statistics of a kernel run, live. A series plot per layer of the
// chosen statistic (mean |off-diagonal correlation|, off/diagonal energy, condition number,
// variance range, decorrelation loss) and a heatmap of the covariance Cz of one layer and head
// (the engine sends it on request: TuneControl::covariance_layer/head). A hint replaces both
// until a kernel run reports.
#pragma once
#include <QWidget>

#include <vector>

#include "rwkv/tuner.h"

class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QSpinBox;
class QStackedWidget;
class SeriesPlot;

class DecorPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DecorPanel(QWidget* parent = nullptr);

  void clear();
  void setShape(int n_layer, int n_head);
  void add(const rwkv::DecorMetrics& m);  // then refresh()
  void setCovariance(const rwkv::CovarianceSnapshot& c);
  void refresh();

  SeriesPlot* statPlot() const { return plot_; }
  QCustomPlot* covariancePlot() const { return covPlot_; }
  int covarianceLayer() const;
  int covarianceHead() const;
  int pointCount() const { return static_cast<int>(history_.size()); }
  bool showingData() const;

 Q_SIGNALS:
  void covarianceRequested(int layer, int head);

 private:
  void rebuildSeries();
  static double statOf(const rwkv::DecorMetrics& m, int layer, int which);

  QStackedWidget* stack_;
  QComboBox* stat_;
  QLabel* status_;
  SeriesPlot* plot_;
  QCustomPlot* covPlot_;
  QCPColorMap* map_;
  QCPColorScale* scale_;
  QSpinBox *layer_, *head_;
  QLabel* covLabel_;
  std::vector<rwkv::DecorMetrics> history_;
  int nLayer_ = 0;
};
