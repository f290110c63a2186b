// The CUDA wkv7 kernels against the CPU reference (float64): outputs y, final state sT and every
// gradient including dS0, for T in {1, 15, 16, 17, 33, 64, 65, 129, 200, 1000} (one span, a span
// and a step, partial last spans, 16 spans) and several B, H; fp32 inputs must agree to 1e-4
// relative error, bf16 inputs (fp32 state and decay) to 1e-2. A second fp32 run must give the
// same bits.
#include <torch/torch.h>

#include <cmath>

#include "gpu_check.h"
#include "wkv7.h"

namespace {

struct Inputs {
  torch::Tensor r, w, k, v, a, b, s0;
};

// Realistic ranges: decay in (0.545, 1), kk unit-norm per head, a = -kk, b = kk * lr.
Inputs make_inputs(int64_t B, int64_t T, int64_t H, torch::Generator& gen) {
  const int64_t N = 64;
  auto randn = [&](std::vector<int64_t> s) { return torch::randn(s, gen, torch::kFloat64); };
  Inputs in;
  in.r = randn({B, T, H, N}) * 0.5;
  in.k = randn({B, T, H, N}) * 0.5;
  in.v = randn({B, T, H, N}) * 0.5;
  in.w = torch::exp(-std::exp(-0.5) * torch::sigmoid(randn({B, T, H, N}) * 2));
  auto kk = torch::nn::functional::normalize(randn({B, T, H, N}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  in.a = -kk;
  in.b = kk * torch::sigmoid(randn({B, T, H, N}));
  in.s0 = randn({B, H, N, N}) * 0.1;
  return in;
}

double rel_err(const torch::Tensor& x, const torch::Tensor& ref) {
  auto xd = x.to(torch::kCPU, torch::kFloat64);
  return (xd - ref).norm().item<double>() / std::max(ref.norm().item<double>(), 1e-30);
}

// Runs wkv7 forward + backward with random output grads; returns {y, sT, dr, dw, dk, dv, da, db, ds0}.
std::vector<torch::Tensor> run(const Inputs& in, torch::Device dev, torch::ScalarType in_dtype,
                               const torch::Tensor& gy, const torch::Tensor& gs) {
  auto leaf = [&](const torch::Tensor& t, torch::ScalarType dt) {
    return t.to(dev, dt).detach().requires_grad_(true);
  };
  const auto sdt = dev.is_cpu() ? torch::kFloat64 : torch::kFloat32;
  auto r = leaf(in.r, in_dtype), w = leaf(in.w, torch::kFloat32), k = leaf(in.k, in_dtype);
  auto v = leaf(in.v, in_dtype), a = leaf(in.a, in_dtype), b = leaf(in.b, in_dtype), s0 = leaf(in.s0, sdt);
  if (dev.is_cpu()) {  // the reference sees exactly the (possibly rounded) values the GPU sees, in fp64
    auto to64 = [](const torch::Tensor& t) { return t.detach().to(torch::kFloat64).requires_grad_(true); };
    r = to64(r), w = to64(w), k = to64(k), v = to64(v), a = to64(a), b = to64(b);
  }
  auto out = rwkv::wkv7(r, w, k, v, a, b, s0);
  auto loss = (out[0].to(torch::kFloat64) * gy.to(dev)).sum() + (out[1].to(torch::kFloat64) * gs.to(dev)).sum();
  loss.backward();
  return {out[0].detach(), out[1].detach(), r.grad(), w.grad(), k.grad(), v.grad(), a.grad(), b.grad(), s0.grad()};
}

}  // namespace

int main() {
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device: skipped\n");
    return 77;
  }
  const char* names[] = {"y", "sT", "dr", "dw", "dk", "dv", "da", "db", "ds0"};
  struct Case { int64_t B, T, H; };
  const std::vector<Case> cases = {{1, 1, 1},  {2, 15, 3},   {1, 16, 2}, {3, 17, 2},  {1, 64, 1},
                                   {2, 65, 2}, {4, 33, 12},  {1, 200, 3}, {2, 129, 16}, {2, 1000, 4}};
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(1234);
  int n = 0;
  for (const auto& c : cases) {
    const Inputs in = make_inputs(c.B, c.T, c.H, gen);
    auto gy = torch::randn({c.B, c.T, c.H, 64}, gen, torch::kFloat64);
    auto gs = torch::randn({c.B, c.H, 64, 64}, gen, torch::kFloat64);
    for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
      const double tol = dt == torch::kFloat32 ? 1e-4 : 1e-2;
      const auto ref = run(in, torch::kCPU, dt, gy, gs);
      const auto got = run(in, torch::Device(torch::kCUDA), dt, gy, gs);
      if (dt == torch::kFloat32) {  // reproducible: fixed-order sums, no atomics
        const auto again = run(in, torch::Device(torch::kCUDA), dt, gy, gs);
        bool same = true;
        for (size_t i = 0; i < got.size(); ++i) same = same && torch::equal(got[i], again[i]);
        char what[96];
        std::snprintf(what, sizeof what, "B=%ld T=%ld H=%ld fp32 rerun gives identical bits", long(c.B), long(c.T),
                      long(c.H));
        gpu_check::expect(same, what);
        ++n;
      }
      for (size_t i = 0; i < ref.size(); ++i) {
        const double e = rel_err(got[i], ref[i]);
        char what[160];
        std::snprintf(what, sizeof what, "B=%ld T=%ld H=%ld %s %-3s rel err %.2e (tol %.0e)", long(c.B), long(c.T),
                      long(c.H), dt == torch::kFloat32 ? "fp32" : "bf16", names[i], e, tol);
        gpu_check::expect(std::isfinite(e) && e < tol, what);
        ++n;
      }
    }
  }
  return gpu_check::finish(n);
}
