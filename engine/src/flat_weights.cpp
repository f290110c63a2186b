// FlatWeights (see flat_weights.h).
#include "flat_weights.h"

namespace rwkv {
namespace {

// Every weight of the model with its .pth key and checkpoint shape (spec/rwkv7.md section 2).
std::vector<WeightSlot> list_slots(Model::Impl& m) {
  const auto& d = m.info.dims;
  const int64_t C = d.n_embd;
  std::vector<WeightSlot> s;
  auto add = [&](const std::string& name, torch::Tensor& t, std::vector<int64_t> file_shape) {
    s.push_back({name, std::move(file_shape), &t, 0, t.numel(), t.dim() == 2 && name.find("r_k") == std::string::npos});
  };
  auto mat = [&](const std::string& name, torch::Tensor& t) { add(name, t, t.sizes().vec()); };
  auto v1 = [&](const std::string& name, torch::Tensor& t) { add(name, t, {C}); };
  auto v3 = [&](const std::string& name, torch::Tensor& t) { add(name, t, {1, 1, C}); };
  mat("emb.weight", m.emb);
  v1("blocks.0.ln0.weight", m.ln0_w);
  v1("blocks.0.ln0.bias", m.ln0_b);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".", a = b + "att.";
    LayerWeights& l = m.layers[i];
    AttWeights& w = l.att;
    v1(b + "ln1.weight", l.ln1_w);
    v1(b + "ln1.bias", l.ln1_b);
    v1(b + "ln2.weight", l.ln2_w);
    v1(b + "ln2.bias", l.ln2_b);
    v3(a + "x_r", w.x_r), v3(a + "x_w", w.x_w), v3(a + "x_k", w.x_k);
    v3(a + "x_v", w.x_v), v3(a + "x_a", w.x_a), v3(a + "x_g", w.x_g);
    v3(a + "w0", w.w0), mat(a + "w1", w.w1), mat(a + "w2", w.w2);
    v3(a + "a0", w.a0), mat(a + "a1", w.a1), mat(a + "a2", w.a2);
    if (i > 0) v3(a + "v0", w.v0), mat(a + "v1", w.v1), mat(a + "v2", w.v2);
    mat(a + "g1", w.g1), mat(a + "g2", w.g2);
    v3(a + "k_k", w.k_k), v3(a + "k_a", w.k_a);
    mat(a + "r_k", w.r_k);
    mat(a + "receptance.weight", w.Wr), mat(a + "key.weight", w.Wk);
    mat(a + "value.weight", w.Wv), mat(a + "output.weight", w.Wo);
    v1(a + "ln_x.weight", w.ln_x_w), v1(a + "ln_x.bias", w.ln_x_b);
    v3(b + "ffn.x_k", l.ffn.x_k);
    mat(b + "ffn.key.weight", l.ffn.Wkey), mat(b + "ffn.value.weight", l.ffn.Wval);
  }
  v1("ln_out.weight", m.ln_out_w);
  v1("ln_out.bias", m.ln_out_b);
  mat("head.weight", m.head);
  return s;
}

}  // namespace

FlatWeights::FlatWeights(Model::Impl& m) : m_(m) {
  torch::NoGradGuard no_grad;
  slots = list_slots(m);
  int64_t P = 0;
  for (auto& s : slots) s.offset = P, P += s.numel;
  const auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(m.device);
  flat = torch::empty({P}, opt);
  decay_mask = torch::zeros({P}, opt);
  for (const auto& s : slots) {
    flat.narrow(0, s.offset, s.numel).copy_(s.field->reshape({-1}));
    if (s.matrix) decay_mask.narrow(0, s.offset, s.numel).fill_(1);
  }
  m.dtype = torch::kFloat32;
  flat.set_requires_grad(true);
  bind();
}

void FlatWeights::bind() {
  for (const auto& s : slots) {
    const auto shape = s.field->sizes().vec();
    *s.field = flat.narrow(0, s.offset, s.numel).view(shape);
  }
}

TensorMap FlatWeights::file_tensors(torch::ScalarType matrix_dtype) const {
  torch::NoGradGuard no_grad;
  TensorMap out;
  const auto cpu = flat.detach().to(torch::kCPU);
  for (const auto& s : slots) {
    auto t = cpu.narrow(0, s.offset, s.numel).view(s.file_shape).clone();
    out[s.name] = s.matrix ? t.to(matrix_dtype) : t;
  }
  return out;
}

}  // namespace rwkv
