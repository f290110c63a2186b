// The hyperparameter form: every TuneConfig setting except the file paths, with tooltips,
// presets (Default / Quick / Careful / Demo) and validation that says, per field, what is wrong.
#pragma once
#include <QMap>
#include <QStringList>
#include <QWidget>

#include "rwkv/tune_config.h"

class FileField;
class QCheckBox;
class QComboBox;
class QLineEdit;
class QSpinBox;

class HyperparamForm : public QWidget {
  Q_OBJECT
 public:
  explicit HyperparamForm(QWidget* parent = nullptr);

  // Copies the form into cfg (paths are left alone, but for the guide model of guided tuning)
  // and returns what is wrong, one readable
  // sentence per problem; empty when the values are valid.
  QStringList read(rwkv::TuneConfig* cfg) const;
  void write(const rwkv::TuneConfig& cfg);  // paths are ignored (the guide model is written)
  static QStringList presetNames();          // "Default", "Quick", "Careful", "Demo"
  void applyPreset(const QString& name);

 Q_SIGNALS:
  void changed();

 private:
  QLineEdit* addReal(class QFormLayout* form, const char* name, const QString& label, const QString& tip);
  QSpinBox* addInt(QFormLayout* form, const char* name, const QString& label, const QString& tip, int min, int max);

  QComboBox* preset_;
  QMap<QString, QLineEdit*> reals_;
  QMap<QString, QSpinBox*> ints_;
  void updateMethodFields();

  QComboBox* schedule_;
  QComboBox *method_, *support_, *dbp_;
  QCheckBox *write_, *taskGrad_, *recompute_;
  void updateGuidedFields();
  QComboBox* guided_;    // off, cot, kl, kl_multi
  FileField* guide_;     // the guide checkpoint (the one path this form holds: it belongs to the method)
  QCheckBox* guideFilter_;
  QComboBox* device_;
  QLineEdit* heads_;
  bool applying_ = false;
};
