// CPU reference of the wkv7 recurrence: forward with state checkpoints every `chunk` steps,
// backward by recomputing each chunk's states from its checkpoint (spec/rwkv7.md 6.1).
// One (batch, head) pair per task; per head the state S is N x N, [value i][key j].
#include <ATen/Parallel.h>

#include "wkv7.h"

namespace rwkv {
namespace {

// Offset of x[b][t][h][0] in a contiguous [B,T,H,N] tensor.
inline int64_t seq_off(int64_t b, int64_t t, int64_t h, int64_t T, int64_t H, int64_t N) {
  return ((b * T + t) * H + h) * N;
}

// One step on one head: S <- S diag(w) + (S a) b^T + v k^T ; y = S r. sa is scratch [N].
template <typename scalar_t>
inline void step_head(scalar_t* S, const scalar_t* r, const scalar_t* w, const scalar_t* k,
                      const scalar_t* v, const scalar_t* a, const scalar_t* b, scalar_t* y,
                      scalar_t* sa, int64_t N) {
  for (int64_t i = 0; i < N; ++i) {
    scalar_t acc = 0;
    const scalar_t* Si = S + i * N;
    for (int64_t j = 0; j < N; ++j) acc += Si[j] * a[j];
    sa[i] = acc;
  }
  for (int64_t i = 0; i < N; ++i) {
    scalar_t* Si = S + i * N;
    const scalar_t sai = sa[i], vi = v[i];
    scalar_t acc = 0;
    for (int64_t j = 0; j < N; ++j) {
      const scalar_t s = Si[j] * w[j] + sai * b[j] + vi * k[j];
      Si[j] = s;
      acc += s * r[j];
    }
    if (y) y[i] = acc;
  }
}

template <typename scalar_t>
void forward_impl(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                  const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                  const torch::Tensor& s0, torch::Tensor& y, torch::Tensor& sT, torch::Tensor* ckpt,
                  int64_t chunk) {
  const int64_t B = r.size(0), T = r.size(1), H = r.size(2), N = r.size(3);
  const int64_t n_chunks = (T + chunk - 1) / chunk;
  const scalar_t *pr = r.data_ptr<scalar_t>(), *pw = w.data_ptr<scalar_t>(), *pk = k.data_ptr<scalar_t>(),
                 *pv = v.data_ptr<scalar_t>(), *pa = a.data_ptr<scalar_t>(), *pb = b.data_ptr<scalar_t>();
  const scalar_t* ps0 = s0.data_ptr<scalar_t>();
  scalar_t* py = y.data_ptr<scalar_t>();
  scalar_t* psT = sT.data_ptr<scalar_t>();
  scalar_t* pck = ckpt ? ckpt->data_ptr<scalar_t>() : nullptr;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> sa(N);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t bi = bh / H, h = bh % H;
      scalar_t* S = psT + bh * N * N;  // evolve in place in the output buffer
      std::copy(ps0 + bh * N * N, ps0 + (bh + 1) * N * N, S);
      for (int64_t t = 0; t < T; ++t) {
        if (pck && t % chunk == 0) std::copy(S, S + N * N, pck + (bh * n_chunks + t / chunk) * N * N);
        const int64_t o = seq_off(bi, t, h, T, H, N);
        step_head(S, pr + o, pw + o, pk + o, pv + o, pa + o, pb + o, py + o, sa.data(), N);
      }
    }
  });
}

template <typename scalar_t>
void backward_impl(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                   const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                   const torch::Tensor& ckpt, int64_t chunk, const torch::Tensor& dy,
                   const torch::Tensor& dsT, std::vector<torch::Tensor>& g) {
  const int64_t B = r.size(0), T = r.size(1), H = r.size(2), N = r.size(3);
  const int64_t n_chunks = (T + chunk - 1) / chunk;
  const scalar_t *pr = r.data_ptr<scalar_t>(), *pw = w.data_ptr<scalar_t>(), *pk = k.data_ptr<scalar_t>(),
                 *pv = v.data_ptr<scalar_t>(), *pa = a.data_ptr<scalar_t>(), *pb = b.data_ptr<scalar_t>();
  const scalar_t *pck = ckpt.data_ptr<scalar_t>(), *pdy = dy.data_ptr<scalar_t>(), *pdsT = dsT.data_ptr<scalar_t>();
  scalar_t *gr = g[0].data_ptr<scalar_t>(), *gw = g[1].data_ptr<scalar_t>(), *gk = g[2].data_ptr<scalar_t>(),
           *gv = g[3].data_ptr<scalar_t>(), *ga = g[4].data_ptr<scalar_t>(), *gb = g[5].data_ptr<scalar_t>(),
           *gs0 = g[6].data_ptr<scalar_t>();
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> states((chunk + 1) * N * N), sa(N), dSb(N), Spa(N);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t bi = bh / H, h = bh % H;
      scalar_t* dS = gs0 + bh * N * N;  // carried gradient dL/dS_t, ends as dS0
      std::copy(pdsT + bh * N * N, pdsT + (bh + 1) * N * N, dS);
      for (int64_t c = n_chunks - 1; c >= 0; --c) {
        const int64_t t0 = c * chunk, t1 = std::min(T, t0 + chunk);
        // Recompute S_{t0} .. S_{t1} (states[0] = state before step t0).
        std::copy(pck + (bh * n_chunks + c) * N * N, pck + (bh * n_chunks + c + 1) * N * N, states.data());
        for (int64_t t = t0; t < t1; ++t) {
          scalar_t* S = states.data() + (t - t0 + 1) * N * N;
          std::copy(S - N * N, S, S);
          const int64_t o = seq_off(bi, t, h, T, H, N);
          step_head(S, pr + o, pw + o, pk + o, pv + o, pa + o, pb + o, static_cast<scalar_t*>(nullptr),
                    sa.data(), N);
        }
        for (int64_t t = t1 - 1; t >= t0; --t) {
          const scalar_t* Sp = states.data() + (t - t0) * N * N;  // S_{t-1}
          const scalar_t* Sc = Sp + N * N;                          // S_t
          const int64_t o = seq_off(bi, t, h, T, H, N);
          const scalar_t *rt = pr + o, *wt = pw + o, *kt = pk + o, *vt = pv + o, *at = pa + o, *bt = pb + o;
          const scalar_t* dyt = pdy + o;
          // dS_t += dy_t r_t^T
          for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j) dS[i * N + j] += dyt[i] * rt[j];
          for (int64_t i = 0; i < N; ++i) {
            scalar_t accv = 0, accb = 0, acca = 0;
            for (int64_t j = 0; j < N; ++j) {
              accv += dS[i * N + j] * kt[j];
              accb += dS[i * N + j] * bt[j];
              acca += Sp[i * N + j] * at[j];
            }
            gv[o + i] = accv;
            dSb[i] = accb;
            Spa[i] = acca;
          }
          for (int64_t j = 0; j < N; ++j) {
            scalar_t accr = 0, acck = 0, accw = 0, acca = 0, accbb = 0;
            for (int64_t i = 0; i < N; ++i) {
              const scalar_t d = dS[i * N + j];
              accr += Sc[i * N + j] * dyt[i];
              acck += d * vt[i];
              accw += Sp[i * N + j] * d;
              acca += Sp[i * N + j] * dSb[i];
              accbb += d * Spa[i];
            }
            gr[o + j] = accr;
            gk[o + j] = acck;
            gw[o + j] = accw;
            ga[o + j] = acca;
            gb[o + j] = accbb;
          }
          // dS_{t-1} = dS_t diag(w) + (dS_t b) a^T
          for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j) dS[i * N + j] = dS[i * N + j] * wt[j] + dSb[i] * at[j];
        }
      }
    }
  });
}

}  // namespace

void wkv7_cpu_forward(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                      const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                      const torch::Tensor& s0, torch::Tensor& y, torch::Tensor& sT, torch::Tensor* ckpt,
                      int64_t chunk) {
  const int64_t B = r.size(0), T = r.size(1), H = r.size(2), N = r.size(3);
  y = torch::empty({B, T, H, N}, s0.options());
  sT = torch::empty({B, H, N, N}, s0.options());
  if (ckpt) *ckpt = torch::empty({B, H, (T + chunk - 1) / chunk, N, N}, s0.options());
  AT_DISPATCH_FLOATING_TYPES(s0.scalar_type(), "wkv7_cpu_forward",
                             [&] { forward_impl<scalar_t>(r, w, k, v, a, b, s0, y, sT, ckpt, chunk); });
}

std::vector<torch::Tensor> wkv7_cpu_backward(const torch::Tensor& r, const torch::Tensor& w,
                                             const torch::Tensor& k, const torch::Tensor& v,
                                             const torch::Tensor& a, const torch::Tensor& b,
                                             const torch::Tensor& ckpt, int64_t chunk,
                                             const torch::Tensor& dy, const torch::Tensor& dsT) {
  std::vector<torch::Tensor> g;
  for (int i = 0; i < 6; ++i) g.push_back(torch::empty_like(r));
  g.push_back(torch::empty_like(dsT));
  AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "wkv7_cpu_backward",
                             [&] { backward_impl<scalar_t>(r, w, k, v, a, b, ckpt, chunk, dy, dsT, g); });
  return g;
}

}  // namespace rwkv
