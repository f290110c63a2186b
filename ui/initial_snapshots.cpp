#include "initial_snapshots.h"

#include <algorithm>

std::vector<std::pair<int, int>> snapshotHeads(const rwkv::TuneConfig& cfg, int n_layer) {
  if (!cfg.snapshot_heads.empty()) return cfg.snapshot_heads;
  std::vector<std::pair<int, int>> heads{{0, 0}};
  if (n_layer > 1) heads.push_back({n_layer - 1, 0});
  return heads;
}

rwkv::StateSnapshot downsampleHead(const rwkv::InitialState& s0, int layer, int head, int max_size, int step) {
  const int n = s0.head_size;
  const int size = std::max(1, std::min(max_size, n));
  rwkv::StateSnapshot out;
  out.step = step;
  out.layer = layer;
  out.head = head;
  out.size = size;
  out.values.assign(static_cast<size_t>(size) * size, 0.0f);
  const auto begin = [&](int i) { return (i * n) / size; };
  const auto end = [&](int i) { return ((i + 1) * n + size - 1) / size; };  // exclusive
  for (int bi = 0; bi < size; ++bi)
    for (int bj = 0; bj < size; ++bj) {
      double sum = 0;
      int count = 0;
      for (int i = begin(bi); i < end(bi); ++i)
        for (int j = begin(bj); j < end(bj); ++j) {
          sum += s0.wkv[s0.index(layer, head, i, j)];
          ++count;
        }
      out.values[static_cast<size_t>(bi) * size + bj] = static_cast<float>(sum / std::max(1, count));
    }
  return out;
}
