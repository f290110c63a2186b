// Utf8Stream: passes through complete UTF-8 and holds back a sequence that is cut off at the
// end of what has been pushed so far (e.g. an emoji split over two byte tokens). Only a valid
// prefix of a UTF-8 sequence is held back; bytes that can never become valid UTF-8 (stray
// continuation bytes, C0/C1/F5..FF, an overlong or surrogate second byte) pass through as they are.
#include "rwkv/tokenizer.h"

namespace rwkv {
namespace {

// Length of the sequence a lead byte starts, or 0 for a byte that cannot start one.
int sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Valid range of the byte after `lead` (RFC 3629 table: excludes overlongs, surrogates, > U+10FFFF).
bool second_byte_ok(unsigned char lead, unsigned char b) {
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead == 0xE0) lo = 0xA0;
  if (lead == 0xED) hi = 0x9F;
  if (lead == 0xF0) lo = 0x90;
  if (lead == 0xF4) hi = 0x8F;
  return b >= lo && b <= hi;
}

// Bytes at the end of `s` that are a proper (incomplete) prefix of a valid sequence; 0 if none.
size_t incomplete_tail(const std::string& s) {
  const size_t n = s.size();
  // A 4-byte sequence missing its last byte starts at most 3 bytes before the end.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto lead = static_cast<unsigned char>(s[n - back]);
    if (lead >= 0x80 && lead <= 0xBF) continue;  // a continuation byte: look further back
    const int len = sequence_length(lead);
    if (len <= static_cast<int>(back)) return 0;  // ASCII, invalid lead, or already complete
    for (size_t k = 1; k < back; ++k) {
      const auto b = static_cast<unsigned char>(s[n - back + k]);
      if (k == 1 ? !second_byte_ok(lead, b) : (b < 0x80 || b > 0xBF)) return 0;
    }
    return back;
  }
  return 0;
}

}  // namespace

std::string Utf8Stream::push(const std::string& bytes) {
  std::string all = std::move(pending_);
  all += bytes;
  const size_t keep = incomplete_tail(all);
  pending_ = all.substr(all.size() - keep);
  all.resize(all.size() - keep);
  return all;
}

std::string Utf8Stream::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace rwkv
