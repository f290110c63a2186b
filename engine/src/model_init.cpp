// init_weights (see model_init.h). Shapes: C channels, H heads of N, V vocab, F ffn width.
#include "model_init.h"

#include <cmath>

#include "rwkv/error.h"

namespace rwkv {

void default_lora_widths(ModelDims& d) {
  const bool big = d.n_embd >= 2048;
  if (!d.d_decay) d.d_decay = big ? 96 : 64;
  if (!d.d_aaa) d.d_aaa = big ? 96 : 64;
  if (!d.d_mv) d.d_mv = big ? 64 : 32;
  if (!d.d_gate) d.d_gate = big ? 256 : 128;
}

TensorMap init_weights(ModelDims& d, uint64_t seed) {
  if (d.n_vocab <= 0 || d.n_embd <= 0 || d.n_layer <= 0 || d.head_size <= 0 || d.n_embd % d.head_size)
    throw Error(ErrorKind::Argument, "init_weights: need n_vocab, n_layer > 0 and n_embd a multiple of head_size");
  if (!d.dim_ffn) d.dim_ffn = 4 * d.n_embd;
  default_lora_widths(d);
  d.n_head = d.n_embd / d.head_size;
  const int64_t C = d.n_embd, N = d.head_size, H = d.n_head, V = d.n_vocab, F = d.dim_ffn, L = d.n_layer;
  torch::NoGradGuard no_grad;
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  auto uniform = [&](std::vector<int64_t> shape, double s) { return (torch::rand(shape, gen) * 2 - 1) * s; };
  // Orthogonal rows/columns scaled by `gain` (QR of a Gaussian), for [rows, cols] matrices.
  auto ortho = [&](int64_t rows, int64_t cols, double gain) {
    const bool tall = rows >= cols;
    auto q = std::get<0>(torch::linalg_qr(torch::randn({std::max(rows, cols), std::min(rows, cols)}, gen)));
    if (!tall) q = q.t();
    if (rows > cols) gain *= std::sqrt(double(rows) / cols);
    return (q * gain).contiguous();
  };
  const auto ch = torch::arange(C, torch::kFloat64);
  const auto ddd = (ch / C).to(torch::kFloat32).view({1, 1, C});          // 0 .. (C-1)/C
  const auto linear = (ch / (C - 1) - 0.5).to(torch::kFloat32);           // -0.5 .. 0.5
  auto zigzag = ((ch.remainder(N) - (N - 1) / 2.0) / ((N - 1) / 2.0));    // -1 .. 1 within each head
  zigzag = (zigzag * zigzag.abs()).to(torch::kFloat32);
  auto vec = [&](const torch::Tensor& t) { return t.reshape({1, 1, C}).contiguous(); };

  TensorMap m;
  m["emb.weight"] = uniform({V, C}, 1e-4);
  m["blocks.0.ln0.weight"] = torch::ones({C});
  m["blocks.0.ln0.bias"] = torch::zeros({C});
  for (int64_t i = 0; i < L; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".", a = b + "att.";
    const double r01 = L > 1 ? double(i) / (L - 1) : 0.0;  // 0 -> 1 over depth
    const double r10 = 1.0 - double(i) / L;                 // 1 -> ~0 over depth
    for (const char* n : {"ln1", "ln2"}) {
      m[b + n + ".weight"] = torch::ones({C});
      m[b + n + ".bias"] = torch::zeros({C});
    }
    const std::pair<const char*, double> mix[] = {{"x_r", 0.2}, {"x_w", 0.9}, {"x_k", 0.7},
                                                 {"x_v", 0.7}, {"x_a", 0.9}, {"x_g", 0.2}};
    for (const auto& [n, e] : mix) m[a + n] = 1.0 - torch::pow(ddd, e * r10);
    const auto www = -6.0 + 6.0 * torch::pow(ch / (C - 1), 1.0 + std::pow(r01, 0.3));
    m[a + "w0"] = vec(www.to(torch::kFloat32) + 0.5 + zigzag * 2.5);
    m[a + "w1"] = torch::zeros({C, d.d_decay});
    m[a + "w2"] = ortho(d.d_decay, C, 0.1);
    m[a + "a0"] = vec(-0.19 + zigzag * 0.3 + linear * 0.4);
    m[a + "a1"] = torch::zeros({C, d.d_aaa});
    m[a + "a2"] = ortho(d.d_aaa, C, 0.1);
    if (i > 0) {
      m[a + "v0"] = vec(0.73 - linear * 0.4);
      m[a + "v1"] = torch::zeros({C, d.d_mv});
      m[a + "v2"] = ortho(d.d_mv, C, 0.1);
    }
    m[a + "g1"] = torch::zeros({C, d.d_gate});
    m[a + "g2"] = ortho(d.d_gate, C, 0.1);
    m[a + "k_k"] = vec(0.71 - linear * 0.1);
    m[a + "k_a"] = vec(torch::full({C}, 1.02));
    m[a + "r_k"] = torch::full({H, N}, -0.04);
    const double s = 1.0 / std::sqrt(double(C));
    m[a + "receptance.weight"] = uniform({C, C}, 0.5 * s);
    m[a + "key.weight"] = uniform({C, C}, 0.05 * s);
    m[a + "value.weight"] = uniform({C, C}, 0.5 * s);
    m[a + "output.weight"] = torch::zeros({C, C});
    m[a + "ln_x.weight"] = torch::full({C}, std::pow(double(i + 1) / L, 0.7));
    m[a + "ln_x.bias"] = torch::zeros({C});
    m[b + "ffn.x_k"] = 1.0 - torch::pow(ddd, std::pow(r10, 4));
    m[b + "ffn.key.weight"] = uniform({F, C}, 0.5 * s);
    m[b + "ffn.value.weight"] = torch::zeros({C, F});
  }
  m["ln_out.weight"] = torch::ones({C});
  m["ln_out.bias"] = torch::zeros({C});
  m["head.weight"] = ortho(V, C, 0.5);
  return m;
}

}  // namespace rwkv
