// From raw checkpoint tensors to validated Model::Impl weights (spec/rwkv7.md section 2):
// infer the dimensions, check that every required key exists with the expected shape, refuse
// NaN/Inf, squeeze the 1x1xC vectors to [C], convert and move to the compute device.
// Matrices (emb, head, C x C projections, LoRA, FFN) take the compute dtype (bf16 when
// opt.compute_bf16, else fp32); vectors and r_k [H,N] are always fp32.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "rwkv/error.h"
#include "weights.h"

namespace rwkv {
namespace {

std::string shape_str(const std::vector<int64_t>& s) { return c10::str(c10::IntArrayRef(s)); }

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kBFloat16: return "bf16";
    case torch::kHalf: return "fp16";
    case torch::kFloat32: return "fp32";
    case torch::kFloat64: return "fp64";
    default: return c10::toString(t);
  }
}

// Largest block index + 1 among "blocks.<i>.*" keys (0 if there are none).
int count_blocks(const TensorMap& m) {
  int n = 0;
  for (const auto& kv : m) {
    const std::string& k = kv.first;
    if (k.rfind("blocks.", 0) != 0) continue;
    const char* p = k.c_str() + 7;
    char* end = nullptr;
    const long i = std::strtol(p, &end, 10);
    if (end != p && *end == '.' && i >= 0 && i < 100000) n = std::max(n, static_cast<int>(i) + 1);
  }
  return n;
}

class Builder {
 public:
  Builder(TensorMap& m, const std::string& path, torch::Device dev, torch::ScalarType mat_dtype)
      : m_(m), path_(path), dev_(dev), mat_dtype_(mat_dtype) {}

  // The tensor itself (not yet validated beyond existence).
  const torch::Tensor& raw(const std::string& key) const {
    auto it = m_.find(key);
    if (it == m_.end()) throw Error(ErrorKind::MissingKey, path_ + ": missing tensor '" + key + "'");
    return it->second;
  }

  // A matrix of exactly `shape`, in the compute dtype.
  torch::Tensor mat(const std::string& key, std::vector<int64_t> shape) {
    const torch::Tensor& t = raw(key);
    if (t.sizes() != c10::IntArrayRef(shape))
      throw Error(ErrorKind::Shape, path_ + ": tensor '" + key + "' has shape " + c10::str(t.sizes()) +
                                        ", expected " + shape_str(shape));
    return finish(key, mat_dtype_);
  }

  // A [C] vector; stored as [C], [1, C] or [1, 1, C]. Always fp32.
  torch::Tensor vec(const std::string& key, int64_t C) {
    const torch::Tensor& t = raw(key);
    const auto s = t.sizes();
    bool ok = t.dim() >= 1 && t.dim() <= 3 && s.back() == C;
    for (int64_t d = 0; ok && d + 1 < t.dim(); ++d) ok = s[d] == 1;
    if (!ok)
      throw Error(ErrorKind::Shape, path_ + ": tensor '" + key + "' has shape " + c10::str(s) +
                                        ", expected [" + std::to_string(C) + "] (or [1, 1, " +
                                        std::to_string(C) + "])");
    return finish(key, torch::kFloat32).reshape({C});
  }

  // r_k: exactly [H, N], fp32.
  torch::Tensor fp32_exact(const std::string& key, std::vector<int64_t> shape) {
    const torch::Tensor& t = raw(key);
    if (t.sizes() != c10::IntArrayRef(shape))
      throw Error(ErrorKind::Shape, path_ + ": tensor '" + key + "' has shape " + c10::str(t.sizes()) +
                                        ", expected " + shape_str(shape));
    return finish(key, torch::kFloat32);
  }

  int64_t n_params() const { return n_params_; }

 private:
  // Dtype and finiteness checks, conversion, device move. Drops the raw tensor to bound memory.
  torch::Tensor finish(const std::string& key, torch::ScalarType to) {
    auto it = m_.find(key);
    torch::Tensor t = it->second;
    if (!used_.insert(key).second)
      throw Error(ErrorKind::Format, path_ + ": tensor '" + key + "' is used twice (internal error)");
    if (!torch::isFloatingType(t.scalar_type()))
      throw Error(ErrorKind::Format, path_ + ": tensor '" + key + "' has dtype " +
                                         c10::toString(t.scalar_type()) + ", expected a floating-point type");
    if (!torch::isfinite(t).all().item<bool>()) {
      const int64_t nan = torch::isnan(t).sum().item<int64_t>();
      const int64_t inf = torch::isinf(t).sum().item<int64_t>();
      throw Error(ErrorKind::NonFinite, path_ + ": tensor '" + key + "' contains " + std::to_string(nan) +
                                            " NaN and " + std::to_string(inf) + " Inf values (of " +
                                            std::to_string(t.numel()) + ")");
    }
    n_params_ += t.numel();
    torch::Tensor out;
    try {
      out = t.to(dev_, to).contiguous();
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::Io, path_ + ": cannot place tensor '" + key + "' on " + dev_.str() + ": " +
                                     e.what_without_backtrace());
    }
    m_.erase(it);
    return out;
  }

  TensorMap& m_;
  const std::string& path_;
  torch::Device dev_;
  torch::ScalarType mat_dtype_;
  std::set<std::string> used_;
  int64_t n_params_ = 0;
};

torch::Device parse_device(const std::string& spec, const std::string& path) {
  torch::Device dev = torch::kCPU;
  try {
    dev = torch::Device(spec);
  } catch (const c10::Error&) {
    throw Error(ErrorKind::Argument, path + ": invalid device '" + spec + "' (expected cpu, cuda or cuda:N)");
  }
  if (dev.is_cuda()) {
    const int n = static_cast<int>(torch::cuda::device_count());
    if (n == 0) throw Error(ErrorKind::Argument, path + ": device '" + spec + "' requested but no CUDA device is available");
    if (dev.has_index() && dev.index() >= n)
      throw Error(ErrorKind::Argument, path + ": device '" + spec + "' requested but only " + std::to_string(n) +
                                           " CUDA device(s) exist");
  } else if (!dev.is_cpu()) {
    throw Error(ErrorKind::Argument, path + ": unsupported device '" + spec + "' (expected cpu, cuda or cuda:N)");
  }
  return dev;
}

// Clear Format errors for files that are not RWKV-7 models at all.
void check_is_x070(const TensorMap& m, const std::string& path) {
  if (m.count("blocks.0.att.k_k")) return;
  bool state_only = !m.empty();
  for (const auto& kv : m) state_only = state_only && kv.first.find(".att.time_state") != std::string::npos;
  if (state_only)
    throw Error(ErrorKind::Format, path + ": this is a state file (blocks.N.att.time_state), not a model");
  for (const char* old : {"blocks.0.att.time_decay", "blocks.0.att.time_mix_k", "blocks.0.att.time_maa_x"})
    if (m.count(old))
      throw Error(ErrorKind::Format, path + ": not an RWKV-7 (x070) model: it has '" + old +
                                         "' (RWKV-4/5/6); only RWKV-7 is supported");
  if (!m.count("emb.weight"))
    throw Error(ErrorKind::Format, path + ": not an RWKV model: no 'emb.weight' and no 'blocks.0.att.k_k' (first key: '" +
                                       m.begin()->first + "')");
  throw Error(ErrorKind::MissingKey, path + ": missing tensor 'blocks.0.att.k_k' (the RWKV-7 marker)");
}

int64_t dim_of(const Builder& b, const std::string& key, int64_t d, int64_t ndim, const std::string& path) {
  const torch::Tensor& t = b.raw(key);
  if (t.dim() != ndim)
    throw Error(ErrorKind::Shape, path + ": tensor '" + key + "' has shape " + c10::str(t.sizes()) + ", expected " +
                                      std::to_string(ndim) + " dimensions");
  return t.size(d);
}

}  // namespace

std::unique_ptr<Model::Impl> build_weights(TensorMap tensors, const std::string& path, const LoadOptions& opt) {
  if (tensors.empty()) throw Error(ErrorKind::Format, path + ": the file contains no tensors");
  check_is_x070(tensors, path);
  const torch::Device dev = parse_device(opt.device, path);
  const torch::ScalarType mat_dtype = opt.compute_bf16 ? torch::kBFloat16 : torch::kFloat32;
  Builder b(tensors, path, dev, mat_dtype);

  // Dimensions (section 2): V, C from emb; H, N from r_k; L = number of blocks; F, LoRA widths.
  ModelDims d;
  d.n_vocab = static_cast<int>(dim_of(b, "emb.weight", 0, 2, path));
  d.n_embd = static_cast<int>(dim_of(b, "emb.weight", 1, 2, path));
  d.n_layer = count_blocks(tensors);
  d.n_head = static_cast<int>(dim_of(b, "blocks.0.att.r_k", 0, 2, path));
  d.head_size = static_cast<int>(dim_of(b, "blocks.0.att.r_k", 1, 2, path));
  if (int64_t(d.n_head) * d.head_size != d.n_embd)
    throw Error(ErrorKind::Shape, path + ": tensor 'blocks.0.att.r_k' has shape " +
                                      c10::str(b.raw("blocks.0.att.r_k").sizes()) + ", expected [H, N] with H*N = C = " +
                                      std::to_string(d.n_embd));
  d.dim_ffn = static_cast<int>(dim_of(b, "blocks.0.ffn.key.weight", 0, 2, path));
  d.d_decay = static_cast<int>(dim_of(b, "blocks.0.att.w1", 1, 2, path));
  d.d_aaa = static_cast<int>(dim_of(b, "blocks.0.att.a1", 1, 2, path));
  d.d_mv = d.n_layer > 1 ? static_cast<int>(dim_of(b, "blocks.1.att.v1", 1, 2, path)) : 0;
  d.d_gate = static_cast<int>(dim_of(b, "blocks.0.att.g1", 1, 2, path));
  const std::string stored = dtype_name(b.raw("blocks.0.att.receptance.weight").scalar_type());

  const int64_t V = d.n_vocab, C = d.n_embd, H = d.n_head, N = d.head_size, F = d.dim_ffn;
  const int64_t Dw = d.d_decay, Da = d.d_aaa, Dv = d.d_mv, Dg = d.d_gate;

  auto impl = std::make_unique<Model::Impl>();
  impl->device = dev;
  impl->dtype = mat_dtype;
  impl->emb = b.mat("emb.weight", {V, C});
  impl->ln0_w = b.vec("blocks.0.ln0.weight", C);
  impl->ln0_b = b.vec("blocks.0.ln0.bias", C);
  impl->layers.resize(static_cast<size_t>(d.n_layer));
  for (int i = 0; i < d.n_layer; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    LayerWeights& lw = impl->layers[static_cast<size_t>(i)];
    lw.ln1_w = b.vec(p + "ln1.weight", C);
    lw.ln1_b = b.vec(p + "ln1.bias", C);
    lw.ln2_w = b.vec(p + "ln2.weight", C);
    lw.ln2_b = b.vec(p + "ln2.bias", C);

    AttWeights& a = lw.att;
    const std::string q = p + "att.";
    a.x_r = b.vec(q + "x_r", C);
    a.x_w = b.vec(q + "x_w", C);
    a.x_k = b.vec(q + "x_k", C);
    a.x_v = b.vec(q + "x_v", C);
    a.x_a = b.vec(q + "x_a", C);
    a.x_g = b.vec(q + "x_g", C);
    a.w0 = b.vec(q + "w0", C);
    a.w1 = b.mat(q + "w1", {C, Dw});
    a.w2 = b.mat(q + "w2", {Dw, C});
    a.a0 = b.vec(q + "a0", C);
    a.a1 = b.mat(q + "a1", {C, Da});
    a.a2 = b.mat(q + "a2", {Da, C});
    if (i > 0) {  // layer 0 has no value residual; dummies there are ignored
      a.v0 = b.vec(q + "v0", C);
      a.v1 = b.mat(q + "v1", {C, Dv});
      a.v2 = b.mat(q + "v2", {Dv, C});
    }
    a.g1 = b.mat(q + "g1", {C, Dg});
    a.g2 = b.mat(q + "g2", {Dg, C});
    a.k_k = b.vec(q + "k_k", C);
    a.k_a = b.vec(q + "k_a", C);
    a.r_k = b.fp32_exact(q + "r_k", {H, N});
    a.Wr = b.mat(q + "receptance.weight", {C, C});
    a.Wk = b.mat(q + "key.weight", {C, C});
    a.Wv = b.mat(q + "value.weight", {C, C});
    a.Wo = b.mat(q + "output.weight", {C, C});
    a.ln_x_w = b.vec(q + "ln_x.weight", C);
    a.ln_x_b = b.vec(q + "ln_x.bias", C);

    FfnWeights& f = lw.ffn;
    f.x_k = b.vec(p + "ffn.x_k", C);
    f.Wkey = b.mat(p + "ffn.key.weight", {F, C});
    f.Wval = b.mat(p + "ffn.value.weight", {C, F});
  }
  impl->ln_out_w = b.vec("ln_out.weight", C);
  impl->ln_out_b = b.vec("ln_out.bias", C);
  impl->head = b.mat("head.weight", {V, C});

  impl->info.dims = d;
  impl->info.path = path;
  impl->info.stored_dtype = stored;
  impl->info.n_params = b.n_params();
  return impl;
}

}  // namespace rwkv
