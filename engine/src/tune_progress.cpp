// ThroughputEma and memory_in_use (see tune_progress.h).
#include "tune_progress.h"

#include <unistd.h>

#include <cstdio>

#ifdef RWKV_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace rwkv {

void ThroughputEma::add(double seconds, int64_t tokens) {
  if (first_) {
    sec_ = seconds;
    tok_ = static_cast<double>(tokens);
    first_ = false;
    return;
  }
  sec_ += alpha_ * (seconds - sec_);
  tok_ += alpha_ * (static_cast<double>(tokens) - tok_);
}

int64_t memory_in_use(torch::Device device) {
#ifdef RWKV_HAVE_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return stats.allocated_bytes[0].current;  // StatType::AGGREGATE
  }
#endif
  if (!device.is_cpu()) return 0;
  long pages_total = 0, pages_rss = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  const int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_rss);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(pages_rss) * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace rwkv
