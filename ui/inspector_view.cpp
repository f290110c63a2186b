#include "inspector_view.h"

#include "qcp.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTextBrowser>
#include <QUrl>
#include <QVBoxLayout>
#include <cmath>

#include "analysis_session.h"
#include "file_field.h"
#include "plot_common.h"
#include "series_plot.h"
#include "state_heatmap.h"

namespace {

QString visible(const std::string& piece) {
  QString s = QString::fromUtf8(QByteArray::fromStdString(piece));
  s.replace('\n', QChar(0x21B5));
  return s;
}

QCPItemStraightLine* addCursor(QCustomPlot* plot) {
  auto* line = new QCPItemStraightLine(plot);
  line->setPen(QPen(QColor(200, 30, 30, 160), 1, Qt::DashLine));
  line->point1->setCoords(0, 0);
  line->point2->setCoords(0, 1);
  return line;
}

}  // namespace

InspectorView::InspectorView(AnalysisSession* session, QWidget* parent)
    : QWidget(parent),
      session_(session),
      prompt_(new QPlainTextEdit),
      state_(new FileField("Initial state", "state", "States (*.rwkvstate *.pth *.st *.state);;All files (*)",
                           FileField::Open)),
      answer_(new QSpinBox),
      layer_(new QComboBox),
      run_(new QPushButton("Run")),
      scrub_(new QSlider(Qt::Horizontal)),
      tokenLabel_(new QLabel),
      strip_(new QTextBrowser),
      heatmap_(new StateHeatmap),
      spectrum_(new QCustomPlot),
      spectrumNote_(new QLabel),
      norm_(new SeriesPlot("‖S_t‖ (Frobenius)", false)),
      delta_(new SeriesPlot("‖S_t − S_{t−1}‖", true)),
      guideOn_(new QCheckBox("Compare with guide")),
      guide_(new FileField("inspectGuidePath", "model", "Models (*.pth *.safetensors *.bin);;All files (*)", FileField::Open)),
      guideNorm_(new SeriesPlot("guide ‖S_t‖ (Frobenius)", false)),
      guideDelta_(new SeriesPlot("guide ‖S_t − S_{t−1}‖", true)),
      trajectory_(new QCustomPlot),
      status_(new QLabel) {
  setObjectName("inspectorView");
  prompt_->setObjectName("inspectPrompt");
  prompt_->setPlaceholderText("The exact model input, e.g. User: What color is the fikef?\\n\\nAssistant:");
  prompt_->setMaximumHeight(52);
  state_->setObjectName("inspectState");
  state_->setPlaceholder("empty = the zero initial state");
  answer_->setObjectName("inspectAnswerTokens");
  answer_->setRange(0, 512);
  answer_->setValue(16);
  answer_->setToolTip("Append a greedy answer of at most this many tokens (stops at a blank line)");
  layer_->setObjectName("inspectLayer");
  layer_->setToolTip("Layer shown in the heatmap, the spectrum and the trajectory");
  run_->setObjectName("inspectRun");
  guideOn_->setObjectName("inspectCompareGuide");
  guideOn_->setToolTip("Also run a guide model (a larger model with the same tokenizer) over the same tokens, "
                       "prompt and answer, from its zero state, and show its state norm and change per layer "
                       "beside this model's");
  guide_->setObjectName("inspectGuide");
  guide_->edit()->setToolTip("The guide model (the same tokenizer as the inspected model)");
  guide_->setPlaceholder("the guide model, e.g. resources/models/demo-guide.safetensors");
  guide_->setEnabled(false);
  guideNorm_->setObjectName("inspectGuideNorm");
  guideDelta_->setObjectName("inspectGuideDelta");
  guideNorm_->setVisible(false);
  guideDelta_->setVisible(false);
  connect(guideOn_, &QCheckBox::toggled, this, [this](bool on) {
    guide_->setEnabled(on);
    guideNorm_->setVisible(on);
    guideDelta_->setVisible(on);
  });
  scrub_->setObjectName("inspectScrubber");
  scrub_->setRange(0, 0);
  scrub_->setToolTip("t = 0: the initial state; t: the state after t tokens");
  tokenLabel_->setObjectName("inspectToken");
  tokenLabel_->setMinimumWidth(260);
  strip_->setObjectName("inspectStrip");
  strip_->setOpenLinks(false);
  strip_->setMaximumHeight(48);
  strip_->document()->setDefaultStyleSheet("a { text-decoration: none; color: #202020; }");
  heatmap_->setObjectName("inspectHeatmap");
  // Its controls get names of their own: the Live tab's heatmap keeps "heatmap…" to itself.
  for (QWidget* c : heatmap_->findChildren<QWidget*>())
    if (c->objectName().startsWith("heatmap")) c->setObjectName("inspectH" + c->objectName().mid(1));
  heatmap_->setTerms("token", "S_t value", "S_t − S_0");
  heatmap_->plot()->xAxis->setLabel("key j");  // full resolution here, not block means
  heatmap_->plot()->yAxis->setLabel("value i");
  status_->setObjectName("inspectStatus");
  status_->setWordWrap(true);
  spectrumNote_->setObjectName("spectrumNote");
  spectrumNote_->setWordWrap(true);

  // Spectrum: eigenvalues per head in the complex plane, with the unit circle.
  stylePlot(spectrum_, "Re λ", "Im λ");
  spectrum_->setObjectName("spectrumPlot");
  auto* circle = new QCPCurve(spectrum_->xAxis, spectrum_->yAxis);
  circle->setName("unit circle");
  circle->setPen(QPen(QColor(150, 150, 150), 1, Qt::DashLine));
  for (int i = 0; i <= 180; ++i) {
    const double a = 2 * M_PI * i / 180;
    circle->addData(i, std::cos(a), std::sin(a));
  }
  spectrum_->legend->setVisible(true);
  spectrum_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  connect(spectrum_, &QCustomPlot::afterLayout, this, [this] {
    spectrum_->yAxis->setRange(-1.15, 1.15);
    spectrum_->xAxis->setScaleRatio(spectrum_->yAxis, 1.0);
  });

  stylePlot(trajectory_, "token t", "‖S_t‖ of the layer");
  trajectory_->setObjectName("trajectoryPlot");
  trajectory_->legend->setVisible(true);
  for (SeriesPlot* p : {norm_, delta_, guideNorm_, guideDelta_}) p->plot()->xAxis->setLabel("token t");
  for (QCustomPlot* p : {norm_->plot(), delta_->plot(), trajectory_}) cursors_ << addCursor(p);

  auto* controls = new QHBoxLayout;
  controls->addWidget(prompt_, 3);
  auto* form = new QGridLayout;
  form->addWidget(new QLabel("Initial state"), 0, 0);
  form->addWidget(state_, 0, 1, 1, 3);
  form->addWidget(new QLabel("Answer tokens"), 1, 0);
  form->addWidget(answer_, 1, 1);
  form->addWidget(new QLabel("Layer"), 1, 2);
  form->addWidget(layer_, 1, 3);
  form->addWidget(guideOn_, 2, 0);
  form->addWidget(guide_, 2, 1, 1, 3);
  controls->addLayout(form, 2);
  controls->addWidget(run_, 0, Qt::AlignTop);

  auto* scrubRow = new QHBoxLayout;
  scrubRow->addWidget(new QLabel("Token"));
  scrubRow->addWidget(scrub_, 1);
  scrubRow->addWidget(tokenLabel_);

  auto* spectrumBox = new QWidget;
  auto* sb = new QVBoxLayout(spectrumBox);
  sb->setContentsMargins(0, 0, 0, 0);
  sb->addWidget(spectrum_, 1);
  sb->addWidget(spectrumNote_);
  auto* top = new QSplitter(Qt::Horizontal);
  top->addWidget(heatmap_);
  top->addWidget(spectrumBox);
  auto* curves = new QTabWidget;
  curves->setObjectName("inspectCurves");
  const auto sideBySide = [](QWidget* a, QWidget* b) {  // the model's plot, the guide's beside it
    auto* w = new QSplitter(Qt::Horizontal);
    w->addWidget(a);
    w->addWidget(b);
    return w;
  };
  curves->addTab(sideBySide(norm_, guideNorm_), "State norm per layer");
  curves->addTab(sideBySide(delta_, guideDelta_), "Change per token");
  auto* bottom = new QSplitter(Qt::Horizontal);
  bottom->addWidget(curves);
  bottom->addWidget(trajectory_);
  auto* vertical = new QSplitter(Qt::Vertical);
  vertical->addWidget(top);
  vertical->addWidget(bottom);
  vertical->setStretchFactor(0, 3);
  vertical->setStretchFactor(1, 2);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addLayout(scrubRow);
  layout->addWidget(strip_);
  layout->addWidget(vertical, 1);
  layout->addWidget(status_);

  connect(run_, &QPushButton::clicked, this, &InspectorView::run);
  connect(scrub_, &QSlider::valueChanged, this, [this] { showToken(); });
  connect(heatmap_->scrubber(), &QSlider::valueChanged, this, [this](int v) { scrub_->setValue(v); });
  connect(strip_, &QTextBrowser::anchorClicked, this, [this](const QUrl& url) {
    const QString s = url.toString();
    if (s.startsWith("t:")) setToken(s.mid(2).toInt());
  });
  connect(layer_, qOverload<int>(&QComboBox::activated), this, [this] {
    if (data_ && layer() != shown_.options.matrices_layer) run();
  });
  connect(session_, &AnalysisSession::inspected, this, [this](const InspectResult& r) {
    if (r.request != running_) return;
    running_ = -1;
    run_->setEnabled(true);
    display(r);
  });
  connect(session_, &AnalysisSession::failed, this, [this](int request, const ErrorReport& r) {
    if (request != running_ || r.operation != "Inspect") return;
    running_ = -1;
    run_->setEnabled(true);
    status_->setText("Inspect failed: " + r.message);
    Q_EMIT failed(r.message);
  });
  showSpectrum();
}

void InspectorView::setModel(const ModelChoice& m) { model_ = m; }
void InspectorView::setPrompt(const QString& text) { prompt_->setPlainText(text); }
void InspectorView::setStatePath(const QString& path) { state_->setPath(path, false); }
void InspectorView::setAnswerTokens(int n) { answer_->setValue(n); }
void InspectorView::setGuidePath(const QString& path) { guide_->setPath(path, false); }
void InspectorView::setCompareWithGuide(bool on) { guideOn_->setChecked(on); }

void InspectorView::setLayer(int l) {
  if (layer_->count() <= l) fillLayers(l + 1);
  layer_->setCurrentIndex(l);
  if (data_ && l != shown_.options.matrices_layer) run();
}

int InspectorView::layer() const { return std::max(0, layer_->currentIndex()); }
int InspectorView::token() const { return scrub_->value(); }
void InspectorView::setToken(int t) { scrub_->setValue(t); }

void InspectorView::fillLayers(int n_layer) {
  if (layer_->count() == n_layer) return;
  const int keep = layer_->currentIndex();
  const QSignalBlocker block(layer_);
  layer_->clear();
  for (int l = 0; l < n_layer; ++l) layer_->addItem(QString("layer %1").arg(l));
  layer_->setCurrentIndex(keep >= 0 && keep < n_layer ? keep : 0);
}

void InspectorView::run() {
  if (model_.model.isEmpty()) return status_->setText("Open a model first.");
  if (prompt_->toPlainText().isEmpty()) return status_->setText("Type a prompt.");
  InspectRequest r;
  r.model = model_;
  r.prompt = prompt_->toPlainText();
  r.statePath = state_->path();
  r.options.answer_tokens = answer_->value();
  r.options.matrices_layer = layer();
  r.options.spectra_layer = layer();
  r.options.zero_trajectory = true;
  if (guideOn_->isChecked()) {
    if (guide_->path().isEmpty()) return status_->setText("Choose a guide model, or untick Compare with guide.");
    r.guidePath = guide_->path();
  }
  running_ = session_->inspect(r);
  run_->setEnabled(false);
  status_->setText("Running… (waits while a tuning run holds the engine)");
}

void InspectorView::display(const InspectResult& r) {
  data_ = r.data;
  shown_ = r.echo;
  const rwkv::Inspection& in = *data_;
  const int T = in.n_tokens, L = in.n_layer, H = in.n_head, N = in.head_size, l = in.matrices_layer;
  fillLayers(L);
  {
    const QSignalBlocker block(layer_);
    layer_->setCurrentIndex(l);
  }

  heatmap_->clear();
  for (int t = 0; t <= T; ++t)
    for (int h = 0; h < H; ++h) {
      const float* m = in.matrix(t, h);
      heatmap_->addSnapshot({t, l, h, N, std::vector<float>(m, m + N * N)});
    }
  heatmap_->refresh();

  QStringList layers;
  for (int i = 0; i < L; ++i) layers << QString("layer %1").arg(i);
  norm_->setSeries(layers);
  delta_->setSeries(layers);
  for (int t = 0; t <= T; ++t) {
    std::vector<double> n(L), d(L);
    for (int i = 0; i < L; ++i) {
      n[i] = in.norm[in.traj_index(t, i)];
      d[i] = in.delta[in.traj_index(t, i)];
    }
    norm_->append(t, n);
    if (t > 0) delta_->append(t, d);
  }
  norm_->refresh();
  delta_->refresh();
  guideData_ = r.guide;
  guideNorm_->clear();
  guideDelta_->clear();
  if (guideData_) {
    const rwkv::Inspection& g = *guideData_;
    QStringList gl;
    for (int i = 0; i < g.n_layer; ++i) gl << QString("layer %1").arg(i);
    guideNorm_->setSeries(gl, "guide layer");
    guideDelta_->setSeries(gl, "guide layer");
    for (int t = 0; t <= g.n_tokens; ++t) {
      std::vector<double> n(g.n_layer), d(g.n_layer);
      for (int i = 0; i < g.n_layer; ++i) {
        n[i] = g.norm[g.traj_index(t, i)];
        d[i] = g.delta[g.traj_index(t, i)];
      }
      guideNorm_->append(t, n);
      if (t > 0) guideDelta_->append(t, d);
    }
  }
  guideNorm_->refresh();
  guideDelta_->refresh();

  trajectory_->clearGraphs();
  const bool tuned = !shown_.statePath.isEmpty();
  const struct {
    QString name;
    const std::vector<float>* v;
    QColor colour;
  } curves[] = {{tuned ? "from the tuned S0" : "from the zero S0 (no state chosen)", &in.norm, QColor(200, 60, 30)},
                {"from the zero S0", &in.zero_norm, QColor(40, 90, 180)},
                {"distance between the two", &in.zero_distance, QColor(90, 160, 60)}};
  for (const auto& c : curves) {
    if (!tuned && c.v != &in.norm) continue;
    QCPGraph* g = trajectory_->addGraph();
    g->setName(c.name);
    g->setPen(QPen(c.colour, 2));
    for (int t = 0; t <= T; ++t) g->addData(t, (*c.v)[in.traj_index(t, l)]);
  }
  trajectory_->yAxis->setLabel(QString("‖S_t‖ of layer %1").arg(l));
  fitAxes(trajectory_, false);
  trajectory_->replot(QCustomPlot::rpQueuedReplot);

  {
    const QSignalBlocker block(scrub_);
    scrub_->setRange(0, T);
    if (scrub_->value() > T) scrub_->setValue(T);
  }
  status_->setText(QString("%1 tokens (%2 prompt, %3 answer) · %4 layers × %5 heads of %6 · initial state: %7")
                       .arg(T)
                       .arg(in.n_prompt_tokens)
                       .arg(T - in.n_prompt_tokens)
                       .arg(L)
                       .arg(H)
                       .arg(N)
                       .arg(tuned ? QFileInfo(shown_.statePath).fileName() : "zeros") +
                   (guideData_ ? QString(" · guide %1: %2 layers × %3 heads, same tokens, zero state")
                                     .arg(QFileInfo(shown_.guidePath).fileName())
                                     .arg(guideData_->n_layer)
                                     .arg(guideData_->n_head)
                               : QString()));
  showToken();
  Q_EMIT inspected();
}

void InspectorView::showToken() {
  const int t = scrub_->value();
  if (heatmap_->scrubber()->value() != t) heatmap_->scrubber()->setValue(t);
  for (QCPItemStraightLine* c : cursors_) {
    c->point1->setCoords(t, 0);
    c->point2->setCoords(t, 1);
  }
  for (QCustomPlot* p : {norm_->plot(), delta_->plot(), trajectory_}) p->replot(QCustomPlot::rpQueuedReplot);
  if (!data_) return showSpectrum();
  const rwkv::Inspection& in = *data_;
  tokenLabel_->setText(t == 0 ? QString("t = 0: the initial state")
                              : QString("t = %1 of %2: after '%3'%4")
                                    .arg(t)
                                    .arg(in.n_tokens)
                                    .arg(visible(in.pieces[t - 1]).toHtmlEscaped())
                                    .arg(t > in.n_prompt_tokens ? " (answer)" : ""));
  QString html;
  for (int i = 0; i < in.n_tokens; ++i) {
    QString style = i >= in.n_prompt_tokens ? "color:#1f4e9c;" : "";
    if (i == t - 1) style += "background-color:#ffd54f; font-weight:bold;";
    html += QString("<a href=\"t:%1\"><span style=\"%2\">%3</span></a>")
                .arg(i + 1)
                .arg(style, visible(in.pieces[i]).toHtmlEscaped());
  }
  strip_->setHtml("<div style='white-space: pre-wrap'>" + html + "</div>");
  showSpectrum();
}

void InspectorView::showSpectrum() {
  // Keep the unit circle (a curve); the graphs are the heads.
  spectrum_->clearGraphs();
  spectrum_->xAxis->setRange(-1.15, 1.15);
  spectrum_->yAxis->setRange(-1.15, 1.15);
  const int t = scrub_->value();
  if (!data_ || t == 0) {
    spectrumNote_->setText(data_ ? "t = 0: no transition yet; scrub to a token."
                                 : "Run a prompt to see the transition spectrum of each head.");
    spectrum_->replot(QCustomPlot::rpQueuedReplot);
    return;
  }
  const rwkv::Inspection& in = *data_;
  const int l = in.matrices_layer, H = in.n_head, N = in.head_size;
  double hi = -INFINITY, lo = INFINITY, imag = 0;
  for (int h = 0; h < H; ++h) {
    const float* e = in.eigenvalues(t - 1, l, h);
    if (std::isnan(e[0])) continue;
    QCPGraph* g = spectrum_->addGraph();
    g->setName(QString("head %1").arg(h));
    g->setLineStyle(QCPGraph::lsNone);
    const QColor c = seriesColor(h, H);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, QColor(c.red(), c.green(), c.blue(), 90), 6));
    QVector<double> re, im;
    for (int i = 0; i < N; ++i) {
      re << e[2 * i];
      im << e[2 * i + 1];
      hi = std::max(hi, double(e[2 * i]));
      lo = std::min(lo, double(e[2 * i]));
      imag = std::max(imag, std::fabs(double(e[2 * i + 1])));
    }
    g->setData(re, im);  // sorted by key for QCPGraph; a scatter does not care
  }
  spectrumNote_->setText(QString("Transition diag(w) + a bᵀ at token %1 ('%2'), layer %3: %4 eigenvalues per head, "
                                 "real part %5 … %6%7. |λ| < 1 forgets; λ < 0 reflects.")
                             .arg(t)
                             .arg(visible(in.pieces[t - 1]).toHtmlEscaped())
                             .arg(l)
                             .arg(N)
                             .arg(lo, 0, 'f', 4)
                             .arg(hi, 0, 'f', 4)
                             .arg(imag < 1e-6 ? " (all real: a_lr > 0 makes the matrix similar to a symmetric one)"
                                              : QString(", |Im| up to %1").arg(imag, 0, 'g', 3)));
  spectrum_->replot(QCustomPlot::rpQueuedReplot);
}
