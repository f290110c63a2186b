// Evaluation: greedy answers to a file of questions, scored against the references.
//
// Inputs (load_eval_set):
//   JSON Lines as for tuning (dataset.h): {"question"|"prompt"|"instruction", "answer"|"response"|"output"}
//     -> prompt chat_prompt(question), reference = answer; chat {"messages": [...]} -> prompt = the
//     turns up to the last assistant turn rendered as the tuner renders them, reference = that
//     turn. GSM8K's {"question", "answer": "...#### 72"} is this shape. {"text"} lines cannot be
//     evaluated and are reported as issues.
//   *.csv in the MMLU layout: no header, columns question,A,B,C,D,answer-letter; the question is
//     rendered by multiple_choice_question().
// Every item is answered from a fresh context (reset to its initial state: zeros or a tuned S0),
// greedily (temperature 0, the same generate() as `rwkv-tune generate`), until "\n\n", the
// end-of-text token or max_tokens.
//
// Scorers (score_answer):
//   exact     trimmed output == trimmed reference
//   contains  the trimmed reference occurs in the output
//   gsm8k     the number after the output's last "####" (commas stripped) equals the one after the
//             reference's; an output without "#### <number>" is a format failure
//   choice    the first standalone letter A-D of the output equals the reference letter (a
//             reference is "B", or a reasoned answer ending "answer is B."); an output without
//             one is a format failure
//   auto      gsm8k if any reference contains "####", choice if every reference is a letter
//             as above, else exact (resolve_score_mode)
// Exact and contains are reported for every item whatever the scorer.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/generate.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct EvalItem {
  int line = 0;           // 1-based line of the record in the file (first line of a CSV record)
  std::string prompt;     // the text the model is given, ending in "Assistant:"
  std::string reference;  // the expected answer as written in the file
};

struct EvalSet {
  std::string path;
  std::string format;                // "jsonl" or "csv"
  std::vector<EvalItem> items;
  std::vector<DatasetIssue> issues;  // unusable records with their line and why
};

// By extension: .csv -> the MMLU layout, anything else -> JSON Lines. Throws Error(Io) when the
// file cannot be read, Error(Format) naming the file when no record is usable (with the first
// issues and their lines).
EvalSet load_eval_set(const std::string& path);
EvalSet parse_eval_jsonl(const std::string& content, const std::string& path);
EvalSet parse_eval_csv(const std::string& content, const std::string& path);

// The items of a tuning data set's held-out split: the records whose samples the tuner puts in
// its eval split (split_dataset with the same fraction and seed over samples tokenized at
// ctx_len), in file order. Empty when the split is empty; records without an answer (text) are
// left out.
EvalSet eval_split(const std::string& data_path, const Tokenizer& tok, int ctx_len, double eval_fraction,
                   uint64_t seed);

// The MMLU question text: question + "\nA. a\nB. b\nC. c\nD. d\nAnswer with the letter."
// (the eval prompt is chat_prompt() of it; generated multiple-choice tasks use the same).
std::string multiple_choice_question(const std::string& question, const std::array<std::string, 4>& choices);

enum class ScoreMode { Auto, Exact, Contains, Gsm8k, Choice };
const char* score_mode_name(ScoreMode m);                   // "auto", "exact", ...
ScoreMode parse_score_mode(const std::string& name);        // throws Error(Argument) on an unknown name
// Auto -> the concrete scorer for these references (see above); other modes are returned as they are.
ScoreMode resolve_score_mode(ScoreMode m, const std::vector<EvalItem>& items);

// "72" from "... #### 72" (the number after the last "####", commas stripped, "72.0" -> "72");
// "" when there is no "####" followed by a number.
std::string gsm8k_number(const std::string& text);
// The first letter A-D standing alone (not inside a word), or 0.
char first_choice_letter(const std::string& text);

struct ItemScore {
  bool correct = false;         // under the resolved scorer
  bool exact = false;           // trimmed equality
  bool contains = false;        // reference in output
  bool format_failure = false;  // gsm8k / choice: the output had no answer in the expected form
  std::string extracted;        // what the scorer read from the output ("72", "B"), or the trimmed output
};
// mode must be resolved (not Auto). Throws Error(Argument) when the reference itself has no
// answer in the scorer's form (gsm8k without "#### <number>", choice not a letter A-D).
ItemScore score_answer(ScoreMode mode, const std::string& output, const std::string& reference);

struct EvalParams {
  ScoreMode score = ScoreMode::Auto;
  int max_tokens = 256;  // per answer
  int limit = 0;         // evaluate the first `limit` items only; 0 = all
  int batch = 1;         // answers generated together (generate_greedy_batch); 1 = one by one through
                         // generate(), which also streams tokens to EvalCallbacks::on_token
};

// The settings every answer is generated with: greedy, stop at "\n\n" and at end-of-text.
GenerateParams eval_generate_params(int max_tokens);

struct EvalItemResult {
  int index = 0;            // position in the evaluated items
  EvalItem item;
  std::string output;       // generated text, the stop string removed
  std::vector<int> tokens;  // generated ids
  std::string stop_reason;  // as GenerateResult::stop_reason
  ItemScore score;
  double seconds = 0;       // prompt + generation time
};

struct EvalTotals {
  ScoreMode score = ScoreMode::Exact;  // the resolved scorer
  int n = 0;                           // items answered
  int correct = 0, exact = 0, contains = 0, format_failures = 0;
  int64_t tokens = 0;                  // generated, all items
  double seconds = 0;
  bool cancelled = false;
  double accuracy() const { return n ? static_cast<double>(correct) / n : 0.0; }
  double tokens_per_s() const { return seconds > 0 ? tokens / seconds : 0.0; }
};

struct EvalReport {
  std::vector<EvalItemResult> items;
  EvalTotals totals;
};

// Callbacks run on the calling thread: on_token for every streamed token of item `index`
// (return false to cancel), on_item after every answered item. `cancel` is polled between tokens;
// a cancelled report holds the items finished before it (the interrupted one is dropped).
struct EvalCallbacks {
  std::function<bool(int index, const GeneratedToken& token)> on_token;
  std::function<void(const EvalItemResult& result)> on_item;
};

// Resolves the scorer, checks every reference against it (Error(Argument) naming the file and
// line), then answers the items from ctx.reset(): one by one, or p.batch at a time (no on_token
// then; on_item after each batch, in item order).
EvalReport evaluate(Context& ctx, const Tokenizer& tok, const EvalSet& set, const EvalParams& p,
                    const EvalCallbacks& cb = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace rwkv
