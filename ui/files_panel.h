// The files of a run: model, tokenizer (auto-detected where possible), dataset, optional
// starting state and the output state. Shows what was detected about each.
#pragma once
#include <QWidget>

class FileField;
class QComboBox;
class QLabel;

class FilesPanel : public QWidget {
  Q_OBJECT
 public:
  explicit FilesPanel(QWidget* parent = nullptr);

  FileField* model() const { return model_; }
  FileField* data() const { return data_; }
  FileField* initState() const { return init_; }
  FileField* out() const { return out_; }
  QString tokenizerSpec() const;  // "" = auto
  void setTokenizerSpec(const QString& spec);

  void setModelStatus(const QString& text, bool ok);
  void setTokenizerNote(const QString& text);

 Q_SIGNALS:
  void modelChosen(const QString& path);
  void dataChosen(const QString& path);
  void tokenizerChanged();
  void changed();  // any field

 private:
  FileField *model_, *data_, *init_, *out_;
  QComboBox* tokenizer_;
  QLabel *modelStatus_, *tokNote_;
};
