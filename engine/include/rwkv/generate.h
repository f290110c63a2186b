// Streaming text generation over a Context with a Tokenizer and a Sampler.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "rwkv/context.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct GenerateParams {
  int max_tokens = 200;
  SamplerParams sampler;
  std::vector<std::string> stop;  // stop strings: generation ends when the text ends with one (it is cut off)
  bool stop_at_eos = true;        // stop at the tokenizer's end-of-text id
  int top_alternatives = 0;       // report this many most likely tokens with every generated token
};

struct TokenAlternative {
  int id;
  float prob;  // at temperature 1, like GeneratedToken::prob
};

struct GeneratedToken {
  int id;
  std::string text;   // complete UTF-8 produced by this token (may be empty while a char is split)
  float prob;         // probability of the chosen token under the sampling distribution at temperature 1
  std::vector<TokenAlternative> top = {};  // the most likely tokens at this step (GenerateParams::top_alternatives)
};

struct GenerateResult {
  std::vector<int> tokens;  // generated ids (without the prompt)
  std::string text;         // decoded text, stop string removed
  std::string stop_reason;  // "max_tokens", "eos", "stop:<s>", "cancelled"
};

// Feeds the prompt through ctx (which keeps its current state: reset() it first for a fresh
// answer), then samples. on_token is called for every generated token; return false to stop.
GenerateResult generate(Context& ctx, const Tokenizer& tok, const std::string& prompt,
                        const GenerateParams& p,
                        const std::function<bool(const GeneratedToken&)>& on_token = {},
                        const std::atomic<bool>* cancel = nullptr);

// Greedy answers to several prompts, each from ctx's initial state (ctx.reset()), as generate()
// with p would give them (p must be greedy: temperature <= 0, no repetition penalty), but
// `batch` answers step together: one forward of [batch,1] tokens per generated position instead
// of `batch` single-token steps. On a GPU this is many times faster; the answers can differ from
// generate()'s only where batched matmuls round differently and two tokens tie. Each prompt
// still runs its own sequence forward. ctx's state afterwards is its initial state.
std::vector<GenerateResult> generate_greedy_batch(Context& ctx, const Tokenizer& tok,
                                                  const std::vector<std::string>& prompts, const GenerateParams& p,
                                                  int batch, const std::atomic<bool>* cancel = nullptr);

// The batch answers are generated with by default: 32 on a GPU (launch-bound at batch 1); 1 on
// the CPU, where the answers are then exactly generate()'s.
int default_greedy_batch(const Model& m);

}  // namespace rwkv
