// Batch compare: every column (base, tuned states) answers every item of the eval split (or of an
// eval file: JSON Lines or MMLU CSV) through the engine's evaluate(), the same code as
// `rwkv-tune eval`, so the totals here are the numbers that command reports. A table of prompt,
// reference, each column's answer with its exact / contains / scorer verdicts, totals per
// column, CSV export.
#pragma once
#include <QVector>
#include <QWidget>

#include <functional>

#include "analysis_types.h"

class AnalysisSession;
class FileField;
class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableWidget;

class BatchCompare : public QWidget {
  Q_OBJECT
 public:
  explicit BatchCompare(AnalysisSession* session, QWidget* parent = nullptr);

  // Model, data set, split settings, columns and max tokens come from the compare view.
  void setRequestTemplate(std::function<BatchRequest()> f) { template_ = std::move(f); }
  void setSourceFile(const QString& path);  // compare on this eval file instead of the split
  void setLimit(int n);                     // 0 = all items

  bool isRunning() const { return running_ >= 0; }
  QTableWidget* table() const { return table_; }
  QLabel* totalsLabel() const { return totals_; }
  // Totals of column c (base = 0) once it finished; empty before.
  const QVector<rwkv::EvalTotals>& totals() const { return columnTotals_; }
  const QVector<QString>& columnNames() const { return names_; }
  bool exportCsv(const QString& path, QString* error) const;

 public Q_SLOTS:
  void run();
  void stop();

 Q_SIGNALS:
  void finished(bool cancelled);

 private:
  void setupTable(const BatchRequest& r);
  void addItem(const BatchItem& item);
  void showTotals();

  AnalysisSession* session_;
  std::function<BatchRequest()> template_;
  QComboBox* source_;
  FileField* file_;
  QComboBox* score_;
  QSpinBox* limit_;
  QPushButton *run_, *stop_, *export_;
  QTableWidget* table_;
  QLabel* totals_;
  QLabel* status_;
  int running_ = -1;
  QVector<QString> names_;
  QVector<rwkv::EvalTotals> columnTotals_;
  QVector<bool> columnDone_;
};
