#include "analysis_worker.h"

#include <exception>

#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "tokenizer_detect.h"

namespace {

// Runs fn; any exception becomes failed(request, report).
template <class F>
void guarded(AnalysisWorker* w, int request, const QString& operation, const QString& details, F&& fn) {
  ErrorReport r{operation, "", "", details};
  try {
    fn();
    return;
  } catch (const rwkv::Error& e) {
    r.kind = rwkv::error_kind_name(e.kind());
    r.message = QString::fromStdString(e.what());
  } catch (const std::exception& e) {
    r.kind = "Error";
    r.message = QString::fromStdString(e.what());
  }
  Q_EMIT w->failed(request, r);
}

}  // namespace

AnalysisWorker::AnalysisWorker(std::shared_ptr<const CancelBoard> cancels, QObject* parent)
    : QObject(parent), cancels_(std::move(cancels)) {
  registerAnalysisMetaTypes();
  registerEngineMetaTypes();
}

AnalysisWorker::~AnalysisWorker() = default;

std::shared_ptr<const rwkv::Model> AnalysisWorker::model(const QString& path) {
  if (path.isEmpty()) throw rwkv::Error(rwkv::ErrorKind::Argument, "no model open");
  if (!model_ || path != modelPath_) {
    model_.reset();  // one set of weights at a time
    model_ = rwkv::Model::load(path.toStdString());
    modelPath_ = path;
  }
  return model_;
}

std::unique_ptr<rwkv::Tokenizer> AnalysisWorker::tokenizer(const ModelChoice& m, const rwkv::ModelInfo& info) const {
  QString spec = m.tokenizer;
  if (spec.isEmpty()) {
    const TokenizerGuess guess = detectTokenizer(info);
    if (guess.spec.isEmpty()) throw rwkv::Error(rwkv::ErrorKind::Argument, "tokenizer " + guess.note.toStdString());
    spec = guess.spec;
  }
  return rwkv::load_tokenizer(spec.toStdString());
}

rwkv::InitialState AnalysisWorker::state(const QString& path, const rwkv::ModelInfo& info) const {
  if (path.isEmpty()) return {};
  const rwkv::StateFile f = rwkv::load_state(path.toStdString());
  rwkv::check_state_matches(f, info);  // throws on other dims; a sha256 warning is not fatal here
  return f.s0;
}

void AnalysisWorker::compare(const CompareRequest& r) {
  if (cancelled(r.id)) return Q_EMIT compareFinished(r.id, true);
  bool stopped = false;
  guarded(this, r.id, "Compare", r.prompt, [&] {
    const auto m = model(r.model.model);
    const auto tok = tokenizer(r.model, m->info());
    for (int c = 0; c < r.columns.size() && !stopped; ++c) {
      rwkv::Context ctx(m);
      ctx.set_initial_state(state(r.columns[c].statePath, m->info()));
      int index = 0;
      const rwkv::GenerateResult g = rwkv::generate(
          ctx, *tok, r.prompt.toStdString(), r.params, [&](const rwkv::GeneratedToken& t) {
            CompareToken ct;
            ct.request = r.id;
            ct.column = c;
            ct.index = index++;
            ct.id = t.id;
            ct.bytes = QByteArray::fromStdString(tok->decode({t.id}));
            ct.text = QString::fromUtf8(QByteArray::fromStdString(t.text));
            ct.prob = t.prob;
            for (const auto& alt : t.top) ct.top.push_back({QByteArray::fromStdString(tok->decode({alt.id})), alt.prob});
            Q_EMIT compareToken(ct);
            return !cancelled(r.id);
          });
      stopped = g.stop_reason == "cancelled";
      CompareColumnDone done{r.id, c, QString::fromUtf8(QByteArray::fromStdString(g.text)),
                             QByteArray::fromStdString(g.text), {}, QString::fromStdString(g.stop_reason)};
      for (int id : g.tokens) done.ids.push_back(id);
      Q_EMIT compareColumnDone(done);
    }
  });
  Q_EMIT compareFinished(r.id, stopped || cancelled(r.id));
}

void AnalysisWorker::batch(const BatchRequest& r) {
  if (cancelled(r.id)) return Q_EMIT batchFinished(r.id, true);
  bool stopped = false;
  guarded(this, r.id, "Batch compare", r.dataPath, [&] {
    const auto m = model(r.model.model);
    const auto tok = tokenizer(r.model, m->info());
    const std::string path = r.dataPath.toStdString();
    const rwkv::EvalSet set = r.evalSplit ? rwkv::eval_split(path, *tok, r.ctxLen, r.evalFraction, r.seed)
                                          : rwkv::load_eval_set(path);
    if (set.items.empty())
      throw rwkv::Error(rwkv::ErrorKind::Argument,
                        path + ": the eval split is empty (raise the eval fraction, or compare on a file)");
    for (int c = 0; c < r.columns.size() && !stopped; ++c) {
      rwkv::Context ctx(m);
      ctx.set_initial_state(state(r.columns[c].statePath, m->info()));
      rwkv::EvalCallbacks cb;
      cb.on_token = [&](int, const rwkv::GeneratedToken&) { return !cancelled(r.id); };
      cb.on_item = [&](const rwkv::EvalItemResult& item) { Q_EMIT batchItem({r.id, c, item}); };
      const rwkv::EvalReport rep = rwkv::evaluate(ctx, *tok, set, r.params, cb);
      stopped = rep.totals.cancelled;
      Q_EMIT batchColumnDone({r.id, c, rep.totals});
    }
  });
  Q_EMIT batchFinished(r.id, stopped || cancelled(r.id));
}

void AnalysisWorker::inspect(const InspectRequest& r) {
  if (cancelled(r.id)) return;
  guarded(this, r.id, "Inspect", r.prompt, [&] {
    const auto m = model(r.model.model);
    const auto tok = tokenizer(r.model, m->info());
    auto data = std::make_shared<rwkv::Inspection>(
        rwkv::inspect(m, *tok, r.prompt.toStdString(), state(r.statePath, m->info()), r.options));
    std::shared_ptr<const rwkv::Inspection> guide;
    if (!r.guidePath.isEmpty()) {  // the guide reads the student's tokens (prompt and answer) from zeros
      if (!guide_ || guidePath_ != r.guidePath) {
        guide_.reset();
        guide_ = rwkv::Model::load(r.guidePath.toStdString());
        guidePath_ = r.guidePath;
      }
      if (guide_->dims().n_vocab != m->dims().n_vocab)
        throw rwkv::Error(rwkv::ErrorKind::Mismatch,
                          "guide " + r.guidePath.toStdString() + " has a vocabulary of " +
                              std::to_string(guide_->dims().n_vocab) + " tokens, the model " +
                              r.model.model.toStdString() + " " + std::to_string(m->dims().n_vocab) +
                              ": the guide must share the model's tokenizer");
      rwkv::InspectOptions go;
      go.matrices_layer = -1;
      go.spectra_layer = -2;
      go.zero_trajectory = false;
      guide = std::make_shared<rwkv::Inspection>(
          rwkv::inspect_tokens(guide_, *tok, data->tokens, data->n_prompt_tokens, {}, go));
    }
    Q_EMIT inspected({r.id, r, std::move(data), std::move(guide)});
  });
}

void AnalysisWorker::loadEvalSplit(const ModelChoice& mc, const QString& path, int ctxLen, double fraction,
                                   quint64 seed) {
  guarded(this, 0, "Eval split", path, [&] {
    // Tokenized as the tuner would: with the model's tokenizer when one is open, else bytes.
    std::unique_ptr<rwkv::Tokenizer> tok;
    if (!mc.model.isEmpty()) tok = tokenizer(mc, model(mc.model)->info());
    else tok = rwkv::make_byte_tokenizer();
    Q_EMIT evalSplitLoaded({path, rwkv::eval_split(path.toStdString(), *tok, ctxLen, fraction, seed)});
  });
}

void registerAnalysisMetaTypes() {
  qRegisterMetaType<CompareRequest>();
  qRegisterMetaType<CompareToken>();
  qRegisterMetaType<CompareColumnDone>();
  qRegisterMetaType<BatchRequest>();
  qRegisterMetaType<BatchItem>();
  qRegisterMetaType<BatchColumnDone>();
  qRegisterMetaType<EvalSplitResult>();
  qRegisterMetaType<InspectRequest>();
  qRegisterMetaType<InspectResult>();
  qRegisterMetaType<ModelChoice>();
}
