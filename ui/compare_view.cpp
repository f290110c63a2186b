#include "compare_view.h"

#include <QCheckBox>
#include <QCursor>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include "analysis_session.h"
#include "answer_column.h"
#include "batch_compare.h"
#include "rwkv/dataset.h"

namespace {

constexpr int kTopAlternatives = 5;
constexpr double kDemoScale = 1.9;

// A token's bytes as the tooltip shows them: whitespace made visible.
QString shownToken(const QByteArray& bytes) {
  QString s = QString::fromUtf8(bytes);
  s.replace('\n', "\\n").replace('\t', "\\t");
  if (s == " ") s = QChar(0x2423);  // ␣
  return "'" + s.toHtmlEscaped() + "'";
}

// The question of a rendered chat prompt, one line, for the list.
QString listLabel(const QString& prompt) {
  QString s = prompt;
  if (s.startsWith("User: ")) s = s.mid(6);
  if (s.endsWith("\n\nAssistant:")) s.chop(12);
  s.replace('\n', QChar(0x21B5));
  return s.left(120);
}

}  // namespace

CompareView::CompareView(AnalysisSession* session, QWidget* parent)
    : QWidget(parent),
      session_(session),
      tabs_(new QTabWidget),
      prompt_(new QPlainTextEdit),
      list_(new QListWidget),
      listNote_(new QLabel),
      statesList_(new QListWidget),
      maxTokens_(new QSpinBox),
      seed_(new QSpinBox),
      topK_(new QSpinBox),
      temperature_(new QDoubleSpinBox),
      topP_(new QDoubleSpinBox),
      stopBlank_(new QCheckBox("Stop at a blank line")),
      colour_(new QCheckBox("Colour by probability")),
      runButton_(new QPushButton("Run")),
      stopButton_(new QPushButton("Stop")),
      nextButton_(new QPushButton("Next prompt")),
      demoButton_(new QPushButton("Demo mode")),
      answers_(new QSplitter(Qt::Horizontal)),
      batch_(new BatchCompare(session)),
      status_(new QLabel) {
  setObjectName("compareView");
  prompt_->setObjectName("comparePrompt");
  prompt_->setPlaceholderText("The exact model input, e.g. User: What is the capital of France?\\n\\nAssistant:");
  prompt_->setMaximumHeight(110);
  list_->setObjectName("comparePrompts");
  listNote_->setObjectName("comparePromptsNote");
  listNote_->setWordWrap(true);
  listNote_->setText("Open a data set: its eval split lists prompts here.");
  statesList_->setObjectName("compareStates");
  statesList_->setToolTip("Each tuned state is a column after the base model");
  maxTokens_->setObjectName("compareMaxTokens");
  maxTokens_->setRange(1, 4096);
  maxTokens_->setValue(100);
  seed_->setObjectName("compareSeed");
  seed_->setRange(0, 1 << 30);
  seed_->setValue(42);
  topK_->setObjectName("compareTopK");
  topK_->setRange(0, 1000);
  temperature_->setObjectName("compareTemperature");
  temperature_->setRange(0, 5);
  temperature_->setSingleStep(0.1);
  temperature_->setValue(0);
  temperature_->setToolTip("0 = greedy");
  topP_->setObjectName("compareTopP");
  topP_->setRange(0.01, 1);
  topP_->setSingleStep(0.05);
  topP_->setValue(1);
  stopBlank_->setObjectName("compareStopBlank");
  stopBlank_->setChecked(true);
  colour_->setObjectName("compareColour");
  colour_->setChecked(true);
  runButton_->setObjectName("compareRun");
  runButton_->setShortcut(QKeySequence("Ctrl+R"));
  runButton_->setToolTip("Answer the prompt with every column (Ctrl+R)");
  stopButton_->setObjectName("compareStop");
  stopButton_->setEnabled(false);
  nextButton_->setObjectName("compareNext");
  nextButton_->setToolTip("Run the next prompt of the list (N, → or PageDown in demo mode)");
  demoButton_->setObjectName("compareDemo");
  demoButton_->setCheckable(true);
  demoButton_->setToolTip("Large fonts, full screen, one key for the next prompt (F11)");
  status_->setObjectName("compareStatus");
  status_->setWordWrap(true);

  // Settings row.
  settings_ = new QWidget;
  auto* row = new QHBoxLayout(settings_);
  row->setContentsMargins(0, 0, 0, 0);
  const auto labelled = [&](const QString& text, QWidget* w) {
    row->addWidget(new QLabel(text));
    row->addWidget(w);
  };
  labelled("Max tokens", maxTokens_);
  labelled("Temperature", temperature_);
  labelled("Top-p", topP_);
  labelled("Top-k", topK_);
  labelled("Seed", seed_);
  row->addWidget(stopBlank_);
  row->addWidget(colour_);
  row->addStretch();

  // Side panel: prompts of the eval split, tuned states.
  sidePanel_ = new QWidget;
  auto* side = new QVBoxLayout(sidePanel_);
  side->setContentsMargins(0, 0, 0, 0);
  side->addWidget(new QLabel("<b>Eval prompts</b>"));
  side->addWidget(list_, 3);
  side->addWidget(listNote_);
  side->addWidget(new QLabel("<b>Tuned states</b> (columns after the base)"));
  side->addWidget(statesList_, 1);
  auto* stateButtons = new QHBoxLayout;
  auto* add = new QPushButton("Add…");
  add->setObjectName("compareAddState");
  auto* remove = new QPushButton("Remove");
  remove->setObjectName("compareRemoveState");
  stateButtons->addWidget(add);
  stateButtons->addWidget(remove);
  stateButtons->addStretch();
  side->addLayout(stateButtons);

  auto* chat = new QPushButton("Chat form");
  chat->setObjectName("compareChatForm");
  chat->setToolTip("Wrap the text as User: …\\n\\nAssistant: (the form the tuner trains on)");
  auto* buttons = new QGridLayout;  // beside the prompt: the settings row stays narrow
  buttons->addWidget(runButton_, 0, 0);
  buttons->addWidget(stopButton_, 0, 1);
  buttons->addWidget(nextButton_, 1, 0);
  buttons->addWidget(chat, 1, 1);
  buttons->addWidget(demoButton_, 2, 0, 1, 2);
  buttons->setRowStretch(3, 1);
  auto* promptRow = new QHBoxLayout;
  promptRow->addWidget(prompt_, 1);
  promptRow->addLayout(buttons);
  auto* legend = new QLabel(QString("Token colour: probability <span style='background:%1'>&nbsp;low&nbsp;</span>"
                                    "<span style='background:%2'>&nbsp;mid&nbsp;</span>"
                                    "<span style='background:%3'>&nbsp;high&nbsp;</span> · "
                                    "<span style='color:#b71c1c'><b><u>first divergent token</u></b></span> · "
                                    "hover a token for every model's alternatives")
                                .arg(probabilityColour(0.05).name(), probabilityColour(0.5).name(),
                                     probabilityColour(0.95).name()));
  legend->setObjectName("compareLegend");
  legend->setWordWrap(true);

  auto* main = new QWidget;
  auto* mainLayout = new QVBoxLayout(main);
  mainLayout->setContentsMargins(0, 0, 0, 0);
  mainLayout->addLayout(promptRow);
  mainLayout->addWidget(legend);
  mainLayout->addWidget(answers_, 1);

  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(sidePanel_);
  split->addWidget(main);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 4);
  split->setSizes({260, 1000});

  auto* answersTab = new QWidget;
  auto* tabLayout = new QVBoxLayout(answersTab);
  tabLayout->setContentsMargins(4, 4, 4, 4);
  tabLayout->addWidget(settings_);
  tabLayout->addWidget(split, 1);
  tabLayout->addWidget(status_);
  tabs_->setObjectName("compareTabs");
  tabs_->addTab(answersTab, "Side by side");
  tabs_->addTab(batch_, "Batch compare");
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(tabs_);

  batch_->setRequestTemplate([this] {
    BatchRequest r;
    r.model = ctx_.model;
    r.dataPath = ctx_.dataPath;
    r.ctxLen = ctx_.ctxLen;
    r.evalFraction = ctx_.evalFraction;
    r.seed = ctx_.seed;
    r.columns.push_back({"Base", ""});
    for (const QString& s : states()) r.columns.push_back({QFileInfo(s).fileName(), s});
    r.params.max_tokens = maxTokens_->value();
    return r;
  });

  connect(runButton_, &QPushButton::clicked, this, &CompareView::run);
  connect(stopButton_, &QPushButton::clicked, this, &CompareView::stop);
  connect(nextButton_, &QPushButton::clicked, this, &CompareView::runNext);
  connect(demoButton_, &QPushButton::toggled, this, &CompareView::setDemoMode);
  connect(chat, &QPushButton::clicked, this, [this] {
    const QString t = prompt_->toPlainText().trimmed();
    if (!t.isEmpty() && !t.endsWith("Assistant:")) setPrompt(QString::fromStdString(rwkv::chat_prompt(t.toStdString())));
  });
  connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0) setPrompt(list_->item(row)->data(Qt::UserRole).toString());
  });
  connect(list_, &QListWidget::itemDoubleClicked, this, [this] { run(); });
  connect(add, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, "Add a tuned state", {},
                                                   "States (*.rwkvstate *.pth *.st *.state);;All files (*)");
    if (!p.isEmpty()) addState(p);
  });
  connect(remove, &QPushButton::clicked, this, [this] {
    delete statesList_->takeItem(statesList_->currentRow());
    rebuildColumns();
  });
  connect(colour_, &QCheckBox::toggled, this, [this](bool on) {
    for (AnswerColumn* c : columns_) c->setColouring(on);
  });

  for (const QKeySequence& key : {QKeySequence(Qt::Key_N), QKeySequence(Qt::Key_Right), QKeySequence(Qt::Key_PageDown)}) {
    auto* sc = new QShortcut(key, this);
    sc->setContext(Qt::WidgetWithChildrenShortcut);
    sc->setEnabled(false);
    sc->setObjectName("demoNext");
    connect(sc, &QShortcut::activated, this, &CompareView::runNext);
  }
  auto* f11 = new QShortcut(QKeySequence(Qt::Key_F11), this);
  f11->setContext(Qt::WindowShortcut);
  connect(f11, &QShortcut::activated, demoButton_, &QPushButton::toggle);

  connect(session_, &AnalysisSession::compareToken, this, &CompareView::onToken);
  connect(session_, &AnalysisSession::compareColumnDone, this, [this](const CompareColumnDone& d) {
    if (d.request != running_ || d.column >= columns_.size()) return;
    columns_[d.column]->finish(d);
    updateDivergence();
  });
  connect(session_, &AnalysisSession::compareFinished, this, [this](int request, bool cancelled) {
    if (request != running_) return;
    setRunning(-1);
    status_->setText(cancelled ? "Stopped." : "Done: every column answered with the same settings and seed.");
    Q_EMIT finished();
  });
  connect(session_, &AnalysisSession::failed, this, [this](int request, const ErrorReport& r) {
    if (r.operation == "Eval split") {
      listNote_->setText("The eval split cannot be listed: " + r.message.toHtmlEscaped());
      return;
    }
    if (r.operation != "Compare" || request != running_) return;
    setRunning(-1);
    status_->setText("Compare failed: " + r.message);
    Q_EMIT finished();
  });
  connect(session_, &AnalysisSession::evalSplitLoaded, this, [this](const EvalSplitResult& r) {
    if (r.path != ctx_.dataPath) return;
    list_->clear();
    for (const auto& it : r.set.items) {
      const QString p = QString::fromStdString(it.prompt);
      auto* item = new QListWidgetItem(listLabel(p), list_);
      item->setData(Qt::UserRole, p);
      item->setToolTip(QString("line %1\nreference: %2").arg(it.line).arg(QString::fromStdString(it.reference)));
    }
    listNote_->setText(r.set.items.empty()
                           ? "The eval split of this data set is empty (eval fraction 0, or no question/answer lines)."
                           : QString("%1 prompts from the eval split of %2 (eval fraction %3, seed %4).")
                                 .arg(r.set.items.size())
                                 .arg(QFileInfo(r.path).fileName())
                                 .arg(ctx_.evalFraction)
                                 .arg(ctx_.seed));
  });
  rebuildColumns();
}

void CompareView::setContext(const CompareContext& c) {
  const bool reload = c.dataPath != ctx_.dataPath || c.ctxLen != ctx_.ctxLen || c.evalFraction != ctx_.evalFraction ||
                      c.seed != ctx_.seed || c.model.model != ctx_.model.model || c.model.tokenizer != ctx_.model.tokenizer;
  ctx_ = c;
  if (reload && !c.dataPath.isEmpty()) {
    listNote_->setText("Loading the eval split…");
    session_->loadEvalSplit(c.model, c.dataPath, c.ctxLen, c.evalFraction, c.seed);
  }
}

void CompareView::setStates(const QStringList& paths) {
  statesList_->clear();
  for (const QString& p : paths) addState(p);
  rebuildColumns();
}

void CompareView::addState(const QString& path) {
  if (states().contains(path)) return;
  auto* item = new QListWidgetItem(QFileInfo(path).fileName(), statesList_);
  item->setData(Qt::UserRole, path);
  item->setToolTip(path);
  rebuildColumns();
}

QStringList CompareView::states() const {
  QStringList out;
  for (int i = 0; i < statesList_->count(); ++i) out << statesList_->item(i)->data(Qt::UserRole).toString();
  return out;
}

void CompareView::setPrompt(const QString& text) { prompt_->setPlainText(text); }
QString CompareView::prompt() const { return prompt_->toPlainText(); }
void CompareView::setMaxTokens(int n) { maxTokens_->setValue(n); }
void CompareView::setTemperature(double t) { temperature_->setValue(t); }

rwkv::GenerateParams CompareView::params() const {
  rwkv::GenerateParams p;
  p.max_tokens = maxTokens_->value();
  p.sampler.temperature = static_cast<float>(temperature_->value());
  p.sampler.top_p = static_cast<float>(topP_->value());
  p.sampler.top_k = topK_->value();
  p.sampler.seed = static_cast<uint64_t>(seed_->value());
  if (stopBlank_->isChecked()) p.stop = {"\n\n"};
  p.top_alternatives = kTopAlternatives;
  return p;
}

void CompareView::rebuildColumns() {
  if (isRunning()) stop();
  const QStringList paths = states();
  QStringList titles{"Base (zero state)"};
  for (const QString& p : paths) titles << "Tuned: " + QFileInfo(p).fileName();
  while (columns_.size() > titles.size()) delete columns_.takeLast();
  while (columns_.size() < titles.size()) {
    auto* c = new AnswerColumn(QString());
    c->setObjectName(QString("answerColumn%1").arg(columns_.size()));
    c->setColouring(colour_->isChecked());
    c->setFontScale(demo_ ? kDemoScale : 1.0);
    connect(c, &AnswerColumn::tokenHovered, this, [this, c](int index) {
      if (index < 0) return QToolTip::hideText();
      QToolTip::showText(QCursor::pos(), alternativesHtml(index), c);
    });
    answers_->addWidget(c);
    columns_.push_back(c);
  }
  for (int i = 0; i < columns_.size(); ++i) {
    columns_[i]->setTitle(titles[i]);
    columns_[i]->clear();
  }
}

void CompareView::run() {
  if (prompt().isEmpty()) {
    status_->setText("Type a prompt or pick one from the list.");
    return;
  }
  if (ctx_.model.model.isEmpty()) {
    status_->setText("Open a model first.");
    return;
  }
  if (running_ >= 0) session_->cancel(running_);  // a running compare gives way
  for (AnswerColumn* c : columns_) c->clear();
  CompareRequest r;
  r.model = ctx_.model;
  r.prompt = prompt();
  r.columns.push_back({"Base", ""});
  for (const QString& s : states()) r.columns.push_back({QFileInfo(s).fileName(), s});
  r.params = params();
  setRunning(session_->compare(r));
  status_->setText(QString("Answering with %1 column%2… (waits while a tuning run holds the engine)")
                       .arg(r.columns.size())
                       .arg(r.columns.size() == 1 ? "" : "s"));
}

void CompareView::stop() {
  if (running_ >= 0) session_->cancel(running_);
}

void CompareView::runNext() {
  if (list_->count() > 0) list_->setCurrentRow((list_->currentRow() + 1) % list_->count());
  run();
}

void CompareView::setRunning(int request) {
  running_ = request;
  stopButton_->setEnabled(request >= 0);
}

void CompareView::onToken(const CompareToken& t) {
  if (t.request != running_ || t.column >= columns_.size()) return;
  columns_[t.column]->addToken(t);
  updateDivergence();
}

void CompareView::updateDivergence() {
  if (columns_.size() < 2) return;
  const QVector<int> base = columns_[0]->ids();
  int first = -1;
  for (int c = 1; c < columns_.size(); ++c) {
    const QVector<int> ids = columns_[c]->ids();
    const int n = std::min(base.size(), ids.size());
    int d = -1;
    for (int i = 0; i < n && d < 0; ++i)
      if (base[i] != ids[i]) d = i;
    if (d < 0 && columns_[0]->finished() && columns_[c]->finished() && base.size() != ids.size()) d = n;
    columns_[c]->setDivergence(d);
    if (c == 1) first = d;
  }
  columns_[0]->setDivergence(first);
}

QString CompareView::alternativesHtml(int index) const {
  QString html = "<table cellspacing=4>";
  for (const AnswerColumn* c : columns_) {
    html += "<tr><td><b>" + c->title().toHtmlEscaped() + "</b></td><td>";
    if (index < c->tokens().size()) {
      const CompareToken& t = c->tokens()[index];
      html += QString("<b>%1</b> %2%").arg(shownToken(t.bytes)).arg(100.0 * t.prob, 0, 'f', 1);
      QStringList alts;
      for (const auto& a : t.top) alts << QString("%1 %2%").arg(shownToken(a.first)).arg(100.0 * a.second, 0, 'f', 1);
      html += "<br><span style='color:#555'>top: " + alts.join(" · ") + "</span>";
    } else {
      html += "<i>no token here</i>";
    }
    html += "</td></tr>";
  }
  return html + QString("</table><span style='color:#777'>position %1</span>").arg(index);
}

void CompareView::setDemoMode(bool on) {
  if (demo_ == on) return;
  demo_ = on;
  if (demoButton_->isChecked() != on) demoButton_->setChecked(on);
  for (AnswerColumn* c : columns_) c->setFontScale(on ? kDemoScale : 1.0);
  QFont f = prompt_->font();
  f.setPointSizeF((font().pointSizeF() > 0 ? font().pointSizeF() : 10.0) * (on ? kDemoScale : 1.0));
  prompt_->setFont(f);
  prompt_->setMaximumHeight(on ? 200 : 110);
  sidePanel_->setVisible(!on);
  settings_->setVisible(!on);
  for (QPushButton* b : {runButton_, stopButton_, findChild<QPushButton*>("compareChatForm")}) b->setVisible(!on);
  for (QShortcut* sc : findChildren<QShortcut*>("demoNext")) sc->setEnabled(on);
  nextButton_->setText(on ? "Next prompt (N / →)" : "Next prompt");
  demoButton_->setText(on ? "Leave demo (F11)" : "Demo mode");
  if (on) {
    tabs_->setCurrentIndex(0);
    setFocus();
  }
  Q_EMIT demoModeChanged(on);
}
