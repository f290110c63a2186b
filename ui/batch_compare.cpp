#include "batch_compare.h"

#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "analysis_session.h"
#include "file_field.h"

namespace {

constexpr int kFixedColumns = 4;  // #, line, prompt, reference
constexpr int kPerModel = 4;      // answer, exact, contains, scorer verdict

QString oneLine(const std::string& s) {
  QString q = QString::fromStdString(s).trimmed();
  q.replace('\n', QChar(0x21B5));
  return q;
}

// The question of a rendered single-turn chat prompt, else the prompt, one line.
QString questionOf(const std::string& prompt) {
  QString q = QString::fromStdString(prompt);
  if (q.startsWith("User: ") && q.endsWith("\n\nAssistant:") && q.count("\n\nAssistant:") == 1) q = q.mid(6).chopped(12);
  return oneLine(q.toStdString());
}

QTableWidgetItem* textItem(const QString& shown, const QString& full) {
  auto* it = new QTableWidgetItem(shown);
  it->setData(Qt::UserRole, full);
  it->setToolTip(full.left(2000));
  it->setFlags(it->flags() & ~Qt::ItemIsEditable);
  return it;
}

QTableWidgetItem* verdictItem(bool ok, bool formatFailure = false) {
  auto* it = textItem(formatFailure ? "format" : ok ? "✓" : "✗", formatFailure ? "format" : ok ? "1" : "0");
  it->setTextAlignment(Qt::AlignCenter);
  it->setBackground(ok ? QColor(200, 235, 200) : formatFailure ? QColor(255, 236, 179) : QColor(248, 215, 215));
  return it;
}

QString csvField(const QString& s) {
  if (!s.contains(QRegularExpression("[\",\\n\\r]"))) return s;
  QString q = s;
  q.replace("\"", "\"\"");
  return "\"" + q + "\"";
}

}  // namespace

BatchCompare::BatchCompare(AnalysisSession* session, QWidget* parent)
    : QWidget(parent),
      session_(session),
      source_(new QComboBox),
      file_(new FileField("Eval file", "evalfile", "Eval files (*.jsonl *.json *.csv);;All files (*)", FileField::Open)),
      score_(new QComboBox),
      limit_(new QSpinBox),
      run_(new QPushButton("Run batch")),
      stop_(new QPushButton("Stop")),
      export_(new QPushButton("Export CSV…")),
      table_(new QTableWidget),
      totals_(new QLabel),
      status_(new QLabel) {
  setObjectName("batchCompare");
  source_->setObjectName("batchSource");
  source_->addItems({"Eval split of the data set", "Eval file (JSON Lines, GSM8K, MMLU CSV)"});
  file_->setObjectName("batchFile");
  file_->setEnabled(false);
  score_->setObjectName("batchScore");
  for (const char* m : {"auto", "exact", "contains", "gsm8k", "choice"}) score_->addItem(m);
  score_->setToolTip("auto: gsm8k when references hold ####, choice when they are all letters A-D, else exact");
  limit_->setObjectName("batchLimit");
  limit_->setRange(0, 1000000);
  limit_->setSpecialValueText("all");
  run_->setObjectName("batchRun");
  stop_->setObjectName("batchStop");
  stop_->setEnabled(false);
  export_->setObjectName("batchExport");
  export_->setEnabled(false);
  table_->setObjectName("batchTable");
  table_->setWordWrap(false);
  table_->verticalHeader()->setVisible(false);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  totals_->setObjectName("batchTotals");
  totals_->setTextFormat(Qt::RichText);
  totals_->setWordWrap(true);
  status_->setObjectName("batchStatus");

  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel("Items"));
  row->addWidget(source_);
  row->addWidget(file_, 1);
  row->addWidget(new QLabel("Scorer"));
  row->addWidget(score_);
  row->addWidget(new QLabel("Limit"));
  row->addWidget(limit_);
  row->addWidget(run_);
  row->addWidget(stop_);
  row->addWidget(export_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(row);
  layout->addWidget(table_, 1);
  layout->addWidget(totals_);
  layout->addWidget(status_);

  connect(source_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) { file_->setEnabled(i == 1); });
  connect(run_, &QPushButton::clicked, this, &BatchCompare::run);
  connect(stop_, &QPushButton::clicked, this, &BatchCompare::stop);
  connect(export_, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, "Export batch compare", "compare.csv", "CSV (*.csv)");
    QString err;
    if (!p.isEmpty() && !exportCsv(p, &err)) status_->setText("Export failed: " + err);
    else if (!p.isEmpty()) status_->setText("Exported " + p);
  });
  connect(session_, &AnalysisSession::batchItem, this, &BatchCompare::addItem);
  connect(session_, &AnalysisSession::batchColumnDone, this, [this](const BatchColumnDone& d) {
    if (d.request != running_ || d.column >= columnTotals_.size()) return;
    columnTotals_[d.column] = d.totals;
    columnDone_[d.column] = true;
    showTotals();
  });
  connect(session_, &AnalysisSession::batchFinished, this, [this](int request, bool cancelled) {
    if (request != running_) return;
    running_ = -1;
    run_->setEnabled(true);
    stop_->setEnabled(false);
    export_->setEnabled(table_->rowCount() > 0);
    status_->setText(cancelled ? "Stopped." : "Done.");
    Q_EMIT finished(cancelled);
  });
  connect(session_, &AnalysisSession::failed, this, [this](int request, const ErrorReport& r) {
    if (request != running_ || r.operation != "Batch compare") return;
    running_ = -1;
    run_->setEnabled(true);
    stop_->setEnabled(false);
    status_->setText("Batch compare failed: " + r.message);
    Q_EMIT finished(true);
  });
}

void BatchCompare::setSourceFile(const QString& path) {
  source_->setCurrentIndex(1);
  file_->setPath(path, false);
}

void BatchCompare::setLimit(int n) { limit_->setValue(n); }

void BatchCompare::run() {
  if (!template_) return;
  BatchRequest r = template_();
  r.evalSplit = source_->currentIndex() == 0;
  if (!r.evalSplit) r.dataPath = file_->path();
  if (r.model.model.isEmpty()) return status_->setText("Open a model first.");
  if (r.dataPath.isEmpty()) return status_->setText(r.evalSplit ? "Open a data set first." : "Choose an eval file.");
  r.params.score = rwkv::parse_score_mode(score_->currentText().toStdString());
  r.params.limit = limit_->value();
  if (running_ >= 0) session_->cancel(running_);
  setupTable(r);
  running_ = session_->batch(r);
  run_->setEnabled(false);
  stop_->setEnabled(true);
  export_->setEnabled(false);
  status_->setText(QString("Answering %1 with %2 column%3… (waits while a tuning run holds the engine)")
                       .arg(r.evalSplit ? "the eval split" : r.dataPath)
                       .arg(r.columns.size())
                       .arg(r.columns.size() == 1 ? "" : "s"));
}

void BatchCompare::stop() {
  if (running_ >= 0) session_->cancel(running_);
}

void BatchCompare::setupTable(const BatchRequest& r) {
  names_.clear();
  for (const auto& c : r.columns) names_.push_back(c.name);
  columnTotals_ = QVector<rwkv::EvalTotals>(names_.size());
  columnDone_ = QVector<bool>(names_.size(), false);
  table_->clear();
  table_->setRowCount(0);
  QStringList headers{"#", "line", "prompt", "reference"};
  for (const QString& n : names_) headers << n << "exact" << "contains" << "score";
  table_->setColumnCount(headers.size());
  table_->setHorizontalHeaderLabels(headers);
  for (int c = 0; c < names_.size(); ++c) {  // the short verdict headers name their column in a tooltip
    const char* what[] = {"answer", "exact match (trimmed)", "reference contained in the answer",
                          "correct under the scorer (format: no answer in the scorer's form)"};
    for (int k = 0; k < kPerModel; ++k)
      table_->horizontalHeaderItem(kFixedColumns + kPerModel * c + k)->setToolTip(names_[c] + ": " + what[k]);
  }
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  table_->setColumnWidth(0, 32);
  table_->setColumnWidth(1, 42);
  table_->setColumnWidth(2, 190);
  table_->setColumnWidth(3, 90);
  for (int c = 0; c < names_.size(); ++c) {
    table_->setColumnWidth(kFixedColumns + kPerModel * c, 125);
    for (int k = 1; k < kPerModel; ++k) table_->setColumnWidth(kFixedColumns + kPerModel * c + k, 58);
  }
  showTotals();
}

void BatchCompare::addItem(const BatchItem& b) {
  if (b.request != running_ || b.column >= names_.size()) return;
  const rwkv::EvalItemResult& r = b.result;
  if (table_->rowCount() <= r.index) {
    table_->setRowCount(r.index + 1);
    table_->setItem(r.index, 0, textItem(QString::number(r.index + 1), QString::number(r.index + 1)));
    table_->setItem(r.index, 1, textItem(QString::number(r.item.line), QString::number(r.item.line)));
    table_->setItem(r.index, 2, textItem(questionOf(r.item.prompt), QString::fromStdString(r.item.prompt)));
    table_->setItem(r.index, 3, textItem(oneLine(r.item.reference), QString::fromStdString(r.item.reference)));
  }
  const int col = kFixedColumns + kPerModel * b.column;
  table_->setItem(r.index, col, textItem(oneLine(r.output), QString::fromStdString(r.output)));
  table_->setItem(r.index, col + 1, verdictItem(r.score.exact));
  table_->setItem(r.index, col + 2, verdictItem(r.score.contains));
  table_->setItem(r.index, col + 3, verdictItem(r.score.correct, r.score.format_failure));
  if (b.column == 0) table_->scrollToItem(table_->item(r.index, 0));
  // Running totals while the column answers (the engine's totals replace them when it is done).
  rwkv::EvalTotals& t = columnTotals_[b.column];
  if (!columnDone_[b.column]) {
    ++t.n;
    t.correct += r.score.correct;
    t.exact += r.score.exact;
    t.contains += r.score.contains;
    t.format_failures += r.score.format_failure;
    t.tokens += static_cast<int64_t>(r.tokens.size());
    t.seconds += r.seconds;
    showTotals();
  }
}

void BatchCompare::showTotals() {
  QStringList lines;
  for (int c = 0; c < names_.size(); ++c) {
    const rwkv::EvalTotals& t = columnTotals_[c];
    lines << QString("<b>%1</b>%2: score%3 %4/%5 = %6% · exact %7 · contains %8 · format failures %9 · %10 tokens/s")
                 .arg(names_[c].toHtmlEscaped(), columnDone_[c] ? "" : " (running)",
                      columnDone_[c] ? QString(" (%1)").arg(rwkv::score_mode_name(t.score)) : QString())
                 .arg(t.correct)
                 .arg(t.n)
                 .arg(100.0 * t.accuracy(), 0, 'f', 1)
                 .arg(t.exact)
                 .arg(t.contains)
                 .arg(t.format_failures)
                 .arg(t.tokens_per_s(), 0, 'f', 1);
  }
  totals_->setText(lines.join("<br>"));
}

bool BatchCompare::exportCsv(const QString& path, QString* error) const {
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
    *error = f.errorString();
    return false;
  }
  QStringList header{"index", "line", "prompt", "reference"};
  for (const QString& n : names_) header << n << n + " exact" << n + " contains" << n + " score";
  QString out = header.join(',') + "\n";
  for (int r = 0; r < table_->rowCount(); ++r) {
    QStringList cells;
    for (int c = 0; c < table_->columnCount(); ++c) {
      const QTableWidgetItem* it = table_->item(r, c);
      cells << csvField(it ? it->data(Qt::UserRole).toString() : QString());
    }
    out += cells.join(',') + "\n";
  }
  for (int c = 0; c < names_.size(); ++c) {  // one totals row per column
    const rwkv::EvalTotals& t = columnTotals_[c];
    QStringList cells{"total", "", csvField(QString("%1: n=%2 scorer=%3 accuracy=%4 tokens/s=%5")
                                                .arg(names_[c])
                                                .arg(t.n)
                                                .arg(rwkv::score_mode_name(t.score))
                                                .arg(t.accuracy())
                                                .arg(t.tokens_per_s(), 0, 'f', 1)),
                      ""};
    for (int k = 0; k < names_.size(); ++k) {
      if (k == c) cells << "" << QString::number(t.exact) << QString::number(t.contains) << QString::number(t.correct);
      else cells << "" << "" << "" << "";
    }
    out += cells.join(',') + "\n";
  }
  f.write(out.toUtf8());
  if (!f.commit()) {
    *error = f.errorString();
    return false;
  }
  return true;
}
