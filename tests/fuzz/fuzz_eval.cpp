// Fuzzes the eval file readers: load_eval_set on the same bytes as .jsonl (evaluate_load.cpp)
// and as MMLU-layout .csv (evaluate_csv.cpp). Items must have a prompt and a reference.
#include <cstdlib>

#include "fuzz_support.h"
#include "rwkv/evaluate.h"

namespace {
void check(const rwkv::EvalSet& set) {
  if (set.items.empty()) std::abort();  // documented: throws instead
  for (const auto& it : set.items)
    if (it.prompt.empty() || it.line < 1) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile jsonl(".jsonl");
  static fuzz::InputFile csv(".csv");
  jsonl.write(data, size);
  csv.write(data, size);
  fuzz::expect_rwkv_errors([&] { check(rwkv::load_eval_set(jsonl.path())); });
  fuzz::expect_rwkv_errors([&] { check(rwkv::load_eval_set(csv.path())); });
  return 0;
}
