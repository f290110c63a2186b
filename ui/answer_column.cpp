#include "answer_column.h"

#include <QLabel>
#include <QScrollBar>
#include <QTextBrowser>
#include <QUrl>
#include <QVBoxLayout>

QColor probabilityColour(double p) {
  p = qBound(0.0, p, 1.0);
  return QColor::fromHsvF(0.33 * p, 0.42, 1.0);  // hue 0 (red) .. 0.33 (green), pale
}

namespace {

QString htmlText(const QString& s) {
  QString h = s.toHtmlEscaped();
  h.replace('\n', "<br>");
  return h;
}

}  // namespace

AnswerColumn::AnswerColumn(const QString& title, QWidget* parent)
    : QWidget(parent), header_(new QLabel), view_(new QTextBrowser) {
  header_->setObjectName("answerHeader");
  header_->setTextFormat(Qt::RichText);
  header_->setWordWrap(true);
  view_->setObjectName("answerText");
  view_->setOpenLinks(false);
  view_->setOpenExternalLinks(false);
  view_->document()->setDefaultStyleSheet("a { text-decoration: none; color: #202020; }");
  view_->setMouseTracking(true);
  connect(view_, &QTextBrowser::highlighted, this, [this](const QUrl& url) {
    const QString s = url.toString();
    Q_EMIT tokenHovered(s.startsWith("t:") ? s.mid(2).toInt() : -1);
  });
  renderTimer_.setSingleShot(true);
  renderTimer_.setInterval(kRenderMs);
  connect(&renderTimer_, &QTimer::timeout, this, &AnswerColumn::render);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addWidget(header_);
  layout->addWidget(view_, 1);
  setTitle(title);
}

void AnswerColumn::setTitle(const QString& title) {
  title_ = title;
  render();
}

void AnswerColumn::clear() {
  tokens_.clear();
  tail_.clear();
  stopReason_.clear();
  finalBytes_.clear();
  finished_ = false;
  divergence_ = -1;
  render();
}

void AnswerColumn::addToken(const CompareToken& t) {
  tokens_.push_back(t);
  if (!renderTimer_.isActive()) renderTimer_.start();  // a long answer is not re-laid out per token
}

void AnswerColumn::finish(const CompareColumnDone& d) {
  finished_ = true;
  stopReason_ = d.stopReason;
  finalBytes_ = d.bytes;
  QString streamed;
  for (const auto& t : tokens_) streamed += t.text;
  tail_ = d.text.startsWith(streamed) ? d.text.mid(streamed.size()) : QString();
  render();
}

void AnswerColumn::setDivergence(int index) {
  if (divergence_ == index) return;
  divergence_ = index;
  render();
}

void AnswerColumn::setColouring(bool on) {
  colouring_ = on;
  render();
}

void AnswerColumn::setFontScale(double scale) {
  fontScale_ = scale;
  const double base = font().pointSizeF() > 0 ? font().pointSizeF() : 10.0;
  QFont f = view_->font();
  f.setPointSizeF(base * scale);
  view_->setFont(f);
  view_->document()->setDefaultFont(f);
  QFont h = header_->font();
  h.setPointSizeF(base * scale);
  header_->setFont(h);
  render();
}

QString AnswerColumn::text() const {
  QString s;
  for (const auto& t : tokens_) s += t.text;
  return s + tail_;
}

QVector<int> AnswerColumn::ids() const {
  QVector<int> v;
  for (const auto& t : tokens_) v.push_back(t.id);
  return v;
}

void AnswerColumn::render() {
  renderTimer_.stop();
  QString status = QString("%1 token%2").arg(tokens_.size()).arg(tokens_.size() == 1 ? "" : "s");
  if (finished_) {
    QString why = stopReason_;
    if (why == "max_tokens") why = "max tokens reached";
    else if (why == "eos") why = "end of text";
    else if (why.startsWith("stop:")) why = "stopped at a blank line";
    status += " · " + why;
  }
  else if (!tokens_.isEmpty()) status += " · generating…";
  if (divergence_ >= 0) status += QString(" · <span style='color:#b71c1c'>diverges at token %1</span>").arg(divergence_);
  header_->setText(QString("<b>%1</b> <span style='color:#666'>%2</span>").arg(title_.toHtmlEscaped(), status));

  QString html = "<div style='white-space: pre-wrap'>";
  for (int i = 0; i < tokens_.size(); ++i) {
    const CompareToken& t = tokens_[i];
    QString style;
    if (colouring_) style += "background-color:" + probabilityColour(t.prob).name() + ";";
    // An empty piece (held back) still gets a hover target when it is the divergence point.
    QString shown = t.text.isEmpty() && i == divergence_ ? QString(QChar(0x2038)) : t.text;
    QString lead;  // the divergent token's leading spaces stay un-underlined (an underlined space reads as "_")
    if (i == divergence_) {
      while (!shown.isEmpty() && shown.front() == ' ') lead += ' ', shown.remove(0, 1);
      if (shown.isEmpty()) std::swap(shown, lead);  // a token of spaces only: underline them after all
    }
    const QString mark = i == divergence_ ? "font-weight:bold; text-decoration: underline; color:#b71c1c;" : "";
    html += QString("<a href=\"t:%1\"><span style=\"%2\">%3</span><span style=\"%2%4\">%5</span></a>")
                .arg(i)
                .arg(style, htmlText(lead), mark, htmlText(shown));
  }
  html += htmlText(tail_) + "</div>";
  QScrollBar* bar = view_->verticalScrollBar();
  const bool atEnd = bar->value() >= bar->maximum() - 2;
  view_->setHtml(html);
  if (atEnd) bar->setValue(bar->maximum());
}
