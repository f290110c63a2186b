// Context: one stream's recurrent state over a shared model, with inference-mode forwards.
#include "rwkv/context.h"

#include "context_impl.h"
#include "kernel_state.h"
#include "rwkv/error.h"

namespace rwkv {

Context::Context(std::shared_ptr<const Model> model) : model_(std::move(model)), impl_(std::make_unique<Impl>()) {
  if (!model_) throw Error(ErrorKind::Argument, "Context: no model");
  reset();
}
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

void Context::set_initial_state(const InitialState& s0) {
  impl_->kernel.reset();
  impl_->kernel_u0.clear();
  if (s0.empty()) {
    impl_->s0 = torch::Tensor();
  } else {
    impl_->s0 = initial_state_to_tensor(s0, model_->dims(), model_->impl().device);
    if (s0.kernel) {
      const auto& d = model_->dims();
      if (s0.kernel->n_layer != d.n_layer || s0.kernel->n_head != d.n_head || s0.kernel->head_size != d.head_size)
        throw Error(ErrorKind::Mismatch, "the kernel part of the state is for L=" + std::to_string(s0.kernel->n_layer) +
                                             " H=" + std::to_string(s0.kernel->n_head) + " N=" +
                                             std::to_string(s0.kernel->head_size) + ", the model has L=" +
                                             std::to_string(d.n_layer) + " H=" + std::to_string(d.n_head) +
                                             " N=" + std::to_string(d.head_size));
      impl_->kernel = kernel_ext_from_state(*s0.kernel, model_->impl().device, &impl_->kernel_u0);
    }
  }
  reset();
}

void Context::reset() {
  c10::InferenceMode guard;
  const auto& m = model_->impl();
  impl_->state = RecurrentState::zeros(m, 1);
  if (impl_->s0.defined())
    for (size_t l = 0; l < impl_->state.wkv.size(); ++l) impl_->state.wkv[l] = impl_->s0[l].unsqueeze(0).clone();
  impl_->state.kernel = impl_->kernel;
  for (const auto& u : impl_->kernel_u0) impl_->state.ups.push_back(u.unsqueeze(0).clone());
}

static torch::Tensor token_tensor(const std::vector<int>& tokens, int n_vocab) {
  if (tokens.empty()) throw Error(ErrorKind::Argument, "empty token list (an empty prompt?)");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      throw Error(ErrorKind::Token, "token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                        " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
  std::vector<int64_t> ids(tokens.begin(), tokens.end());
  return torch::tensor(ids, torch::kInt64).view({1, static_cast<int64_t>(ids.size())});
}

static std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<float> Context::eval(const std::vector<int>& tokens, bool all_logits) {
  c10::InferenceMode guard;
  auto ids = token_tensor(tokens, model_->dims().n_vocab);
  auto res = forward(model_->impl(), ids, impl_->state, !all_logits);
  impl_->state = std::move(res.state);
  return to_vector(res.logits);
}

std::vector<float> Context::step(int token) {
  c10::InferenceMode guard;
  const auto& m = model_->impl();
  if (decode_graph_enabled(m) && !impl_->state.kernel) {  // the captured graph has no kernel part
    if (token < 0 || token >= m.info.dims.n_vocab) token_tensor({token}, m.info.dims.n_vocab);  // throws
    if (!impl_->graph) impl_->graph = std::make_unique<DecodeGraph>(m, decode_fused_enabled(m));
    return impl_->graph->step(token, impl_->state);
  }
  auto ids = token_tensor({token}, model_->dims().n_vocab);
  auto res = forward(model_->impl(), ids, impl_->state, true);
  impl_->state = std::move(res.state);
  return to_vector(res.logits);
}

InitialState Context::wkv_state() const {
  c10::InferenceMode guard;
  const auto& d = model_->dims();
  std::vector<torch::Tensor> per_layer;
  for (const auto& s : impl_->state.wkv) per_layer.push_back(s[0]);
  return tensor_to_initial_state(torch::stack(per_layer), d);
}

StateSnapshotFull Context::full_state() const {
  c10::InferenceMode guard;
  const auto& d = model_->dims();
  auto flat = [](const std::vector<torch::Tensor>& v) {
    auto c = torch::stack(v).to(torch::kCPU, torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  return {d.n_layer, d.n_embd, flat(impl_->state.att_shift), flat(impl_->state.ffn_shift), wkv_state()};
}

void Context::copy_state_from(const Context& other) {
  if (other.model_ != model_) throw Error(ErrorKind::Mismatch, "copy_state_from: contexts of different models");
  c10::InferenceMode guard;
  auto clone = [](const std::vector<torch::Tensor>& v) {
    std::vector<torch::Tensor> out;
    for (const auto& t : v) out.push_back(t.clone());
    return out;
  };
  impl_->state = {clone(other.impl_->state.att_shift), clone(other.impl_->state.ffn_shift),
                  clone(other.impl_->state.wkv), other.impl_->state.kernel, clone(other.impl_->state.ups)};
}

torch::Tensor initial_state_to_tensor(const InitialState& s0, const ModelDims& d, torch::Device device) {
  if (s0.n_layer != d.n_layer || s0.n_head != d.n_head || s0.head_size != d.head_size)
    throw Error(ErrorKind::Mismatch, "state is for L=" + std::to_string(s0.n_layer) + " H=" + std::to_string(s0.n_head) +
                                         " N=" + std::to_string(s0.head_size) + ", the model has L=" +
                                         std::to_string(d.n_layer) + " H=" + std::to_string(d.n_head) +
                                         " N=" + std::to_string(d.head_size));
  if (s0.wkv.size() != static_cast<size_t>(d.n_layer) * d.n_head * d.head_size * d.head_size)
    throw Error(ErrorKind::Shape, "state data has " + std::to_string(s0.wkv.size()) + " values, expected L*H*N*N");
  return torch::from_blob(const_cast<float*>(s0.wkv.data()), {d.n_layer, d.n_head, d.head_size, d.head_size},
                          torch::kFloat32)
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

InitialState tensor_to_initial_state(const torch::Tensor& t, const ModelDims& d) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  InitialState s{d.n_layer, d.n_head, d.head_size, {}, nullptr};
  s.wkv.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return s;
}

}  // namespace rwkv
