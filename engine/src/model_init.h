// Initial weights for training an RWKV-7 from scratch, following the x070 initialisation of
// BlinkDL's RWKV-LM (per-layer token-shift ratios, decay spread over channels, zero output
// projections so every block starts as the identity). Keys and shapes as in a .pth checkpoint.
#pragma once
#include <cstdint>

#include "rwkv/model.h"
#include "weights.h"

namespace rwkv {

// dims: n_vocab, n_embd, n_layer, head_size set; dim_ffn and LoRA widths filled in if 0.
// fp32 on the CPU, reproducible from seed.
TensorMap init_weights(ModelDims& dims, uint64_t seed);

// LoRA widths of the released RWKV-7 models by embedding width (w, a, v, g), where 0.
void default_lora_widths(ModelDims& d);

}  // namespace rwkv
