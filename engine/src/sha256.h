// Streaming SHA-256 (FIPS 180-4), used to fingerprint model files so a state can name the
// exact model it was tuned on. Plain C++, no dependencies.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace rwkv {

class Sha256 {
 public:
  // Uses the x86 SHA extensions when the CPU has them (about 5x faster) unless allow_hw is false.
  explicit Sha256(bool allow_hw = true);
  static bool hardware_available();
  bool uses_hardware() const { return hw_; }
  void update(const void* data, size_t n);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();  // lowercase, 64 characters

 private:
  void compress(const uint8_t* blocks, size_t n);  // n 64-byte blocks
  std::array<uint32_t, 8> h_;
  bool hw_ = false;
  std::array<uint8_t, 64> buf_;
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace rwkv
