// Heatmap snapshots of a starting state, made the way the engine makes its own during a run
// (block means down to at most size x size, adaptive average pooling), so that "diff against the
// initial state" compares like with like. Plain C++ on InitialState; no torch.
#pragma once
#include <cstddef>  // size_t for rwkv/state.h
#include <utility>
#include <vector>

#include "rwkv/state.h"
#include "rwkv/tuner.h"

// The (layer, head) pairs a run snapshots: cfg.snapshot_heads, or the engine's default
// (0,0) and (L-1,0) when that list is empty.
std::vector<std::pair<int, int>> snapshotHeads(const rwkv::TuneConfig& cfg, int n_layer);

// S0[layer][head] ([N][N], row-major) -> block means [size][size], size = min(max_size, N).
// Block i spans rows floor(i*N/size) .. ceil((i+1)*N/size) - 1 (same for columns).
rwkv::StateSnapshot downsampleHead(const rwkv::InitialState& s0, int layer, int head, int max_size, int step);
