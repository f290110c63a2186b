#include "demo_files.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

QString demoFile(const QString& rel) {
  for (const QString& root : {QCoreApplication::applicationDirPath() + "/../share/rwkv-studio", QString(RWKV_RESOURCE_DIR)}) {
    const QString path = QDir::cleanPath(root + "/" + rel);
    if (QFileInfo::exists(path)) return path;
  }
  return {};
}
