// Engine-internal helpers shared by the evaluate_*.cpp files.
#pragma once
#include <string>

#include "rwkv/evaluate.h"

namespace rwkv {

// Error(Format) naming the file and the first issues with their lines when set has no items.
void require_items(const EvalSet& set, int n_records);

}  // namespace rwkv
