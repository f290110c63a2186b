// guide_questions, guide_answer, guided_sample (see guide_targets.h).
#include "guide_targets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "read_file.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/generate.h"

namespace rwkv {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

// {"question"|"prompt"|"instruction": q} without any answer key: a question to ask, no reference.
bool question_only(const std::string& line, std::string* prompt) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  if (!j.is_object()) return false;
  for (const char* a : {"answer", "response", "output", "messages", "text"})
    if (j.contains(a)) return false;
  for (const char* q : {"question", "prompt", "instruction"})
    if (j.contains(q) && j[q].is_string() && !trim(j[q].get<std::string>()).empty()) {
      *prompt = chat_prompt(j[q].get<std::string>());
      return true;
    }
  return false;
}

}  // namespace

std::vector<GuideQuestion> guide_questions(const std::string& data_path, const std::vector<int>& lines) {
  const std::string content = read_file(data_path, "a JSON Lines file");
  std::vector<EvalItem> items;
  try {
    items = parse_eval_jsonl(content, data_path).items;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Format) throw;  // no record with an answer: only question-only lines
  }
  const std::set<int> wanted(lines.begin(), lines.end());
  std::vector<GuideQuestion> out;
  size_t next_item = 0, pos = 0;
  int line_no = 0;
  while (pos < content.size()) {  // file order: items with a reference and question-only lines
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    const std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (next_item < items.size() && items[next_item].line < line_no) ++next_item;
    if (next_item < items.size() && items[next_item].line == line_no) {
      if (wanted.count(line_no)) out.push_back({line_no, items[next_item].prompt, items[next_item].reference});
      continue;
    }
    std::string prompt;
    if (question_only(line, &prompt)) out.push_back({line_no, prompt, ""});
  }
  return out;
}

GuideAnswers guide_answer(const std::shared_ptr<const Model>& guide, const Tokenizer& tok,
                          const std::vector<GuideQuestion>& questions, int max_tokens, bool filter,
                          const std::atomic<bool>* cancel, const std::function<void(int, int)>& progress) {
  GuideAnswers res;
  std::vector<EvalItem> refs;
  for (const auto& q : questions)
    if (!q.reference.empty()) refs.push_back({q.line, q.prompt, q.reference});
  const bool scored = filter && !refs.empty();
  const ScoreMode mode = scored ? resolve_score_mode(ScoreMode::Auto, refs) : ScoreMode::Exact;
  res.scorer = scored ? score_mode_name(mode) : "none";

  const auto t0 = std::chrono::steady_clock::now();
  Context ctx(guide);
  const GenerateParams gp = eval_generate_params(max_tokens);
  const size_t batch = static_cast<size_t>(default_greedy_batch(*guide));
  for (size_t first = 0; first < questions.size(); first += batch) {
    if (cancel && cancel->load()) {
      res.cancelled = true;
      break;
    }
    std::vector<std::string> prompts;
    for (size_t i = first; i < std::min(questions.size(), first + batch); ++i) prompts.push_back(questions[i].prompt);
    const std::vector<GenerateResult> gens = generate_greedy_batch(ctx, tok, prompts, gp, static_cast<int>(batch), cancel);
    for (size_t k = 0; k < gens.size(); ++k) {
      const GenerateResult& g = gens[k];
      if (g.stop_reason == "cancelled") {
        res.cancelled = true;
        break;
      }
      GuideAnswer a;
      a.question = questions[first + k];
      a.output = g.text;
      a.tokens = static_cast<int>(g.tokens.size());
      res.tokens_generated += a.tokens;
      if (trim(a.output).empty()) {
        a.extracted = "(empty answer)";
      } else if (!scored || a.question.reference.empty()) {
        a.kept = true;
        a.extracted = trim(a.output);
      } else {
        try {
          const ItemScore s = score_answer(mode, a.output, a.question.reference);
          a.kept = s.correct;
          a.extracted = s.format_failure ? "(no answer in the " + res.scorer + " form)" : s.extracted;
        } catch (const Error& e) {  // this reference is not in the scorer's form (a mixed file)
          a.extracted = std::string("(reference not scorable: ") + e.what() + ")";
        }
      }
      res.n_kept += a.kept;
      res.answers.push_back(std::move(a));
    }
    if (res.cancelled) break;
    if (progress) progress(static_cast<int>(res.answers.size()), static_cast<int>(questions.size()));
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

Sample guided_sample(const GuideAnswer& a, const Tokenizer& tok, int ctx_len) {
  Sample s;
  s.line = a.question.line;
  const std::vector<int> p = tok.encode(a.question.prompt), t = tok.encode(" " + trim(a.output));
  s.tokens = p;
  s.target.assign(p.size(), 0);
  s.tokens.insert(s.tokens.end(), t.begin(), t.end());
  s.target.insert(s.target.end(), t.size(), 1);
  if (tok.eos_id() >= 0) {
    s.tokens.push_back(tok.eos_id());
    s.target.push_back(1);
  }
  if (!s.target.empty()) s.target[0] = 0;
  if (static_cast<int>(s.tokens.size()) > ctx_len) {
    s.tokens.resize(static_cast<size_t>(ctx_len));
    s.target.resize(static_cast<size_t>(ctx_len));
    s.truncated = true;
  }
  return s;
}

}  // namespace rwkv
