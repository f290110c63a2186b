#include "dataset_view.h"

#include "qcp.h"

#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "plot_common.h"

namespace {

QTableWidget* makeTable(const QStringList& headers, const char* name) {
  auto* t = new QTableWidget(0, headers.size());
  t->setObjectName(name);
  t->setHorizontalHeaderLabels(headers);
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->verticalHeader()->setVisible(false);
  t->verticalHeader()->setDefaultSectionSize(20);
  t->horizontalHeader()->setStretchLastSection(true);
  t->setAlternatingRowColors(true);
  return t;
}

QTableWidgetItem* number(qint64 v) {
  auto* item = new QTableWidgetItem;
  item->setData(Qt::DisplayRole, v);
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}

}  // namespace

DatasetView::DatasetView(QWidget* parent) : QWidget(parent), hist_(new QCustomPlot) {
  summary_ = new QLabel;
  summary_->setObjectName("datasetSummary");
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  note_ = new QLabel;
  note_->setObjectName("datasetNote");
  note_->setWordWrap(true);
  note_->setStyleSheet("color: #8a5a00");

  stylePlot(hist_, "tokens per sample", "samples");
  hist_->setObjectName("tokenHistogram");
  bars_ = new QCPBars(hist_->xAxis, hist_->yAxis);
  bars_->setPen(QPen(QColor(31, 119, 180)));
  bars_->setBrush(QColor(31, 119, 180, 140));
  auto counts = QSharedPointer<QCPAxisTickerFixed>::create();  // whole samples only
  counts->setTickStep(1);
  counts->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  hist_->yAxis->setTicker(counts);
  hist_->yAxis->setNumberFormat("f");
  hist_->yAxis->setNumberPrecision(0);
  ctxLine_ = new QCPItemStraightLine(hist_);
  ctxLine_->setPen(QPen(QColor(192, 57, 43), 1.5, Qt::DashLine));
  ctxLabel_ = new QCPItemText(hist_);
  ctxLabel_->setColor(QColor(192, 57, 43));
  ctxLabel_->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
  ctxLabel_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  hist_->setMinimumHeight(180);

  rows_ = makeTable({"line", "tokens", "targets", "truncated", "text (start)"}, "datasetTable");
  issues_ = makeTable({"line", "why it is unusable"}, "datasetIssues");

  auto* top = new QSplitter(Qt::Horizontal);
  top->addWidget(hist_);
  top->addWidget(issues_);
  top->setStretchFactor(0, 3);
  top->setStretchFactor(1, 2);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(top);
  split->addWidget(rows_);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_);
  layout->addWidget(note_);
  layout->addWidget(split, 1);
  clear();
}

void DatasetView::clear() {
  summary_->setText("No dataset open. Open a JSON Lines file (text, question/answer or chat messages per line).");
  note_->hide();
  bars_->data()->clear();
  ctxLine_->setVisible(false);
  ctxLabel_->setVisible(false);
  rows_->setRowCount(0);
  issues_->setRowCount(0);
  issues_->setHorizontalHeaderLabels({"line", "why it is unusable"});
  hist_->replot(QCustomPlot::rpQueuedReplot);
}

void DatasetView::showError(const QString& path, const QString& message) {
  clear();
  summary_->setText(QString("<b>%1</b>: not usable").arg(QFileInfo(path).fileName().toHtmlEscaped()));
  note_->setText(message);
  note_->setStyleSheet("color: #b00020");
  note_->show();
}

void DatasetView::showSummary(const DatasetSummary& d) {
  const QLocale loc;
  summary_->setText(QString("<b>%1</b> — %2 lines · <b>%3 usable samples</b> (%4) · %5 tokens, %6 of them targets · "
                            "%7 truncated at ctx_len %8 · <b>%9 unusable lines</b><br>tokenizer: %10")
                        .arg(QFileInfo(d.path).fileName().toHtmlEscaped(), loc.toString(d.nLines),
                             loc.toString(d.nSamples), d.shape, loc.toString(d.nTokens), loc.toString(d.nTargetTokens),
                             loc.toString(d.nTruncated), QString::number(d.ctxLen), loc.toString(d.issues.size()),
                             d.tokenizer.toHtmlEscaped()));
  note_->setStyleSheet("color: #8a5a00");
  note_->setText(d.note);
  note_->setVisible(!d.note.isEmpty());

  // Histogram: about 30 equal bins from 0 to the longest sample.
  bars_->data()->clear();
  const int longest = d.lengths.empty() ? 1 : *std::max_element(d.lengths.begin(), d.lengths.end());
  const int width = std::max(1, (longest + 29) / 30);
  QVector<double> keys, counts;
  for (int b = 0; b * width <= longest; ++b) {
    keys << b * width + width / 2.0;
    counts << 0;
  }
  for (int n : d.lengths) counts[n / width] += 1;
  bars_->setWidth(width * 0.9);
  bars_->setData(keys, counts, true);
  const double right = keys.size() * width;
  // The ctx_len cut (longer samples were truncated), drawn when it is near the data.
  const bool near = d.ctxLen <= right * 1.25;
  hist_->xAxis->setRange(0, near ? std::max<double>(right, d.ctxLen * 1.05) : right);
  ctxLine_->point1->setCoords(d.ctxLen, 0);
  ctxLine_->point2->setCoords(d.ctxLen, 1);
  ctxLine_->setVisible(near);
  ctxLabel_->position->setTypeX(near ? QCPItemPosition::ptPlotCoords : QCPItemPosition::ptAxisRectRatio);
  ctxLabel_->position->setCoords(near ? d.ctxLen : 0.98, 0.03);
  ctxLabel_->setText(near ? QString("ctx_len %1 ").arg(d.ctxLen)
                          : QString("ctx_len %1: every sample fits").arg(d.ctxLen));
  ctxLabel_->setVisible(true);
  hist_->yAxis->setRange(0, *std::max_element(counts.begin(), counts.end()) * 1.1 + 0.5);
  hist_->replot(QCustomPlot::rpQueuedReplot);

  rows_->setSortingEnabled(false);
  rows_->setRowCount(d.rows.size());
  for (int i = 0; i < d.rows.size(); ++i) {
    const DatasetRow& r = d.rows[i];
    rows_->setItem(i, 0, number(r.line));
    rows_->setItem(i, 1, number(r.tokens));
    rows_->setItem(i, 2, number(r.targets));
    rows_->setItem(i, 3, new QTableWidgetItem(r.truncated ? "yes" : ""));
    rows_->setItem(i, 4, new QTableWidgetItem(r.text));
  }
  rows_->setSortingEnabled(true);
  rows_->sortByColumn(0, Qt::AscendingOrder);
  rows_->resizeColumnsToContents();
  rows_->horizontalHeader()->setStretchLastSection(true);

  issues_->setRowCount(d.issues.size());
  issues_->setHorizontalHeaderLabels(
      {"line", d.issues.isEmpty() ? QString("why it is unusable (none: every line is usable)")
                                  : QString("why it is unusable (%1 lines)").arg(d.issues.size())});
  for (int i = 0; i < d.issues.size(); ++i) {
    issues_->setItem(i, 0, number(d.issues[i].line));
    issues_->setItem(i, 1, new QTableWidgetItem(d.issues[i].reason));
    issues_->item(i, 1)->setToolTip(d.issues[i].reason);
  }
  issues_->resizeColumnToContents(0);
}
