// One answer of the compare view: a title, and the generated tokens as they stream in, each
// optionally coloured by its probability (red: unlikely, green: likely), the first token that
// differs from the other column outlined. Hovering a token emits tokenHovered(index); the view
// shows every column's alternatives at that position.
#pragma once
#include <QTimer>
#include <QVector>
#include <QWidget>

#include "analysis_types.h"

class QLabel;
class QTextBrowser;

class AnswerColumn : public QWidget {
  Q_OBJECT
 public:
  explicit AnswerColumn(const QString& title, QWidget* parent = nullptr);

  void setTitle(const QString& title);
  QString title() const { return title_; }
  void clear();
  void addToken(const CompareToken& t);
  void finish(const CompareColumnDone& d);  // the final text may add a held-back tail
  void setDivergence(int index);           // -1 = none
  void setColouring(bool on);
  void setFontScale(double scale);

  bool finished() const { return finished_; }
  QString text() const;  // what the column shows: the streamed text, then the final tail
  QVector<int> ids() const;
  QByteArray finalBytes() const { return finalBytes_; }  // the answer's bytes once finished
  const QVector<CompareToken>& tokens() const { return tokens_; }
  int divergence() const { return divergence_; }
  QTextBrowser* browser() const { return view_; }

 Q_SIGNALS:
  void tokenHovered(int index);  // -1 when the pointer leaves the tokens

 private:
  void render();  // the whole column; while tokens stream, at most once per kRenderMs

  static constexpr int kRenderMs = 40;
  QString title_;
  QLabel* header_;
  QTextBrowser* view_;
  QVector<CompareToken> tokens_;
  QString tail_;        // final text not released by any token (held back at the end)
  QString stopReason_;
  QByteArray finalBytes_;
  bool finished_ = false, colouring_ = true;
  int divergence_ = -1;
  double fontScale_ = 1.0;
  QTimer renderTimer_;
};

// Background colour for a token of probability p: red (0) through yellow to green (1).
QColor probabilityColour(double p);
