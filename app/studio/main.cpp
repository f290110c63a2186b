// rwkv-studio: the GUI. Thin: parse the command line, open the main window. Without --model and
// --data it reopens the previous session's files, else the demo: the tiny fixture model from
// ../shared and the bundled sample Q/A dataset, ready to press Start.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "main_window.h"

namespace {

// The bundled sample dataset, copied out of the resources (the engine reads real files).
QString sampleDataset() {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  QDir().mkpath(dir);
  const QString path = dir + "/sample_qa.jsonl";
  if (!QFileInfo::exists(path)) QFile::copy(":/data/sample_qa.jsonl", path);
  return QFileInfo::exists(path) ? path : QString();
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
    const QString demoModel =
        QDir::cleanPath(RWKV_DEFAULT_SHARED_DIR "/fixtures/rwkv-cpp/tiny-rwkv-7v0-834K-FP32.bin");
    const QString m = cli.isSet(model) ? cli.value(model) : QFileInfo::exists(demoModel) ? demoModel : QString();
    const QString d = cli.isSet(data) ? cli.value(data) : sampleDataset();
    if (!m.isEmpty()) w.openModel(m);
    if (!d.isEmpty()) w.openDataset(d);
  }
  return app.exec();
}
