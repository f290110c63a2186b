#include "setup_panel.h"

#include <QGroupBox>
#include <QLabel>
#include <QVBoxLayout>

#include "command_preview.h"
#include "file_field.h"
#include "files_panel.h"
#include "hyperparam_form.h"

SetupPanel::SetupPanel(QWidget* parent)
    : QWidget(parent), files_(new FilesPanel), form_(new HyperparamForm), command_(new CommandPreview) {
  problems_ = new QLabel;
  problems_->setObjectName("validationLabel");
  problems_->setWordWrap(true);
  problems_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* filesBox = new QGroupBox("Files");
  auto* fl = new QVBoxLayout(filesBox);
  fl->addWidget(files_);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(filesBox);
  layout->addWidget(problems_);
  layout->addWidget(form_);
  layout->addWidget(command_);
  connect(files_, &FilesPanel::changed, this, &SetupPanel::changed);
  connect(form_, &HyperparamForm::changed, this, &SetupPanel::changed);
}

rwkv::TuneConfig SetupPanel::config(QStringList* problems) const {
  rwkv::TuneConfig c;
  const QStringList p = form_->read(&c);
  if (problems) *problems = p;
  c.model = files_->model()->path().toStdString();
  c.data = files_->data()->path().toStdString();
  c.tokenizer = files_->tokenizerSpec().toStdString();
  c.init_state = files_->initState()->path().toStdString();
  c.out = files_->out()->path().toStdString();
  return c;
}

void SetupPanel::setConfig(const rwkv::TuneConfig& c) {
  form_->write(c);
  files_->setTokenizerSpec(QString::fromStdString(c.tokenizer));
  files_->initState()->setPath(QString::fromStdString(c.init_state), false);
  files_->out()->setPath(QString::fromStdString(c.out), false);
  files_->model()->setPath(QString::fromStdString(c.model), true);
  files_->data()->setPath(QString::fromStdString(c.data), true);
}

void SetupPanel::showProblems(const QStringList& problems) {
  if (problems.isEmpty()) {
    problems_->setStyleSheet("color: #2e6b30");
    problems_->setText("✓ Ready to start.");
  } else {
    problems_->setStyleSheet("color: #b00020");
    problems_->setText("Cannot start yet:\n• " + problems.join("\n• "));
  }
  QStringList ignored;
  rwkv::TuneConfig c = config(&ignored);
  if (c.out.empty()) c.out = "tuned.rwkvstate";
  command_->setCommand(c.to_command_line());
}
