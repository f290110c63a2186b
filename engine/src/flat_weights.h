// The weights of a Model::Impl as one flat fp32 vector, for full-weight training (pretrain):
// autograd accumulates every weight's gradient into one [P] tensor, and AdamW, clipping and
// weight decay are a handful of kernels over it instead of a loop over ~20 tensors per layer.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "weights.h"

namespace rwkv {

struct WeightSlot {
  std::string name;                 // .pth key, e.g. "blocks.0.att.w0"
  std::vector<int64_t> file_shape;  // shape in a checkpoint, e.g. [1,1,C]
  torch::Tensor* field;             // the Model::Impl member it feeds
  int64_t offset = 0, numel = 0;    // its slice of the flat vector
  bool matrix = false;              // 2-D weight: weight decay applies, stored bf16
};

class FlatWeights {
 public:
  // Copies m's weights (any dtype, m's device) into flat fp32 storage; m's fields then view it.
  explicit FlatWeights(Model::Impl& m);

  // Points every Impl field at its slice of `flat` (views that carry autograd back to flat).
  // Call before each forward: views made under no_grad would not.
  void bind();

  torch::Tensor flat;        // [P] fp32, requires_grad
  torch::Tensor decay_mask;  // [P] fp32, 1 on matrix entries
  std::vector<WeightSlot> slots;

  // Checkpoint tensors: pth names and shapes, matrices in `matrix_dtype`, vectors fp32, on the CPU.
  TensorMap file_tensors(torch::ScalarType matrix_dtype) const;

 private:
  Model::Impl& m_;
};

}  // namespace rwkv
