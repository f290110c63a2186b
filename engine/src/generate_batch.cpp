// generate_greedy_batch(): greedy answers to many prompts with the answers stepping together.
// Per group of `batch` prompts: one sequence forward per prompt from the context's initial state
// (prompts differ in length), the B states stacked, then per position one forward of [B,1]
// tokens; finished answers leave the batch (their rows are dropped from the state).
#include <algorithm>

#include "context_impl.h"
#include "generate_text.h"
#include "rwkv/error.h"
#include "rwkv/generate.h"

namespace rwkv {

namespace {

// Rows `keep` of every per-stream tensor of a batched state (shifts, wkv, kernel U).
RecurrentState select_rows(const RecurrentState& s, const torch::Tensor& keep) {
  RecurrentState out;
  out.kernel = s.kernel;
  for (const auto& t : s.att_shift) out.att_shift.push_back(t.index_select(0, keep));
  for (const auto& t : s.ffn_shift) out.ffn_shift.push_back(t.index_select(0, keep));
  for (const auto& t : s.wkv) out.wkv.push_back(t.index_select(0, keep));
  for (const auto& t : s.ups) out.ups.push_back(t.defined() ? t.index_select(0, keep) : t);
  return out;
}

// B single-stream states -> one state of batch B.
RecurrentState stack_streams(const std::vector<RecurrentState>& v) {
  RecurrentState out;
  out.kernel = v.front().kernel;
  const size_t L = v.front().wkv.size();
  auto cat = [&](auto member, size_t l) {
    std::vector<torch::Tensor> parts;
    for (const auto& s : v) parts.push_back((s.*member)[l]);
    return torch::cat(parts, 0);
  };
  for (size_t l = 0; l < L; ++l) {
    out.att_shift.push_back(cat(&RecurrentState::att_shift, l));
    out.ffn_shift.push_back(cat(&RecurrentState::ffn_shift, l));
    out.wkv.push_back(cat(&RecurrentState::wkv, l));
  }
  for (size_t l = 0; l < v.front().ups.size(); ++l) out.ups.push_back(cat(&RecurrentState::ups, l));
  return out;
}

struct Answer {
  GenerateResult res;
  Utf8Stream utf8;
  bool done = false;
};

}  // namespace

std::vector<GenerateResult> generate_greedy_batch(Context& ctx, const Tokenizer& tok,
                                                  const std::vector<std::string>& prompts, const GenerateParams& p,
                                                  int batch, const std::atomic<bool>* cancel) {
  if (batch < 1) throw Error(ErrorKind::Argument, "batch must be >= 1, got " + std::to_string(batch));
  if (p.sampler.temperature > 0 || p.sampler.repetition_penalty != 1.0f)
    throw Error(ErrorKind::Argument, "generate_greedy_batch: the sampler must be greedy without repetition penalty");
  if (p.max_tokens < 1) throw Error(ErrorKind::Argument, "max_tokens must be >= 1, got " + std::to_string(p.max_tokens));
  for (const auto& s : p.stop)
    if (s.empty()) throw Error(ErrorKind::Argument, "empty stop string");
  c10::InferenceMode guard;
  const Model::Impl& m = ctx.model().impl();
  const int64_t V = m.info.dims.n_vocab;
  const int64_t n_decodable = std::min<int64_t>(V, std::max(1, tok.vocab_size()));
  const int eos = tok.eos_id();

  ctx.reset();  // forward() does not write its input state: every prompt starts from this one
  const RecurrentState& initial = ctx.impl().state;
  std::vector<GenerateResult> out;
  out.reserve(prompts.size());
  for (size_t first = 0; first < prompts.size(); first += static_cast<size_t>(batch)) {
    const size_t n = std::min(prompts.size() - first, static_cast<size_t>(batch));
    std::vector<Answer> ans(n);
    std::vector<RecurrentState> states;
    std::vector<torch::Tensor> last_logits;  // n x [V]
    for (size_t i = 0; i < n; ++i) {
      const std::string& prompt = prompts[first + i];
      if (prompt.empty()) throw Error(ErrorKind::Argument, "empty prompt");
      const std::vector<int> ids = tok.encode(prompt);
      if (ids.empty()) throw Error(ErrorKind::Argument, "the prompt encodes to no tokens");
      const std::vector<int64_t> ids64(ids.begin(), ids.end());
      const auto t = torch::tensor(ids64, torch::kInt64).view({1, static_cast<int64_t>(ids64.size())});
      auto res = forward(m, t, initial, true);
      states.push_back(std::move(res.state));
      last_logits.push_back(res.logits.view({V}));
    }
    RecurrentState state = stack_streams(states);
    torch::Tensor logits = torch::stack(last_logits);  // [B,V], B = answers still going
    std::vector<size_t> rows(n);                         // batch row -> answer
    for (size_t i = 0; i < n; ++i) rows[i] = i;
    while (!rows.empty()) {
      if (cancel && cancel->load()) {
        for (size_t r : rows) {
          ans[r].res.stop_reason = "cancelled";
          ans[r].res.text += ans[r].utf8.flush();
        }
        break;
      }
      const auto best = logits.narrow(1, 0, n_decodable).argmax(1).to(torch::kCPU);  // [B] int64
      const int64_t* best_id = best.data_ptr<int64_t>();
      std::vector<int64_t> next, keep;
      for (size_t j = 0; j < rows.size(); ++j) {
        Answer& a = ans[rows[j]];
        const int id = static_cast<int>(best_id[j]);
        if (p.stop_at_eos && eos >= 0 && id == eos) {
          a.res.stop_reason = "eos";
          a.res.text += a.utf8.flush();
          continue;
        }
        a.res.tokens.push_back(id);
        const bool last = static_cast<int>(a.res.tokens.size()) == p.max_tokens;
        const int stop = append_answer_text(tok, id, last, p.stop, a.utf8, a.res.text);
        if (stop >= 0) {
          a.res.stop_reason = "stop:" + p.stop[stop];
        } else if (last) {
          a.res.stop_reason = "max_tokens";
        } else {
          next.push_back(id);
          keep.push_back(static_cast<int64_t>(j));
        }
      }
      if (keep.empty()) break;
      if (keep.size() < rows.size()) {
        std::vector<size_t> still;
        for (int64_t j : keep) still.push_back(rows[static_cast<size_t>(j)]);
        rows = std::move(still);
        state = select_rows(state, torch::tensor(keep, torch::kInt64).to(m.device));
      }
      const auto ids = torch::tensor(next, torch::kInt64).view({static_cast<int64_t>(next.size()), 1});
      auto res = forward(m, ids, state, true);
      state = std::move(res.state);
      logits = res.logits.view({static_cast<int64_t>(next.size()), V});
    }
    for (auto& a : ans) out.push_back(std::move(a.res));
    if (cancel && cancel->load()) break;
  }
  return out;
}

int default_greedy_batch(const Model& m) { return m.impl().device.is_cuda() ? 32 : 1; }

}  // namespace rwkv
