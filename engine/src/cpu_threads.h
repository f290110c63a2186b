// How many CPU threads torch's intra-op pool uses for a model. Small matrices (the tiny fixture's
// C = 64) finish faster than OpenMP can hand them out: one thread tunes the tiny model ~4x faster
// than two on our 2-core machines. RWKV_CPU_THREADS overrides the choice.
#pragma once
#include "rwkv/model.h"

namespace rwkv {

// Sets torch's intra-op thread count for work on this model on the CPU (process-wide).
void configure_cpu_threads(const ModelDims& d);

}  // namespace rwkv
