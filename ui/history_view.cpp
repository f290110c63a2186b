#include "history_view.h"

#include <QFileInfo>
#include <QFontDatabase>
#include <QHeaderView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "run_controls.h"

namespace {

QString fig(double v) { return v > 0 ? QString::number(v, 'f', 4) : QString("—"); }

}  // namespace

HistoryView::HistoryView(QWidget* parent) : QWidget(parent) {
  table_ = new QTableWidget(0, 9);
  table_->setObjectName("historyTable");
  table_->setHorizontalHeaderLabels(
      {"finished", "status", "steps", "final loss", "first eval", "best eval", "tok/s", "time", "data"});
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  details_ = new QPlainTextEdit;
  details_->setObjectName("historyDetails");
  details_->setReadOnly(true);
  details_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  use_ = new QPushButton("Use these settings");
  use_->setObjectName("historyUse");
  use_->setToolTip("Put this run's config (files and hyperparameters) back into the form");
  use_->setEnabled(false);
  auto* bottom = new QWidget;
  auto* bl = new QVBoxLayout(bottom);
  bl->setContentsMargins(0, 0, 0, 0);
  bl->addWidget(details_);
  bl->addWidget(use_, 0, Qt::AlignRight);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(table_);
  split->addWidget(bottom);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);
  connect(table_, &QTableWidget::itemSelectionChanged, this, &HistoryView::showSelected);
  connect(use_, &QPushButton::clicked, this, [this] {
    const int row = table_->currentRow();
    if (row >= 0) Q_EMIT useConfig(records_[records_.size() - 1 - row].configJson);
  });
}

void HistoryView::setRecords(const QVector<RunRecord>& records) {
  records_ = records;
  fill();
}

void HistoryView::add(const RunRecord& r) {
  records_.push_back(r);
  fill();
}

void HistoryView::fill() {
  table_->setRowCount(records_.size());
  for (int row = 0; row < records_.size(); ++row) {
    const RunRecord& r = records_[records_.size() - 1 - row];  // newest first
    const QStringList cells{r.finished.toString("yyyy-MM-dd hh:mm"),
                            r.status,
                            r.status == "failed" ? "—" : QString("%1 / %2").arg(r.steps).arg(r.totalSteps),
                            fig(r.finalLoss),
                            fig(r.firstEval),
                            fig(r.bestEval),
                            r.tokensPerS > 0 ? QString::number(r.tokensPerS, 'f', 0) : "—",
                            RunControls::formatDuration(r.wallS),
                            QFileInfo(r.data).fileName()};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (r.status == "failed") item->setForeground(QColor(176, 0, 32));
      if (c == 1 && !r.error.isEmpty()) item->setToolTip(r.error);
      table_->setItem(row, c, item);
    }
  }
  table_->resizeColumnsToContents();
  table_->horizontalHeader()->setStretchLastSection(true);
}

void HistoryView::showSelected() {
  const int row = table_->currentRow();
  use_->setEnabled(row >= 0);
  if (row < 0) return details_->clear();
  const RunRecord& r = records_[records_.size() - 1 - row];
  QString text = QString("status: %1\nmodel: %2\ndata: %3\nstate: %4\n").arg(r.status, r.model, r.data, r.out);
  if (!r.error.isEmpty()) text += "error: " + r.error + "\n";
  details_->setPlainText(text + "\nconfig:\n" + r.configJson);
}
