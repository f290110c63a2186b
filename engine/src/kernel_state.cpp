// Kernel-upscaled state: features, head output, support selection (see kernel_state.h).
#include "kernel_state.h"

#include <algorithm>
#include <cmath>

#include "rwkv/error.h"
#include "tune_batches.h"

namespace rwkv {

namespace F = torch::nn::functional;

torch::Tensor gaussian_features(const torch::Tensor& u, const torch::Tensor& C, const torch::Tensor& gamma) {
  const auto Ct = C.to(u.scalar_type());
  const auto u2 = (u * u).sum(-1, true);                             // [...,H,1]
  const auto c2 = (Ct * Ct).sum(-1);                                 // [H,M]
  const auto dot = torch::matmul(u.unsqueeze(-2), Ct.transpose(-1, -2)).squeeze(-2);  // [...,H,M]
  const auto d2 = (u2 + c2 - 2 * dot).clamp_min(0);
  return torch::exp(-gamma.to(u.scalar_type()).unsqueeze(-1) * d2);
}

namespace {

// z = R phi: [...,H,M] x R [H,M,M] -> [...,H,M] with z_k = sum_m R[k,m] phi_m.
torch::Tensor apply_r(const torch::Tensor& phi, const torch::Tensor& R) {
  return torch::matmul(phi.unsqueeze(-2), R.to(phi.scalar_type()).transpose(-1, -2)).squeeze(-2);
}

torch::Tensor unit(const torch::Tensor& x) {
  return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12));
}

}  // namespace

KernelHeadOut kernel_head_output(const KernelLayer& p, bool write, const torch::Tensor& r, const torch::Tensor& w,
                                 const torch::Tensor& kk, const torch::Tensor& v, const torch::Tensor& u_in,
                                 bool want_z, bool want_state, bool r_decor_only) {
  const auto dt = r.scalar_type();
  const int64_t B = r.size(0), T = r.size(1), H = r.size(2), M = p.C.size(1);
  const auto Q = p.Q.to(dt);                                               // [H,N,M]
  const auto phi_r = gaussian_features(unit(r), p.C, p.gamma);
  const auto R = r_decor_only ? p.R.detach() : p.R;
  const auto z = apply_r(phi_r, R);  // [B,T,H,M], the z the output uses
  const auto cum = torch::log(w.to(dt)).mean(-1).cumsum(1);                // [B,T,H] log G_t
  KernelHeadOut out;
  torch::Tensor acc;                                                       // [B,T,H,M] = U_t^T z_t
  if (u_in.defined()) {
    // (U^T z)_j = sum_k U[k,j] z_k
    acc = torch::matmul(z.permute({0, 2, 1, 3}), u_in.to(dt)).permute({0, 2, 1, 3}) * torch::exp(cum).unsqueeze(-1);
  }
  torch::Tensor a, b, ct;
  if (write) {
    a = torch::matmul(v.to(dt).unsqueeze(-2), Q).squeeze(-2);                      // [B,T,H,M] Q^T v
    b = apply_r(gaussian_features(kk.to(dt), p.C, p.gamma), R);                    // [B,T,H,M]
    ct = cum.permute({0, 2, 1});                                                    // [B,H,T]
    auto diff = ct.unsqueeze(-1) - ct.unsqueeze(-2);                                // [B,H,T(t),T(s)]
    const auto future = torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(r.device())).triu(1);
    const auto decay = torch::exp(diff.masked_fill(future, -std::numeric_limits<double>::infinity()));
    const auto zh = z.permute({0, 2, 1, 3}), ah = a.permute({0, 2, 1, 3}), bh = b.permute({0, 2, 1, 3});
    const auto scores = torch::matmul(zh, ah.transpose(-1, -2)) * decay;           // [B,H,T,T]
    auto wsum = torch::matmul(scores, bh).permute({0, 2, 1, 3});                   // [B,T,H,M]
    wsum = wsum * p.beta.to(dt).view({1, 1, H, 1});
    acc = acc.defined() ? acc + wsum : wsum;
  }
  if (acc.defined()) {
    out.extra = torch::matmul(acc.unsqueeze(-2), Q.transpose(-1, -2)).squeeze(-2);  // [B,T,H,N]
  } else {
    out.extra = torch::zeros_like(r, r.options().dtype(dt));
  }
  if (want_z) out.z = r_decor_only && p.R.requires_grad() ? apply_r(phi_r, p.R) : z;
  if (want_state) {
    const auto gT = torch::exp(cum.select(1, T - 1)).view({B, H, 1, 1});
    torch::Tensor u = u_in.defined() ? u_in.to(dt) * gT : torch::zeros({B, H, M, M}, r.options().dtype(dt));
    if (write) {
      const auto wts = torch::exp(ct.select(-1, T - 1).unsqueeze(-1) - ct);          // [B,H,T] G_T/G_s
      const auto ah = a.permute({0, 2, 1, 3}) * wts.unsqueeze(-1), bh = b.permute({0, 2, 1, 3});
      u = u + torch::matmul(ah.transpose(-1, -2), bh) * p.beta.to(dt).view({1, H, 1, 1});  // sum_s a_s b_s^T
    }
    out.u_out = u;
  }
  return out;
}

KernelHeadOut kernel_head_output_loop(const KernelLayer& p, bool write, const torch::Tensor& r,
                                      const torch::Tensor& w, const torch::Tensor& kk, const torch::Tensor& v,
                                      const torch::Tensor& u_in) {
  const auto dt = r.scalar_type();
  const int64_t B = r.size(0), T = r.size(1), H = r.size(2), M = p.C.size(1);
  const auto Q = p.Q.to(dt);
  auto U = u_in.defined() ? u_in.to(dt) : torch::zeros({B, H, M, M}, r.options().dtype(dt));
  std::vector<torch::Tensor> ys, zs;
  for (int64_t t = 0; t < T; ++t) {
    const auto g = torch::exp(torch::log(w.select(1, t).to(dt)).mean(-1)).view({B, H, 1, 1});
    U = U * g;
    if (write) {
      const auto a = torch::matmul(v.select(1, t).to(dt).unsqueeze(-2), Q).squeeze(-2);           // [B,H,M]
      const auto b = apply_r(gaussian_features(kk.select(1, t).to(dt), p.C, p.gamma), p.R);       // [B,H,M]
      U = U + p.beta.to(dt).view({1, H, 1, 1}) * a.unsqueeze(-1) * b.unsqueeze(-2);
    }
    const auto z = apply_r(gaussian_features(unit(r.select(1, t)), p.C, p.gamma), p.R);          // [B,H,M]
    const auto uz = torch::matmul(U.transpose(-1, -2), z.unsqueeze(-1)).squeeze(-1);             // U^T z
    ys.push_back(torch::matmul(Q, uz.unsqueeze(-1)).squeeze(-1));                                // [B,H,N]
    zs.push_back(z);
  }
  return {torch::stack(ys, 1), torch::stack(zs, 1), U};
}

namespace {

double uniform01(SplitMix64& g) { return static_cast<double>(g.next() >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace

torch::Tensor choose_supports(const torch::Tensor& keys_in, int64_t M, const std::string& how, uint64_t seed,
                              int iters) {
  torch::NoGradGuard ng;
  const auto keys = keys_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = keys.size(0);
  if (n < M)
    throw Error(ErrorKind::Argument, "kernel: " + std::to_string(n) + " keys were collected from the training texts, "
                                     "fewer than kernel_m = " + std::to_string(M) +
                                     "; use a smaller kernel_m or more data");
  SplitMix64 g(seed);
  std::vector<int64_t> pick;
  if (how == "random") {
    std::vector<int64_t> idx(n);
    for (int64_t i = 0; i < n; ++i) idx[i] = i;
    for (int64_t i = 0; i < M; ++i) {  // partial Fisher-Yates
      const int64_t j = i + static_cast<int64_t>(g.next() % static_cast<uint64_t>(n - i));
      std::swap(idx[i], idx[j]);
      pick.push_back(idx[i]);
    }
    return keys.index_select(0, torch::tensor(pick)).to(torch::kFloat32);
  }
  // k-means++ seeding: each next centre drawn with probability proportional to D(x)^2.
  pick.push_back(static_cast<int64_t>(g.next() % static_cast<uint64_t>(n)));
  auto d2 = (keys - keys[pick[0]]).square().sum(1);  // [n]
  for (int64_t c = 1; c < M; ++c) {
    const auto acc = d2.cumsum(0);
    const double total = acc[n - 1].item<double>();
    int64_t next;
    if (!(total > 0)) {
      next = static_cast<int64_t>(g.next() % static_cast<uint64_t>(n));
    } else {
      const double target = uniform01(g) * total;
      next = std::min<int64_t>(n - 1, torch::searchsorted(acc, torch::tensor({target}, torch::kFloat64)).item<int64_t>());
    }
    pick.push_back(next);
    d2 = torch::minimum(d2, (keys - keys[next]).square().sum(1));
  }
  auto centres = keys.index_select(0, torch::tensor(pick));  // [M,N]
  // Spherical Lloyd iterations: assign by the largest dot product, mean, renormalise.
  for (int it = 0; it < iters; ++it) {
    const auto assign = torch::matmul(keys, centres.t()).argmax(1);  // [n]
    auto sums = torch::zeros_like(centres).index_add_(0, assign, keys);
    const auto counts = torch::zeros({M}, torch::kFloat64).index_add_(0, assign, torch::ones({n}, torch::kFloat64));
    const auto empty = (counts == 0).unsqueeze(1);
    sums = torch::where(empty, centres, sums);
    centres = unit(sums);
  }
  return centres.to(torch::kFloat32);
}

double median_gamma(const torch::Tensor& keys, const torch::Tensor& supports) {
  torch::NoGradGuard ng;
  const auto k = keys.to(torch::kCPU, torch::kFloat64), c = supports.to(torch::kCPU, torch::kFloat64);
  const auto d2 = (k.square().sum(1, true) + c.square().sum(1).unsqueeze(0) - 2 * torch::matmul(k, c.t())).clamp_min(0);
  const double med = d2.flatten().median().item<double>();
  return med > 0 && std::isfinite(med) ? 1.0 / med : 1.0;
}

torch::Tensor make_projection(int64_t H, int64_t N, int64_t M, uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  return torch::randn({H, N, M}, gen, torch::TensorOptions().dtype(torch::kFloat32)) / std::sqrt(double(M));
}

void check_kernel_state(const KernelState& k) {
  const size_t L = k.n_layer, H = k.n_head, N = k.head_size, M = k.m;
  if (k.n_layer <= 0 || k.n_head <= 0 || k.head_size <= 0 || k.m <= 0)
    throw Error(ErrorKind::Shape, "kernel state: dims must be positive (L=" + std::to_string(k.n_layer) +
                                      " H=" + std::to_string(k.n_head) + " N=" + std::to_string(k.head_size) +
                                      " M=" + std::to_string(k.m) + ")");
  const auto need = [](const char* what, size_t have, size_t want) {
    if (have != want)
      throw Error(ErrorKind::Shape, std::string("kernel state: ") + what + " has " + std::to_string(have) +
                                        " values, expected " + std::to_string(want));
  };
  need("C", k.C.size(), L * H * M * N);
  need("Q", k.Q.size(), L * H * N * M);
  need("R", k.R.size(), L * H * M * M);
  need("U0", k.U0.size(), L * H * M * M);
  need("gamma", k.gamma.size(), L * H);
  need("beta", k.beta.size(), L * H);
}

std::shared_ptr<KernelExt> kernel_ext_from_state(const KernelState& k, torch::Device device,
                                                 std::vector<torch::Tensor>* u0) {
  check_kernel_state(k);
  const int64_t L = k.n_layer, H = k.n_head, N = k.head_size, M = k.m;
  const auto blob = [&](const std::vector<float>& v, std::vector<int64_t> shape) {
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).to(device, false, true);
  };
  const auto C = blob(k.C, {L, H, M, N}), Q = blob(k.Q, {L, H, N, M}), R = blob(k.R, {L, H, M, M});
  const auto U = blob(k.U0, {L, H, M, M}), gm = blob(k.gamma, {L, H}), bt = blob(k.beta, {L, H});
  auto ext = std::make_shared<KernelExt>();
  ext->m = M;
  ext->write = k.write;
  if (u0) u0->clear();
  for (int64_t l = 0; l < L; ++l) {
    // Own copies, not views, so the tuner can make R, beta and U0 leaves that require grad.
    KernelLayer p{C[l].clone(), Q[l].clone(), R[l].clone(), gm[l].clone(), k.write ? bt[l].clone() : torch::Tensor()};
    ext->layers.push_back(p);
    if (u0) u0->push_back(U[l].clone());
  }
  return ext;
}

std::shared_ptr<KernelState> kernel_state_from_tensors(const KernelExt& ext, const std::vector<torch::Tensor>& u0,
                                                       int head_size) {
  auto k = std::make_shared<KernelState>();
  k->n_layer = static_cast<int>(ext.layers.size());
  k->n_head = k->n_layer ? static_cast<int>(ext.layers[0].C.size(0)) : 0;
  k->head_size = head_size;
  k->m = static_cast<int>(ext.m);
  k->write = ext.write;
  const auto put = [](std::vector<float>& dst, const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    dst.insert(dst.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  for (size_t l = 0; l < ext.layers.size(); ++l) {
    const auto& p = ext.layers[l];
    put(k->C, p.C);
    put(k->Q, p.Q);
    put(k->R, p.R);
    put(k->U0, u0[l]);
    put(k->gamma, p.gamma);
    put(k->beta, p.beta.defined() ? p.beta : torch::zeros_like(p.gamma));
  }
  check_kernel_state(*k);
  return k;
}

}  // namespace rwkv
