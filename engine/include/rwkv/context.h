// A generation context: the recurrent state of one stream of tokens over a shared model
// (llama.cpp's model/context split). Reset it for every answer so nothing leaks between
// the base and tuned columns.
#pragma once
#include <memory>
#include <vector>

#include "rwkv/model.h"
#include "rwkv/state.h"

namespace rwkv {

class Context {
 public:
  explicit Context(std::shared_ptr<const Model> model);
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  // Initial wkv state used by reset(); empty = zeros. Throws Error(Mismatch) on wrong dims.
  void set_initial_state(const InitialState& s0);
  // Back to the initial state: shifts zero, wkv = S0 (or zeros).
  void reset();

  // Sequence forward: all tokens at once (matmuls over T, recurrence over time).
  // Returns the logits of the last token [V]; with all_logits, T*V values row-major.
  // Throws Error(Token) on an id outside [0, V) and Error(Argument) on an empty list.
  std::vector<float> eval(const std::vector<int>& tokens, bool all_logits = false);
  // Single-token step with the carried state. Returns logits [V].
  std::vector<float> step(int token);

  // Current wkv state of all layers, same layout as InitialState.
  InitialState wkv_state() const;
  // Shifts and wkv of all layers.
  StateSnapshotFull full_state() const;
  // Copy the full recurrent state (shifts and wkv) to / from another context of the same model.
  void copy_state_from(const Context& other);

  const Model& model() const { return *model_; }

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv
