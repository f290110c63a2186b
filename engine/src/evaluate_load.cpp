// load_eval_set / parse_eval_jsonl: eval items from the tuner's JSON Lines shapes. Each record is
// rendered by the tuner's own render_record(), so a prompt is exactly the text the tuner trained
// the answer after: everything before the last target segment. CSV files go to evaluate_csv.cpp.

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "dataset_render.h"
#include "evaluate_internal.h"
#include "read_file.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Prompt and reference of a rendered qa / chat record. qa segments: [chat_prompt(q), " A"];
// chat: "User: ..\n\n", "Assistant:", " A\n\n", ... — the reference is the last target segment
// without the leading space (and the trailing "\n\n" of a chat turn).
bool to_item(const RenderedSample& r, EvalItem* item, std::string* why) {
  if (r.shape == "text") {
    *why = "a \"text\" record has no question and answer to evaluate";
    return false;
  }
  size_t last = r.segments.size();
  for (size_t k = 0; k < r.segments.size(); ++k)
    if (r.segments[k].target) last = k;
  if (last == r.segments.size() || last == 0) {
    *why = "no answer to evaluate";
    return false;
  }
  for (size_t k = 0; k < last; ++k) item->prompt += r.segments[k].text;
  std::string ref = r.segments[last].text;
  if (!ref.empty() && ref[0] == ' ') ref.erase(0, 1);
  if (r.shape == "chat" && ends_with(ref, "\n\n")) ref.resize(ref.size() - 2);
  item->reference = ref;
  return true;
}

}  // namespace

// Throws Error(Format) when nothing is usable, listing the first issues with their lines.
void require_items(const EvalSet& set, int n_records) {
  if (!set.items.empty()) return;
  if (n_records == 0) throw Error(ErrorKind::Format, set.path + ": no records to evaluate (the file is empty)");
  std::string msg = set.path + ": no usable record in " + std::to_string(n_records) +
                    (n_records == 1 ? " record" : " records");
  const size_t shown = std::min<size_t>(set.issues.size(), 5);
  for (size_t i = 0; i < shown; ++i)
    msg += "; line " + std::to_string(set.issues[i].line) + ": " + set.issues[i].reason;
  if (set.issues.size() > shown) msg += "; and " + std::to_string(set.issues.size() - shown) + " more";
  throw Error(ErrorKind::Format, msg);
}

EvalSet parse_eval_jsonl(const std::string& content, const std::string& path) {
  EvalSet set;
  set.path = path;
  set.format = "jsonl";
  int n_records = 0;
  size_t pos = 0;
  int line_no = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    if (blank(line)) continue;
    ++n_records;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      set.issues.push_back({line_no, std::string("invalid JSON: ") + e.what()});
      continue;
    }
    RenderedSample r;
    EvalItem item;
    item.line = line_no;
    std::string why;
    if (!render_record(j, &r, &why) || !to_item(r, &item, &why)) {
      set.issues.push_back({line_no, why});
      continue;
    }
    set.items.push_back(std::move(item));
  }
  require_items(set, n_records);
  return set;
}

EvalSet eval_split(const std::string& data_path, const Tokenizer& tok, int ctx_len, double eval_fraction,
                   uint64_t seed) {
  const Dataset all = load_jsonl(data_path, tok, ctx_len);
  std::vector<Sample> train, eval;
  split_dataset(all, eval_fraction, seed, &train, &eval);
  std::set<int> lines;
  for (const auto& s : eval) lines.insert(s.line);
  EvalSet set;
  set.path = data_path;
  set.format = "jsonl";
  if (lines.empty()) return set;
  EvalSet whole;
  try {
    whole = parse_eval_jsonl(read_file(data_path, "a JSON Lines file"), data_path);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Format) throw;
    return set;  // only text records: nothing to ask
  }
  for (auto& it : whole.items)
    if (lines.count(it.line)) set.items.push_back(std::move(it));
  return set;
}

EvalSet load_eval_set(const std::string& path) {
  const bool csv = path.size() >= 4 && (ends_with(path, ".csv") || ends_with(path, ".CSV"));
  const std::string content = read_file(path, csv ? "a CSV file" : "a JSON Lines file");
  return csv ? parse_eval_csv(content, path) : parse_eval_jsonl(content, path);
}

}  // namespace rwkv
