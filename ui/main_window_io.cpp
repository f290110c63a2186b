// MainWindow: files in and out (run configs, metrics CSV, plot export) and the settings that
// persist between launches. Split from main_window.cpp to keep each file to one concern.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

#include "file_field.h"
#include "files_panel.h"
#include "hyperparam_form.h"
#include "loss_plot.h"
#include "main_window.h"
#include "message_banner.h"
#include "monitor_panel.h"
#include "plot_common.h"
#include "rwkv/state_file.h"
#include "setup_panel.h"

bool MainWindow::loadRunConfig(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    banner_->showMessage(MessageBanner::Error, QString("Cannot read the run config %1: %2").arg(path, f.errorString()));
    return false;
  }
  try {
    setup_->setConfig(rwkv::TuneConfig::from_json(f.readAll().toStdString()));
  } catch (const std::exception& e) {
    banner_->showMessage(MessageBanner::Error, QString("The run config %1 is not usable: %2").arg(path, e.what()));
    return false;
  }
  log("loaded run config " + path);
  return true;
}

bool MainWindow::saveRunConfig(const QString& path) {
  QStringList ignored;
  try {
    rwkv::atomic_write_file(path.toStdString(), setup_->config(&ignored).to_json());
  } catch (const std::exception& e) {
    banner_->showMessage(MessageBanner::Error, QString("Cannot save the run config: ") + e.what());
    return false;
  }
  log("saved run config " + path);
  return true;
}

bool MainWindow::exportMetricsCsv(const QString& path) {
  QString error;
  if (!runData_.writeCsv(path, &error)) {
    banner_->showMessage(MessageBanner::Error, "Export failed: " + error);
    return false;
  }
  log(QString("exported %1 steps of metrics to %2").arg(runData_.steps().size()).arg(path));
  return true;
}

bool MainWindow::exportPlots(const QString& folder) {
  QDir().mkpath(folder);
  QStringList failed;
  for (const auto& [name, plot] : monitor_->namedPlots())
    for (const char* ext : {".png", ".pdf"}) {
      QString error;
      if (!exportPlot(plot, QDir(folder).filePath(name + ext), &error)) failed << error;
    }
  if (!failed.isEmpty()) {
    banner_->showMessage(MessageBanner::Error, "Some plots could not be exported:\n" + failed.join("\n"));
    return false;
  }
  log("exported the plots as PNG and PDF to " + folder);
  return true;
}

void MainWindow::saveSettings() const {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  QStringList ignored;
  s.setValue("run/config", QString::fromStdString(setup_->config(&ignored).to_json()));
  s.setValue("plots/smoothing", monitor_->lossPlot()->smoothing());
}

void MainWindow::restoreSettings() {
  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray());
  const QString json = s.value("run/config").toString();
  if (!json.isEmpty()) {
    try {
      rwkv::TuneConfig c = rwkv::TuneConfig::from_json(json.toStdString());
      setup_->form()->write(c);  // hyperparameters now; files in restoreLastFiles()
      setup_->files()->setTokenizerSpec(QString::fromStdString(c.tokenizer));
      setup_->files()->out()->setPath(QString::fromStdString(c.out), false);
    } catch (const std::exception&) {
      // an old or foreign config: start from the defaults
    }
  }
  if (s.contains("plots/smoothing")) monitor_->lossPlot()->setSmoothing(s.value("plots/smoothing").toInt());
}

QStringList MainWindow::restoreLastFiles() {
  QStringList opened;
  const QString json = QSettings().value("run/config").toString();
  if (json.isEmpty()) return opened;
  try {
    const rwkv::TuneConfig c = rwkv::TuneConfig::from_json(json.toStdString());
    const auto reopen = [&](const std::string& p, void (MainWindow::*open)(const QString&)) {
      const QString path = QString::fromStdString(p);
      if (!path.isEmpty() && QFileInfo::exists(path)) {
        (this->*open)(path);
        opened << path;
      }
    };
    reopen(c.model, &MainWindow::openModel);
    reopen(c.data, &MainWindow::openDataset);
    reopen(c.init_state, &MainWindow::openInitState);
  } catch (const std::exception&) {
  }
  return opened;
}
