// One run of a function under the Kineto profiler (CPU ops, and CUDA kernels on a CUDA device),
// summarised as text: which GPU kernels and which aten ops the time went to.
#pragma once
#include <functional>
#include <string>

#include <torch/torch.h>

namespace rwkv {

// Runs fn() once under the profiler and writes to `path` the GPU kernels grouped by name (count,
// total ms, share of the summed kernel time; top 40) and the aten ops by total CPU time (top
// 25), plus the wall time of the run; the chrome trace goes to path + ".json". Throws Error(Io)
// when the file cannot be written; a profiler that cannot start is reported in the file.
void profile_once(const torch::Device& dev, const std::function<void()>& fn, const std::string& path);

}  // namespace rwkv
