// Helpers shared by the GUI tests: settings and app data in a temporary folder (never the
// user's), a Q/A dataset written by the test, and lookups of widgets by objectName.
#pragma once
#include <QApplication>
#include <QFile>
#include <QLineEdit>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "main_window.h"

namespace gui {

// Points QSettings and QStandardPaths at `dir` (call before any window exists).
inline void isolateAppDirs(const QString& dir) {
  qputenv("XDG_CONFIG_HOME", (dir + "/config").toUtf8());
  qputenv("XDG_DATA_HOME", (dir + "/data").toUtf8());
  qputenv("XDG_CACHE_HOME", (dir + "/cache").toUtf8());
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir + "/config");
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir + "/config");
  QCoreApplication::setOrganizationName("rwkv-studio-test");
  QCoreApplication::setApplicationName("rwkv-studio-test");
  QSettings().clear();
}

// `n` made-up question/answer lines (distinct numbers, so every sample differs).
inline bool writeQaDataset(const QString& path, int n) {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
  for (int i = 0; i < n; ++i)
    f.write(QString("{\"question\": \"What is the code of locker %1?\", \"answer\": \"Locker %1 opens with %2.\"}\n")
                .arg(i)
                .arg((i * 7919) % 10000, 4, 10, QChar('0'))
                .toUtf8());
  return true;
}

inline bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

template <class T>
T* child(QWidget* w, const char* name) {
  T* c = w->findChild<T*>(name);
  if (!c) qWarning("no child %s named %s", T::staticMetaObject.className(), name);
  return c;
}

// Types a path into a FileField's line edit and presses Return, as a user would.
inline void typePath(QWidget* w, const char* name, const QString& path) {
  auto* edit = child<QLineEdit>(w, name);
  edit->setFocus();
  edit->selectAll();
  edit->setText(path);
  QTest::keyClick(edit, Qt::Key_Return);
}

}  // namespace gui

#include <QLabel>
#include <QSpinBox>

namespace gui {

// Opens model and dataset through their fields and waits until both are loaded (false on timeout).
inline bool openFiles(MainWindow& w, const QString& model, const QString& data, int timeoutMs = 60000) {
  typePath(&w, "modelPath", model);
  auto* status = child<QLabel>(&w, "modelStatus");
  if (!QTest::qWaitFor([&] { return status->text().contains("layers"); }, timeoutMs)) {
    qWarning("model not loaded: %s", qPrintable(status->text()));
    return false;
  }
  typePath(&w, "dataPath", data);
  auto* summary = child<QLabel>(&w, "datasetSummary");
  if (!QTest::qWaitFor([&] { return summary->text().contains("usable samples"); }, timeoutMs)) {
    qWarning("dataset not loaded: %s", qPrintable(summary->text()));
    return false;
  }
  return true;
}

inline void setInt(QWidget* w, const char* name, int v) { child<QSpinBox>(w, name)->setValue(v); }
inline void setText(QWidget* w, const char* name, const QString& v) { child<QLineEdit>(w, name)->setText(v); }

// Small, fast settings for the tiny fixture on the CPU.
inline void smallRun(MainWindow& w, int maxSteps, const QString& out) {
  setInt(&w, "ctxLen", 48);
  setInt(&w, "maxSteps", maxSteps);
  setInt(&w, "microBsz", 2);
  setInt(&w, "evalEvery", 4);
  setInt(&w, "snapshotEvery", 2);
  setInt(&w, "warmupSteps", 2);
  setText(&w, "lr", "0.05");
  setText(&w, "evalFraction", "0.2");
  typePath(&w, "outPath", out);
}

}  // namespace gui
