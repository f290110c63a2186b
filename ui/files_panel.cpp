#include "files_panel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QToolButton>

#include "file_field.h"

namespace {

QLabel* noteLabel(const char* name) {
  auto* l = new QLabel;
  l->setObjectName(name);
  l->setWordWrap(true);
  l->setStyleSheet("color: gray");
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return l;
}

}  // namespace

FilesPanel::FilesPanel(QWidget* parent) : QWidget(parent) {
  model_ = new FileField("modelPath", "models", "RWKV-7 models (*.pth *.safetensors *.bin);;All files (*)", FileField::Open);
  model_->setTips("RWKV-7 checkpoint: PyTorch .pth, .safetensors or rwkv.cpp .bin (Ctrl+O; or drop a file on the window)");
  model_->setPlaceholder("choose a model (.pth, .safetensors, rwkv.cpp .bin)");
  modelStatus_ = noteLabel("modelStatus");
  modelStatus_->setText("no model open");

  tokenizer_ = new QComboBox;
  tokenizer_->setObjectName("tokenizerCombo");
  tokenizer_->setEditable(true);
  tokenizer_->addItems({"auto", "bytes"});
  tokenizer_->setToolTip("auto: bytes for a 256-token model, else the one *.model or rwkv_vocab*.txt next to the model. "
                         "Or \"bytes\", or a World vocab .txt / sentencepiece .model file.");
  auto* tokBrowse = new QToolButton;
  tokBrowse->setText("…");
  tokBrowse->setIcon(QIcon(":/icons/open.svg"));
  tokBrowse->setToolTip("Choose a tokenizer file");
  auto* tokRow = new QHBoxLayout;
  tokRow->setSpacing(2);
  tokRow->addWidget(tokenizer_, 1);
  tokRow->addWidget(tokBrowse);
  tokNote_ = noteLabel("tokenizerNote");
  tokNote_->hide();

  data_ = new FileField("dataPath", "datasets", "JSON Lines (*.jsonl *.json);;All files (*)", FileField::Open);
  data_->setTips("Training data, one JSON object per line: {\"text\"}, {\"question\", \"answer\"} or {\"messages\": [...]}");
  data_->setPlaceholder("choose a dataset (.jsonl)");
  init_ = new FileField("initStatePath", "states", "States (*.rwkvstate *.pth *.st *.state);;All files (*)", FileField::Open);
  init_->setTips("Optional state to start from (ours .rwkvstate, RWKV-PEFT .pth, Ai00 .st); empty = zeros");
  init_->setPlaceholder("zeros (optional)");
  out_ = new FileField("outPath", "outputs", "Our state (*.rwkvstate);;RWKV-PEFT (*.pth);;Ai00 (*.st)", FileField::Save);
  out_->setTips("Where the run writes its tuned state (format from the extension); empty = a new folder under the "
                "studio's runs folder");
  out_->setPlaceholder("automatic (runs folder)");

  auto* form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  form->addRow("Model", model_);
  form->addRow("", modelStatus_);
  form->addRow("Tokenizer", tokRow);
  form->addRow("", tokNote_);
  form->addRow("Dataset", data_);
  form->addRow("Start state", init_);
  form->addRow("Output state", out_);
  for (auto* f : {model_, data_, init_, out_}) {
    form->labelForField(f)->setToolTip(f->edit()->toolTip());
    connect(f, &FileField::chosen, this, &FilesPanel::changed);
  }
  connect(model_, &FileField::chosen, this, &FilesPanel::modelChosen);
  connect(data_, &FileField::chosen, this, &FilesPanel::dataChosen);
  connect(tokenizer_, &QComboBox::currentTextChanged, this, [this] {
    Q_EMIT tokenizerChanged();
    Q_EMIT changed();
  });
  connect(tokBrowse, &QToolButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, "Tokenizer", {}, "Tokenizers (*.txt *.model);;All files (*)");
    if (!p.isEmpty()) setTokenizerSpec(p);
  });
}

QString FilesPanel::tokenizerSpec() const {
  const QString t = tokenizer_->currentText().trimmed();
  return t == "auto" ? QString() : t;
}

void FilesPanel::setTokenizerSpec(const QString& spec) { tokenizer_->setCurrentText(spec.isEmpty() ? "auto" : spec); }

void FilesPanel::setModelStatus(const QString& text, bool ok) {
  modelStatus_->setText(text);
  modelStatus_->setStyleSheet(ok ? "color: #2e6b30" : "color: #b00020");
}

void FilesPanel::setTokenizerNote(const QString& text) {
  tokNote_->setText(text);
  tokNote_->setVisible(!text.isEmpty());
}
