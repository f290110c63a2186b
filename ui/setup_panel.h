// Everything that defines a run before it starts: files, hyperparameters, the equivalent
// command line and a live list of what is wrong with the current choices.
#pragma once
#include <QStringList>
#include <QWidget>

#include "rwkv/tune_config.h"

class CommandPreview;
class FilesPanel;
class HyperparamForm;
class QLabel;

class SetupPanel : public QWidget {
  Q_OBJECT
 public:
  explicit SetupPanel(QWidget* parent = nullptr);

  FilesPanel* files() const { return files_; }
  HyperparamForm* form() const { return form_; }
  CommandPreview* command() const { return command_; }

  // The config the form describes (paths from the files panel) and the form's problems.
  rwkv::TuneConfig config(QStringList* problems) const;
  void setConfig(const rwkv::TuneConfig& cfg);  // paths and hyperparameters
  // Shows the problems (or "ready") under the form and refreshes the command line.
  void showProblems(const QStringList& problems);

 Q_SIGNALS:
  void changed();

 private:
  FilesPanel* files_;
  HyperparamForm* form_;
  CommandPreview* command_;
  QLabel* problems_;
};
