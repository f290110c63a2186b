// RWKV World tokenizer (spec/rwkv7.md section 4).
// Vocab file: one line per token, `<id> <python literal> <byte length>`, split at the first and
// the last space. The literal is a Python str ('…' / "…", encoded as UTF-8) or bytes (b'…', taken
// as is). Id 0 is not in the file: it is end of text and decodes to "".
// Encode: greedy longest match over the UTF-8 bytes, walking a byte trie from each position.
// Decode: concatenation of the tokens' bytes (may be a split multibyte char; see Utf8Stream).
// If two lines hold the same bytes, the later line's id is the one encode emits (as in the
// Python reference, whose dict keeps the last); both ids decode.
#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv {
namespace {

// ---------------------------------------------------------------- Python literal parsing

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Byte offset of the first invalid UTF-8 sequence in s, or npos (Python reads the file as UTF-8).
size_t invalid_utf8_at(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) len = 1;
    else if (b >= 0xC2 && b <= 0xDF) len = 2;
    else if (b >= 0xE0 && b <= 0xEF) len = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4) len = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    else return i;
    if (i + len > s.size()) return i;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return i;
    }
    i += len;
  }
  return std::string::npos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses one Python str / bytes literal (prefixes u, b, r, br, rb in any case; ' or " quotes;
// escapes \\ \' \" \a \b \f \n \r \t \v \ooo \xhh, and \uXXXX \UXXXXXXXX in str; an unknown
// escape keeps its backslash, as Python does). A str is returned encoded as UTF-8.
// On failure returns false with *err saying why.
bool parse_python_literal(const std::string& lit, std::string* out, std::string* err) {
  size_t i = 0;
  bool is_bytes = false, raw = false, is_unicode = false;
  while (i < lit.size() && i < 3 && lit[i] != '\'' && lit[i] != '"') {
    const char c = static_cast<char>(lit[i] | 0x20);  // lower case for letters
    if (c == 'b' && !is_bytes && !is_unicode) is_bytes = true;
    else if (c == 'r' && !raw && !is_unicode) raw = true;
    else if (c == 'u' && i == 0) is_unicode = true;
    else break;
    ++i;
  }
  if (i >= lit.size() || (lit[i] != '\'' && lit[i] != '"')) {
    *err = "expected a Python string literal ('...', \"...\" or b'...'), found " + lit;
    return false;
  }
  const char q = lit[i];
  if (lit.size() < i + 2 || lit.back() != q) {
    *err = "the literal " + lit + " does not end with its opening quote " + std::string(1, q);
    return false;
  }
  if (lit.compare(i, 3, std::string(3, q)) == 0 && lit.size() >= i + 6) {
    *err = "triple-quoted literals are not supported: " + lit;
    return false;
  }
  const std::string body = lit.substr(i + 1, lit.size() - i - 2);
  out->clear();
  for (size_t k = 0; k < body.size();) {
    const char c = body[k];
    if (c == q) {
      *err = "unescaped " + std::string(1, q) + " inside the literal " + lit;
      return false;
    }
    if (is_bytes && static_cast<unsigned char>(c) >= 0x80) {
      *err = "a bytes literal may only contain ASCII characters (use \\x escapes): " + lit;
      return false;
    }
    if (c != '\\') {
      *out += c;
      ++k;
      continue;
    }
    if (k + 1 >= body.size()) {
      *err = "the literal " + lit + " ends in a backslash that escapes its closing quote";
      return false;
    }
    const char e = body[k + 1];
    if (raw) {  // a backslash only stops a quote from ending the literal; both characters stay
      *out += c;
      *out += e;
      k += 2;
      continue;
    }
    k += 2;
    uint32_t cp = 0;  // code point (str) or byte value (bytes) of a numeric escape
    switch (e) {
      case '\\': *out += '\\'; continue;
      case '\'': *out += '\''; continue;
      case '"': *out += '"'; continue;
      case 'a': *out += '\a'; continue;
      case 'b': *out += '\b'; continue;
      case 'f': *out += '\f'; continue;
      case 'n': *out += '\n'; continue;
      case 'r': *out += '\r'; continue;
      case 't': *out += '\t'; continue;
      case 'v': *out += '\v'; continue;
      case 'x':
      case 'u':
      case 'U': {
        if (is_bytes && e != 'x') {  // no \u in bytes: Python keeps the backslash
          *out += '\\';
          k -= 1;
          continue;
        }
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        for (size_t d = 0; d < digits; ++d) {
          const int h = k + d < body.size() ? hex_value(body[k + d]) : -1;
          if (h < 0) {
            *err = "\\" + std::string(1, e) + " needs " + std::to_string(digits) + " hex digits in " + lit;
            return false;
          }
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        k += digits;
        break;
      }
      case 'N':
        if (!is_bytes) {
          *err = "\\N{name} escapes are not supported (use \\u): " + lit;
          return false;
        }
        *out += '\\';
        k -= 1;
        continue;
      default:
        if (e >= '0' && e <= '7') {
          cp = static_cast<uint32_t>(e - '0');
          for (int d = 0; d < 2 && k < body.size() && body[k] >= '0' && body[k] <= '7'; ++d, ++k)
            cp = cp * 8 + static_cast<uint32_t>(body[k] - '0');
          break;
        }
        *out += '\\';  // unknown escape: Python keeps both characters
        k -= 1;
        continue;
    }
    if (is_bytes) {
      if (cp > 0xFF) {
        *err = "octal escape above \\377 in the bytes literal " + lit;
        return false;
      }
      *out += static_cast<char>(cp);
    } else {
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        std::ostringstream s;
        s << "code point U+" << std::hex << std::uppercase << cp << " in " << lit << " cannot be encoded as UTF-8";
        *err = s.str();
        return false;
      }
      append_utf8(cp, *out);
    }
  }
  return true;
}

// Non-negative decimal integer with only digits; -1 when s is not one (or is too large).
long long parse_count(const std::string& s) {
  if (s.empty() || s.size() > 12) return -1;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// ---------------------------------------------------------------- byte trie for encode

// Flattened trie: node n's children are edge_byte/edge_child[edge_begin[n] .. edge_begin[n+1]),
// sorted by byte. token[n] is the id whose bytes spell the path to n, or -1. Node 0 is the root,
// whose children are also kept in a dense table (every text position starts there).
class ByteTrie {
 public:
  void build(const std::vector<std::pair<std::string, int>>& entries) {
    std::vector<std::vector<std::pair<unsigned char, int>>> kids(1);
    std::vector<int> tok(1, -1);
    for (const auto& [bytes, id] : entries) {
      int node = 0;
      for (char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        auto& k = kids[node];
        auto it = std::lower_bound(k.begin(), k.end(), std::make_pair(b, -1));
        if (it == k.end() || it->first != b) {
          const int fresh = static_cast<int>(tok.size());
          it = k.insert(it, {b, fresh});
          tok.push_back(-1);
          kids.emplace_back();  // may reallocate kids: `k` is not used after this
        }
        node = it->second;
      }
      tok[node] = id;  // a later duplicate wins
    }
    token_ = std::move(tok);
    edge_begin_.assign(kids.size() + 1, 0);
    for (size_t n = 0; n < kids.size(); ++n) edge_begin_[n + 1] = edge_begin_[n] + static_cast<uint32_t>(kids[n].size());
    edge_byte_.resize(edge_begin_.back());
    edge_child_.resize(edge_begin_.back());
    for (size_t n = 0; n < kids.size(); ++n)
      for (size_t j = 0; j < kids[n].size(); ++j) {
        edge_byte_[edge_begin_[n] + j] = kids[n][j].first;
        edge_child_[edge_begin_[n] + j] = kids[n][j].second;
      }
    root_.fill(-1);
    for (const auto& [b, child] : kids[0]) root_[b] = child;
  }

  // Longest entry that is a prefix of data[pos..n): sets *id and returns its length (0: none).
  size_t longest(const unsigned char* data, size_t n, size_t pos, int* id) const {
    size_t best = 0;
    int node = root_[data[pos]];
    for (size_t j = pos + 1; node >= 0; ++j) {
      if (token_[node] >= 0) {
        best = j - pos;
        *id = token_[node];
      }
      if (j >= n) break;
      node = child(node, data[j]);
    }
    return best;
  }

 private:
  int child(int node, unsigned char b) const {
    const unsigned char* first = edge_byte_.data() + edge_begin_[node];
    const unsigned char* last = edge_byte_.data() + edge_begin_[node + 1];
    const unsigned char* it = std::lower_bound(first, last, b);
    return (it != last && *it == b) ? edge_child_[it - edge_byte_.data()] : -1;
  }

  std::array<int, 256> root_{};
  std::vector<int> token_;
  std::vector<uint32_t> edge_begin_;
  std::vector<unsigned char> edge_byte_;
  std::vector<int> edge_child_;
};

// ---------------------------------------------------------------- the tokenizer

class WorldTokenizer final : public Tokenizer {
 public:
  explicit WorldTokenizer(const std::string& path) : path_(path) { load(); }

  std::vector<int> encode(const std::string& text) const override {
    std::vector<int> ids;
    ids.reserve(text.size() / 3 + 1);
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t pos = 0; pos < text.size();) {
      int id = -1;
      const size_t len = trie_.longest(data, text.size(), pos, &id);
      if (len == 0) {
        std::ostringstream s;
        s << "byte 0x" << std::hex << static_cast<int>(data[pos]) << std::dec << " at offset " << pos
          << " of the text has no token in the vocabulary " << path_;
        throw Error(ErrorKind::Token, s.str());
      }
      ids.push_back(id);
      pos += len;
    }
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    for (int id : ids) {
      if (id < 0 || id >= vocab_size())
        throw Error(ErrorKind::Token, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                          std::to_string(vocab_size() - 1) + ")");
      if (id != 0 && !present_[id])
        throw Error(ErrorKind::Token, "token id " + std::to_string(id) + " has no line in the vocabulary " + path_);
      out += bytes_[id];
    }
    return out;
  }

  int vocab_size() const override { return static_cast<int>(bytes_.size()); }
  std::string name() const override { return "world"; }
  int eos_id() const override { return 0; }

 private:
  [[noreturn]] void fail(size_t line_no, const std::string& why, const std::string& line) const {
    std::string shown = line.size() > 200 ? line.substr(0, 200) + "..." : line;
    throw Error(ErrorKind::Format, "vocabulary " + path_ + " line " + std::to_string(line_no) + ": " + why +
                                       " (line: " + shown + ")");
  }

  void load() {
    std::ifstream f(path_, std::ios::binary);
    if (!f) throw Error(ErrorKind::Io, "cannot open the vocabulary file " + path_);
    std::ostringstream all;
    all << f.rdbuf();
    if (f.bad()) throw Error(ErrorKind::Io, "cannot read the vocabulary file " + path_);
    const std::string text = all.str();

    std::vector<std::pair<std::string, int>> entries;  // (bytes, id) in file order
    std::vector<size_t> line_of(1, 0);                  // id -> line number (0: none)
    bytes_.assign(1, std::string());                    // id 0: end of text, decodes to ""
    present_.assign(1, 1);
    std::string lit_bytes, err;
    size_t line_no = 0;
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;

      const size_t bad = invalid_utf8_at(line);
      if (bad != std::string::npos) fail(line_no, "invalid UTF-8 at column " + std::to_string(bad + 1), line);
      const size_t first = line.find(' '), last = line.rfind(' ');
      if (first == std::string::npos || first == last)
        fail(line_no, "expected '<id> <literal> <byte length>' separated by spaces", line);
      const long long id = parse_count(line.substr(0, first));
      if (id < 0 || id > 100000000) fail(line_no, "the id '" + line.substr(0, first) + "' is not a number", line);
      if (id == 0) fail(line_no, "id 0 is reserved for end of text and must not be in the file", line);
      const long long n = parse_count(line.substr(last + 1));
      if (n < 0) fail(line_no, "the byte length '" + line.substr(last + 1) + "' is not a number", line);
      if (!parse_python_literal(line.substr(first + 1, last - first - 1), &lit_bytes, &err)) fail(line_no, err, line);
      if (static_cast<long long>(lit_bytes.size()) != n)
        fail(line_no, "byte length " + std::to_string(n) + " expected, the literal has " +
                          std::to_string(lit_bytes.size()) + " bytes",
             line);
      if (lit_bytes.empty()) fail(line_no, "empty token", line);

      const size_t i = static_cast<size_t>(id);
      if (i >= bytes_.size()) {
        bytes_.resize(i + 1);
        present_.resize(i + 1, 0);
        line_of.resize(i + 1, 0);
      }
      if (present_[i]) fail(line_no, "id " + std::to_string(id) + " was already defined on line " + std::to_string(line_of[i]), line);
      present_[i] = 1;
      line_of[i] = line_no;
      bytes_[i] = lit_bytes;
      entries.emplace_back(lit_bytes, static_cast<int>(id));
    }
    if (entries.empty()) throw Error(ErrorKind::Format, "vocabulary " + path_ + " has no tokens");
    trie_.build(entries);
  }

  std::string path_;
  std::vector<std::string> bytes_;  // [vocab_size] bytes of each id ("" for 0 and gaps)
  std::vector<char> present_;       // [vocab_size] 1 where the id is defined (and for id 0)
  ByteTrie trie_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_world_tokenizer(const std::string& vocab_path) {
  return std::make_unique<WorldTokenizer>(vocab_path);
}

}  // namespace rwkv
