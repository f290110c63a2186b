// The inspector: run a prompt (optionally with a greedy answer) from a tuned or the zero initial
// state and scrub through its tokens. At token t it shows the chosen layer's state S_t per head
// (StateHeatmap), the spectrum of the transition diag(w_t) + a_t b_t^T applied at t in the
// complex plane with the unit circle, and over all tokens the state norm and the norm of its
// change per layer, and the chosen layer's trajectory from the tuned S0 against the one from the
// zero S0. Data: rwkv::inspect() on the engine thread (AnalysisSession).
#pragma once
#include <QWidget>

#include <memory>

#include "analysis_types.h"

class AnalysisSession;
class FileField;
class QCheckBox;
class QComboBox;
class QCPItemStraightLine;
class QCustomPlot;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSlider;
class QSpinBox;
class QTextBrowser;
class SeriesPlot;
class StateHeatmap;

class InspectorView : public QWidget {
  Q_OBJECT
 public:
  explicit InspectorView(AnalysisSession* session, QWidget* parent = nullptr);

  void setModel(const ModelChoice& m);
  void setPrompt(const QString& text);
  void setStatePath(const QString& path);
  void setAnswerTokens(int n);
  void setLayer(int layer);  // re-runs when data are shown
  void setToken(int t);      // 0 = the initial state, t = after t tokens
  // "Compare with guide": a guide model (same tokenizer) reads the same tokens from its zero state;
  // its state norm and change per layer are shown beside the model's.
  void setGuidePath(const QString& path);
  void setCompareWithGuide(bool on);

  int layer() const;
  int token() const;
  std::shared_ptr<const rwkv::Inspection> inspection() const { return data_; }
  std::shared_ptr<const rwkv::Inspection> guideInspection() const { return guideData_; }  // null without a guide
  SeriesPlot* guideNormPlot() const { return guideNorm_; }
  SeriesPlot* guideDeltaPlot() const { return guideDelta_; }
  StateHeatmap* heatmap() const { return heatmap_; }
  QCustomPlot* spectrumPlot() const { return spectrum_; }
  SeriesPlot* normPlot() const { return norm_; }
  SeriesPlot* deltaPlot() const { return delta_; }
  QCustomPlot* trajectoryPlot() const { return trajectory_; }
  QSlider* scrubber() const { return scrub_; }
  bool isRunning() const { return running_ >= 0; }

 public Q_SLOTS:
  void run();

 Q_SIGNALS:
  void inspected();  // new data are on screen
  void failed(const QString& message);

 private:
  void display(const InspectResult& r);
  void showToken();
  void showSpectrum();
  void fillLayers(int n_layer);

  AnalysisSession* session_;
  ModelChoice model_;
  QPlainTextEdit* prompt_;
  FileField* state_;
  QSpinBox* answer_;
  QComboBox* layer_;
  QPushButton* run_;
  QSlider* scrub_;
  QLabel* tokenLabel_;
  QTextBrowser* strip_;
  StateHeatmap* heatmap_;
  QCustomPlot* spectrum_;
  QLabel* spectrumNote_;
  SeriesPlot *norm_, *delta_;
  QCheckBox* guideOn_;
  FileField* guide_;
  SeriesPlot *guideNorm_, *guideDelta_;
  QCustomPlot* trajectory_;
  QList<QCPItemStraightLine*> cursors_;
  QLabel* status_;
  std::shared_ptr<const rwkv::Inspection> data_, guideData_;
  InspectRequest shown_;
  int running_ = -1;
};
