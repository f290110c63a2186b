// Model::random: a randomly initialised RWKV-7 with the standard .pth keys and shapes, built
// through the same validation as a loaded checkpoint. Used by `rwkv-tune bench` for the real
// shapes of 0.1B / 0.4B / 1.5B models, which cannot be downloaded here.
#include "cpu_threads.h"
#include "model_init.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "weights.h"

namespace rwkv {

std::shared_ptr<const Model> Model::random(const ModelDims& dims_in, uint64_t seed, const LoadOptions& opt) {
  ModelDims d = dims_in;
  if (d.n_vocab <= 0 || d.n_embd <= 0 || d.n_layer <= 0 || d.head_size <= 0 || d.n_embd % d.head_size)
    throw Error(ErrorKind::Argument, "Model::random: need n_vocab, n_layer > 0 and n_embd a multiple of head_size");
  if (!d.dim_ffn) d.dim_ffn = 4 * d.n_embd;
  default_lora_widths(d);
  const int64_t C = d.n_embd, N = d.head_size, H = C / N, V = d.n_vocab, F = d.dim_ffn;
  torch::NoGradGuard no_grad;
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  const auto dtype = opt.compute_bf16 ? torch::kBFloat16 : torch::kFloat32;
  const torch::Device dev(opt.device);
  // Uniform(-s, s), drawn on the CPU from one seeded generator (reproducible on any device).
  auto u = [&](std::vector<int64_t> shape, double s, torch::ScalarType dt) {
    return ((torch::rand(shape, gen) * 2 - 1) * s).to(dev, dt);
  };
  auto vec = [&](double lo, double hi) { return (torch::rand({1, 1, C}, gen) * (hi - lo) + lo).to(dev); };
  TensorMap m;
  m["emb.weight"] = u({V, C}, 1.0, dtype);
  m["blocks.0.ln0.weight"] = (1 + u({C}, 0.1, torch::kFloat32));
  m["blocks.0.ln0.bias"] = u({C}, 0.1, torch::kFloat32);
  for (int i = 0; i < d.n_layer; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* n : {"ln1", "ln2"}) {
      m[b + n + ".weight"] = 1 + u({C}, 0.1, torch::kFloat32);
      m[b + n + ".bias"] = u({C}, 0.1, torch::kFloat32);
    }
    for (const char* x : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) m[b + "att." + x] = vec(0, 1);
    m[b + "att.w0"] = vec(-2, 0);
    m[b + "att.w1"] = u({C, d.d_decay}, 0.1, dtype);
    m[b + "att.w2"] = u({d.d_decay, C}, 0.1, dtype);
    m[b + "att.a0"] = vec(-1, 1);
    m[b + "att.a1"] = u({C, d.d_aaa}, 0.1, dtype);
    m[b + "att.a2"] = u({d.d_aaa, C}, 0.1, dtype);
    if (i > 0) {
      m[b + "att.v0"] = vec(-1, 1);
      m[b + "att.v1"] = u({C, d.d_mv}, 0.1, dtype);
      m[b + "att.v2"] = u({d.d_mv, C}, 0.1, dtype);
    }
    m[b + "att.g1"] = u({C, d.d_gate}, 0.1, dtype);
    m[b + "att.g2"] = u({d.d_gate, C}, 0.1, dtype);
    m[b + "att.k_k"] = vec(0.7, 0.9);
    m[b + "att.k_a"] = vec(0.9, 1.1);
    m[b + "att.r_k"] = u({H, N}, 0.1, torch::kFloat32);
    for (const char* n : {"receptance", "key", "value", "output"})
      m[b + "att." + n + ".weight"] = u({C, C}, 1.0 / std::sqrt(double(C)), dtype);
    m[b + "att.ln_x.weight"] = 1 + u({C}, 0.1, torch::kFloat32);
    m[b + "att.ln_x.bias"] = u({C}, 0.1, torch::kFloat32);
    m[b + "ffn.x_k"] = vec(0, 1);
    m[b + "ffn.key.weight"] = u({F, C}, 1.0 / std::sqrt(double(C)), dtype);
    m[b + "ffn.value.weight"] = u({C, F}, 1.0 / std::sqrt(double(F)), dtype);
  }
  m["ln_out.weight"] = 1 + u({C}, 0.1, torch::kFloat32);
  m["ln_out.bias"] = u({C}, 0.1, torch::kFloat32);
  m["head.weight"] = u({V, C}, 1.0 / std::sqrt(double(C)), dtype);
  const std::string name = "random(seed=" + std::to_string(seed) + ")";
  auto impl = build_weights(std::move(m), name, opt);
  impl->info.format = "random";
  if (impl->device.is_cpu()) configure_cpu_threads(impl->info.dims);
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

}  // namespace rwkv
