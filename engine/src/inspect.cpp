// inspect(): one traced sequence forward (forward_hidden with a WkvTrace) gives every layer's
// recurrence inputs r,w,k,v,a,b [1,T,H,N]; the CPU wkv7 recurrence with a checkpoint after every
// step (chunk 1) then yields the state before each token, so S_0..S_T of every layer come from
// the engine's own recurrence. Spectra: eigenvalues of diag(w_t) + a_t b_t^T per head (float64).
#include "rwkv/inspect.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "context_impl.h"
#include "forward.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/generate.h"
#include "wkv7.h"

namespace rwkv {
namespace {

// Every layer's traced recurrence inputs and states for one initial state.
struct Run {
  WkvTrace trace;                     // per layer {r,w,k,v,a,b} each [1,T,H,N]
  std::vector<torch::Tensor> states;  // per layer [T+1,H,N,N] fp32 CPU: S_0 .. S_T
};

// s0: [L,H,N,N] on the model's device, or undefined for zeros.
Run run_traced(const Model::Impl& m, const torch::Tensor& ids, const torch::Tensor& s0) {
  const auto& d = m.info.dims;
  RecurrentState in = RecurrentState::zeros(m, 1);
  if (s0.defined())
    for (int l = 0; l < d.n_layer; ++l) in.wkv[l] = s0[l].unsqueeze(0).clone();
  Run run;
  forward_hidden(m, ids, in, nullptr, &run.trace);
  const auto cpu = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32).contiguous(); };
  for (int l = 0; l < d.n_layer; ++l) {
    const auto& x = run.trace.inputs[l];  // r, w, k, v, a, b
    torch::Tensor y, sT, ckpt;
    wkv7_cpu_forward(cpu(x[0]), cpu(x[1]), cpu(x[2]), cpu(x[3]), cpu(x[4]), cpu(x[5]), cpu(in.wkv[l]), y, sT, &ckpt,
                     /*chunk=*/1);
    // ckpt [1,H,T,N,N] = the state before each token; sT [1,H,N,N] after the last.
    run.states.push_back(torch::cat({ckpt[0].transpose(0, 1), sT}, 0).contiguous());  // [T+1,H,N,N]
  }
  return run;
}

// Frobenius norm of each t: x [T',H,N,N] -> T' floats.
std::vector<float> norms(const torch::Tensor& x) {
  auto n = x.flatten(1).to(torch::kFloat64).norm(2, {1}).to(torch::kFloat32).contiguous();
  return std::vector<float>(n.data_ptr<float>(), n.data_ptr<float>() + n.numel());
}

void check_layer(int layer, int lowest, int n_layer, const char* what) {
  if (layer < lowest || layer >= n_layer)
    throw Error(ErrorKind::Argument, std::string(what) + " " + std::to_string(layer) + " is out of range (the model has " +
                                         std::to_string(n_layer) + " layers, 0.." + std::to_string(n_layer - 1) + ")");
}

}  // namespace

Inspection inspect(const std::shared_ptr<const Model>& model, const Tokenizer& tok, const std::string& prompt,
                   const InitialState& s0, const InspectOptions& opt) {
  if (!model) throw Error(ErrorKind::Argument, "inspect: no model");
  const ModelDims& d = model->dims();
  check_layer(opt.matrices_layer, -1, d.n_layer, "matrices layer");
  check_layer(opt.spectra_layer, -2, d.n_layer, "spectra layer");
  if (opt.answer_tokens < 0) throw Error(ErrorKind::Argument, "answer_tokens must be >= 0");
  if (prompt.empty()) throw Error(ErrorKind::Argument, "empty prompt");

  std::vector<int> tokens = tok.encode(prompt);
  if (tokens.empty()) throw Error(ErrorKind::Argument, "the prompt encodes to no tokens");
  const int n_prompt = static_cast<int>(tokens.size());
  if (opt.answer_tokens > 0) {
    Context ctx(model);
    if (!s0.empty()) ctx.set_initial_state(s0);
    const GenerateResult g = generate(ctx, tok, prompt, eval_generate_params(opt.answer_tokens));
    tokens.insert(tokens.end(), g.tokens.begin(), g.tokens.end());
  }
  return inspect_tokens(model, tok, tokens, n_prompt, s0, opt);
}

Inspection inspect_tokens(const std::shared_ptr<const Model>& model, const Tokenizer& tok, const std::vector<int>& tokens,
                          int n_prompt_tokens, const InitialState& s0, const InspectOptions& opt) {
  if (!model) throw Error(ErrorKind::Argument, "inspect: no model");
  const ModelDims& d = model->dims();
  check_layer(opt.matrices_layer, -1, d.n_layer, "matrices layer");
  check_layer(opt.spectra_layer, -2, d.n_layer, "spectra layer");
  if (tokens.empty()) throw Error(ErrorKind::Argument, "inspect: no tokens");
  if (n_prompt_tokens < 1 || n_prompt_tokens > static_cast<int>(tokens.size()))
    throw Error(ErrorKind::Argument, "inspect: the prompt length " + std::to_string(n_prompt_tokens) +
                                         " is outside 1.." + std::to_string(tokens.size()));
  Inspection out;
  out.n_layer = d.n_layer;
  out.n_head = d.n_head;
  out.head_size = d.head_size;
  out.tokens = tokens;
  out.n_prompt_tokens = n_prompt_tokens;
  const int T = static_cast<int>(out.tokens.size()), L = d.n_layer, H = d.n_head, N = d.head_size;
  out.n_tokens = T;
  for (int i = 0; i < T; ++i) {
    if (out.tokens[i] < 0 || out.tokens[i] >= d.n_vocab)
      throw Error(ErrorKind::Token, "token id " + std::to_string(out.tokens[i]) + " at position " + std::to_string(i) +
                                        " is outside the model's vocabulary of " + std::to_string(d.n_vocab));
    out.pieces.push_back(tok.decode({out.tokens[i]}));
  }

  c10::InferenceMode guard;
  const auto& m = model->impl();
  const std::vector<int64_t> ids64(out.tokens.begin(), out.tokens.end());
  const torch::Tensor ids = torch::tensor(ids64, torch::kInt64).view({1, T});
  const torch::Tensor s0t = s0.empty() ? torch::Tensor() : initial_state_to_tensor(s0, d, m.device);
  const Run run = run_traced(m, ids, s0t);
  Run zero;
  if (opt.zero_trajectory) zero = s0.empty() ? run : run_traced(m, ids, torch::Tensor());

  const size_t n_traj = static_cast<size_t>(T + 1) * L;
  out.norm.assign(n_traj, 0.0f);
  out.delta.assign(n_traj, 0.0f);
  if (opt.zero_trajectory) {
    out.zero_norm.assign(n_traj, 0.0f);
    out.zero_distance.assign(n_traj, 0.0f);
  }
  for (int l = 0; l < L; ++l) {
    const torch::Tensor& S = run.states[l];  // [T+1,H,N,N]
    const auto n = norms(S);
    const auto dn = norms(S.narrow(0, 1, T) - S.narrow(0, 0, T));
    for (int t = 0; t <= T; ++t) {
      out.norm[out.traj_index(t, l)] = n[t];
      out.delta[out.traj_index(t, l)] = t == 0 ? 0.0f : dn[t - 1];
    }
    if (opt.zero_trajectory) {
      const auto zn = norms(zero.states[l]);
      const auto dist = norms(S - zero.states[l]);
      for (int t = 0; t <= T; ++t) {
        out.zero_norm[out.traj_index(t, l)] = zn[t];
        out.zero_distance[out.traj_index(t, l)] = dist[t];
      }
    }
  }

  out.matrices_layer = opt.matrices_layer;
  if (opt.matrices_layer >= 0) {
    const torch::Tensor& S = run.states[opt.matrices_layer];
    out.matrices.assign(S.data_ptr<float>(), S.data_ptr<float>() + S.numel());
  }

  out.spectra_layer = opt.spectra_layer;
  if (opt.spectra_layer != -2) {
    out.spectra.assign(static_cast<size_t>(T) * L * H * N * 2, std::numeric_limits<float>::quiet_NaN());
    for (int l = 0; l < L; ++l) {
      if (opt.spectra_layer >= 0 && l != opt.spectra_layer) continue;
      const auto& x = run.trace.inputs[l];
      const auto f64 = [](const torch::Tensor& t) { return t[0].to(torch::kCPU, torch::kFloat64); };  // [T,H,N]
      const torch::Tensor w = f64(x[1]), a = f64(x[4]), b = f64(x[5]);
      const torch::Tensor M = torch::diag_embed(w) + a.unsqueeze(-1) * b.unsqueeze(-2);  // [T,H,N,N]
      const torch::Tensor ev = torch::view_as_real(torch::linalg_eigvals(M)).contiguous();  // [T,H,N,2]
      const double* p = ev.data_ptr<double>();
      std::vector<std::pair<double, double>> one(N);
      for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
          const double* src = p + ((static_cast<size_t>(t) * H + h) * N) * 2;
          for (int i = 0; i < N; ++i) one[i] = {src[2 * i], src[2 * i + 1]};
          std::sort(one.begin(), one.end(), [](const auto& u, const auto& v) {
            return u.first != v.first ? u.first > v.first : u.second > v.second;
          });
          float* dst = out.spectra.data() + (((static_cast<size_t>(t) * L + l) * H + h) * N) * 2;
          for (int i = 0; i < N; ++i) {
            dst[2 * i] = static_cast<float>(one[i].first);
            dst[2 * i + 1] = static_cast<float>(one[i].second);
          }
        }
    }
  }
  return out;
}

}  // namespace rwkv
