// Learning-rate schedule of a tuning run: linear warmup from 0, then cosine or linear decay to
// lr_final at the last step, or constant. Pure function of the step, so a resumed run gets the
// same rates as an uninterrupted one.
#pragma once
#include <string>

namespace rwkv {

struct LrSchedule {
  double lr = 0.05, lr_final = 0.005;
  int warmup_steps = 0;
  int total_steps = 1;
  std::string kind = "cosine";  // "cosine", "linear", "constant"

  // Rate of optimizer step `step` (1-based): lr * step / warmup during warmup (step 1 is not 0),
  // then the decay with progress (step - warmup) / (total - warmup) in (0, 1].
  double at(int step) const;
};

}  // namespace rwkv
