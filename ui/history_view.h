// The run history: every finished, cancelled or failed run with its final figures; selecting one
// shows its config, which can be put back into the form.
#pragma once
#include <QVector>
#include <QWidget>

#include "run_record.h"

class QPlainTextEdit;
class QPushButton;
class QTableWidget;

class HistoryView : public QWidget {
  Q_OBJECT
 public:
  explicit HistoryView(QWidget* parent = nullptr);

  void setRecords(const QVector<RunRecord>& records);  // oldest first; shown newest first
  void add(const RunRecord& r);
  int count() const { return records_.size(); }
  QTableWidget* table() const { return table_; }

 Q_SIGNALS:
  void useConfig(const QString& configJson);

 private:
  void fill();
  void showSelected();

  QVector<RunRecord> records_;
  QTableWidget* table_;
  QPlainTextEdit* details_;
  QPushButton* use_;
};
