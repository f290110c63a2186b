#include "self_test.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFileInfo>
#include <QSettings>
#include <QTemporaryDir>
#include <QThread>
#include <cmath>
#include <cstdio>

#include "demo_files.h"
#include "engine_session.h"
#include "main_window.h"
#include "rwkv/state_file.h"
#include "setup_panel.h"

namespace {

int fail(const QString& why) {
  std::fprintf(stderr, "rwkv-studio self-test: FAILED: %s\n", qPrintable(why));
  return 1;
}

void say(const QString& what) { std::fprintf(stderr, "rwkv-studio self-test: %s\n", qPrintable(what)); }

// Processes events until done() or the deadline; false on timeout.
template <class F>
bool waitFor(F done, QDeadlineTimer deadline) {
  while (!done()) {
    if (deadline.hasExpired()) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    QThread::msleep(10);
  }
  return true;
}

}  // namespace

int runSelfTest(int timeoutSeconds) {
  QTemporaryDir tmp;
  if (!tmp.isValid()) return fail("cannot create a temporary folder");
  // Keep the user's settings and recent files untouched.
  qputenv("XDG_CONFIG_HOME", tmp.filePath("config").toUtf8());
  qputenv("XDG_DATA_HOME", tmp.filePath("data").toUtf8());
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, tmp.filePath("config"));
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, tmp.filePath("config"));

  const QString model = demoFile("models/demo-small.safetensors");
  const QString data = demoFile("tasks/format_train.jsonl");
  if (model.isEmpty() || data.isEmpty())
    return fail("demo files missing (looked beside the binary in ../share/rwkv-studio and in " RWKV_RESOURCE_DIR ")");
  say("model " + model + ", data " + data);

  const QDeadlineTimer deadline{std::chrono::seconds(timeoutSeconds)};
  MainWindow w;
  w.show();

  rwkv::TuneConfig cfg;
  cfg.model = model.toStdString();
  cfg.data = data.toStdString();
  cfg.out = tmp.filePath("self-test.rwkvstate").toStdString();
  cfg.ctx_len = 64;
  cfg.max_steps = 2;
  cfg.warmup_steps = 1;
  cfg.eval_fraction = 0.2;
  cfg.eval_every = 0;
  cfg.snapshot_every = 1;
  cfg.autosave_every = 0;
  w.setup()->setConfig(cfg);

  if (!waitFor([&] { return w.startProblems().isEmpty(); }, deadline))
    return fail("the demo files did not become ready: " + w.startProblems().join("; "));

  bool finished = false;
  QString error;
  rwkv::TuneSummary summary;
  QObject::connect(w.session(), &EngineSession::runFinished, [&](const rwkv::TuneSummary& s) {
    summary = s;
    finished = true;
  });
  QObject::connect(w.session(), &EngineSession::runFailed, [&](const ErrorReport& r) {
    error = r.kind + ": " + r.message;
    finished = true;
  });
  if (!w.startRun()) return fail("Start was refused: " + w.startProblems().join("; "));
  if (!waitFor([&] { return finished; }, deadline)) return fail("the run did not finish in time");
  if (!error.isEmpty()) return fail("the run failed: " + error);
  if (summary.steps_done != 2 || !std::isfinite(summary.final_loss))
    return fail(QString("expected 2 steps with a finite loss, got %1 steps, loss %2")
                    .arg(summary.steps_done)
                    .arg(summary.final_loss));
  try {
    const rwkv::StateFile state = rwkv::load_state(cfg.out);
    if (state.s0.empty()) return fail("the written state is empty");
  } catch (const std::exception& e) {
    return fail(QString("cannot read back the written state: ") + e.what());
  }
  say(QString("OK: 2 steps, loss %1, %2 tokens/s").arg(summary.final_loss).arg(summary.tokens_per_s, 0, 'f', 0));
  return 0;
}
