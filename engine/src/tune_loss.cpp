// micro_batch_ce_sum (see tune_loss.h).
#include "tune_loss.h"

#include "forward.h"

namespace rwkv {

torch::Tensor micro_batch_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0) {
  const int64_t B = mb.tokens.size(0), T = mb.tokens.size(1);
  RecurrentState in = RecurrentState::zeros(m, B);  // shifts stay zero
  for (size_t l = 0; l < in.wkv.size(); ++l) in.wkv[l] = s0[l].unsqueeze(0).expand({B, -1, -1, -1});  // [B,H,N,N]
  const auto hidden = forward_hidden(m, mb.tokens, in, nullptr);                                       // [B,T,C]
  const auto rows = hidden.reshape({B * T, hidden.size(2)}).index_select(0, mb.rows);                 // [n,C]
  const auto logits = head_logits(m, rows);                                                           // [n,V] fp32
  return torch::nn::functional::cross_entropy(
      logits, mb.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

}  // namespace rwkv
