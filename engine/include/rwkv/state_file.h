// State files: read and write the tuned initial state S0 in three layouts.
//   Ours        .rwkvstate  safetensors with "blocks.{i}.att.time_state" F32 [H,N,N] ([value][key]) and
//                           __metadata__ (model sha256 and dims, tokenizer, training config, metric
//                           history, creation time), all JSON strings.
//   PeftPth     .pth        torch.save dict {"blocks.{i}.att.time_state": [H,N,N] bf16 or fp32} — RWKV-PEFT,
//                           same [value][key] layout (spec/rwkv7.md 5.1); loadable with Python torch.load.
//   Ai00        .st         safetensors, F16 [H,N,N] in [key][value] layout (transposed), metadata
//                           {"format":"pt"} (spec/rwkv7.md 5.2).
// All writes are atomic: temp file in the same folder, fsync, rename. A failed write leaves the old file.
#pragma once
#include <map>
#include <string>

#include "rwkv/model.h"
#include "rwkv/state.h"

namespace rwkv {

enum class StateFormat { Ours, PeftPth, Ai00 };

struct StateFile {
  InitialState s0;
  StateFormat format = StateFormat::Ours;
  std::map<std::string, std::string> meta;  // ours only: "model_sha256", "dims" (JSON), "tokenizer",
                                            // "config" (JSON), "metrics" (JSON), "created" (ISO 8601)
  bool pth_bf16 = false;     // save_state, PeftPth only: store bf16 (RWKV-PEFT's training dtype), not fp32
  std::string path;          // set by load_state
  std::string stored_dtype;  // set by load_state: "fp32", "bf16" or "fp16" (as the file holds it)
};

// PEFT and Ai00 files hold S0 only: saving a kernel-upscaled state in them drops the kernel part.
// The warning to show the user in that case ("" when nothing is dropped).
std::string state_export_warning(const InitialState& s0, StateFormat format);

// Format from the extension: .pth -> PeftPth, .st/.state -> Ai00, anything else -> Ours.
StateFormat state_format_for_path(const std::string& path);
const char* state_format_name(StateFormat f);

// Throws Error(NonFinite) if s0 has NaN/Inf (never writes a non-finite state), Error(Io) on write failure.
void save_state(const std::string& path, const StateFile& state);
void save_state(const std::string& path, const InitialState& s0, StateFormat format);

// Detects the format from the content. Throws Error naming the file and key on any problem.
StateFile load_state(const std::string& path);

// Refuses (Error(Mismatch), naming both dims) a state for other dims; returns a warning text
// (empty if none) when our metadata's model sha256 differs from the model's.
std::string check_state_matches(const StateFile& state, const ModelInfo& model);

// Atomic whole-file write (temp file beside it, fsync, rename, fsync of the folder).
void atomic_write_file(const std::string& path, const std::string& bytes);

}  // namespace rwkv
