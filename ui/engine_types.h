// Value types that cross the worker/GUI thread boundary through queued signals, and their Qt
// meta-type declarations. Engine structs (ModelInfo, TuneConfig, ...) are plain values: safe to copy.
#pragma once
#include <QMetaType>
#include <QString>
#include <QVector>

#include <vector>

#include "rwkv/model.h"
#include "rwkv/tune_config.h"
#include "rwkv/tuner.h"

// A failure the window shows: a one-line summary and the engine's full message.
struct ErrorReport {
  QString operation;  // "Open model", "Open dataset", "Tuning", "Save state", ...
  QString kind;       // rwkv::error_kind_name(), or "Error" for other exceptions
  QString message;    // the engine's message (names file, key, expected and found values)
  QString details;    // extra context (paths, the config), shown under "Show Details"
};

struct ModelSummary {
  rwkv::ModelInfo info;
  QString tokenizerSpec;  // what "auto" resolves to: "bytes", a vocab path, or "" (none found)
  QString tokenizerNote;  // human-readable explanation of the detection
};

struct DatasetRow {
  int line = 0;
  int tokens = 0;
  int targets = 0;
  bool truncated = false;
  QString text;  // the decoded start of the sample, one line
};

struct DatasetIssueRow {
  int line = 0;
  QString reason;
};

struct DatasetSummary {
  QString path;
  QString tokenizer;  // the tokenizer's name ("bytes", "world", ...) and where it came from
  QString note;       // e.g. "no model open: token counts use the byte tokenizer"
  QString shape;      // "text", "qa", "chat", "mixed"
  int ctxLen = 0;
  int nLines = 0, nSamples = 0, nTruncated = 0;
  qint64 nTokens = 0, nTargetTokens = 0;
  std::vector<int> lengths;        // tokens of every usable sample
  QVector<DatasetRow> rows;        // the first samples (preview table)
  QVector<DatasetIssueRow> issues; // every unusable line and why
};

Q_DECLARE_METATYPE(ErrorReport)
Q_DECLARE_METATYPE(ModelSummary)
Q_DECLARE_METATYPE(DatasetSummary)
Q_DECLARE_METATYPE(rwkv::TuneConfig)
Q_DECLARE_METATYPE(rwkv::TuneSummary)

// Registers the types above for queued connections (idempotent).
void registerEngineMetaTypes();
