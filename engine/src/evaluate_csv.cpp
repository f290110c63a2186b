// parse_eval_csv: multiple-choice items from the MMLU CSV layout (Hendrycks' data/*/*.csv):
// no header, one record per question with the columns question,A,B,C,D,answer-letter. Fields
// follow RFC 4180 (quoted with "", "" inside quotes is a quote, quoted fields may span lines);
// every record keeps the line it starts on so issues name it.
#include <string>
#include <vector>

#include "evaluate_internal.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"

namespace rwkv {
namespace {

struct CsvRecord {
  int line = 0;  // 1-based line the record starts on
  std::vector<std::string> fields;
};

// Splits the whole text into records. An unterminated quote ends parsing with *error set.
std::vector<CsvRecord> read_csv(const std::string& text, std::string* error, int* error_line) {
  std::vector<CsvRecord> out;
  size_t i = 0;
  int line = 1;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 BOM
  while (i < text.size()) {
    // Blank lines between records are skipped.
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        const int opened = line;
        ++i;
        for (;;) {
          if (i >= text.size()) {
            *error = "unterminated quoted field";
            *error_line = opened;
            return out;
          }
          const char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        // Anything between the closing quote and the separator is kept as it is (lenient).
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && !(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
          field += text[i++];
      }
      rec.fields.push_back(field);
      if (i >= text.size()) {
        record_done = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // end of line
        i += text[i] == '\r' ? 2 : 1;
        ++line;
        record_done = true;
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

std::string multiple_choice_question(const std::string& question, const std::array<std::string, 4>& choices) {
  std::string q = question;
  const char letters[] = {'A', 'B', 'C', 'D'};
  for (int c = 0; c < 4; ++c) q += std::string("\n") + letters[c] + ". " + choices[c];
  return q + "\nAnswer with the letter.";
}

EvalSet parse_eval_csv(const std::string& content, const std::string& path) {
  EvalSet set;
  set.path = path;
  set.format = "csv";
  std::string error;
  int error_line = 0;
  const std::vector<CsvRecord> records = read_csv(content, &error, &error_line);
  for (const CsvRecord& r : records) {
    const auto issue = [&](const std::string& why) { set.issues.push_back({r.line, why}); };
    if (r.fields.size() != 6) {
      issue("expected 6 columns (question,A,B,C,D,answer), found " + std::to_string(r.fields.size()));
      continue;
    }
    if (trimmed(r.fields[0]).empty()) {
      issue("empty question");
      continue;
    }
    std::string letter = trimmed(r.fields[5]);
    if (letter.size() == 1 && letter[0] >= 'a' && letter[0] <= 'd') letter[0] = static_cast<char>(letter[0] - 'a' + 'A');
    if (letter.size() != 1 || letter[0] < 'A' || letter[0] > 'D') {
      issue("answer must be one of the letters A-D, found \"" + r.fields[5] + "\"");
      continue;
    }
    EvalItem item;
    item.line = r.line;
    item.prompt = chat_prompt(multiple_choice_question(r.fields[0], {r.fields[1], r.fields[2], r.fields[3], r.fields[4]}));
    item.reference = letter;
    set.items.push_back(std::move(item));
  }
  if (!error.empty()) set.issues.push_back({error_line, error});
  require_items(set, static_cast<int>(records.size()) + (error.empty() ? 0 : 1));
  return set;
}

}  // namespace rwkv
