// One or many curves over optimizer steps (learning rate; grad norm or state norm per layer).
// Several series are coloured along a gradient with a colour-scale legend (readable for 2..100
// layers, unlike a list legend). Log-scale toggle, zoom and pan, double-click fits.
#pragma once
#include <QStringList>
#include <QWidget>

#include <vector>

class QCheckBox;
class QCustomPlot;
class QCPColorScale;
class PlotFollow;

class SeriesPlot : public QWidget {
  Q_OBJECT
 public:
  SeriesPlot(const QString& yLabel, bool logByDefault, QWidget* parent = nullptr);

  // Recreates the curves (their data are dropped). legendTitle names the index of a series.
  void setSeries(const QStringList& names, const QString& legendTitle = "layer");
  void clear();  // drops the data, keeps the series
  void append(double x, const std::vector<double>& ys);  // one value per series; non-finite skipped
  void refresh();

  QCustomPlot* plot() const { return plot_; }
  int seriesCount() const;
  int dataCount() const;  // points of the first series

 public Q_SLOTS:
  void setLogScale(bool on);

 private:
  QCustomPlot* plot_;
  QCPColorScale* scale_ = nullptr;
  QCheckBox* log_;
  PlotFollow* follow_;
  bool logY_ = false;
};

// The colours used for index i of n series (shared with other per-layer views).
QColor seriesColor(int i, int n);
