// An RWKV-7 ("x070") model: immutable weights, shared by every context that runs it
// (base and tuned generation, tuning sessions). Loading validates every key and shape.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace rwkv {

// All dimensions are inferred from tensor shapes (spec/rwkv7.md section 2).
struct ModelDims {
  int n_vocab = 0;    // V
  int n_embd = 0;     // C = n_head * head_size
  int n_layer = 0;    // L
  int n_head = 0;     // H
  int head_size = 0;  // N (64 in released models)
  int dim_ffn = 0;    // F
  int d_decay = 0;    // LoRA widths: w, a, v (0 when L == 1), g
  int d_aaa = 0;
  int d_mv = 0;
  int d_gate = 0;
};

struct ModelInfo {
  ModelDims dims;
  std::string path;
  std::string format;        // "pth", "safetensors", "rwkv.cpp"
  std::string stored_dtype;  // dtype of the large matrices on disk: "bf16", "fp16", "fp32"
  std::string sha256;        // of the file, hex
  int64_t n_params = 0;
};

struct LoadOptions {
  std::string device = "cpu";  // "cpu" or "cuda" / "cuda:N"
  bool compute_bf16 = false;   // weights in bf16 (GPU); fp32 otherwise. The wkv state is always fp32.
};

class Model {
 public:
  // Throws rwkv::Error naming the file (and key/shape) on any problem.
  static std::shared_ptr<const Model> load(const std::string& path, const LoadOptions& opt = {});
  // Random weights with the real key names and shapes, for benchmarks and tests. dims needs
  // n_vocab, n_embd, n_layer, head_size; dim_ffn (default 4C) and LoRA widths (default: those of
  // the released models of that width) may be 0. Generated directly on opt.device.
  static std::shared_ptr<const Model> random(const ModelDims& dims, uint64_t seed, const LoadOptions& opt = {});
  ~Model();

  const ModelInfo& info() const;
  const ModelDims& dims() const { return info().dims; }

  struct Impl;  // engine-internal (torch tensors); see src/weights.h
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// sha256 of a file as lowercase hex (streams; works on multi-GB files).
std::string sha256_file(const std::string& path);

}  // namespace rwkv
