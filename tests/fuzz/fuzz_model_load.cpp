// Fuzzes Model::load: format sniffing, any of the three readers, then the key/shape/dtype/NaN
// validation that turns tensors into weights. Its contract: every problem is an rwkv::Error.
#include "fuzz_support.h"
#include "rwkv/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".model-input");
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] { (void)rwkv::Model::load(path); });
  return 0;
}
