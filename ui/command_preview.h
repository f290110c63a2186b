// The exact `rwkv-tune tune ...` command line equivalent to the current settings (from
// TuneConfig::to_command_line), shell-quoted, read-only and copyable.
#pragma once
#include <QWidget>

#include <string>
#include <vector>

class QPlainTextEdit;
class QPushButton;

class CommandPreview : public QWidget {
  Q_OBJECT
 public:
  explicit CommandPreview(QWidget* parent = nullptr);
  void setCommand(const std::vector<std::string>& argv);
  QString text() const;

  static QString shellQuote(const QString& arg);

 public Q_SLOTS:
  void copy();

 private:
  QPlainTextEdit* text_;
  QPushButton* copy_;
};
