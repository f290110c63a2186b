// A finished, cancelled or failed run as the history keeps it: its config and final figures.
// Stored one JSON object per line in <app data>/history.jsonl (append-only).
#pragma once
#include <QDateTime>
#include <QJsonObject>
#include <QString>
#include <QVector>

#include "rwkv/tune_config.h"
#include "rwkv/tuner.h"

struct RunRecord {
  QDateTime finished;
  QString status;  // "finished", "early stopped", "cancelled", "failed"
  QString configJson;
  QString model, data, out;
  int steps = 0, totalSteps = 0, skipped = 0;
  double finalLoss = 0, firstEval = 0, finalEval = 0, bestEval = 0, wallS = 0, tokensPerS = 0;
  QString error;

  static RunRecord make(const rwkv::TuneConfig& cfg, const rwkv::TuneSummary& sum, int totalSteps);
  static RunRecord failed(const rwkv::TuneConfig& cfg, const QString& error);
  QJsonObject toJson() const;
  static RunRecord fromJson(const QJsonObject& o);
};

class RunHistoryStore {
 public:
  explicit RunHistoryStore(const QString& path);  // default: <app data>/history.jsonl
  RunHistoryStore();
  QVector<RunRecord> load() const;          // skips lines it cannot read
  bool append(const RunRecord& r) const;    // false if the file cannot be written
  QString path() const { return path_; }

 private:
  QString path_;
};
