#include "hyperparam_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QRegularExpression>
#include <QSpinBox>
#include <QFileInfo>
#include <QVBoxLayout>
#include <cmath>

#include "file_field.h"
#include "rwkv/error.h"

namespace {

QString num(double v) { return QLocale::c().toString(v, 'g', 6); }

QGroupBox* group(const QString& title, QFormLayout** form) {
  auto* box = new QGroupBox(title);
  *form = new QFormLayout(box);
  (*form)->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  (*form)->setLabelAlignment(Qt::AlignRight);
  return box;
}

}  // namespace

HyperparamForm::HyperparamForm(QWidget* parent) : QWidget(parent) {
  preset_ = new QComboBox;
  preset_->setObjectName("presetCombo");
  preset_->addItems(QStringList{"Custom"} + presetNames());
  preset_->setToolTip("Default: the engine's defaults. Quick: one short pass to see whether tuning helps. "
                      "Careful: several epochs, lower learning rate, early stopping on the eval loss. "
                      "Demo: the bundled demo (demo-small, format task): 30 epochs at a high rate, ~15 s on a CPU.");
  auto* presetRow = new QFormLayout;
  presetRow->addRow("Preset", preset_);

  QFormLayout* f;
  QGroupBox* method = group("Method", &f);
  method_ = new QComboBox;
  method_->setObjectName("method");
  method_->addItems({"plain", "kernel"});
  method_->setToolTip("plain: tune each layer's initial state S0 only (RWKV-PEFT compatible).\n"
                      "kernel: also tune a kernel-upscaled state U0 (M x M per head) read through Gaussian features "
                      "of the receptance; starts exactly at the base model (U0 = 0). Saved as .rwkvstate only.");
  f->addRow("Method", method_);
  addInt(f, "kernelM", "Kernel features M",
         "Features per head (the paper's ablation: 256, 512, 768). Memory and time grow as M² per head.", 0, 4096);
  support_ = new QComboBox;
  support_->setObjectName("kernelSupport");
  support_->addItems({"kmeans", "random"});
  support_->setToolTip("Support vectors chosen from the normalised keys the frozen model computes on the training texts: "
                       "k-means++ centres, or a random sample of keys.");
  f->addRow("Support vectors", support_);
  addReal(f, "kernelGamma", "Kernel γ",
          "Gaussian width of phi(u) = exp(-γ |u - c|²); 0 = 1 / median squared key-to-support distance, per head.");
  addReal(f, "kernelLr", "Kernel learning rate", "Peak learning rate of U0 (and β); 0 = the state's learning rate.");
  write_ = new QCheckBox("tokens write into U");
  write_->setObjectName("kernelWrite");
  write_->setToolTip("U_t += β (Qᵀv_t)(R phi(k_t))ᵀ with a trainable gain β that starts at 0.");
  f->addRow("Write", write_);
  dbp_ = new QComboBox;
  dbp_->setObjectName("dbp");
  dbp_->addItems({"off", "loss", "update"});
  dbp_->setToolTip("Decorrelated backpropagation of the kernel features z = R phi:\n"
                   "off: R stays the identity.\nloss: R is trained on the decorrelation loss (AdamW).\n"
                   "update: R <- R - η (E[zzᵀ] - diag E[z²]) R after every step.\n"
                   "The Decorrelation tab plots the statistics live.");
  f->addRow("DBP", dbp_);
  addReal(f, "dbpAlpha", "DBP α", "Loss mode: weight of the decorrelation loss (L = CE + α L_decor).");
  addReal(f, "dbpLambda", "DBP λ", "Weight of the unit-variance term Σ(Cz_ii - 1)²/M in L_decor (0 = off-diagonal only).");
  addReal(f, "dbpLr", "DBP learning rate", "Loss mode: AdamW learning rate of R (constant).");
  addReal(f, "dbpEta", "DBP η", "Update mode: step size of the update rule, in (0, 1].");
  taskGrad_ = new QCheckBox("the task loss trains R too");
  taskGrad_->setObjectName("dbpTaskGrad");
  taskGrad_->setToolTip("Loss mode: also backpropagate the cross-entropy into R (the literal L = CE + α L_decor). "
                        "Off by default: on the demo model it raised the correlations instead of lowering them.");
  f->addRow("", taskGrad_);

  QGroupBox* guidedBox = group("Guided tuning", &f);
  guided_ = new QComboBox;
  guided_->setObjectName("guided");
  guided_->addItems({"off", "cot", "kl", "kl_multi"});
  guided_->setToolTip("A larger guide model with the same tokenizer writes the targets:\n"
                      "cot: the guide answers every training question; answers that match the reference are kept and "
                      "the state is tuned on them (cross-entropy).\n"
                      "kl: on those answers, match the guide's next-token distribution, KL(guide || student), from its "
                      "top-k probabilities cached once.\n"
                      "kl_multi: the student samples k-token continuations and the guide scores them every step "
                      "(KL summed over the k steps); costs a guide forward per step.\n"
                      "The guide's cost (tokens, seconds) is shown in the log.");
  f->addRow("Guided", guided_);
  guide_ = new FileField("guidePath", "model", "Models (*.pth *.safetensors *.bin);;All files (*)", FileField::Open);
  guide_->setObjectName("guideField");
  guide_->setPlaceholder("same tokenizer as the student");
  guide_->edit()->setToolTip("The guide checkpoint. Its vocabulary must equal the student's; a tokenizer beside it "
                             "must encode the same way.");
  f->addRow("Guide model", guide_);
  addReal(f, "guideKlWeight", "KL weight", "kl, kl_multi: weight of the KL term (L = KL weight x KL + CE weight x CE), 0 or more.");
  addReal(f, "guideCeWeight", "CE weight", "kl, kl_multi: weight of the cross-entropy on the guide's answers, 0 or more.");
  guideFilter_ = new QCheckBox("matching answers only");
  guideFilter_->setObjectName("guideFilter");
  guideFilter_->setToolTip("Keep only the guide answers that match the reference, scored like Batch compare: gsm8k when a reference has ####, choice for letters A-D, else "
                           "exact. Off: every non-empty guide answer is kept.");
  f->addRow("Filter", guideFilter_);
  addInt(f, "guideMaxTokens", "Guide answer tokens", "Tokens per guide answer (greedy, stops at a blank line).", 0, 1 << 20);
  addInt(f, "guideTopk", "Cached top-k", "kl: guide probabilities kept per target token; the rest is one bucket.", 0, 1 << 20);
  addInt(f, "guideK", "Continuation k", "kl_multi: tokens the student samples at each branch point (1 to 64).", 0, 64);
  addInt(f, "guidePoints", "Branch points", "kl_multi: branch points per sequence per step.", 0, 4096);

  QGroupBox* data = group("Data", &f);
  addInt(f, "ctxLen", "Context length", "Tokens per sample (ctx_len); longer samples are cut and counted. At least 2.", 0,
         1 << 20);
  addReal(f, "evalFraction", "Eval fraction",
          "Share of the samples held out for the eval loss (0 to 0.9). 0 = no eval; the last state is saved.");

  QGroupBox* opt = group("Optimizer (AdamW on the state only)", &f);
  addReal(f, "lr", "Learning rate", "Peak learning rate after warmup. Must be greater than 0 (e.g. 0.05 or 1e-2).");
  addReal(f, "lrFinal", "Final learning rate", "Learning rate at the end of the decay (0 or more).");
  addInt(f, "warmupSteps", "Warmup steps", "Optimizer steps of linear warmup from 0 to the learning rate.", -1000, 1 << 24);
  schedule_ = new QComboBox;
  schedule_->setObjectName("schedule");
  schedule_->addItems({"cosine", "linear", "constant"});
  schedule_->setToolTip("Decay after warmup: cosine or linear down to the final learning rate, or constant.");
  f->addRow("Schedule", schedule_);
  addInt(f, "epochs", "Epochs", "Passes over the training samples (ignored when Max steps > 0).", 0, 100000);
  addInt(f, "maxSteps", "Max steps", "Optimizer steps in total; 0 = use Epochs.", -1, 1 << 30);
  addInt(f, "microBsz", "Micro-batch", "Samples per forward pass (padded and masked). More uses more memory.", 0, 4096);
  addInt(f, "accum", "Accumulation", "Micro-batches per optimizer step (effective batch = micro-batch x this).", 0, 4096);
  addReal(f, "gradClip", "Grad clip", "Global gradient-norm clipping threshold; 0 = off.");
  addReal(f, "weightDecay", "Weight decay", "AdamW decoupled weight decay on the state (0 or more).");
  addReal(f, "beta1", "Adam β1", "AdamW first-moment decay, in [0, 1).");
  addReal(f, "beta2", "Adam β2", "AdamW second-moment decay, in [0, 1).");
  addReal(f, "adamEps", "Adam ε", "AdamW epsilon, greater than 0.");

  QGroupBox* stop = group("Evaluation and stopping", &f);
  addInt(f, "evalEvery", "Eval every", "Optimizer steps between eval-loss passes; 0 = only at the end.", -1, 1 << 24);
  addInt(f, "earlyStopPatience", "Early-stop patience",
         "Stop after this many evals without a better eval loss; 0 = never stop early.", -1, 100000);

  QGroupBox* run = group("Run and observation", &f);
  device_ = new QComboBox;
  device_->setObjectName("device");
  device_->setEditable(true);
  device_->addItems({"cpu", "cuda"});
  device_->setToolTip("Where to tune: cpu, cuda or cuda:N (a GPU build of the engine is needed for cuda).");
  f->addRow("Device", device_);
  recompute_ = new QCheckBox("recompute layers in the backward");
  recompute_->setObjectName("recompute");
  recompute_->setToolTip("Keep only each layer's inputs and run the layer again during the backward pass instead of "
                         "keeping its activations: the same gradients in much less memory, about a third more time.\n"
                         "Measured on an H100 (0.4B, ctx 4096, micro-batch 4): 14.5 GiB instead of 56 GiB, 23.4k "
                         "instead of 31.6k tokens/s. For long contexts on a GPU that would otherwise run out of memory.");
  f->addRow("Memory", recompute_);
  addReal(f, "seed", "Seed", "Seed of the data split and the sample order (same seed, same run); a whole number >= 0.");
  addInt(f, "autosaveEvery", "Autosave every", "Optimizer steps between autosaves (to resume); 0 = only on stop/finish.",
         -1, 1 << 24);
  addInt(f, "snapshotEvery", "Snapshot every", "Steps between state heatmap snapshots; 0 = none.", -1, 1 << 24);
  addInt(f, "snapshotSize", "Snapshot size", "Heatmaps are averaged down to at most this many cells per side.", 0, 4096);
  heads_ = new QLineEdit;
  heads_->setObjectName("snapshotHeads");
  heads_->setPlaceholderText("first and last layer, head 0");
  heads_->setToolTip("Layer:head pairs to snapshot for the heatmap, e.g. \"0:0, 5:2, 11:0\". Empty = (0,0) and (last,0).");
  f->addRow("Heatmap heads", heads_);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(presetRow);
  for (QGroupBox* g : {method, guidedBox, data, opt, stop, run}) layout->addWidget(g);
  layout->addStretch();

  const auto edited = [this] {
    if (!applying_) preset_->setCurrentIndex(0);  // "Custom"
    Q_EMIT changed();
  };
  for (QLineEdit* e : reals_) connect(e, &QLineEdit::textChanged, this, edited);
  for (QSpinBox* s : ints_) connect(s, qOverload<int>(&QSpinBox::valueChanged), this, edited);
  connect(schedule_, &QComboBox::currentTextChanged, this, edited);
  for (QComboBox* c : {method_, support_, dbp_}) connect(c, &QComboBox::currentTextChanged, this, edited);
  for (QCheckBox* c : {write_, taskGrad_, guideFilter_, recompute_}) connect(c, &QCheckBox::toggled, this, edited);
  connect(guided_, &QComboBox::currentTextChanged, this, edited);
  connect(guided_, &QComboBox::currentTextChanged, this, &HyperparamForm::updateGuidedFields);
  connect(guide_, &FileField::chosen, this, edited);
  connect(method_, &QComboBox::currentTextChanged, this, &HyperparamForm::updateMethodFields);
  connect(dbp_, &QComboBox::currentTextChanged, this, &HyperparamForm::updateMethodFields);
  connect(device_, &QComboBox::currentTextChanged, this, edited);
  connect(heads_, &QLineEdit::textChanged, this, edited);
  connect(preset_, &QComboBox::textActivated, this, [this](const QString& p) {
    if (p != "Custom") applyPreset(p);
  });
  applyPreset("Default");
}

void HyperparamForm::updateMethodFields() {
  const bool kernel = method_->currentText() == "kernel";
  const QString dbp = dbp_->currentText();
  for (QWidget* w : std::initializer_list<QWidget*>{ints_["kernelM"], support_, reals_["kernelGamma"],
                                                    reals_["kernelLr"], write_, dbp_})
    w->setEnabled(kernel);
  reals_["dbpAlpha"]->setEnabled(kernel && dbp == "loss");
  reals_["dbpLambda"]->setEnabled(kernel && dbp != "off");
  reals_["dbpLr"]->setEnabled(kernel && dbp == "loss");
  taskGrad_->setEnabled(kernel && dbp == "loss");
  reals_["dbpEta"]->setEnabled(kernel && dbp == "update");
}

void HyperparamForm::updateGuidedFields() {
  const QString g = guided_->currentText();
  const bool on = g != "off", kl = g == "kl" || g == "kl_multi";
  for (QWidget* w : std::initializer_list<QWidget*>{guide_, guideFilter_, ints_["guideMaxTokens"]}) w->setEnabled(on);
  reals_["guideKlWeight"]->setEnabled(kl);
  reals_["guideCeWeight"]->setEnabled(kl);
  ints_["guideTopk"]->setEnabled(g == "kl");
  ints_["guideK"]->setEnabled(g == "kl_multi");
  ints_["guidePoints"]->setEnabled(g == "kl_multi");
}

QLineEdit* HyperparamForm::addReal(QFormLayout* form, const char* name, const QString& label, const QString& tip) {
  auto* e = new QLineEdit;
  e->setObjectName(name);
  e->setToolTip(tip);
  form->addRow(label, e);
  form->labelForField(e)->setToolTip(tip);
  reals_.insert(name, e);
  return e;
}

QSpinBox* HyperparamForm::addInt(QFormLayout* form, const char* name, const QString& label, const QString& tip, int min,
                                 int max) {
  auto* s = new QSpinBox;
  s->setObjectName(name);
  s->setRange(min, max);
  s->setToolTip(tip);
  form->addRow(label, s);
  form->labelForField(s)->setToolTip(tip);
  ints_.insert(name, s);
  return s;
}

QStringList HyperparamForm::presetNames() { return {"Default", "Quick", "Careful", "Demo"}; }

void HyperparamForm::applyPreset(const QString& name) {
  rwkv::TuneConfig c;  // Default = the engine's defaults
  if (name == "Quick") {
    c.ctx_len = 256;
    c.lr = 0.1;
    c.lr_final = 0.01;
    c.warmup_steps = 5;
    c.epochs = 1;
    c.micro_bsz = 4;
    c.eval_every = 20;
    c.snapshot_every = 5;
  } else if (name == "Demo") {  // the bundled demo: demo-small on the format task, ~15 s on a CPU
    c.ctx_len = 64;
    c.lr = 0.2;
    c.lr_final = 0.01;
    c.epochs = 30;
    c.micro_bsz = 4;
    c.eval_fraction = 0.2;
    c.eval_every = 20;
    c.snapshot_every = 5;
  } else if (name == "Careful") {
    c.lr = 0.02;
    c.lr_final = 0.002;
    c.warmup_steps = 30;
    c.epochs = 4;
    c.micro_bsz = 4;
    c.accum = 2;
    c.eval_every = 25;
    c.early_stop_patience = 4;
    c.eval_fraction = 0.15;
  }
  applying_ = true;
  write(c);
  applying_ = false;
  preset_->setCurrentText(name);
  Q_EMIT changed();
}

void HyperparamForm::write(const rwkv::TuneConfig& c) {
  const bool outer = applying_;
  applying_ = true;
  reals_["evalFraction"]->setText(num(c.eval_fraction));
  reals_["lr"]->setText(num(c.lr));
  reals_["lrFinal"]->setText(num(c.lr_final));
  reals_["gradClip"]->setText(num(c.grad_clip));
  reals_["weightDecay"]->setText(num(c.weight_decay));
  reals_["beta1"]->setText(num(c.beta1));
  reals_["beta2"]->setText(num(c.beta2));
  reals_["adamEps"]->setText(num(c.adam_eps));
  ints_["ctxLen"]->setValue(c.ctx_len);
  ints_["warmupSteps"]->setValue(c.warmup_steps);
  ints_["epochs"]->setValue(c.epochs);
  ints_["maxSteps"]->setValue(c.max_steps);
  ints_["microBsz"]->setValue(c.micro_bsz);
  ints_["accum"]->setValue(c.accum);
  ints_["evalEvery"]->setValue(c.eval_every);
  ints_["earlyStopPatience"]->setValue(c.early_stop_patience);
  reals_["seed"]->setText(QString::number(c.seed));
  ints_["autosaveEvery"]->setValue(c.autosave_every);
  ints_["snapshotEvery"]->setValue(c.snapshot_every);
  ints_["snapshotSize"]->setValue(c.snapshot_size);
  schedule_->setCurrentText(QString::fromStdString(c.schedule));
  method_->setCurrentText(QString::fromStdString(c.method));
  ints_["kernelM"]->setValue(c.kernel_m);
  support_->setCurrentText(QString::fromStdString(c.kernel_support));
  reals_["kernelGamma"]->setText(num(c.kernel_gamma));
  reals_["kernelLr"]->setText(num(c.kernel_lr));
  write_->setChecked(c.kernel_write);
  dbp_->setCurrentText(QString::fromStdString(c.dbp));
  reals_["dbpAlpha"]->setText(num(c.dbp_alpha));
  reals_["dbpLambda"]->setText(num(c.dbp_lambda));
  reals_["dbpLr"]->setText(num(c.dbp_lr));
  reals_["dbpEta"]->setText(num(c.dbp_eta));
  taskGrad_->setChecked(c.dbp_task_grad);
  updateMethodFields();
  guided_->setCurrentText(QString::fromStdString(c.guided));
  guide_->setPath(QString::fromStdString(c.guide), false);
  reals_["guideKlWeight"]->setText(num(c.guide_kl_weight));
  reals_["guideCeWeight"]->setText(num(c.guide_ce_weight));
  guideFilter_->setChecked(c.guide_filter);
  ints_["guideMaxTokens"]->setValue(c.guide_max_tokens);
  ints_["guideTopk"]->setValue(c.guide_topk);
  ints_["guideK"]->setValue(c.guide_k);
  ints_["guidePoints"]->setValue(c.guide_points);
  updateGuidedFields();
  device_->setCurrentText(QString::fromStdString(c.device));
  recompute_->setChecked(c.recompute);
  QStringList heads;
  for (const auto& [l, h] : c.snapshot_heads) heads << QString("%1:%2").arg(l).arg(h);
  heads_->setText(heads.join(", "));
  applying_ = outer;
  if (!outer) preset_->setCurrentIndex(0);
  Q_EMIT changed();
}

QStringList HyperparamForm::read(rwkv::TuneConfig* cfg) const {
  QStringList problems;
  const auto real = [&](const char* name, const QString& label, double* out) {
    bool ok = false;
    const QString text = reals_[name]->text().trimmed();
    const double v = QLocale::c().toDouble(text, &ok);
    if (!ok || !std::isfinite(v))
      problems << QString("%1: \"%2\" is not a number.").arg(label, text);
    else
      *out = v;
    return ok;
  };
  const auto atLeast = [&](const char* name, const QString& label, int min, int* out) {
    *out = ints_[name]->value();
    if (*out < min) problems << QString("%1 must be at least %2 (found %3).").arg(label).arg(min).arg(*out);
  };
  rwkv::TuneConfig& c = *cfg;
  atLeast("ctxLen", "Context length (ctx_len)", 2, &c.ctx_len);
  if (real("evalFraction", "Eval fraction", &c.eval_fraction) && (c.eval_fraction < 0 || c.eval_fraction > 0.9))
    problems << QString("Eval fraction must be between 0 and 0.9 (found %1).").arg(num(c.eval_fraction));
  if (real("lr", "Learning rate", &c.lr) && !(c.lr > 0))
    problems << QString("Learning rate must be greater than 0 (found %1).").arg(num(c.lr));
  if (real("lrFinal", "Final learning rate", &c.lr_final) && c.lr_final < 0)
    problems << QString("Final learning rate must be 0 or more (found %1).").arg(num(c.lr_final));
  if (real("gradClip", "Grad clip", &c.grad_clip) && c.grad_clip < 0)
    problems << QString("Grad clip must be 0 (off) or more (found %1).").arg(num(c.grad_clip));
  if (real("weightDecay", "Weight decay", &c.weight_decay) && c.weight_decay < 0)
    problems << QString("Weight decay must be 0 or more (found %1).").arg(num(c.weight_decay));
  if (real("beta1", "Adam β1", &c.beta1) && (c.beta1 < 0 || c.beta1 >= 1))
    problems << QString("Adam β1 must be in [0, 1) (found %1).").arg(num(c.beta1));
  if (real("beta2", "Adam β2", &c.beta2) && (c.beta2 < 0 || c.beta2 >= 1))
    problems << QString("Adam β2 must be in [0, 1) (found %1).").arg(num(c.beta2));
  if (real("adamEps", "Adam ε", &c.adam_eps) && !(c.adam_eps > 0))
    problems << QString("Adam ε must be greater than 0 (found %1).").arg(num(c.adam_eps));
  atLeast("warmupSteps", "Warmup steps", 0, &c.warmup_steps);
  atLeast("epochs", "Epochs", 1, &c.epochs);
  atLeast("maxSteps", "Max steps", 0, &c.max_steps);
  atLeast("microBsz", "Micro-batch", 1, &c.micro_bsz);
  atLeast("accum", "Accumulation", 1, &c.accum);
  atLeast("evalEvery", "Eval every", 0, &c.eval_every);
  atLeast("earlyStopPatience", "Early-stop patience", 0, &c.early_stop_patience);
  atLeast("autosaveEvery", "Autosave every", 0, &c.autosave_every);
  atLeast("snapshotEvery", "Snapshot every", 0, &c.snapshot_every);
  atLeast("snapshotSize", "Snapshot size", 1, &c.snapshot_size);
  bool seedOk = false;
  const QString seed = reals_["seed"]->text().trimmed();
  c.seed = seed.toULongLong(&seedOk);
  if (!seedOk) problems << QString("Seed: \"%1\" is not a whole number of 0 or more.").arg(seed);
  c.schedule = schedule_->currentText().toStdString();
  c.method = method_->currentText().toStdString();
  atLeast("kernelM", "Kernel features M", 1, &c.kernel_m);
  c.kernel_support = support_->currentText().toStdString();
  if (real("kernelGamma", "Kernel γ", &c.kernel_gamma) && c.kernel_gamma < 0)
    problems << QString("Kernel γ must be 0 (median heuristic) or more (found %1).").arg(num(c.kernel_gamma));
  if (real("kernelLr", "Kernel learning rate", &c.kernel_lr) && c.kernel_lr < 0)
    problems << QString("Kernel learning rate must be 0 (same as the state's) or more (found %1).").arg(num(c.kernel_lr));
  c.kernel_write = write_->isChecked();
  c.dbp = c.method == "kernel" ? dbp_->currentText().toStdString() : "off";
  real("dbpAlpha", "DBP α", &c.dbp_alpha);
  real("dbpLambda", "DBP λ", &c.dbp_lambda);
  real("dbpLr", "DBP learning rate", &c.dbp_lr);
  real("dbpEta", "DBP η", &c.dbp_eta);
  c.dbp_task_grad = taskGrad_->isChecked();
  c.guided = guided_->currentText().toStdString();
  c.guide = c.guided == "off" ? "" : guide_->path().trimmed().toStdString();
  if (c.guided != "off") {
    if (c.guide.empty())
      problems << QString("Guide model: choose the guide checkpoint for guided tuning (%1).").arg(guided_->currentText());
    else if (!QFileInfo(QString::fromStdString(c.guide)).isFile())
      problems << QString("Guide model: %1 does not exist.").arg(QString::fromStdString(c.guide));
  }
  if (real("guideKlWeight", "KL weight", &c.guide_kl_weight) && c.guide_kl_weight < 0)
    problems << QString("KL weight must be 0 or more (found %1).").arg(num(c.guide_kl_weight));
  if (real("guideCeWeight", "CE weight", &c.guide_ce_weight) && c.guide_ce_weight < 0)
    problems << QString("CE weight must be 0 or more (found %1).").arg(num(c.guide_ce_weight));
  c.guide_filter = guideFilter_->isChecked();
  atLeast("guideMaxTokens", "Guide answer tokens", 1, &c.guide_max_tokens);
  atLeast("guideTopk", "Cached top-k", 1, &c.guide_topk);
  atLeast("guideK", "Continuation k", 1, &c.guide_k);
  atLeast("guidePoints", "Branch points", 1, &c.guide_points);
  c.device = device_->currentText().trimmed().toStdString();
  c.recompute = recompute_->isChecked();
  c.snapshot_heads.clear();
  const QString heads = heads_->text().trimmed();
  if (!heads.isEmpty()) {
    static const QRegularExpression pair("^(\\d+)\\s*:\\s*(\\d+)$");
    for (const QString& part : heads.split(QRegularExpression("[,;\\s]+"), Qt::SkipEmptyParts)) {
      const auto m = pair.match(part);
      if (!m.hasMatch()) {
        problems << QString("Heatmap heads: \"%1\" is not layer:head (e.g. 0:0, 11:0).").arg(part);
        break;
      }
      c.snapshot_heads.emplace_back(m.captured(1).toInt(), m.captured(2).toInt());
    }
  }
  if (problems.isEmpty()) {  // anything else the engine refuses (same rules as rwkv-tune)
    rwkv::TuneConfig probe = c;
    if (probe.model.empty()) probe.model = "model";
    if (probe.data.empty()) probe.data = "data";
    if (probe.out.empty()) probe.out = "out";
    try {
      probe.validate();
    } catch (const rwkv::Error& e) {
      problems << QString::fromStdString(e.what());
    }
  }
  return problems;
}
