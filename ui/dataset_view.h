// Preview of a dataset as the run will see it: counts, a token-length histogram (with the
// ctx_len cut marked), the first samples, and every unusable line with its reason.
#pragma once
#include <QWidget>

#include "engine_types.h"

class QCustomPlot;
class QCPBars;
class QCPItemStraightLine;
class QCPItemText;
class QLabel;
class QTableWidget;

class DatasetView : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetView(QWidget* parent = nullptr);

  void showSummary(const DatasetSummary& data);
  void showError(const QString& path, const QString& message);
  void clear();

  QTableWidget* samplesTable() const { return rows_; }
  QTableWidget* issuesTable() const { return issues_; }
  QCustomPlot* histogram() const { return hist_; }

 private:
  QLabel* summary_;
  QLabel* note_;
  QCustomPlot* hist_;
  QCPBars* bars_;
  QCPItemStraightLine* ctxLine_;
  QCPItemText* ctxLabel_;
  QTableWidget* rows_;
  QTableWidget* issues_;
};
