// rwkv-studio: the GUI. Thin: parse the command line, open the main window. Without --model and
// --data it reopens the previous session's files, else the demo: the project's demo-small model
// and its format task (resources/), ready to press Start.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "hyperparam_form.h"
#include "main_window.h"
#include "setup_panel.h"

namespace {

// A file of the demo (models/demo-small.safetensors, tasks/format_train.jsonl): beside an
// installed binary (../share/rwkv-studio/), else in the source tree it was built from; "" if absent.
QString demoFile(const QString& rel) {
  for (const QString& root : {QCoreApplication::applicationDirPath() + "/../share/rwkv-studio", QString(RWKV_RESOURCE_DIR)}) {
    const QString path = QDir::cleanPath(root + "/" + rel);
    if (QFileInfo::exists(path)) return path;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("rwkv-studio");
  QApplication::setOrganizationName("rwkv-studio");
  QApplication::setApplicationVersion(RWKV_VERSION);

  QCommandLineParser cli;
  cli.setApplicationDescription("RWKV-7 state tuning studio");
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption model({"m", "model"}, "Model file to open (.pth, .safetensors, rwkv.cpp .bin).", "file");
  QCommandLineOption data({"d", "data"}, "Dataset (JSON Lines) to open.", "file");
  QCommandLineOption fresh("fresh", "Do not reopen the previous session's files; open the demo model and data.");
  cli.addOptions({model, data, fresh});
  cli.process(app);

  MainWindow w;
  w.show();
  QStringList reopened;
  if (!cli.isSet(model) && !cli.isSet(data) && !cli.isSet(fresh)) reopened = w.restoreLastFiles();
  if (reopened.isEmpty()) {
    const QString m = cli.isSet(model) ? cli.value(model) : demoFile("models/demo-small.safetensors");
    const QString d = cli.isSet(data) ? cli.value(data) : demoFile("tasks/format_train.jsonl");
    if (!m.isEmpty()) w.openModel(m);
    if (!d.isEmpty()) w.openDataset(d);
    if (!cli.isSet(model) && !cli.isSet(data)) w.setup()->form()->applyPreset("Demo");
  }
  return app.exec();
}
