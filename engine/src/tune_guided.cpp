// GuidedTuning (see tune_guided.h).
#include "tune_guided.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "rwkv/error.h"

namespace rwkv {
namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

GuidedTuning::GuidedTuning(const TuneConfig& cfg, const Model& student, const Tokenizer& tok) : cfg_(cfg), tok_(&tok) {
  LoadOptions lo;
  lo.device = cfg.device;
  lo.compute_bf16 = lo.device.rfind("cuda", 0) == 0;
  guide_ = Model::load(cfg.guide, lo);
  const int vs = student.dims().n_vocab, vg = guide_->dims().n_vocab;
  if (vs != vg)
    throw Error(ErrorKind::Mismatch, "guide " + cfg.guide + " has a vocabulary of " + std::to_string(vg) +
                                         " tokens, the student " + cfg.model + " " + std::to_string(vs) +
                                         ": guided tuning needs a guide with the student's tokenizer");
  // A tokenizer file beside the guide must encode like the student's (same name, size and ids).
  std::unique_ptr<Tokenizer> own;
  try {
    own = resolve_tune_tokenizer("", guide_->info());
  } catch (const Error&) {  // none beside the guide: it uses the student's
  }
  const std::string probe = "User: Where does Kleenzem live? 12 + 30 = 42\n\nAssistant: B";
  if (own && (own->name() != tok.name() || own->vocab_size() != tok.vocab_size() || own->encode(probe) != tok.encode(probe)))
    throw Error(ErrorKind::Mismatch, "guide " + cfg.guide + ": the tokenizer beside it (" + own->name() + ", " +
                                         std::to_string(own->vocab_size()) + " tokens) encodes differently from the "
                                         "student's (" + tok.name() + ", " + std::to_string(tok.vocab_size()) +
                                         " tokens) used for " + cfg.model);
}

void GuidedTuning::prepare(TuneInputs& in, const std::function<void(const std::string&)>& log,
                           const std::atomic<bool>* cancel) {
  // The guide answers the held-out questions too: the state the tuner keeps (lowest held-out
  // loss) is then judged on text of the form it is tuned on, not on the references (which may
  // be answer-only, like arith_short's).
  std::vector<int> lines;
  std::set<int> eval_lines;
  for (const auto& s : in.train) lines.push_back(s.line);
  for (const auto& s : in.eval) {
    lines.push_back(s.line);
    eval_lines.insert(s.line);
  }
  std::sort(lines.begin(), lines.end());
  const auto questions = guide_questions(cfg_.data, lines);
  log("guide " + std::filesystem::path(cfg_.guide).filename().string() + ": answering " +
      std::to_string(questions.size()) + " questions (training and held-out; greedy, at most " +
      std::to_string(cfg_.guide_max_tokens) + " tokens each)");
  auto last = std::chrono::steady_clock::now();
  answers_ = guide_answer(guide_, *tok_, questions, cfg_.guide_max_tokens, cfg_.guide_filter, cancel,
                          [&](int done, int total) {
                            if (since(last) < 5 && done != total) return;
                            last = std::chrono::steady_clock::now();
                            log("guide: " + std::to_string(done) + "/" + std::to_string(total) + " answered");
                          });
  if (answers_.cancelled) throw Error(ErrorKind::Cancelled, "guided tuning: cancelled while the guide was answering");
  cost_.questions = static_cast<int>(questions.size());
  cost_.kept = answers_.n_kept;
  cost_.scorer = answers_.scorer;
  cost_.generated = answers_.tokens_generated;
  cost_.seconds = answers_.seconds;
  log("guide: kept " + std::to_string(answers_.n_kept) + " of " + std::to_string(questions.size()) + " answers (" +
      (answers_.scorer == "none" ? std::string("no filter") : "scorer " + answers_.scorer) + "), " +
      std::to_string(answers_.tokens_generated) + " tokens in " + fmt1(answers_.seconds) + " s");
  std::vector<Sample> train, eval;
  for (const auto& a : answers_.answers)
    if (a.kept) {
      Sample s = guided_sample(a, *tok_, cfg_.ctx_len);
      bool any = false;
      for (size_t t = 1; t < s.target.size(); ++t) any = any || s.target[t];
      if (any) (eval_lines.count(a.question.line) ? eval : train).push_back(std::move(s));
    }
  if (train.empty())
    throw Error(ErrorKind::Argument, "guided tuning: the guide " + cfg_.guide + " answered none of the training "
                                     "questions of " + cfg_.data + " correctly (scorer " + answers_.scorer +
                                     ") within ctx_len " + std::to_string(cfg_.ctx_len) + "; nothing to tune on");
  if (eval.empty() && !in.eval.empty())
    log("guide: no held-out answer kept: no held-out loss, the last state is kept");
  in.train = std::move(train);
  in.eval = std::move(eval);

  if (cfg_.guided != "kl") return;
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard ng;
  const torch::Device dev = guide_->impl().device;
  for (size_t i = 0; i < in.train.size(); i += static_cast<size_t>(cfg_.micro_bsz)) {
    if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "guided tuning: cancelled while the guide scored");
    std::vector<const Sample*> ss;
    for (size_t j = i; j < std::min(in.train.size(), i + cfg_.micro_bsz); ++j) ss.push_back(&in.train[j]);
    const MicroBatch mb = make_micro_batch(ss, dev);
    const auto logits = micro_batch_logits(guide_->impl(), mb, {}, KernelTrain{}, nullptr);  // [n,V]
    const auto all = guide_topk(logits, cfg_.guide_topk);
    int64_t row = 0;
    for (const Sample* s : ss) {  // rows are in sample order (make_micro_batch)
      int64_t n = 0;
      for (size_t t = 1; t < s->target.size(); ++t) n += s->target[t] != 0;
      cache_.push_back({all.ids.narrow(0, row, n).clone(), all.logp.narrow(0, row, n).clone(),
                        all.tail.narrow(0, row, n).clone()});
      row += n;
    }
    cost_.scored += mb.n_tokens;
  }
  const double s = since(t0);
  cost_.seconds += s;
  log("guide: scored " + std::to_string(cost_.scored) + " tokens in " + fmt1(s) + " s, top " +
      std::to_string(cfg_.guide_topk) + " probabilities cached per target token");
}

int64_t GuidedTuning::kl_rows(const std::vector<Sample>& train, const std::vector<std::vector<int>>& groups) const {
  int64_t n = 0;
  for (const auto& g : groups)
    for (int i : g) {
      if (cfg_.guided == "kl_multi") {
        n += branch_rows(train[i], cfg_.guide_points, cfg_.guide_k);
      } else {
        for (size_t t = 1; t < train[i].target.size(); ++t) n += train[i].target[t] != 0;
      }
    }
  return n;
}

torch::Tensor GuidedTuning::loss(const Model::Impl& student, const std::vector<Sample>& train, const std::vector<int>& idx,
                                 const MicroBatch& mb, const std::vector<torch::Tensor>& s0, const KernelTrain& kt,
                                 std::vector<torch::Tensor>* z, int step, int64_t targets, int64_t kl_rows,
                                 torch::Tensor* kl_sum) {
  torch::Tensor kl, ce;
  if (cfg_.guided == "kl") {
    const auto logits = micro_batch_logits(student, mb, s0, kt, z);
    std::vector<const GuideTopK*> parts;
    for (int i : idx) parts.push_back(&cache_[i]);
    kl = topk_kl_sum(logits, cat_topk(parts, logits.device()));
    if (cfg_.guide_ce_weight > 0)
      ce = torch::nn::functional::cross_entropy(logits, mb.labels,
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  } else {  // kl_multi
    std::vector<Sample> branches;
    for (int i : idx) {
      const uint64_t seed = SplitMix64(cfg_.seed ^ (0x6B6C6D75ULL + static_cast<uint64_t>(step) * 1000003ULL +
                                                    static_cast<uint64_t>(i))).next();
      auto b = sample_branches(student, s0, kt, train[i], cfg_.guide_points, cfg_.guide_k, seed);
      for (auto& s : b) branches.push_back(std::move(s));
    }
    std::vector<const Sample*> ps;
    for (const auto& b : branches) ps.push_back(&b);
    const MicroBatch bm = make_micro_batch(ps, student.device);
    const auto logits = micro_batch_logits(student, bm, s0, kt, z);
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor gl;
    {
      torch::NoGradGuard ng;
      gl = micro_batch_logits(guide_->impl(), bm, {}, KernelTrain{}, nullptr);
    }
    cost_.seconds += since(t0);
    cost_.scored += bm.n_tokens;
    kl = full_kl_sum(logits, gl);
    if (cfg_.guide_ce_weight > 0) ce = micro_batch_ce_sum(student, mb, s0, kt, nullptr);
  }
  *kl_sum = kl.detach();
  auto out = kl * (cfg_.guide_kl_weight / static_cast<double>(std::max<int64_t>(1, kl_rows)));
  if (ce.defined()) out = out + ce * (cfg_.guide_ce_weight / static_cast<double>(std::max<int64_t>(1, targets)));
  return out;
}

}  // namespace rwkv
