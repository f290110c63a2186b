// Encodes tensors as a .safetensors file: u64 little-endian header length, a JSON header
// {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}, padded
// with spaces to a multiple of 8 bytes so the data section starts 8-byte aligned, then the raw
// little-endian row-major data of each tensor, back to back in the order given.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rwkv {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16"
  std::vector<int64_t> shape;  // row-major
  std::string data;            // raw bytes, size = numel * element size
};

// Throws Error(Argument) if an entry's data size does not match its dtype and shape, or a name
// repeats or is "__metadata__".
std::string encode_safetensors(const std::vector<SafetensorsEntry>& tensors,
                               const std::map<std::string, std::string>& metadata);

// The "__metadata__" object of a safetensors header (values that are not strings are given as
// their JSON text); empty if there is none. Throws Error(Format) naming `path` when `bytes` does
// not start with a valid safetensors header.
std::map<std::string, std::string> safetensors_metadata(const std::string& bytes, const std::string& path);

// True if `head` (the first bytes of a file, at least 9 of them) looks like a safetensors header.
bool looks_like_safetensors(const std::string& head, uint64_t file_size);

}  // namespace rwkv
