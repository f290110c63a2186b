// The fused decode step's launch tables (decode_fused.h): pointers into the model's weights,
// into transposed copies of the LoRA matrices (stored [in, out], the kernel wants nn.Linear's
// [out, in]) and into scratch vectors owned here, fixed once so that a CUDA graph can replay them.
#include "decode_fused.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "rwkv/error.h"

#ifdef RWKV_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "decode_kernels.h"
#endif

namespace rwkv {

#ifdef RWKV_HAVE_CUDA
namespace {

using cuda::Epilogue;
using cuda::InputAct;

constexpr int kHeadSize = 64;

bool width_ok(int64_t cols) { return cols > 0 && cols % 8 == 0 && cols <= cuda::kMaxCols; }

bool aligned16(const torch::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

float* f32(const torch::Tensor& t, int64_t numel, const std::string& what) {
  if (!t.defined() || !t.is_cuda() || t.scalar_type() != torch::kFloat32 || !t.is_contiguous() || t.numel() != numel)
    throw Error(ErrorKind::Argument, "fused decode: " + what + " must be a contiguous fp32 CUDA tensor of " +
                                         std::to_string(numel) + " values");
  return t.data_ptr<float>();
}

// An nn.Linear-layout weight [rows, cols].
const __nv_bfloat16* bf16(const torch::Tensor& t, int64_t rows, int64_t cols, const std::string& what) {
  if (!t.defined() || !t.is_cuda() || t.scalar_type() != torch::kBFloat16 || !t.is_contiguous() || t.dim() != 2 ||
      t.size(0) != rows || t.size(1) != cols || !aligned16(t))
    throw Error(ErrorKind::Argument, "fused decode: " + what + " must be a contiguous, 16-byte aligned bf16 CUDA [" +
                                         std::to_string(rows) + ", " + std::to_string(cols) + "] tensor");
  return reinterpret_cast<const __nv_bfloat16*>(t.data_ptr());
}

cuda::MatvecJob job(const __nv_bfloat16* W, const float* x, float* y, int64_t rows, int64_t cols,
                    InputAct act = InputAct::None, Epilogue epi = Epilogue::Store) {
  return {W, x, y, int(rows), int(cols), act, epi};
}

// The job's input is LayerNorm(x; ln_w, ln_b), lerped with shift by mix when mix is given.
cuda::MatvecJob normed(cuda::MatvecJob j, const float* ln_w, const float* ln_b, const float* shift = nullptr,
                       const float* mix = nullptr) {
  j.ln_w = ln_w, j.ln_b = ln_b, j.shift = shift, j.mix = mix;
  return j;
}

cuda::LayerNormArgs norm(const float* x, const float* ln_w, const float* ln_b, float* out, int64_t C) {
  cuda::LayerNormArgs a{};
  a.x = x;
  a.ln_w = ln_w;
  a.ln_b = ln_b;
  a.out = out;
  a.C = int(C);
  return a;
}

// The kernels of one layer, in launch order.
struct LayerPlan {
  cuda::MatvecBatch from_mix;    // r, k, v and the LoRA down-projections of the lerps of ln1(x)
                                 // with att_shift; saves ln1(x)
  cuda::MatvecBatch lora_up;     // the LoRA up-projections (tanh / sigmoid on their inputs);
                                 // att_shift = the saved ln1(x)
  cuda::WkvStepArgs wkv;         // gated = (GroupNorm(S r) + bonus) * g
  cuda::MatvecBatch att_out;     // x += W_o gated
  cuda::MatvecBatch ffn_key;     // hidden = relu(W_key lerp(ln2(x), ffn_shift))^2; saves ln2(x)
  cuda::MatvecBatch ffn_value;   // x += W_val hidden; ffn_shift = the saved ln2(x)
};

// How far ahead of the kernel that runs, in weight bytes, the L2 prefetches reach (decode_kernels.h
// L2Prefetch). RWKV_DECODE_L2_AHEAD_MB overrides it (0: none) for benchmarking.
size_t l2_ahead_bytes() {
  size_t mb = 16;
  if (const char* e = std::getenv("RWKV_DECODE_L2_AHEAD_MB")) mb = size_t(std::strtoul(e, nullptr, 10));
  return std::min<size_t>(mb, 1024) << 20;
}

// One kernel of the token, in launch order: its prefetch list and the weights it reads itself.
struct Stage {
  cuda::L2Prefetch* l2;
  std::vector<std::pair<const void*, size_t>> weights;  // (pointer, bytes)
};

Stage stage_of(cuda::MatvecBatch& b) {
  Stage s{&b.l2, {}};
  for (int i = 0; i < b.n; ++i) s.weights.push_back({b.job[i].W, size_t(b.job[i].rows) * size_t(b.job[i].cols) * 2});
  return s;
}

// Lays every stage's weights end to end in launch order and gives stage k the bytes from the end
// of its own weights to `ahead` bytes past them that no earlier stage asked for, so each weight
// byte is prefetched once, about `ahead` bytes before a kernel reads it. Offsets stay multiples
// of 16 because every matrix is (a multiple of 8 bf16 wide).
void plan_l2(std::vector<Stage>& stages, size_t ahead) {
  struct Range { const char* p; size_t begin, end; };  // stream bytes [begin, end) are p[0, end - begin)
  std::vector<Range> stream;
  std::vector<size_t> stage_end;
  size_t pos = 0;
  for (const auto& s : stages) {
    for (const auto& w : s.weights) stream.push_back({static_cast<const char*>(w.first), pos, pos + w.second}), pos += w.second;
    stage_end.push_back(pos);
  }
  size_t asked = 0;  // stream bytes [0, asked) have been given to a stage
  for (size_t k = 0; k < stages.size(); ++k) {
    auto& l2 = *stages[k].l2;
    l2.n = 0;
    size_t from = std::max(asked, stage_end[k]);
    const size_t to = std::min(pos, stage_end[k] + ahead);
    for (const auto& r : stream) {
      if (r.end <= from || r.begin >= to) continue;
      if (l2.n == cuda::kMaxL2Ranges) break;  // the next stage takes the rest
      const size_t b = std::max(from, r.begin), e = std::min(to, r.end);
      l2.ptr[l2.n] = r.p + (b - r.begin);
      l2.bytes[l2.n++] = unsigned(e - b);
      from = e;
    }
    asked = std::max(asked, from);
  }
}

}  // namespace

bool decode_fused_supported(const Model::Impl& m, std::string* why) {
  auto no = [&](const std::string& s) {
    if (why) *why = s;
    return false;
  };
  const auto& d = m.info.dims;
  if (!m.device.is_cuda()) return no("the model is not on a CUDA device");
  if (m.dtype != torch::kBFloat16) return no("the matrices are not bf16");
  if (d.head_size != kHeadSize) return no("head size " + std::to_string(d.head_size) + " (the kernel needs 64)");
  if (d.n_embd > cuda::kMaxNormCols)
    return no("n_embd = " + std::to_string(d.n_embd) + " is above the fused LayerNorm's " + std::to_string(cuda::kMaxNormCols));
  std::vector<std::pair<const char*, int64_t>> widths = {
      {"n_embd", d.n_embd}, {"dim_ffn", d.dim_ffn}, {"d_decay", d.d_decay}, {"d_aaa", d.d_aaa}, {"d_gate", d.d_gate}};
  if (d.n_layer > 1) widths.push_back({"d_mv", d.d_mv});  // the value residual starts at layer 1
  for (const auto& w : widths)
    if (!width_ok(w.second))
      return no(std::string(w.first) + " = " + std::to_string(w.second) + " is not a multiple of 8 up to " +
                std::to_string(cuda::kMaxCols));
  bool ok = aligned16(m.emb) && aligned16(m.head);
  for (const auto& lw : m.layers) {
    for (const auto* t : {&lw.att.Wr, &lw.att.Wk, &lw.att.Wv, &lw.att.Wo, &lw.ffn.Wkey, &lw.ffn.Wval})
      ok = ok && t->is_contiguous() && aligned16(*t);
    // the vectors the matrix-vector kernel reads as float4
    for (const auto* t : {&lw.ln1_w, &lw.ln1_b, &lw.ln2_w, &lw.ln2_b, &lw.att.x_r, &lw.att.x_w, &lw.att.x_k, &lw.att.x_v,
                          &lw.att.x_a, &lw.att.x_g, &lw.ffn.x_k})
      ok = ok && aligned16(*t);
  }
  if (!ok) return no("a weight is not 16-byte aligned");
  return true;
}

struct DecodeFused::Impl {
  torch::Device device = torch::kCUDA;
  bool pdl = false;                  // programmatic dependent launches (sm_90 and later)
  std::vector<torch::Tensor> owned;  // transposed LoRA matrices and scratch vectors
  cuda::LayerNormArgs embed{};       // x = ln0(emb[token])
  std::vector<LayerPlan> layers;
  cuda::MatvecBatch head;            // logits = head ln_out(x)

  float* scratch(int64_t n) {
    owned.push_back(torch::zeros({n}, torch::TensorOptions().dtype(torch::kFloat32).device(device)));
    return owned.back().data_ptr<float>();
  }
  // A LoRA matrix A [in, out] as the nn.Linear weight A^T [out, in].
  const __nv_bfloat16* transposed(const torch::Tensor& A, const std::string& what) {
    owned.push_back(A.t().contiguous());
    return bf16(owned.back(), A.size(1), A.size(0), what);
  }
};

DecodeFused::DecodeFused(const Model::Impl& m, const RecurrentState& state, const torch::Tensor& token,
                         const torch::Tensor& logits, bool overlap)
    : impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!decode_fused_supported(m, &why)) throw Error(ErrorKind::Argument, "fused decode: " + why);
  const auto& d = m.info.dims;
  const int64_t C = d.n_embd, H = d.n_head, N = d.head_size, V = d.n_vocab, F = d.dim_ffn, L = d.n_layer;
  const int64_t Dw = d.d_decay, Da = d.d_aaa, Dv = d.d_mv, Dg = d.d_gate;
  if (int64_t(state.wkv.size()) != L || int64_t(state.att_shift.size()) != L || int64_t(state.ffn_shift.size()) != L)
    throw Error(ErrorKind::Argument, "fused decode: the state has the wrong number of layers");
  if (!token.defined() || !token.is_cuda() || token.scalar_type() != torch::kInt64 || token.numel() != 1)
    throw Error(ErrorKind::Argument, "fused decode: the token must be one int64 on the GPU");
  auto& g = *impl_;
  g.device = m.device;
  const c10::cuda::CUDAGuard guard(m.device);
  g.pdl = overlap && at::cuda::getCurrentDeviceProperties()->major >= 9;
  torch::NoGradGuard no_grad;

  float* x = g.scratch(C);            // residual stream
  float* xn_att = g.scratch(C);       // ln1(x), the next token's att_shift
  float* r = g.scratch(C);
  float* k = g.scratch(C);
  float* v = g.scratch(C);
  float* w_down = g.scratch(Dw);      // LoRA hidden vectors
  float* a_down = g.scratch(Da);
  float* v_down = g.scratch(std::max<int64_t>(Dv, 1));
  float* g_down = g.scratch(Dg);
  float* w_up = g.scratch(C);         // LoRA outputs
  float* a_up = g.scratch(C);
  float* v_up = g.scratch(C);
  float* g_up = g.scratch(C);
  float* v_first = g.scratch(C);
  float* gated = g.scratch(C);        // time-mix output before W_o
  float* xn_ffn = g.scratch(C);       // ln2(x), the next token's ffn_shift
  float* hidden = g.scratch(F);

  g.embed = norm(nullptr, f32(m.ln0_w, C, "ln0.weight"), f32(m.ln0_b, C, "ln0.bias"), x, C);
  g.embed.emb = bf16(m.emb, V, C, "emb.weight");
  g.embed.token = token.data_ptr<int64_t>();

  for (int64_t l = 0; l < L; ++l) {
    const auto& lw = m.layers[size_t(l)];
    const auto& at = lw.att;
    const std::string b = "blocks." + std::to_string(l) + ".";
    auto vec = [&](const torch::Tensor& t, const char* name) { return f32(t, C, b + name); };
    LayerPlan p{};

    const float* ln1_w = vec(lw.ln1_w, "ln1.weight");
    const float* ln1_b = vec(lw.ln1_b, "ln1.bias");
    float* att_shift = f32(state.att_shift[size_t(l)], C, b + "att_shift");
    // r, k, v and the LoRA down-projections, each from ln1(x) lerped with att_shift by its mix.
    auto from_ln1 = [&](const torch::Tensor& W, const char* what, const torch::Tensor& mix, const char* mix_name,
                        float* y, int64_t rows, bool lora) {
      const __nv_bfloat16* Wp = lora ? g.transposed(W, b + what) : bf16(W, rows, C, b + what);
      p.from_mix.add(normed(job(Wp, x, y, rows, C), ln1_w, ln1_b, att_shift, vec(mix, mix_name)));
    };
    from_ln1(at.Wr, "att.receptance.weight", at.x_r, "att.x_r", r, C, false);
    from_ln1(at.Wk, "att.key.weight", at.x_k, "att.x_k", k, C, false);
    from_ln1(at.Wv, "att.value.weight", at.x_v, "att.x_v", v, C, false);
    from_ln1(at.w1, "att.w1", at.x_w, "att.x_w", w_down, Dw, true);
    from_ln1(at.a1, "att.a1", at.x_a, "att.x_a", a_down, Da, true);
    if (l > 0) from_ln1(at.v1, "att.v1", at.x_v, "att.x_v", v_down, Dv, true);
    from_ln1(at.g1, "att.g1", at.x_g, "att.x_g", g_down, Dg, true);
    p.from_mix.save_norm = xn_att;

    p.lora_up.add(job(g.transposed(at.w2, b + "att.w2"), w_down, w_up, C, Dw, InputAct::Tanh));
    p.lora_up.add(job(g.transposed(at.a2, b + "att.a2"), a_down, a_up, C, Da));
    if (l > 0) p.lora_up.add(job(g.transposed(at.v2, b + "att.v2"), v_down, v_up, C, Dv));
    p.lora_up.add(job(g.transposed(at.g2, b + "att.g2"), g_down, g_up, C, Dg, InputAct::Sigmoid));
    p.lora_up.copy_src = xn_att, p.lora_up.copy_dst = att_shift, p.lora_up.copy_n = int(C);

    auto& s = p.wkv;
    s.r = r, s.k = k, s.v = v;
    s.w_lora = w_up, s.a_lora = a_up, s.v_lora = l > 0 ? v_up : nullptr, s.g = g_up;
    s.w0 = vec(at.w0, "att.w0"), s.a0 = vec(at.a0, "att.a0"), s.v0 = l > 0 ? vec(at.v0, "att.v0") : nullptr;
    s.k_k = vec(at.k_k, "att.k_k"), s.k_a = vec(at.k_a, "att.k_a"), s.r_k = f32(at.r_k, C, b + "att.r_k");
    s.ln_x_w = vec(at.ln_x_w, "att.ln_x.weight"), s.ln_x_b = vec(at.ln_x_b, "att.ln_x.bias");
    s.v_first = v_first;
    s.state = f32(state.wkv[size_t(l)], H * N * N, b + "wkv state");
    s.out = gated;
    s.H = int(H);

    p.att_out.add(job(bf16(at.Wo, C, C, b + "att.output.weight"), gated, x, C, C, InputAct::None, Epilogue::AddTo));

    float* ffn_shift = f32(state.ffn_shift[size_t(l)], C, b + "ffn_shift");
    p.ffn_key.add(normed(job(bf16(lw.ffn.Wkey, F, C, b + "ffn.key.weight"), x, hidden, F, C, InputAct::None,
                             Epilogue::ReluSquare),
                         vec(lw.ln2_w, "ln2.weight"), vec(lw.ln2_b, "ln2.bias"), ffn_shift, vec(lw.ffn.x_k, "ffn.x_k")));
    p.ffn_key.save_norm = xn_ffn;
    p.ffn_value.add(job(bf16(lw.ffn.Wval, C, F, b + "ffn.value.weight"), hidden, x, C, F, InputAct::None,
                        Epilogue::AddTo));
    p.ffn_value.copy_src = xn_ffn, p.ffn_value.copy_dst = ffn_shift, p.ffn_value.copy_n = int(C);
    for (const auto* batch : {&p.from_mix, &p.lora_up, &p.att_out, &p.ffn_key, &p.ffn_value})
      for (int i = 0; i < batch->n; ++i)
        if (!cuda::matvec_job_ok(batch->job[i]))
          throw Error(ErrorKind::Argument, "fused decode: " + b + " has a matrix or vector the matrix-vector kernel cannot read (shape or 16-byte alignment)");
    g.layers.push_back(p);
  }

  g.head.add(normed(job(bf16(m.head, V, C, "head.weight"), x, f32(logits, V, "logits"), V, C),
                    f32(m.ln_out_w, C, "ln_out.weight"), f32(m.ln_out_b, C, "ln_out.bias")));

  std::vector<Stage> stages{{&g.embed.l2, {}}};
  for (auto& p : g.layers) {
    stages.push_back(stage_of(p.from_mix));
    stages.push_back(stage_of(p.lora_up));
    stages.push_back({&p.wkv.l2, {}});
    for (auto* b : {&p.att_out, &p.ffn_key, &p.ffn_value}) stages.push_back(stage_of(*b));
  }
  stages.push_back(stage_of(g.head));
  plan_l2(stages, l2_ahead_bytes());
}

DecodeFused::~DecodeFused() = default;

bool DecodeFused::overlapping() const { return impl_->pdl; }

void DecodeFused::run() {
  const auto& g = *impl_;
  const c10::cuda::CUDAGuard guard(g.device);
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  auto check = [](cudaError_t e, const char* what) {
    if (e != cudaSuccess)
      throw Error(ErrorKind::Argument, std::string("fused decode: launching ") + what + ": " + cudaGetErrorString(e));
  };
  // The first kernel waits for whatever the stream did before (token, state copies) in full.
  check(cuda::layer_norm(g.embed, stream, false), "the embedding norm");
  for (const auto& p : g.layers) {
    check(cuda::matvec_bf16(p.from_mix, stream, g.pdl), "ln1, token shift, r, k, v and LoRA down");
    check(cuda::matvec_bf16(p.lora_up, stream, g.pdl), "LoRA up");
    check(cuda::wkv_step(p.wkv, stream, g.pdl), "the wkv step");
    check(cuda::matvec_bf16(p.att_out, stream, g.pdl), "W_o");
    check(cuda::matvec_bf16(p.ffn_key, stream, g.pdl), "ln2, token shift and W_key");
    check(cuda::matvec_bf16(p.ffn_value, stream, g.pdl), "W_value");
  }
  check(cuda::matvec_bf16(g.head, stream, g.pdl), "ln_out and the head");
}

#else

bool decode_fused_supported(const Model::Impl&, std::string* why) {
  if (why) *why = "built without CUDA kernels";
  return false;
}

struct DecodeFused::Impl {};
DecodeFused::DecodeFused(const Model::Impl&, const RecurrentState&, const torch::Tensor&, const torch::Tensor&, bool) {
  throw Error(ErrorKind::Argument, "fused decode needs a build with CUDA kernels");
}
DecodeFused::~DecodeFused() = default;
void DecodeFused::run() {}
bool DecodeFused::overlapping() const { return false; }

#endif

}  // namespace rwkv
