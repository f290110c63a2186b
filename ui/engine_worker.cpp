#include "engine_worker.h"

#include <QDateTime>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <exception>
#include <map>

#include "initial_snapshots.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/tokenizer.h"
#include "tokenizer_detect.h"

namespace {

constexpr int kPreviewRows = 500;

// Runs fn; turns any exception into an ErrorReport for the window.
template <class F>
bool guarded(EngineWorker* w, const QString& operation, const QString& details, F&& fn,
             void (EngineWorker::*failed)(const ErrorReport&)) {
  ErrorReport r{operation, "", "", details};
  try {
    fn();
    return true;
  } catch (const rwkv::Error& e) {
    r.kind = rwkv::error_kind_name(e.kind());
    r.message = QString::fromStdString(e.what());
  } catch (const std::exception& e) {
    r.kind = "Error";
    r.message = QString::fromStdString(e.what());
  } catch (...) {
    r.kind = "Error";
    r.message = "unknown exception";
  }
  Q_EMIT(w->*failed)(r);
  return false;
}

QString sampleText(const rwkv::Tokenizer& tok, const rwkv::Sample& s) {
  const std::vector<int> head(s.tokens.begin(), s.tokens.begin() + std::min<size_t>(s.tokens.size(), 160));
  QString text = QString::fromUtf8(QByteArray::fromStdString(tok.decode(head)));
  text.replace('\n', QChar(0x21B5));  // ↵
  return text.left(160);
}

DatasetSummary summarize(const rwkv::Dataset& ds, const rwkv::Tokenizer& tok, int ctxLen) {
  DatasetSummary out;
  out.path = QString::fromStdString(ds.path);
  out.shape = QString::fromStdString(ds.shape);
  out.ctxLen = ctxLen;
  out.nLines = ds.n_lines;
  out.nSamples = static_cast<int>(ds.samples.size());
  out.nTruncated = ds.n_truncated;
  out.nTokens = ds.n_tokens();
  out.nTargetTokens = ds.n_target_tokens();
  for (const auto& s : ds.samples) out.lengths.push_back(static_cast<int>(s.tokens.size()));
  for (size_t i = 0; i < ds.samples.size() && out.rows.size() < kPreviewRows; ++i) {
    const auto& s = ds.samples[i];
    const int targets = static_cast<int>(std::count(s.target.begin(), s.target.end(), uint8_t{1}));
    out.rows.push_back({s.line, static_cast<int>(s.tokens.size()), targets, s.truncated, sampleText(tok, s)});
  }
  for (const auto& is : ds.issues) out.issues.push_back({is.line, QString::fromStdString(is.reason)});
  return out;
}

std::map<std::string, std::string> stateMeta(const rwkv::TuneConfig& cfg, const rwkv::InitialState& s,
                                             const std::string& sha) {
  QJsonObject dims{{"n_layer", s.n_layer}, {"n_head", s.n_head}, {"head_size", s.head_size},
                   {"n_embd", s.n_head * s.head_size}};
  return {{"model_sha256", sha},
          {"dims", QJsonDocument(dims).toJson(QJsonDocument::Compact).toStdString()},
          {"config", cfg.to_json()},
          {"created", QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString()}};
}

}  // namespace

EngineWorker::EngineWorker(MetricsQueue* queue, QObject* parent) : QObject(parent), queue_(queue) {
  registerEngineMetaTypes();
}

EngineWorker::~EngineWorker() = default;

rwkv::StateFile EngineWorker::finalState() const {
  std::lock_guard<std::mutex> lock(mu_);
  return final_;
}

rwkv::InitialState EngineWorker::lastState() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void EngineWorker::loadModel(const QString& path) {
  guarded(this, "Open model", path, [&] {
    model_.reset();
    model_ = rwkv::Model::load(path.toStdString())->info();  // validates every key and shape
    const TokenizerGuess guess = detectTokenizer(*model_);
    Q_EMIT modelLoaded({*model_, guess.spec, guess.note});
  }, &EngineWorker::failed);
}

void EngineWorker::previewDataset(const QString& path, const QString& tokenizer, int ctxLen) {
  guarded(this, "Open dataset", path, [&] {
    std::unique_ptr<rwkv::Tokenizer> tok;
    QString desc, note;
    if (!tokenizer.isEmpty()) {
      tok = rwkv::load_tokenizer(tokenizer.toStdString());
      desc = tokenizer;
    } else if (model_) {
      const TokenizerGuess guess = detectTokenizer(*model_);
      if (guess.spec.isEmpty()) throw rwkv::Error(rwkv::ErrorKind::Argument, "tokenizer " + guess.note.toStdString());
      tok = rwkv::load_tokenizer(guess.spec.toStdString());
      desc = guess.note;
    } else {
      tok = rwkv::make_byte_tokenizer();
      note = "No model is open: token counts use the byte tokenizer until one is.";
    }
    const int ctx = std::max(ctxLen, 2);
    const rwkv::Dataset ds = rwkv::load_jsonl(path.toStdString(), *tok, ctx);
    DatasetSummary sum = summarize(ds, *tok, ctx);
    sum.tokenizer = QString::fromStdString(tok->name()) + (desc.isEmpty() ? "" : " — " + desc);
    sum.note = note;
    Q_EMIT datasetPreviewed(sum);
  }, &EngineWorker::failed);
}

void EngineWorker::startTuning(const rwkv::TuneConfig& cfg) {
  tuning_ = true;
  const rwkv::ModelInfo known = model_ ? *model_ : rwkv::ModelInfo{};
  const QString details = QString::fromStdString(cfg.to_json());
  guarded(this, "Tuning", details, [&] {
    rwkv::Tuner tuner(cfg, queue_, &control_);  // a guided run's guide answers here: its log lines show, Stop stops it
    // The starting state's heatmaps (step 0), for "diff against the initial state".
    const rwkv::InitialState start = tuner.state();
    for (const auto& [l, h] : snapshotHeads(cfg, start.n_layer))
      queue_->on_snapshot(downsampleHead(start, l, h, cfg.snapshot_size, tuner.info().start_step));
    const rwkv::TuneSummary sum = tuner.run(queue_, &control_);
    storeResult(tuner, sum, cfg, known);
    tuning_ = false;
    Q_EMIT tuneFinished(sum);
  }, &EngineWorker::failed);
  tuning_ = false;
}

void EngineWorker::storeResult(const rwkv::Tuner& tuner, const rwkv::TuneSummary& sum, const rwkv::TuneConfig& cfg,
                               const rwkv::ModelInfo& known) {
  rwkv::StateFile f;
  if (!sum.out_path.empty()) {
    f = rwkv::load_state(sum.out_path);  // what the engine saved (the best-eval state)
  } else {                               // cancelled: nothing saved, keep the current state
    f.s0 = tuner.state();
    const std::string sha = known.path == cfg.model ? known.sha256 : rwkv::sha256_file(cfg.model);
    f.meta = stateMeta(cfg, f.s0, sha);
  }
  if (f.format != rwkv::StateFormat::Ours) f.meta.clear();
  f.format = rwkv::StateFormat::Ours;
  std::lock_guard<std::mutex> lock(mu_);
  last_ = tuner.state();
  final_ = std::move(f);
}

void EngineWorker::saveState(const QString& path) {
  guarded(this, "Save state", path, [&] {
    rwkv::StateFile f = finalState();
    if (f.s0.empty())
      throw rwkv::Error(rwkv::ErrorKind::Argument, "no tuned state yet: run a tuning first (" + path.toStdString() + ")");
    f.format = rwkv::state_format_for_path(path.toStdString());
    if (f.format != rwkv::StateFormat::Ours) f.meta.clear();
    rwkv::save_state(path.toStdString(), f);
    const std::string warn = rwkv::state_export_warning(f.s0, f.format);  // a kernel state as PEFT/Ai00
    Q_EMIT stateSaved(path, QString(rwkv::state_format_name(f.format)) +
                                (warn.empty() ? QString() : " — warning: " + QString::fromStdString(warn)));
  }, &EngineWorker::failed);
}

void registerEngineMetaTypes() {
  qRegisterMetaType<ErrorReport>();
  qRegisterMetaType<ModelSummary>();
  qRegisterMetaType<DatasetSummary>();
  qRegisterMetaType<rwkv::TuneConfig>();
  qRegisterMetaType<rwkv::TuneSummary>();
}
