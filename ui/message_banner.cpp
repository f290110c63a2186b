#include "message_banner.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QToolButton>

#include "engine_types.h"

MessageBanner::MessageBanner(QWidget* parent) : QFrame(parent) {
  setObjectName("messageBanner");
  text_ = new QLabel;
  text_->setObjectName("messageText");
  text_->setWordWrap(true);
  text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* close = new QToolButton;
  close->setText("✕");
  close->setAutoRaise(true);
  close->setToolTip("Dismiss");
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(8, 4, 4, 4);
  layout->addWidget(text_, 1);
  layout->addWidget(close, 0, Qt::AlignTop);
  connect(close, &QToolButton::clicked, this, &QWidget::hide);
  hide();
}

void MessageBanner::showMessage(Level level, const QString& text) {
  level_ = level;
  static const char* styles[] = {
      "QFrame#messageBanner { background: #e8f1fb; border: 1px solid #9cc3ea; border-radius: 3px; }",
      "QFrame#messageBanner { background: #fff5dc; border: 1px solid #e6c26e; border-radius: 3px; }",
      "QFrame#messageBanner { background: #fde8e8; border: 1px solid #e39a9a; border-radius: 3px; }"};
  setStyleSheet(styles[level]);
  text_->setText(text);
  show();
}

QString MessageBanner::text() const { return text_->text(); }

void showErrorDialog(QWidget* parent, const ErrorReport& r) {
  auto* box = new QMessageBox(parent);
  box->setObjectName("errorDialog");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setIcon(QMessageBox::Critical);
  box->setWindowTitle(r.operation + " failed");
  box->setText(QString("<b>%1 failed</b> (%2)").arg(r.operation.toHtmlEscaped(), r.kind.toHtmlEscaped()));
  box->setInformativeText(r.message);
  if (!r.details.isEmpty()) box->setDetailedText(r.details);
  box->setStandardButtons(QMessageBox::Ok);
  box->open();  // window-modal, never blocks the event loop
}
