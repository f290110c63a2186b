// Heatmap of one (layer, head) initial state S0 from the engine's downsampled snapshots (value
// types, never live tensors): a diverging colour map with a colour-scale legend, a toggle to
// show the difference from the first (starting-state) snapshot, and a scrubber over the
// snapshots taken during the run (it follows the newest while it sits at the end).
#pragma once
#include <QMap>
#include <QPair>
#include <QVector>
#include <QWidget>

#include "rwkv/tuner.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QSlider;

class StateHeatmap : public QWidget {
  Q_OBJECT
 public:
  explicit StateHeatmap(QWidget* parent = nullptr);

  void clear();
  void addSnapshot(const rwkv::StateSnapshot& s);  // the first one of a head is its reference
  void refresh();                                  // combo, scrubber and image
  // Words for other uses than S0 during tuning (the inspector: "token", "S_t value", "S_t − S_0").
  void setTerms(const QString& stepWord, const QString& valueLabel, const QString& diffLabel);
  QSlider* scrubber() const { return scrub_; }

  QCustomPlot* plot() const { return plot_; }
  QCPColorMap* colorMap() const { return map_; }
  int snapshotCount() const;        // all heads
  int shownStep() const { return shownStep_; }  // -1 when nothing is shown
  // The values on screen (after diff), row-major size x size.
  const QVector<double>& shownValues() const { return shown_; }

 protected:
  void resizeEvent(QResizeEvent* e) override;

 private:
  using Key = QPair<int, int>;  // (layer, head)
  void showCurrent();
  Key currentKey() const;

  QCustomPlot* plot_;
  QCPColorMap* map_;
  QCPColorScale* scale_;
  QComboBox* head_;
  QCheckBox* diff_;
  QSlider* scrub_;
  QLabel* stepLabel_;
  QLabel* scrubLabel_;
  QMap<Key, QVector<rwkv::StateSnapshot>> byHead_;
  struct Range {
    double raw = 0, diff = 0;  // max |S0| and max |S0 - first| over the head's snapshots
  };
  QMap<Key, Range> ranges_;  // kept as snapshots arrive: one colour scale per head while scrubbing
  QVector<double> shown_;
  int shownStep_ = -1;
  QString stepWord_ = "step", valueLabel_ = "S0 value", diffLabel_ = "S0 - initial";
};
