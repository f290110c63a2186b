// Shared plot behaviour: one look for every QCustomPlot, zoom/pan that stops auto-following the
// data until a double-click, axis ranges that work from the first point and in log scale, and
// PNG/PDF export. Keeps qcustomplot.h out of the headers of the plot widgets' users.
#pragma once
#include <QObject>
#include <QString>

class QCustomPlot;
class QLabel;
class QCPAxis;

// Fonts, colours, grid, margins and mouse interactions (drag to pan, wheel to zoom).
void stylePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel);

// The grey "drag: pan · wheel: zoom · double-click: fit" label shown above a plot.
QLabel* interactionHint();

// Sets the y axis to linear or log-10 (ticks and number format included).
void setLogAxis(QCPAxis* axis, bool log);

// Fits both axes to the visible graphs' data; pads a single point or a flat line; in log scale
// only positive values count.
void fitAxes(QCustomPlot* plot, bool logY);

// Saves a plot as PNG or PDF (by extension). Returns false and sets *error on failure.
bool exportPlot(QCustomPlot* plot, const QString& path, QString* error);

// Auto-fit until the user drags or zooms; a double-click fits again and resumes following.
class PlotFollow : public QObject {
  Q_OBJECT
 public:
  PlotFollow(QCustomPlot* plot, bool* logY);
  bool following() const { return following_; }
  void update();  // fit now if following

 private:
  QCustomPlot* plot_;
  bool* logY_;
  bool following_ = true;
};
