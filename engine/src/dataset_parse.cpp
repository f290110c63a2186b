// load_jsonl / parse_jsonl: one JSON record a line -> rendered (dataset_render.cpp) -> tokens
// with a target mask, cut to ctx_len. Unusable lines become DatasetIssues with their 1-based line.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "dataset_render.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

bool blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

// Tokenizes the segments one by one. Returns false with *why if no target token lies within
// ctx_len; *cut tells whether tokens were dropped.
bool tokenize(const RenderedSample& r, const Tokenizer& tok, int ctx_len, Sample* s, bool* cut, std::string* why) {
  int prompt_tokens = 0;
  for (size_t k = 0; k < r.segments.size(); ++k) {
    const auto& seg = r.segments[k];
    const std::vector<int> ids = tok.encode(seg.text);
    s->tokens.insert(s->tokens.end(), ids.begin(), ids.end());
    s->target.insert(s->target.end(), ids.size(), seg.target ? 1 : 0);
    if (static_cast<int>(k) < r.prompt_segments) prompt_tokens += static_cast<int>(ids.size());
  }
  if (tok.eos_id() >= 0) {
    s->tokens.push_back(tok.eos_id());
    s->target.push_back(r.eos_target ? 1 : 0);
  }
  if (r.target_all_but_first)
    for (auto& t : s->target) t = 1;
  if (!s->target.empty()) s->target[0] = 0;  // nothing predicts the first token

  size_t first_target = 0;
  while (first_target < s->target.size() && !s->target[first_target]) ++first_target;
  *cut = static_cast<int>(s->tokens.size()) > ctx_len;
  if (*cut) {
    s->tokens.resize(static_cast<size_t>(ctx_len));
    s->target.resize(static_cast<size_t>(ctx_len));
  }
  for (uint8_t t : s->target)
    if (t) return true;

  const std::string ctx = std::to_string(ctx_len);
  if (r.shape == "qa") {
    *why = "answer does not fit in ctx_len " + ctx + ": prompt has " + std::to_string(prompt_tokens) + " tokens";
  } else if (r.shape == "chat") {
    *why = "no assistant reply fits in ctx_len " + ctx + ": the first one starts at token " + std::to_string(first_target);
  } else {
    *why = "text too short: one token and no end-of-text token, nothing to predict";
  }
  return false;
}

std::string issues_summary(const std::vector<DatasetIssue>& issues) {
  std::string out;
  const size_t shown = std::min<size_t>(issues.size(), 5);
  for (size_t i = 0; i < shown; ++i) out += "; line " + std::to_string(issues[i].line) + ": " + issues[i].reason;
  if (issues.size() > shown) out += "; and " + std::to_string(issues.size() - shown) + " more";
  return out;
}

}  // namespace

int64_t Dataset::n_tokens() const {
  int64_t n = 0;
  for (const auto& s : samples) n += static_cast<int64_t>(s.tokens.size());
  return n;
}

int64_t Dataset::n_target_tokens() const {
  int64_t n = 0;
  for (const auto& s : samples)
    for (uint8_t t : s.target) n += t;
  return n;
}

Dataset parse_jsonl(const std::string& content, const std::string& path, const Tokenizer& tok, int ctx_len) {
  if (ctx_len < 2)
    throw Error(ErrorKind::Argument, path + ": ctx_len must be at least 2, got " + std::to_string(ctx_len));
  Dataset ds;
  ds.path = path;
  std::set<std::string> shapes;

  size_t pos = 0;
  int line_no = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (blank(line)) continue;
    ++ds.n_lines;

    const auto issue = [&](const std::string& why) { ds.issues.push_back({line_no, why}); };
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      issue(std::string("invalid JSON: ") + e.what());
      continue;
    }
    RenderedSample r;
    std::string why;
    if (!render_record(j, &r, &why)) {
      issue(why);
      continue;
    }
    Sample s;
    s.line = line_no;
    bool cut = false;
    try {
      if (!tokenize(r, tok, ctx_len, &s, &cut, &why)) {
        issue(why);
        continue;
      }
    } catch (const Error& e) {
      issue(std::string("cannot tokenize: ") + e.what());
      continue;
    }
    s.truncated = cut;
    if (cut) ++ds.n_truncated;
    shapes.insert(r.shape);
    ds.samples.push_back(std::move(s));
  }

  if (ds.samples.empty()) {
    if (ds.n_lines == 0) throw Error(ErrorKind::Format, path + ": the dataset is empty (no JSON lines)");
    throw Error(ErrorKind::Format, path + ": no usable sample in " + std::to_string(ds.n_lines) + " line" +
                                       (ds.n_lines == 1 ? "" : "s") + issues_summary(ds.issues));
  }
  ds.shape = shapes.size() == 1 ? *shapes.begin() : "mixed";
  return ds;
}

Dataset load_jsonl(const std::string& path, const Tokenizer& tok, int ctx_len) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(ErrorKind::Io, path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(ErrorKind::Io, path + ": is a folder, not a JSON Lines file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Io, path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::Io, path + ": read error");
  return parse_jsonl(ss.str(), path, tok, ctx_len);
}

}  // namespace rwkv
