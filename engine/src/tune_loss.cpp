// micro_batch_ce_sum (see tune_loss.h).
#include "tune_loss.h"

#include "forward.h"
#include "kernel_state.h"
#include "tune_fused.h"

namespace rwkv {

torch::Tensor micro_batch_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0) {
  return micro_batch_ce_sum(m, mb, s0, KernelTrain{}, nullptr);
}

torch::Tensor micro_batch_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                                 const KernelTrain& kernel, std::vector<torch::Tensor>* z) {
  if (!kernel.ext && int(s0.size()) == m.info.dims.n_layer && fused_tuning_applies(m))
    return fused_ce_sum(m, mb, s0, kernel.recompute, tune_ops::Impl::Kernels);
  return torch::nn::functional::cross_entropy(
      micro_batch_logits(m, mb, s0, kernel, z), mb.labels,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

torch::Tensor micro_batch_logits(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                                 const KernelTrain& kernel, std::vector<torch::Tensor>* z) {
  const int64_t B = mb.tokens.size(0), T = mb.tokens.size(1);
  RecurrentState in = RecurrentState::zeros(m, B);  // shifts stay zero
  if (!s0.empty())
    for (size_t l = 0; l < in.wkv.size(); ++l) in.wkv[l] = s0[l].unsqueeze(0).expand({B, -1, -1, -1});  // [B,H,N,N]
  WkvTrace trace;
  const bool want_z = kernel.ext && z;
  if (kernel.ext) {
    in.kernel = kernel.ext;
    for (const auto& u : *kernel.u0) in.ups.push_back(u.unsqueeze(0).expand({B, -1, -1, -1}));  // [B,H,M,M]
    trace.want_kernel_z = want_z;
  }
  const auto hidden = forward_hidden(m, mb.tokens, in, nullptr, want_z ? &trace : nullptr, kernel.recompute);          // [B,T,C]
  if (want_z) {
    z->clear();
    for (const auto& zl : trace.kernel_z)  // [B,T,H,M] -> real tokens [n,H,M]
      z->push_back(zl.reshape({B * T, zl.size(2), zl.size(3)}).index_select(0, mb.valid));
  }
  const auto rows = hidden.reshape({B * T, hidden.size(2)}).index_select(0, mb.rows);                 // [n,C]
  return head_logits(m, rows);                                                                        // [n,V] fp32
}

}  // namespace rwkv
