// The compare view: the base model (zero initial state) and one or more tuned states answer the
// same prompt side by side, streamed token by token from the engine thread with identical sampling
// settings and seed, so the difference is the state alone. Tokens are coloured by probability,
// the first divergent token is outlined, hovering a token lists every column's top alternatives
// at that position. A second tab runs the batch compare (BatchCompare). Demo mode: large fonts,
// full screen, N / Right / PageDown run the next prompt of the list.
#pragma once
#include <QVector>
#include <QWidget>

#include "analysis_types.h"

class AnalysisSession;
class AnswerColumn;
class BatchCompare;
class QCheckBox;
class QDoubleSpinBox;
class QHBoxLayout;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QSplitter;
class QTabWidget;

// Where the prompts and the model come from (the studio's current setup).
struct CompareContext {
  ModelChoice model;
  QString dataPath;  // the tuning data set: its eval split fills the prompt list
  int ctxLen = 512;
  double evalFraction = 0.1;
  quint64 seed = 42;
};

class CompareView : public QWidget {
  Q_OBJECT
 public:
  explicit CompareView(AnalysisSession* session, QWidget* parent = nullptr);

  void setContext(const CompareContext& c);  // reloads the prompt list when the data set changed
  const CompareContext& context() const { return ctx_; }
  // The tuned states shown as columns after the base column (files; the order is kept).
  void setStates(const QStringList& paths);
  void addState(const QString& path);
  QStringList states() const;

  void setPrompt(const QString& text);
  QString prompt() const;
  rwkv::GenerateParams params() const;  // the sampling settings of the form
  void setMaxTokens(int n);
  void setTemperature(double t);

  bool isRunning() const { return running_ >= 0; }
  QVector<AnswerColumn*> columns() const { return columns_; }
  QListWidget* promptList() const { return list_; }
  BatchCompare* batch() const { return batch_; }
  QTabWidget* tabs() const { return tabs_; }
  // The tooltip for position `index`: every column's token there and its top alternatives.
  QString alternativesHtml(int index) const;
  bool demoMode() const { return demo_; }

 public Q_SLOTS:
  void run();
  void stop();
  void runNext();  // the next prompt of the list, then run
  void setDemoMode(bool on);

 Q_SIGNALS:
  void demoModeChanged(bool on);
  void finished();  // a compare run ended (completed, cancelled or failed)


 private:
  void rebuildColumns();
  void updateDivergence();
  void onToken(const CompareToken& t);
  void setRunning(int request);

  AnalysisSession* session_;
  CompareContext ctx_;
  QTabWidget* tabs_;
  QPlainTextEdit* prompt_;
  QListWidget* list_;
  QLabel* listNote_;
  QListWidget* statesList_;
  QSpinBox *maxTokens_, *seed_, *topK_;
  QDoubleSpinBox *temperature_, *topP_;
  QCheckBox *stopBlank_, *colour_;
  QPushButton *runButton_, *stopButton_, *nextButton_, *demoButton_;
  QWidget* settings_;
  QWidget* sidePanel_;
  QSplitter* answers_;
  QVector<AnswerColumn*> columns_;
  BatchCompare* batch_;
  QLabel* status_;
  int running_ = -1;  // request id while a compare runs
  bool demo_ = false;
  QString listPath_;  // data set the list was loaded from
};
