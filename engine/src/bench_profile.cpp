// profile_once (bench_profile.h).
#include "bench_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "rwkv/state_file.h"  // atomic_write_file

namespace rwkv {
namespace {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

struct Total {
  int count = 0;
  double ms = 0;
};

// name -> totals, sorted by time, the top `keep` lines.
std::string table(const std::map<std::string, Total>& by_name, double sum_ms, size_t keep) {
  std::vector<std::pair<std::string, Total>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  std::ostringstream o;
  char line[512];
  for (size_t i = 0; i < rows.size() && i < keep; ++i) {
    std::snprintf(line, sizeof line, "%10.3f ms %6.1f%% %6d  %s\n", rows[i].second.ms,
                  sum_ms > 0 ? 100.0 * rows[i].second.ms / sum_ms : 0.0, rows[i].second.count,
                  rows[i].first.substr(0, 160).c_str());
    o << line;
  }
  return o.str();
}

}  // namespace

void profile_once(const torch::Device& dev, const std::function<void()>& fn, const std::string& path) {
  std::set<ActivityType> acts{ActivityType::CPU};
  if (dev.is_cuda()) acts.insert(ActivityType::CUDA);
  const ProfilerConfig cfg(ProfilerState::KINETO);
  std::unique_ptr<prof::ProfilerResult> result;
  double wall_ms = 0;
  std::string failure;
  try {
    prof::prepareProfiler(cfg, acts);
    prof::enableProfiler(cfg, acts);
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    if (dev.is_cuda()) torch::cuda::synchronize(dev.index() < 0 ? 0 : dev.index());
    wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    result = prof::disableProfiler();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::ostringstream o;
  if (!result) {
    o << "the profiler did not run: " << (failure.empty() ? "no result" : failure) << "\n";
    atomic_write_file(path, o.str());
    return;
  }
  std::map<std::string, Total> kernels, ops;
  double kernel_ms = 0;
  for (const auto& e : result->events()) {
    const double ms = double(e.durationNs()) / 1e6;
    if (e.deviceType() == c10::DeviceType::CUDA) {  // kernels, memcpys, memsets on the GPU
      auto& t = kernels[e.name()];
      ++t.count, t.ms += ms, kernel_ms += ms;
    } else if (e.name().rfind("aten::", 0) == 0) {
      auto& t = ops[e.name()];
      ++t.count, t.ms += ms;
    }
  }
  o << "one run: " << wall_ms << " ms wall";
  if (dev.is_cuda()) o << ", GPU activity summed " << kernel_ms << " ms";
  o << "\n";
  if (dev.is_cuda()) o << "\nGPU kernels and copies by total time (ms, share of the summed GPU time, count, name):\n"
                       << table(kernels, kernel_ms, 40);
  o << "\naten ops by total CPU time, nested calls included (ms, share of the wall time, count, name):\n"
    << table(ops, wall_ms, 25);
  atomic_write_file(path, o.str());
  try {
    result->save(path + ".json");
  } catch (const std::exception& e) {
    atomic_write_file(path, o.str() + "\nthe trace could not be saved: " + e.what() + "\n");
  }
}

}  // namespace rwkv
