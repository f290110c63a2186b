#include "run_record.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QStandardPaths>

RunRecord RunRecord::make(const rwkv::TuneConfig& cfg, const rwkv::TuneSummary& s, int totalSteps) {
  RunRecord r;
  r.finished = QDateTime::currentDateTime();
  r.status = s.cancelled ? "cancelled" : s.early_stopped ? "early stopped" : "finished";
  r.configJson = QString::fromStdString(cfg.to_json());
  r.model = QString::fromStdString(cfg.model);
  r.data = QString::fromStdString(cfg.data);
  r.out = QString::fromStdString(s.out_path);
  r.steps = s.steps_done;
  r.totalSteps = totalSteps;
  r.skipped = s.skipped_steps;
  r.finalLoss = s.final_loss;
  r.firstEval = s.first_eval_loss;
  r.finalEval = s.final_eval_loss;
  r.bestEval = s.best_eval_loss;
  r.wallS = s.wall_s;
  r.tokensPerS = s.tokens_per_s;
  return r;
}

RunRecord RunRecord::failed(const rwkv::TuneConfig& cfg, const QString& error) {
  RunRecord r;
  r.finished = QDateTime::currentDateTime();
  r.status = "failed";
  r.configJson = QString::fromStdString(cfg.to_json());
  r.model = QString::fromStdString(cfg.model);
  r.data = QString::fromStdString(cfg.data);
  r.error = error;
  return r;
}

QJsonObject RunRecord::toJson() const {
  return {{"finished", finished.toString(Qt::ISODate)},
          {"status", status},
          {"config", QJsonDocument::fromJson(configJson.toUtf8()).object()},
          {"model", model},
          {"data", data},
          {"out", out},
          {"steps", steps},
          {"total_steps", totalSteps},
          {"skipped_steps", skipped},
          {"final_loss", finalLoss},
          {"first_eval_loss", firstEval},
          {"final_eval_loss", finalEval},
          {"best_eval_loss", bestEval},
          {"wall_s", wallS},
          {"tokens_per_s", tokensPerS},
          {"error", error}};
}

RunRecord RunRecord::fromJson(const QJsonObject& o) {
  RunRecord r;
  r.finished = QDateTime::fromString(o["finished"].toString(), Qt::ISODate);
  r.status = o["status"].toString();
  r.configJson = QString::fromUtf8(QJsonDocument(o["config"].toObject()).toJson(QJsonDocument::Indented));
  r.model = o["model"].toString();
  r.data = o["data"].toString();
  r.out = o["out"].toString();
  r.steps = o["steps"].toInt();
  r.totalSteps = o["total_steps"].toInt();
  r.skipped = o["skipped_steps"].toInt();
  r.finalLoss = o["final_loss"].toDouble();
  r.firstEval = o["first_eval_loss"].toDouble();
  r.finalEval = o["final_eval_loss"].toDouble();
  r.bestEval = o["best_eval_loss"].toDouble();
  r.wallS = o["wall_s"].toDouble();
  r.tokensPerS = o["tokens_per_s"].toDouble();
  r.error = o["error"].toString();
  return r;
}

RunHistoryStore::RunHistoryStore(const QString& path) : path_(path) {}

RunHistoryStore::RunHistoryStore()
    : path_(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/history.jsonl") {}

QVector<RunRecord> RunHistoryStore::load() const {
  QVector<RunRecord> out;
  QFile f(path_);
  if (!f.open(QIODevice::ReadOnly)) return out;
  for (const QByteArray& line : f.readAll().split('\n')) {
    const QJsonDocument d = QJsonDocument::fromJson(line);
    if (d.isObject()) out.push_back(RunRecord::fromJson(d.object()));
  }
  return out;
}

bool RunHistoryStore::append(const RunRecord& r) const {
  QDir().mkpath(QFileInfo(path_).absolutePath());
  QFile f(path_);
  if (!f.open(QIODevice::Append)) return false;
  const QByteArray line = QJsonDocument(r.toJson()).toJson(QJsonDocument::Compact) + "\n";
  return f.write(line) == line.size();
}
