// Fuzzes read_pth: the torch.save zip container (LibTorch's reader) and our pickle subset.
// A bad file must end in rwkv::Error; every tensor returned must lie in memory we own.
#include "fuzz_support.h"
#include "weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".pth");
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] {
    const rwkv::TensorMap tensors = rwkv::read_pth(path);
    for (const auto& [name, t] : tensors) (void)t.contiguous().sum().item<double>();  // touch every byte
  });
  return 0;
}
