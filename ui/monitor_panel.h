// The live view of a run: one tab per plot (loss, learning rate, grad norm per layer, state
// heatmap, state norm and effective rank per layer, the DBP decorrelation statistics).
// It turns drained MetricsBatches into plot points; the plots know nothing of the engine.
#pragma once
#include <QList>
#include <QPair>
#include <QTabWidget>

#include "metrics_queue.h"

class DecorPanel;
class LossPlot;
class QCustomPlot;
class SeriesPlot;
class StateHeatmap;

class MonitorPanel : public QTabWidget {
  Q_OBJECT
 public:
  explicit MonitorPanel(QWidget* parent = nullptr);

  void clear();
  void apply(const MetricsBatch& batch);  // adds everything, then one refresh per plot

  LossPlot* lossPlot() const { return loss_; }
  SeriesPlot* lrPlot() const { return lr_; }
  SeriesPlot* gradPlot() const { return grad_; }
  SeriesPlot* stateNormPlot() const { return norm_; }
  SeriesPlot* rankPlot() const { return rank_; }
  StateHeatmap* heatmap() const { return heatmap_; }
  DecorPanel* decorPanel() const { return decor_; }
  QCustomPlot* currentPlot() const;                      // the visible tab's plot, or null
  QList<QPair<QString, QCustomPlot*>> namedPlots() const;  // file-name stem -> plot

 private:
  void setLayers(int n_layer);

  LossPlot* loss_;
  SeriesPlot *lr_, *grad_, *norm_, *rank_;
  StateHeatmap* heatmap_;
  DecorPanel* decor_;
  int nLayer_ = 0, nHead_ = 1;
};
