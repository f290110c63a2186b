// Fuzzes read_rwkvcpp: rwkv.cpp binary: header, tensor records, sizes and names.
// A bad file must end in rwkv::Error; every tensor returned must lie in memory we own.
#include "fuzz_support.h"
#include "weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".bin");
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] {
    const rwkv::TensorMap tensors = rwkv::read_rwkvcpp(path);
    for (const auto& [name, t] : tensors) (void)t.contiguous().sum().item<double>();  // touch every byte
  });
  return 0;
}
