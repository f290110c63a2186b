// evaluate(): every item answered greedily from the context's initial state and scored. The
// answers come from generate() with eval_generate_params(), so an item's output is exactly what
// `rwkv-tune generate --temperature 0 --stop $'\n\n'` prints for its prompt; or, with a batch,
// from generate_greedy_batch() with the same settings.
#include <algorithm>
#include <chrono>

#include "rwkv/error.h"
#include "rwkv/evaluate.h"

namespace rwkv {

GenerateParams eval_generate_params(int max_tokens) {
  GenerateParams g;
  g.max_tokens = max_tokens;
  g.sampler.temperature = 0.0f;  // greedy: the seed and top-k/top-p play no part
  g.stop = {"\n\n"};
  g.stop_at_eos = true;
  return g;
}

EvalReport evaluate(Context& ctx, const Tokenizer& tok, const EvalSet& set, const EvalParams& p,
                    const EvalCallbacks& cb, const std::atomic<bool>* cancel) {
  if (p.max_tokens < 1) throw Error(ErrorKind::Argument, "max_tokens must be >= 1, got " + std::to_string(p.max_tokens));
  if (p.limit < 0) throw Error(ErrorKind::Argument, "limit must be >= 0, got " + std::to_string(p.limit));
  const size_t n = p.limit > 0 ? std::min(set.items.size(), static_cast<size_t>(p.limit)) : set.items.size();
  const std::vector<EvalItem> items(set.items.begin(), set.items.begin() + static_cast<std::ptrdiff_t>(n));
  if (items.empty()) throw Error(ErrorKind::Argument, set.path + ": nothing to evaluate");

  EvalReport rep;
  rep.totals.score = resolve_score_mode(p.score, items);
  // Every reference must be scorable before the first (slow) answer.
  for (const auto& it : items) {
    try {
      score_answer(rep.totals.score, "", it.reference);
    } catch (const Error& e) {
      throw Error(ErrorKind::Format, set.path + ":" + std::to_string(it.line) + ": " + e.what());
    }
  }

  if (p.batch < 1) throw Error(ErrorKind::Argument, "batch must be >= 1, got " + std::to_string(p.batch));
  const GenerateParams g = eval_generate_params(p.max_tokens);
  using clock = std::chrono::steady_clock;
  // Scores one answer and adds it to the report; false when it was cancelled (then dropped).
  auto record = [&](size_t i, const GenerateResult& gen, double seconds) {
    if (gen.stop_reason == "cancelled") {
      rep.totals.cancelled = true;
      return false;
    }
    EvalItemResult r;
    r.index = static_cast<int>(i);
    r.item = items[i];
    r.output = gen.text;
    r.tokens = gen.tokens;
    r.stop_reason = gen.stop_reason;
    r.score = score_answer(rep.totals.score, r.output, r.item.reference);
    r.seconds = seconds;

    EvalTotals& t = rep.totals;
    ++t.n;
    t.correct += r.score.correct;
    t.exact += r.score.exact;
    t.contains += r.score.contains;
    t.format_failures += r.score.format_failure;
    t.tokens += static_cast<int64_t>(r.tokens.size());
    t.seconds += r.seconds;
    rep.items.push_back(std::move(r));
    if (cb.on_item) cb.on_item(rep.items.back());
    return true;
  };
  const size_t step = p.batch > 1 && !cb.on_token ? static_cast<size_t>(p.batch) : 1;
  for (size_t first = 0; first < items.size(); first += step) {
    if (cancel && cancel->load()) {
      rep.totals.cancelled = true;
      break;
    }
    const auto t0 = clock::now();
    if (step == 1) {
      const int index = static_cast<int>(first);
      ctx.reset();
      std::function<bool(const GeneratedToken&)> on_token;
      if (cb.on_token) on_token = [&](const GeneratedToken& t) { return cb.on_token(index, t); };
      const GenerateResult gen = generate(ctx, tok, items[first].prompt, g, on_token, cancel);
      if (!record(first, gen, std::chrono::duration<double>(clock::now() - t0).count())) break;
      continue;
    }
    const size_t n = std::min(step, items.size() - first);
    std::vector<std::string> prompts;
    for (size_t i = first; i < first + n; ++i) prompts.push_back(items[i].prompt);
    const auto gens = generate_greedy_batch(ctx, tok, prompts, g, static_cast<int>(n), cancel);
    const double each = std::chrono::duration<double>(clock::now() - t0).count() / static_cast<double>(n);
    bool go_on = true;
    for (size_t i = 0; i < gens.size() && go_on; ++i) go_on = record(first + i, gens[i], each);
    if (!go_on) break;
  }
  return rep;
}

}  // namespace rwkv
