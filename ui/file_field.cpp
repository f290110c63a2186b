#include "file_field.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMenu>
#include <QToolButton>

#include "recent_files.h"

FileField::FileField(const QString& name, const QString& recentKind, const QString& filter, Mode mode, QWidget* parent)
    : QWidget(parent), recentKind_(recentKind), filter_(filter), mode_(mode) {
  edit_ = new QLineEdit;
  edit_->setObjectName(name);
  edit_->setClearButtonEnabled(true);
  button_ = new QToolButton;
  button_->setObjectName(name + "Browse");
  button_->setText("…");
  button_->setIcon(QIcon(":/icons/open.svg"));
  recent_ = new QMenu(this);
  recent_->setObjectName(name + "Recent");
  button_->setMenu(recent_);
  button_->setPopupMode(QToolButton::MenuButtonPopup);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addWidget(edit_, 1);
  layout->addWidget(button_);
  connect(button_, &QToolButton::clicked, this, &FileField::browse);
  connect(edit_, &QLineEdit::editingFinished, this, &FileField::commit);
  connect(recent_, &QMenu::aboutToShow, this, &FileField::fillRecent);
}

QString FileField::path() const { return edit_->text().trimmed(); }

void FileField::setPath(const QString& path, bool notify) {
  edit_->setText(path);
  if (notify)
    commit();
  else
    last_ = path.trimmed();
}

void FileField::setPlaceholder(const QString& text) { edit_->setPlaceholderText(text); }

void FileField::setTips(const QString& tip) {
  edit_->setToolTip(tip);
  button_->setToolTip("Browse… (the arrow lists recent files)");
}

void FileField::commit() {
  if (path() == last_) return;
  last_ = path();
  if (!last_.isEmpty() && mode_ == Open) RecentFiles::add(recentKind_, last_);
  Q_EMIT chosen(last_);
}

void FileField::browse() {
  const QString start = path().isEmpty() ? QString() : QFileInfo(path()).absolutePath();
  const QString p = mode_ == Open ? QFileDialog::getOpenFileName(this, "Open", start, filter_)
                                  : QFileDialog::getSaveFileName(this, "Save as", start, filter_);
  if (!p.isEmpty()) setPath(p, true);
}

void FileField::fillRecent() {
  recent_->clear();
  const QStringList files = RecentFiles::list(recentKind_);
  if (files.isEmpty()) recent_->addAction("(no recent files)")->setEnabled(false);
  for (const QString& f : files)
    recent_->addAction(QFileInfo(f).fileName() + "  —  " + QFileInfo(f).absolutePath(), this,
                       [this, f] { setPath(f, true); });
}
