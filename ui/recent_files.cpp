#include "recent_files.h"

#include <QFileInfo>
#include <QSettings>

QStringList RecentFiles::list(const QString& kind) {
  QStringList out;
  for (const QString& p : QSettings().value("recent/" + kind).toStringList())
    if (QFileInfo::exists(p)) out << p;
  return out;
}

void RecentFiles::add(const QString& kind, const QString& path) {
  if (path.isEmpty()) return;
  const QString abs = QFileInfo(path).absoluteFilePath();
  QStringList l = QSettings().value("recent/" + kind).toStringList();
  l.removeAll(abs);
  l.prepend(abs);
  while (l.size() > kMax) l.removeLast();
  QSettings().setValue("recent/" + kind, l);
}
