// Training data from JSON Lines in the shapes people already have (RWKV-PEFT and chat sets):
//   {"text": ...}                                   loss on every token
//   {"question"|"prompt"|"instruction": ..., "answer"|"response"|"output": ...}
//                                                   rendered "User: Q\n\nAssistant: A", loss on the answer
//                                                   (an Alpaca "input" beside "instruction" is added to Q
//                                                   after a blank line)
//   {"messages": [{"role": "user"|"assistant"|"system", "content": ...}, ...]}
//                                                   World chat format, loss on assistant turns
// Every unusable line is reported with its number and why; nothing is dropped silently.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/tokenizer.h"

namespace rwkv {

struct Sample {
  std::vector<int> tokens;      // [T] ids, ends with the end-of-text id where the tokenizer has one
  std::vector<uint8_t> target;  // [T] 1 where tokens[t] is predicted (loss taken on logits[t-1]); target[0] = 0
  int line = 0;                 // 1-based line in the file
  bool truncated = false;       // cut to ctx_len
};

struct DatasetIssue {
  int line = 0;        // 1-based
  std::string reason;  // e.g. "invalid JSON: ...", "no known fields (expected text, question/answer, messages)"
};

struct Dataset {
  std::string path;
  std::vector<Sample> samples;
  std::vector<DatasetIssue> issues;  // unusable lines, each with its reason
  int n_lines = 0;                   // non-empty lines read
  int n_truncated = 0;               // samples cut to ctx_len
  std::string shape;                 // "text", "qa", "chat" or "mixed"
  int64_t n_tokens() const;
  int64_t n_target_tokens() const;
};

// Reads and tokenizes. Throws Error(Io) if the file cannot be read, Error(Format) if no line is
// usable (the message lists the first issues). ctx_len >= 2.
Dataset load_jsonl(const std::string& path, const Tokenizer& tok, int ctx_len);
Dataset parse_jsonl(const std::string& content, const std::string& path, const Tokenizer& tok, int ctx_len);

// The text a QA sample is rendered as (for prompts in the compare view and for eval):
std::string chat_prompt(const std::string& question);  // "User: <q>\n\nAssistant:"

// Deterministic split: every sample goes to eval with probability `fraction` by a seeded shuffle.
void split_dataset(const Dataset& all, double fraction, uint64_t seed, std::vector<Sample>* train,
                   std::vector<Sample>* eval);

}  // namespace rwkv
