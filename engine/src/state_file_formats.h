// Engine-internal pieces of state_file.h: one encoder/decoder per layout (state_file_ours.cpp,
// state_file_peft.cpp, state_file_ai00.cpp) and the layer checks they share (state_file_layers.cpp).
// Tensor names are "blocks.{l}.att.time_state", one [H,N,N] tensor per layer l.
#pragma once
#include <string>

#include "rwkv/state_file.h"
#include "weights.h"

namespace rwkv {

std::string state_key(int layer);  // "blocks.{layer}.att.time_state"

// Layer l of s0 as a CPU fp32 tensor [H,N,N] ([value][key]) that shares s0's memory.
torch::Tensor state_layer(const InitialState& s0, int layer);

// Checks dims and size and refuses NaN/Inf (Error(NonFinite) naming the key and element);
// `path` only names the file in messages.
void check_state_for_save(const InitialState& s0, const std::string& path);

// Builds S0 from the "blocks.{i}.att.time_state" tensors of a file: every layer 0..L-1 present
// (Error(MissingKey) naming the first absent one), all [H,N,N] of one shape (Error(Shape)),
// float dtypes only (Error(Format)), all finite (Error(NonFinite) naming the key). With
// `transposed` the file holds [h][key][value] (Ai00) and is transposed back. Other keys are ignored.
InitialState state_from_tensors(const TensorMap& tensors, const std::string& path, bool transposed,
                                std::string* stored_dtype);

// Encoders: the whole file's bytes (written by save_state with atomic_write_file).
std::string encode_state_ours(const StateFile& state, const std::string& path);
std::string encode_state_peft(const InitialState& s0, bool bf16, const std::string& path);
std::string encode_state_ai00(const InitialState& s0, const std::string& path);

// Decoders of a file whose format load_state has sniffed.
StateFile decode_state_ours(const std::string& path, const std::string& bytes);
StateFile decode_state_peft(const std::string& path);
StateFile decode_state_ai00(const std::string& path);

}  // namespace rwkv
