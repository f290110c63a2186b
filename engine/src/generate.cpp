// generate(): prompt -> streamed text. The prompt goes through one sequence forward
// (ctx.eval); then each sampled token is streamed and stepped through the context, so after
// the call the context's state has seen the prompt and every id in GenerateResult::tokens.
//
// Streaming contract: the texts passed to on_token, concatenated, are always a prefix of the
// final GenerateResult::text. Text is held back while it is an incomplete UTF-8 character or
// could be the start of a stop string; held-back text that turns out not to be a stop is
// released with a later token (with the last token when max_tokens is reached). When generation
// ends at eos or by cancel, the held-back tail (if any) appears only in GenerateResult::text.
// Sampling is over the ids the tokenizer knows (the first tok.vocab_size() logits); the reported
// prob is softmax over all the model's logits.
#include "rwkv/generate.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "generate_text.h"
#include "rwkv/error.h"

namespace rwkv {

namespace {

// softmax(logits)[id] at temperature 1, in double for range.
float probability(const std::vector<float>& logits, int id) {
  double zmax = logits[0];
  for (float v : logits) zmax = std::max(zmax, static_cast<double>(v));
  double total = 0.0;
  for (float v : logits) total += std::exp(static_cast<double>(v) - zmax);
  return static_cast<float>(std::exp(static_cast<double>(logits[id]) - zmax) / total);
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string:
// text that might still become a stop and must not be streamed yet.
size_t pending_stop_prefix(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops)
    for (size_t n = std::min(s.size() - 1, text.size()); n > best; --n)
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
  return best;
}

// Earliest occurrence of any stop string that ends after `from` (text before it was already
// searched). Returns the stop's index, or -1; *pos receives its start.
int find_stop(const std::string& text, size_t from, const std::vector<std::string>& stops, size_t* pos) {
  int hit = -1;
  for (size_t i = 0; i < stops.size(); ++i) {
    const size_t start = from >= stops[i].size() - 1 ? from - (stops[i].size() - 1) : 0;
    const size_t p = text.find(stops[i], start);
    if (p != std::string::npos && (hit < 0 || p < *pos)) {
      hit = static_cast<int>(i);
      *pos = p;
    }
  }
  return hit;
}

// The k most likely ids among the first n_decodable logits, with softmax probabilities over all.
std::vector<TokenAlternative> top_alternatives(const std::vector<float>& logits, size_t n_decodable, int k) {
  std::vector<TokenAlternative> out;
  if (k <= 0) return out;
  const size_t n = std::min(n_decodable, logits.size());
  std::vector<int> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = static_cast<int>(i);
  const size_t kk = std::min(static_cast<size_t>(k), n);
  std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int a, int b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (size_t i = 0; i < kk; ++i) out.push_back({idx[i], probability(logits, idx[i])});
  return out;
}

}  // namespace

int append_answer_text(const Tokenizer& tok, int id, bool last, const std::vector<std::string>& stops, Utf8Stream& utf8,
                       std::string& text) {
  const size_t before = text.size();
  text += utf8.push(tok.decode({id}));
  if (last) text += utf8.flush();
  size_t stop_pos = 0;
  const int stop = find_stop(text, before, stops, &stop_pos);
  if (stop >= 0) text.resize(stop_pos);
  return stop;
}

GenerateResult generate(Context& ctx, const Tokenizer& tok, const std::string& prompt, const GenerateParams& p,
                        const std::function<bool(const GeneratedToken&)>& on_token,
                        const std::atomic<bool>* cancel) {
  if (prompt.empty()) throw Error(ErrorKind::Argument, "empty prompt");
  if (p.max_tokens < 0)
    throw Error(ErrorKind::Argument, "max_tokens must be >= 0, got " + std::to_string(p.max_tokens));
  for (const auto& s : p.stop)
    if (s.empty()) throw Error(ErrorKind::Argument, "empty stop string");

  std::vector<int> history = tok.encode(prompt);  // prompt + generated ids, for the repetition penalty
  if (history.empty()) throw Error(ErrorKind::Argument, "the prompt encodes to no tokens");

  Sampler sampler(p.sampler);
  const int eos = tok.eos_id();
  GenerateResult res;
  Utf8Stream utf8;
  size_t emitted = 0;  // bytes of res.text already passed to on_token

  std::vector<float> logits = ctx.eval(history);  // [V] of the last prompt token
  const size_t n_decodable = static_cast<size_t>(std::max(1, tok.vocab_size()));
  for (;;) {
    if (cancel && cancel->load()) {
      res.stop_reason = "cancelled";
      break;
    }
    if (static_cast<int>(res.tokens.size()) >= p.max_tokens) {
      res.stop_reason = "max_tokens";
      break;
    }
    // Only ids the tokenizer can decode are candidates (a model's vocabulary may be padded past
    // the tokenizer's, e.g. World: 65536 logits, 65530 ids).
    const int id = sampler.sample(
        n_decodable < logits.size() ? std::vector<float>(logits.begin(), logits.begin() + n_decodable) : logits,
        history);
    if (p.stop_at_eos && eos >= 0 && id == eos) {
      res.stop_reason = "eos";
      break;
    }
    res.tokens.push_back(id);
    history.push_back(id);

    const bool last = static_cast<int>(res.tokens.size()) == p.max_tokens;
    const int stop = append_answer_text(tok, id, last, p.stop, utf8, res.text);
    if (stop >= 0) res.stop_reason = "stop:" + p.stop[stop];
    size_t ready = (stop >= 0 || last) ? res.text.size() : res.text.size() - pending_stop_prefix(res.text, p.stop);
    ready = std::max(ready, emitted);  // never un-stream text (cannot happen: see the contract above)

    GeneratedToken gt{id, res.text.substr(emitted, ready - emitted), probability(logits, id),
                      top_alternatives(logits, n_decodable, p.top_alternatives)};
    emitted = ready;
    const bool go_on = on_token ? on_token(gt) : true;

    logits = ctx.step(id);  // keep the context's state in step with res.tokens
    if (stop >= 0) break;
    if (!go_on) {
      res.stop_reason = "cancelled";
      break;
    }
  }
  if (res.stop_reason != "max_tokens" && res.stop_reason.rfind("stop:", 0) != 0) res.text += utf8.flush();
  return res;
}

}  // namespace rwkv
