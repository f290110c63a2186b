// rwkv-studio: the GUI. Thin: parse the command line, open the main window. Without --model and
// --data it reopens the previous session's files, else the demo: the project's demo-small model
// and its format task (resources/, see demo_files.h), ready to press Start. --self-test checks an
// installation (self_test.h).
#include <QApplication>
#include <QCommandLineParser>

#include "demo_files.h"
#include "hyperparam_form.h"
#include "main_window.h"
#include "self_test.h"
#include "setup_panel.h"

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
  QCommandLineOption selfTest("self-test",
                              "Open the demo model and data, run two tuning steps, exit 0 if all worked "
                              "(use QT_QPA_PLATFORM=offscreen without a display).");
  cli.addOptions({model, data, fresh, selfTest});
  cli.process(app);
  if (cli.isSet(selfTest)) return runSelfTest();

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
