// The answer text as tokens arrive, shared by generate() and generate_greedy_batch() so that both
// cut answers at the same place.
#pragma once
#include <string>
#include <vector>

#include "rwkv/tokenizer.h"

namespace rwkv {

// Appends token `id`'s text to `text` (complete UTF-8 characters only; everything when `last`)
// and cuts it before the first stop string that ends in the new part. Returns that stop's index
// in `stops`, or -1.
int append_answer_text(const Tokenizer& tok, int id, bool last, const std::vector<std::string>& stops, Utf8Stream& utf8,
                       std::string& text);

}  // namespace rwkv
