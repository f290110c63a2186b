// Most-recently-used file lists kept in QSettings ("recent/<kind>"), newest first.
#pragma once
#include <QString>
#include <QStringList>

class RecentFiles {
 public:
  static constexpr int kMax = 10;
  static QStringList list(const QString& kind);  // only files that still exist
  static void add(const QString& kind, const QString& path);
};
