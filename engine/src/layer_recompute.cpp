// recomputed_layer (see layer_recompute.h): a custom autograd function over one layer.
#include "layer_recompute.h"

#include "kernel_state.h"

namespace rwkv {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The layer's tensor inputs, in this order; absent (undefined) ones are left out of the list
// handed to autograd and marked in a bit mask.
enum Slot { kX, kAttShift, kFfnShift, kWkv, kVFirst, kUps, kR, kBeta, kSlots };

// What the backward needs to re-run the layer besides its tensors (kept in saved_data).
struct Spec {
  const LayerWeights* lw = nullptr;
  const KernelLayer* kernel = nullptr;
  bool write = false, r_decor_only = false, want_z = false;
  int64_t H = 0, N = 0, mask = 0;
};

// Runs the layer from slot tensors (undefined = absent). Returns {x, v_first if it was
// absent (first layer), z if want_z}.
variable_list run_layer(const Spec& s, const std::vector<torch::Tensor>& t) {
  LayerIn li;
  li.att_shift = t[kAttShift];
  li.ffn_shift = t[kFfnShift];
  li.wkv = t[kWkv];
  KernelLayer kl;
  if (s.kernel) {
    kl = *s.kernel;
    if (t[kR].defined()) kl.R = t[kR];
    if (t[kBeta].defined()) kl.beta = t[kBeta];
    li.kernel = &kl;
    li.write = s.write;
    li.r_decor_only = s.r_decor_only;
    li.ups = t[kUps];
  }
  LayerOut lo;
  lo.want_z = s.want_z;
  torch::Tensor v_first = t[kVFirst];
  variable_list res{forward_layer(*s.lw, s.H, s.N, t[kX], li, v_first, nullptr, &lo)};
  if (!t[kVFirst].defined()) res.push_back(v_first);
  if (s.want_z) res.push_back(lo.z);
  return res;
}

struct LayerFunction : torch::autograd::Function<LayerFunction> {
  // args: the defined slot tensors in slot order (s.mask says which).
  static variable_list forward(AutogradContext* ctx, const Spec& s, at::TensorList args) {
    ctx->save_for_backward(args.vec());
    ctx->saved_data["lw"] = reinterpret_cast<int64_t>(s.lw);
    ctx->saved_data["kernel"] = reinterpret_cast<int64_t>(s.kernel);
    ctx->saved_data["flags"] = int64_t(s.write) | int64_t(s.r_decor_only) << 1 | int64_t(s.want_z) << 2;
    ctx->saved_data["H"] = s.H;
    ctx->saved_data["N"] = s.N;
    ctx->saved_data["mask"] = s.mask;
    return run_layer(s, slots(s.mask, args.vec()));
  }

  // grads: one per output of forward. Returns {nothing for the Spec, one per tensor argument}.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    Spec s;
    s.lw = reinterpret_cast<const LayerWeights*>(ctx->saved_data["lw"].toInt());
    s.kernel = reinterpret_cast<const KernelLayer*>(ctx->saved_data["kernel"].toInt());
    const int64_t flags = ctx->saved_data["flags"].toInt();
    s.write = flags & 1;
    s.r_decor_only = flags & 2;
    s.want_z = flags & 4;
    s.H = ctx->saved_data["H"].toInt();
    s.N = ctx->saved_data["N"].toInt();
    s.mask = ctx->saved_data["mask"].toInt();
    auto args = ctx->get_saved_variables();
    variable_list wanted;  // the arguments that need a gradient, as fresh leaves
    for (size_t i = 0; i < args.size(); ++i) {
      args[i] = args[i].detach();
      if (ctx->needs_input_grad(i)) {
        args[i].requires_grad_(true);
        wanted.push_back(args[i]);
      }
    }
    variable_list outs, gouts;
    {
      torch::AutoGradMode grad_on(true);
      const auto res = run_layer(s, slots(s.mask, args));
      for (size_t i = 0; i < res.size(); ++i)
        if (grads[i].defined() && res[i].requires_grad()) {
          outs.push_back(res[i]);
          gouts.push_back(grads[i]);
        }
    }
    variable_list result(1 + args.size());
    if (outs.empty() || wanted.empty()) return result;
    const auto g = torch::autograd::grad(outs, wanted, gouts, /*retain_graph=*/false, /*create_graph=*/false,
                                         /*allow_unused=*/true);
    for (size_t i = 0, w = 0; i < args.size(); ++i)
      if (ctx->needs_input_grad(i)) result[1 + i] = g[w++];
    return result;
  }

  // The defined tensors `args` spread over kSlots slots by `mask`.
  static std::vector<torch::Tensor> slots(int64_t mask, const std::vector<torch::Tensor>& args) {
    std::vector<torch::Tensor> t(kSlots);
    for (int i = 0, a = 0; i < kSlots; ++i)
      if (mask >> i & 1) t[i] = args[a++];
    return t;
  }
};

}  // namespace

torch::Tensor recomputed_layer(const LayerWeights& lw, int64_t H, int64_t N, const torch::Tensor& x,
                               const LayerIn& in, torch::Tensor& v_first, torch::Tensor* z) {
  Spec s;
  s.lw = &lw;
  s.kernel = in.kernel;
  s.write = in.write;
  s.r_decor_only = in.r_decor_only;
  s.want_z = z && in.kernel;
  s.H = H;
  s.N = N;
  std::vector<torch::Tensor> t(kSlots);
  t[kX] = x;
  t[kAttShift] = in.att_shift;
  t[kFfnShift] = in.ffn_shift;
  t[kWkv] = in.wkv;
  t[kVFirst] = v_first;
  if (in.kernel) {
    t[kUps] = in.ups;
    t[kR] = in.kernel->R;
    t[kBeta] = in.kernel->beta;
  }
  std::vector<torch::Tensor> args;
  for (int i = 0; i < kSlots; ++i)
    if (t[i].defined()) {
      s.mask |= int64_t(1) << i;
      args.push_back(t[i]);
    }
  const auto res = LayerFunction::apply(s, at::TensorList(args));
  const bool first = !v_first.defined();
  if (first) v_first = res[1];
  if (s.want_z) *z = res[first ? 2 : 1];
  return res[0];
}

}  // namespace rwkv
