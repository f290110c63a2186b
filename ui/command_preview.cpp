#include "command_preview.h"

#include <QApplication>
#include <QClipboard>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>

CommandPreview::CommandPreview(QWidget* parent) : QWidget(parent) {
  text_ = new QPlainTextEdit;
  text_->setObjectName("commandLine");
  text_->setReadOnly(true);
  text_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  text_->setMaximumHeight(90);
  text_->setToolTip("The same run from a terminal or a script (rwkv-tune); updated as you edit");
  copy_ = new QPushButton("Copy");
  copy_->setObjectName("copyCommand");
  copy_->setToolTip("Copy the command line to the clipboard");
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel("Equivalent command line"));
  top->addStretch();
  top->addWidget(copy_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(top);
  layout->addWidget(text_);
  connect(copy_, &QPushButton::clicked, this, &CommandPreview::copy);
}

QString CommandPreview::shellQuote(const QString& arg) {
  static const QRegularExpression safe("^[A-Za-z0-9_./:=,+-]+$");
  if (safe.match(arg).hasMatch()) return arg;
  QString q = arg;
  q.replace("'", "'\\''");
  return "'" + q + "'";
}

void CommandPreview::setCommand(const std::vector<std::string>& argv) {
  QStringList parts;
  for (const auto& a : argv) parts << shellQuote(QString::fromStdString(a));
  text_->setPlainText(parts.join(' '));
}

QString CommandPreview::text() const { return text_->toPlainText(); }

void CommandPreview::copy() { QApplication::clipboard()->setText(text()); }
