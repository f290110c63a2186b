// Cheap summaries of the initial states S0 (L tensors [H,N,N]) for the observer: Frobenius norms
// per layer and head, effective ranks (exp of the entropy of the normalised singular values, via
// one batched SVD of all L*H matrices) and downsampled heatmaps (block means).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace rwkv {

std::vector<float> state_norms(const std::vector<torch::Tensor>& s0);      // [L*H]
std::vector<float> effective_ranks(const std::vector<torch::Tensor>& s0);  // [L*H]; 0 for an all-zero matrix
// One [N,N] matrix -> [size,size] block means, row-major (size is capped at N). Block i spans rows
// floor(i*N/size) .. ceil((i+1)*N/size) - 1 (adaptive average pooling).
std::vector<float> downsample_block_mean(const torch::Tensor& m, int size, int* out_size);

}  // namespace rwkv
