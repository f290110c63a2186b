// Plain-C++ containers for recurrent state data that crosses the engine boundary.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace rwkv {

// The kernel-upscaled part of a tuned state (method note section 2), per layer l and head h:
//   support vectors C [M][N] (unit keys), Gaussian width gamma, projection Q [N][M] (fixed),
//   decorrelation R [M][M], trainable upscaled initial state U0 [M][M], write gain beta.
// Per token: U_t = g_t U_{t-1} (+ beta (Q^T v_t)(R phi(kk_t))^T with `write`), g_t the geometric
// mean of the head's decays, and the head output y_t = S_t r_t + Q U_t^T R phi(r_t/|r_t|) with
// phi(u)_m = exp(-gamma |u - c_m|^2). All arrays row-major fp32.
struct KernelState {
  int n_layer = 0, n_head = 0, head_size = 0, m = 0;
  bool write = false;
  std::vector<float> C;      // [L][H][M][N]
  std::vector<float> Q;      // [L][H][N][M]
  std::vector<float> R;      // [L][H][M][M]
  std::vector<float> U0;     // [L][H][M][M]
  std::vector<float> gamma;  // [L][H]
  std::vector<float> beta;   // [L][H] (zeros without `write`)
};

// The trainable initial wkv state of every layer: S0[L][H][N][N] fp32, row-major,
// layout [layer][head][value i][key j] (spec/rwkv7.md 1.1; RWKV-PEFT's time_state layout).
struct InitialState {
  int n_layer = 0, n_head = 0, head_size = 0;
  std::vector<float> wkv;  // size L*H*N*N
  // Set for a kernel-upscaled state (ours only; other formats carry S0 alone).
  std::shared_ptr<const KernelState> kernel;

  static InitialState zeros(int L, int H, int N) {
    InitialState s{L, H, N, {}, nullptr};
    s.wkv.assign(static_cast<size_t>(L) * H * N * N, 0.0f);
    return s;
  }
  size_t index(int l, int h, int i, int j) const {
    return ((static_cast<size_t>(l) * n_head + h) * head_size + i) * head_size + j;
  }
  bool empty() const { return wkv.empty(); }
};

// The whole recurrent state of one stream after some tokens (for inspection and parity tests).
struct StateSnapshotFull {
  int n_layer = 0, n_embd = 0;
  std::vector<float> att_shift;  // [L][C]
  std::vector<float> ffn_shift;  // [L][C]
  InitialState wkv;              // [L][H][N][N]
};

}  // namespace rwkv
