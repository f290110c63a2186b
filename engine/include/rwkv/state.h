// Plain-C++ containers for recurrent state data that crosses the engine boundary.
#pragma once
#include <cstddef>
#include <vector>

namespace rwkv {

// The trainable initial wkv state of every layer: S0[L][H][N][N] fp32, row-major,
// layout [layer][head][value i][key j] (spec/rwkv7.md 1.1; RWKV-PEFT's time_state layout).
struct InitialState {
  int n_layer = 0, n_head = 0, head_size = 0;
  std::vector<float> wkv;  // size L*H*N*N

  static InitialState zeros(int L, int H, int N) {
    InitialState s{L, H, N, {}};
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
