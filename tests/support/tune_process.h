// Runs the rwkv-tune built with the tests (RWKV_TUNE_EXE) as a separate process and describes a
// run for failure messages: the helpers test_cli and test_evaluate had each written out.
#pragma once
#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace tune_process {

struct Run {
  int code = -1;  // -1: did not finish normally (timeout, crash); err says so
  QByteArray out, err;
};

inline Run tune(const QStringList& args, int timeout_ms = 300000) {
  QProcess p;
  p.start(QString(RWKV_TUNE_EXE), args);
  Run r;
  if (!p.waitForFinished(timeout_ms) || p.exitStatus() != QProcess::NormalExit) {
    p.kill();
    p.waitForFinished();
    r.err = "rwkv-tune did not finish normally: " + p.readAllStandardError();
    return r;
  }
  r.code = p.exitCode();
  r.out = p.readAllStandardOutput();
  r.err = p.readAllStandardError();
  return r;
}

// The command line, exit status and (the start of) both outputs.
inline QString describe(const QStringList& args, const Run& r) {
  return QString("rwkv-tune %1\nexit %2\nstdout: %3\nstderr: %4")
      .arg(args.join(' '))
      .arg(r.code)
      .arg(QString::fromUtf8(r.out.left(3000)), QString::fromUtf8(r.err.left(6000)));
}

}  // namespace tune_process
