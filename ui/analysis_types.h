// Value types of the compare and inspector views that cross the worker/GUI thread boundary through
// queued signals. Large results (an inspection) travel as shared pointers to const data.
#pragma once
#include <QMetaType>
#include <QString>
#include <QVector>

#include <memory>

#include "rwkv/evaluate.h"
#include "rwkv/generate.h"
#include "rwkv/inspect.h"

// One answer column: the base model (statePath empty = zero initial state) or a tuned state.
struct CompareColumn {
  QString name;
  QString statePath;
};

struct ModelChoice {
  QString model;
  QString tokenizer;  // "" = auto (bytes for a 256-token model, else the vocab beside the model)
};

struct CompareRequest {
  int id = 0;  // echoed with every token, so the view can drop a cancelled request's stragglers
  ModelChoice model;
  QString prompt;  // the exact model input
  QVector<CompareColumn> columns;
  rwkv::GenerateParams params;  // the same for every column: the difference is the state alone
};

struct CompareToken {
  int request = 0, column = 0, index = 0;  // index = position in the column's answer
  int id = 0;
  QByteArray bytes;    // the token's own bytes (tok.decode({id}))
  QString text;        // streamed text released with this token (complete UTF-8)
  float prob = 0;
  QVector<QPair<QByteArray, float>> top;  // the most likely tokens at this step: bytes, probability
};

struct CompareColumnDone {
  int request = 0, column = 0;
  QString text;     // the whole answer (rwkv::GenerateResult::text)
  QByteArray bytes; // the same as generated (it may hold invalid UTF-8 that text shows as U+FFFD)
  QVector<int> ids;
  QString stopReason;
};

// Batch compare: every column answers every item (engine evaluate()).
struct BatchRequest {
  int id = 0;
  ModelChoice model;
  QString dataPath;
  bool evalSplit = true;  // the tuning data set's held-out split; false = every item of dataPath (JSONL or CSV)
  int ctxLen = 512;       // for the split (as the tuner tokenizes)
  double evalFraction = 0.1;
  quint64 seed = 42;
  QVector<CompareColumn> columns;
  rwkv::EvalParams params;
};

struct BatchItem {
  int request = 0, column = 0;
  rwkv::EvalItemResult result;
};

struct BatchColumnDone {
  int request = 0, column = 0;
  rwkv::EvalTotals totals;
};

// The prompts of a data set's eval split (for the compare view's list).
struct EvalSplitResult {
  QString path;
  rwkv::EvalSet set;
};

struct InspectRequest {
  int id = 0;
  ModelChoice model;
  QString prompt;
  QString statePath;  // "" = zero initial state
  rwkv::InspectOptions options;
  QString guidePath;  // "" = none; else a guide model that reads the same tokens from its zero state
};

struct InspectResult {
  int request = 0;
  InspectRequest echo;
  std::shared_ptr<const rwkv::Inspection> data;
  std::shared_ptr<const rwkv::Inspection> guide;  // with echo.guidePath: rwkv::inspect_tokens of data->tokens
};

Q_DECLARE_METATYPE(ModelChoice)
Q_DECLARE_METATYPE(CompareRequest)
Q_DECLARE_METATYPE(CompareToken)
Q_DECLARE_METATYPE(CompareColumnDone)
Q_DECLARE_METATYPE(BatchRequest)
Q_DECLARE_METATYPE(BatchItem)
Q_DECLARE_METATYPE(BatchColumnDone)
Q_DECLARE_METATYPE(EvalSplitResult)
Q_DECLARE_METATYPE(InspectRequest)
Q_DECLARE_METATYPE(InspectResult)

void registerAnalysisMetaTypes();  // idempotent
