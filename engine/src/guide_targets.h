// Guided tuning, part 1 (method note section 4, "CoT targets"): a guide model answers the
// training questions greedily (generate_greedy_batch: 32 at a time on a GPU, one by one on the
// CPU), each answer is scored against the question's reference with the evaluation scorers, and the kept answers become the student's
// training samples, rendered like a question/answer record ("User: Q\n\nAssistant:" + " A" + eos,
// loss on " A" and eos).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/dataset.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct GuideQuestion {
  int line = 0;           // 1-based line of the record in the data file
  std::string prompt;     // the text the models are given, ending in "Assistant:"
  std::string reference;  // the record's answer; "" = none (the answer is kept whatever it says)
};

// The questions of the JSON Lines file `data_path` whose lines are in `lines` (the tuner's
// training split), in file order, plus every question-only record ({"question": q} without an
// answer: no reference). Throws Error(Io) when the file cannot be read.
std::vector<GuideQuestion> guide_questions(const std::string& data_path, const std::vector<int>& lines);

struct GuideAnswer {
  GuideQuestion question;
  std::string output;     // the guide's answer, the stop string removed
  int tokens = 0;         // generated
  bool kept = false;
  std::string extracted;  // what the scorer read from the output ("72", "B"), or why it was dropped
};

struct GuideAnswers {
  std::vector<GuideAnswer> answers;  // one per question, in order
  std::string scorer;                // "gsm8k", "choice", "exact", or "none" (no references / no filter)
  int n_kept = 0;
  int64_t tokens_generated = 0;
  double seconds = 0;
  bool cancelled = false;            // the answers up to the cancel are kept in `answers`
};

// Answers every question from a fresh zero state (greedy, stops at "\n\n" or end-of-text, at most
// max_tokens). With filter, an answer is kept when the scorer (resolved from the references:
// gsm8k when one has "####", choice when all are letters A-D, else exact) calls it correct;
// questions without a reference, and every question without filter, are kept when the answer is
// not empty. progress(done, total) runs after every answer.
GuideAnswers guide_answer(const std::shared_ptr<const Model>& guide, const Tokenizer& tok,
                          const std::vector<GuideQuestion>& questions, int max_tokens, bool filter,
                          const std::atomic<bool>* cancel = nullptr,
                          const std::function<void(int, int)>& progress = {});

// The training sample of a kept answer: prompt (context) + " " + trimmed output (target) + the
// end-of-text id (target), cut to ctx_len. Its line is the question's.
Sample guided_sample(const GuideAnswer& a, const Tokenizer& tok, int ctx_len);

}  // namespace rwkv
