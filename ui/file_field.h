// A path field: line edit, a browse button whose drop-down lists recent files, and a chosen()
// signal whenever the user settles on a (different) path by typing, browsing or picking.
#pragma once
#include <QWidget>

class QLineEdit;
class QMenu;
class QToolButton;

class FileField : public QWidget {
  Q_OBJECT
 public:
  enum Mode { Open, Save };
  FileField(const QString& name, const QString& recentKind, const QString& filter, Mode mode, QWidget* parent = nullptr);

  QString path() const;
  // Sets the text; emits chosen() when `notify` and the path differs from the last one chosen.
  void setPath(const QString& path, bool notify);
  QLineEdit* edit() const { return edit_; }
  void setPlaceholder(const QString& text);
  void setTips(const QString& tip);

 public Q_SLOTS:
  void browse();

 Q_SIGNALS:
  void chosen(const QString& path);

 private:
  void commit();
  void fillRecent();

  QLineEdit* edit_;
  QToolButton* button_;
  QMenu* recent_;
  QString recentKind_, filter_, last_;
  Mode mode_;
};
