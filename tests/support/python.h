// Runs a Python helper from tests/python with the project's venv (RWKV_PYTHON) and fails the
// test with its stderr when it does not exit 0. Used to make real torch checkpoints and to
// compute oracle outputs.
#pragma once
#include <QProcess>
#include <QStringList>
#include <QTest>

#include "fixtures.h"

namespace pyhelp {

// Returns true on success; on failure *err holds the command and its output.
inline bool run(const QString& script, const QStringList& args, QString* err, int timeout_ms = 600000) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  QStringList full{fixtures::sourceDir() + "/tests/python/" + script};
  full << args;
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert("RWKV_SHARED_DIR", fixtures::sharedDir());
  p.setProcessEnvironment(env);
  p.start(QString(RWKV_PYTHON), full);
  if (!p.waitForFinished(timeout_ms) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
    *err = QString("%1 %2 failed (exit %3):\n%4")
               .arg(RWKV_PYTHON, full.join(' '))
               .arg(p.exitCode())
               .arg(QString::fromUtf8(p.readAll()));
    return false;
  }
  return true;
}

}  // namespace pyhelp

#define RUN_PYTHON(script, args)                        \
  do {                                                  \
    QString _err;                                       \
    if (!pyhelp::run(script, args, &_err)) QFAIL(qPrintable(_err)); \
  } while (0)
