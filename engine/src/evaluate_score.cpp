// The scorers of evaluate.h: answer extraction (GSM8K "#### n", a standalone choice letter) and
// the per-item verdicts. Pure string functions, no model.
#include <cctype>
#include <string>

#include "rwkv/error.h"
#include "rwkv/evaluate.h"

namespace rwkv {
namespace {

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// The letter of a reference that is a single choice letter ("B") or a reasoned answer ending in
// "answer is B." (the demo facts task's train split); 0 otherwise.
char reference_letter(const std::string& reference) {
  std::string r = trimmed(reference);
  if (r.size() > 1 && r.back() == '.') r.pop_back();
  const bool letter = !r.empty() && r.back() >= 'A' && r.back() <= 'D';
  if (letter && r.size() == 1) return r[0];
  const std::string lead = "answer is ";
  const bool reasoned = letter && r.size() > lead.size() && r.compare(r.size() - 1 - lead.size(), lead.size(), lead) == 0;
  return reasoned ? r.back() : 0;
}

}  // namespace

const char* score_mode_name(ScoreMode m) {
  switch (m) {
    case ScoreMode::Auto: return "auto";
    case ScoreMode::Exact: return "exact";
    case ScoreMode::Contains: return "contains";
    case ScoreMode::Gsm8k: return "gsm8k";
    case ScoreMode::Choice: return "choice";
  }
  return "?";
}

ScoreMode parse_score_mode(const std::string& name) {
  for (ScoreMode m : {ScoreMode::Auto, ScoreMode::Exact, ScoreMode::Contains, ScoreMode::Gsm8k, ScoreMode::Choice})
    if (name == score_mode_name(m)) return m;
  throw Error(ErrorKind::Argument, "unknown scorer '" + name + "' (expected auto, exact, contains, gsm8k or choice)");
}

ScoreMode resolve_score_mode(ScoreMode m, const std::vector<EvalItem>& items) {
  if (m != ScoreMode::Auto) return m;
  for (const auto& it : items)
    if (it.reference.find("####") != std::string::npos) return ScoreMode::Gsm8k;
  bool letters = !items.empty();
  for (const auto& it : items) letters = letters && reference_letter(it.reference) != 0;
  return letters ? ScoreMode::Choice : ScoreMode::Exact;
}

std::string gsm8k_number(const std::string& text) {
  const size_t mark = text.rfind("####");
  if (mark == std::string::npos) return "";
  size_t i = mark + 4;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '$')) ++i;
  std::string num;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    if (text[i] == '-') num += '-';
    ++i;
  }
  bool digits = false, point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (is_digit(c)) {
      num += c;
      digits = true;
    } else if (c == ',' && digits && !point && i + 1 < text.size() && is_digit(text[i + 1])) {
      continue;  // thousands separator
    } else if (c == '.' && !point && i + 1 < text.size() && is_digit(text[i + 1])) {
      num += c;
      point = true;
    } else {
      break;
    }
  }
  if (!digits) return "";
  if (point) {  // "72.50" -> "72.5", "72.0" -> "72"
    while (num.back() == '0') num.pop_back();
    if (num.back() == '.') num.pop_back();
  }
  if (num == "-0") num = "0";
  return num;
}

char first_choice_letter(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c < 'A' || c > 'D') continue;
    const bool alone_before = i == 0 || !is_alnum(text[i - 1]);
    const bool alone_after = i + 1 == text.size() || !is_alnum(text[i + 1]);
    if (alone_before && alone_after) return c;
  }
  return 0;
}

ItemScore score_answer(ScoreMode mode, const std::string& output, const std::string& reference) {
  ItemScore s;
  const std::string out = trimmed(output), ref = trimmed(reference);
  s.exact = out == ref;
  s.contains = !ref.empty() && output.find(ref) != std::string::npos;
  switch (mode) {
    case ScoreMode::Auto:
      throw Error(ErrorKind::Argument, "score_answer: resolve the scorer first (resolve_score_mode)");
    case ScoreMode::Exact:
      s.correct = s.exact;
      s.extracted = out;
      break;
    case ScoreMode::Contains:
      s.correct = s.contains;
      s.extracted = out;
      break;
    case ScoreMode::Gsm8k: {
      const std::string want = gsm8k_number(reference);
      if (want.empty()) throw Error(ErrorKind::Argument, "the reference has no \"#### <number>\" for the gsm8k scorer");
      s.extracted = gsm8k_number(output);
      s.format_failure = s.extracted.empty();
      s.correct = !s.format_failure && s.extracted == want;
      break;
    }
    case ScoreMode::Choice: {
      const char want = reference_letter(reference);
      if (!want)
        throw Error(ErrorKind::Argument, "the reference \"" + ref + "\" is not one of the letters A-D for the choice scorer");
      const char got = first_choice_letter(output);
      s.format_failure = got == 0;
      s.extracted = got ? std::string(1, got) : "";
      s.correct = got == want;
      break;
    }
  }
  return s;
}

}  // namespace rwkv
