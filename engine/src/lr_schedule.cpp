// LrSchedule::at (see lr_schedule.h).
#include "lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace rwkv {

double LrSchedule::at(int step) const {
  if (step <= warmup_steps && warmup_steps > 0) return lr * step / warmup_steps;
  if (kind == "constant") return lr;
  const int span = std::max(1, total_steps - warmup_steps);
  const double p = std::clamp(double(step - warmup_steps) / span, 0.0, 1.0);
  if (kind == "linear") return lr + (lr_final - lr) * p;
  return lr_final + (lr - lr_final) * 0.5 * (1.0 + std::cos(M_PI * p));  // cosine
}

}  // namespace rwkv
