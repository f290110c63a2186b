// A coloured message line at the top of the window: why Start was refused, what failed, how a
// run ended. Stays until replaced or closed, so nothing important flashes by.
#pragma once
#include <QFrame>

class QLabel;

class MessageBanner : public QFrame {
  Q_OBJECT
 public:
  enum Level { Info, Warning, Error };
  explicit MessageBanner(QWidget* parent = nullptr);

  void showMessage(Level level, const QString& text);  // plain text; several lines allowed
  QString text() const;
  Level level() const { return level_; }

 private:
  QLabel* text_;
  Level level_ = Info;
};

struct ErrorReport;
// A readable, non-blocking error dialog: the summary, the engine's message, details on demand.
void showErrorDialog(QWidget* parent, const ErrorReport& report);
