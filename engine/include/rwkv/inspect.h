// The inspector: what the recurrent state does while a prompt is read. For every token t it
// records the wkv state of every layer (norms, the change per token, the distance to the run
// from the zero initial state), the full matrices of one chosen layer, and the spectrum of the
// state transition
//     S_t = S_{t-1} (diag(w_t) + a_t b_t^T) + v_t k_t^T,    a = -kk, b = kk * a_lr
// i.e. the eigenvalues of diag(w_t) + a_t b_t^T = diag(w_t) - kk_t (a_lr,t * kk_t)^T per head
// (spec/rwkv7.md 1.3): how much each head forgets (|λ| < 1) and whether it reflects a direction
// (λ < 0). With a_lr > 0 the matrix is similar to a symmetric one, so the eigenvalues are real;
// they are computed as general complex eigenvalues all the same.
// Plain C++ data out; torch stays inside the engine.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rwkv/model.h"
#include "rwkv/state.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct InspectOptions {
  int answer_tokens = 0;       // greedy continuation appended to the prompt (stops at "\n\n" / end-of-text)
  int matrices_layer = 0;      // keep every head's S_t of this layer at every t; -1 = none
  int spectra_layer = -1;      // transition spectra of this layer only; -1 = every layer; -2 = none
  bool zero_trajectory = true; // also run from the zero initial state (zero_norm, zero_distance)
};

struct Inspection {
  int n_layer = 0, n_head = 0, head_size = 0;  // L, H, N
  int n_tokens = 0;                            // T
  int n_prompt_tokens = 0;                     // the first tokens are the prompt, the rest the answer
  std::vector<int> tokens;                     // [T]
  std::vector<std::string> pieces;             // [T] bytes of each token (may be part of a UTF-8 char)

  // Trajectories over t = 0..T (t = 0 is the initial state, t = the state after t tokens).
  std::vector<float> norm;           // [T+1][L]  ||S_t[l]||_F over all heads of the layer
  std::vector<float> delta;          // [T+1][L]  ||S_t[l] - S_{t-1}[l]||_F, 0 at t = 0
  std::vector<float> zero_norm;      // [T+1][L]  the same run from the zero initial state
  std::vector<float> zero_distance;  // [T+1][L]  ||S_t[l] - S_t^zero[l]||_F

  int matrices_layer = -1;
  std::vector<float> matrices;       // [T+1][H][N][N]  S_t of matrices_layer, [value i][key j]

  int spectra_layer = -1;            // as requested: -1 every layer, -2 none
  // [T][L][H][N][2]: (re, im) eigenvalues of the transition applied at token t (0-based), per
  // head, sorted by decreasing real part (then imaginary part). Layers not computed hold NaN.
  std::vector<float> spectra;

  size_t traj_index(int t, int l) const { return static_cast<size_t>(t) * n_layer + l; }
  const float* matrix(int t, int h) const {  // N*N values of S_t[matrices_layer][h]
    return matrices.data() + ((static_cast<size_t>(t) * n_head + h) * head_size) * head_size;
  }
  const float* eigenvalues(int t, int l, int h) const {  // N (re, im) pairs
    return spectra.data() + (((static_cast<size_t>(t) * n_layer + l) * n_head + h) * head_size) * 2;
  }
};

// Runs `prompt` (tokenized by tok) from the initial state s0 (empty = zeros) and, with
// answer_tokens > 0, greedily continues it first. Throws Error(Argument) for an empty prompt or
// a layer out of range, Error(Mismatch) for a state of other dims.
Inspection inspect(const std::shared_ptr<const Model>& model, const Tokenizer& tok, const std::string& prompt,
                   const InitialState& s0, const InspectOptions& opt = {});

// Runs exactly `tokens` (the first n_prompt_tokens are the prompt, the rest an answer) from s0;
// opt.answer_tokens is ignored. The observer of guided tuning (method note section 5): a guide
// model reads the tokens the student read and answered (Inspection::tokens of inspect()), so
// both state trajectories are over the same text, side by side. tok decodes the pieces. Throws
// as inspect(), and Error(Token) for an id outside the model's vocabulary.
Inspection inspect_tokens(const std::shared_ptr<const Model>& model, const Tokenizer& tok, const std::vector<int>& tokens,
                          int n_prompt_tokens, const InitialState& s0, const InspectOptions& opt = {});

}  // namespace rwkv
