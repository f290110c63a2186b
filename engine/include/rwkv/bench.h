// Throughput measurements behind `rwkv-tune bench`: prefill, decode and state-tuning steps on a
// model (loaded or random with real shapes), timed after warm-up with device synchronisation.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rwkv/model.h"

namespace rwkv {

struct BenchSpec {
  int batch = 1;       // sequences per forward (prefill, tune)
  int ctx = 512;       // tokens per sequence (prefill, tune)
  int decode_tokens = 128;
  int warmup = 2;
  int iters = 5;
  bool recompute = false;  // tune: re-run each layer in the backward (TuneConfig::recompute)
  std::string profile;     // tune: if set, one more step under the profiler, summarised to this
                           // file (GPU kernels and aten ops by time) with its trace in profile.json
};

struct BenchResult {
  double prefill_tok_s = 0;   // tokens/s of a batched sequence forward (logits of the last token only)
  double decode_tok_s = 0;    // tokens/s of single-stream step-by-step decoding (batch 1)
  std::string decode_path;    // how Context::step ran: "cuda-graph-fused[-pdl]", "cuda-graph-eager", "eager"
  double tune_tok_s = 0;      // tokens/s of a state-tuning step (forward, loss on every token, backward to S0)
  double tune_step_ms = 0;
  int64_t peak_mem_bytes = 0; // peak GPU memory allocated during the tuning step (0 on the CPU)
  double wkv_fwd_ms = 0;      // the wkv7 recurrence alone on [batch, ctx, H, 64]: forward (inference)
  double wkv_fwdbwd_ms = 0;   // forward + backward to every input and S0
  std::string device;
};

// what: any of "prefill", "decode", "tune", "wkv" separated by commas (empty = the first three).
BenchResult run_bench(const std::shared_ptr<const Model>& model, const BenchSpec& spec, const std::string& what);

}  // namespace rwkv
