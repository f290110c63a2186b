// Fuzzes load_state: sniffing, ours (.rwkvstate, metadata JSON), RWKV-PEFT .pth and Ai00 .st.
// A loaded state must be consistent (size = L*H*N*N, all finite) and save again.
#include <cmath>
#include <cstdlib>

#include "fuzz_support.h"
#include "rwkv/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".state-input");
  static fuzz::InputFile out(".rwkvstate");
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] {
    const rwkv::StateFile sf = rwkv::load_state(path);
    const rwkv::InitialState& s = sf.s0;
    if (s.wkv.size() != static_cast<size_t>(s.n_layer) * s.n_head * s.head_size * s.head_size) std::abort();
    for (float v : s.wkv)
      if (!std::isfinite(v)) std::abort();
    rwkv::save_state(out.path(), s, rwkv::StateFormat::Ours);
    if (rwkv::load_state(out.path()).s0.wkv != s.wkv) std::abort();  // round trip
  });
  return 0;
}
