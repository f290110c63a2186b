#include "cpu_threads.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace rwkv {

void configure_cpu_threads(const ModelDims& d) {
  int n = 0;
  if (const char* env = std::getenv("RWKV_CPU_THREADS")) n = std::atoi(env);
  if (n <= 0) n = d.n_embd < 512 ? 1 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace rwkv
