#include "decode_graph.h"

#include <cstdlib>

#ifdef RWKV_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include "decode_fused.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

bool env_is_1(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string(v) == "1";
}

}  // namespace

bool decode_graph_enabled(const Model::Impl& m) {
#ifdef RWKV_HAVE_CUDA
  return m.device.is_cuda() && !env_is_1("RWKV_NO_CUDA_GRAPH");
#else
  return false;
#endif
}

bool decode_fused_enabled(const Model::Impl& m) {
  return decode_fused_supported(m) && !env_is_1("RWKV_NO_FUSED_DECODE");
}

bool decode_overlap_enabled(const Model::Impl& m) {
#ifdef RWKV_HAVE_CUDA
  if (!m.device.is_cuda() || env_is_1("RWKV_NO_PDL")) return false;
  const auto index = m.device.has_index() ? m.device.index() : c10::cuda::current_device();
  return at::cuda::getDeviceProperties(index)->major >= 9;
#else
  return false;
#endif
}

std::string decode_path(const Model::Impl& m) {
  if (!decode_graph_enabled(m)) return "eager";
  if (!decode_fused_enabled(m)) return "cuda-graph-eager";
  return decode_overlap_enabled(m) ? "cuda-graph-fused-pdl" : "cuda-graph-fused";
}

#ifdef RWKV_HAVE_CUDA

struct DecodeGraph::Impl {
  const Model::Impl& m;
  torch::Tensor token_host;   // [1,1] int64, pinned: the graph uploads it first
  torch::Tensor token;        // [1,1] int64, static input on the device
  RecurrentState state;       // static state buffers, read and overwritten by the graph
  torch::Tensor logits;       // [V] fp32, static output on the device
  torch::Tensor logits_host;  // [V] fp32, pinned: the graph downloads the logits last
  std::unique_ptr<DecodeFused> fused;  // null: the graph holds the eager forward
  at::cuda::CUDAGraph graph;
  bool captured = false;

  explicit Impl(const Model::Impl& model) : m(model) {}

  // The captured work: upload the token, forward it from `state`, write the new state back
  // into it, download the logits. The host buffers are read and written when the graph runs.
  void run() {
    token.copy_(token_host, /*non_blocking=*/true);
    if (fused) {
      fused->run();
    } else {
      auto res = forward(m, token, state, true);
      state.copy_from(res.state);
      logits.copy_(res.logits.view({-1}));
    }
    logits_host.copy_(logits, /*non_blocking=*/true);
  }

  void capture() {
    const c10::cuda::CUDAGuard guard(m.device);
    at::cuda::getCurrentCUDAStream().synchronize();  // the state copied in on it is complete
    auto stream = at::cuda::getStreamFromPool();
    {
      const c10::cuda::CUDAStreamGuard sg(stream);
      // Warm-up outside the graph (cuBLAS handles and workspaces; launch errors surface here,
      // not inside the capture), on a copy of the state.
      auto saved = RecurrentState::zeros(m, 1);
      saved.copy_from(state);
      run();
      state.copy_from(saved);
      stream.synchronize();
      graph.capture_begin();
      run();
      graph.capture_end();
    }
    at::cuda::getCurrentCUDAStream().synchronize();
    captured = true;
  }
};

DecodeGraph::DecodeGraph(const Model::Impl& m, bool fused) : impl_(std::make_unique<Impl>(m)) {
  const auto opt = torch::TensorOptions().device(m.device);
  impl_->token = torch::zeros({1, 1}, opt.dtype(torch::kInt64));
  impl_->token_host = torch::zeros({1, 1}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(true));
  impl_->logits_host =
      torch::zeros({m.info.dims.n_vocab}, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
  impl_->state = RecurrentState::zeros(m, 1);
  impl_->logits = torch::zeros({m.info.dims.n_vocab}, opt.dtype(torch::kFloat32));
  if (fused)
    impl_->fused = std::make_unique<DecodeFused>(m, impl_->state, impl_->token, impl_->logits, decode_overlap_enabled(m));
}

DecodeGraph::~DecodeGraph() = default;

bool DecodeGraph::fused() const { return impl_->fused != nullptr; }

std::vector<float> DecodeGraph::step(int token, RecurrentState& state) {
  auto& g = *impl_;
  // Bring the caller's state into the static buffers unless it already is them.
  if (state.wkv.empty() || state.wkv[0].data_ptr() != g.state.wkv[0].data_ptr()) g.state.copy_from(state);
  // The previous step waited for its graph, so nothing reads token_host now.
  *g.token_host.data_ptr<int64_t>() = token;
  if (!g.captured) g.capture();
  g.graph.replay();
  at::cuda::getCurrentCUDAStream().synchronize();  // logits_host is written
  state = g.state;  // aliases of the static buffers
  const float* l = g.logits_host.data_ptr<float>();
  return std::vector<float>(l, l + g.logits_host.numel());
}

#else

struct DecodeGraph::Impl {};
DecodeGraph::DecodeGraph(const Model::Impl&, bool) {
  throw Error(ErrorKind::Argument, "CUDA graphs need a build with CUDA kernels");
}
DecodeGraph::~DecodeGraph() = default;
std::vector<float> DecodeGraph::step(int, RecurrentState&) { return {}; }
bool DecodeGraph::fused() const { return false; }

#endif

}  // namespace rwkv
