// Tuning on the GPU, plain, with method=kernel and with guided=kl (demo models, a few steps): the state
// saved by the CUDA run, loaded on the CPU (fp32 weights), gives the same logits as on the GPU
// (bf16 matmuls) within bf16 tolerance, and differs from the base model's (the steps did something).
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <dirent.h>
#include <unistd.h>

#include "gpu_check.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "rwkv/tuner.h"

namespace {

namespace fs = std::filesystem;
const std::string kRes = std::string(RWKV_SOURCE_DIR) + "/resources/";

// Removes a flat folder of files. Not std::filesystem::remove_all: libtorch.so exports its own
// copy of std::filesystem (a static libstdc++fs), this binary binds to it, and its remove_all
// jumps to address 0 (reproduced on the CPU with LibTorch 2.11; the H100 run died the same way).
void remove_flat_dir(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ::unlink((dir + "/" + e->d_name).c_str());
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float x : a) m = std::max(m, std::fabs(double(x)));
  return m;
}

void check_run(const std::string& name, rwkv::TuneConfig c, const fs::path& dir) {
  c.model = kRes + "models/demo-small.safetensors";
  c.data = (dir / "format8.jsonl").string();
  c.out = (dir / (name + ".rwkvstate")).string();
  c.device = "cuda";
  c.max_steps = 4;
  c.lr = 0.2;
  c.micro_bsz = 4;
  c.eval_fraction = 0;
  c.snapshot_every = 0;
  c.autosave_every = 0;
  std::printf("%s: tuning 4 steps on cuda\n", name.c_str());
  rwkv::Tuner t(c);
  const auto sum = t.run();
  std::printf("%s: tuned, comparing logits\n", name.c_str());
  gpu_check::expect(sum.steps_done == 4 && std::isfinite(sum.final_loss), name + ": 4 finite steps on cuda");
  const rwkv::StateFile sf = rwkv::load_state(c.out);
  const auto tok = rwkv::load_tokenizer(kRes + "models/demo.model");
  const std::vector<int> ids = tok->encode(rwkv::chat_prompt("Where does Kleenzem live?"));
  rwkv::LoadOptions gpu;
  gpu.device = "cuda";
  gpu.compute_bf16 = true;
  const auto cpu_model = rwkv::Model::load(c.model), gpu_model = rwkv::Model::load(c.model, gpu);
  rwkv::Context cpu(cpu_model), dev(gpu_model), base(cpu_model);
  cpu.set_initial_state(sf.s0);
  dev.set_initial_state(sf.s0);
  cpu.reset();
  dev.reset();
  base.reset();
  const auto lc = cpu.eval(ids), lg = dev.eval(ids), lb = base.eval(ids);
  const double scale = max_abs(lc), diff = max_abs(lc, lg), moved = max_abs(lc, lb);
  std::printf("%s: max |logit| %.3f, CPU vs GPU %.4f, tuned vs base %.4f\n", name.c_str(), scale, diff, moved);
  gpu_check::expect(diff < 0.03 * scale + 0.05, name + ": the saved state's logits on the CPU match the GPU's (bf16)");
  gpu_check::expect(moved > diff, name + ": the tuned state moves the logits more than the bf16 difference");
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IONBF, 0);  // a crash must not swallow the lines before it
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device: skipped\n");
    return 77;
  }
  const fs::path dir = fs::temp_directory_path() / ("rwkv_gpu_tune_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ifstream in(kRes + "tasks/format_train.jsonl");
    std::ofstream out(dir / "format8.jsonl");
    std::string line;
    for (int i = 0; i < 8 && std::getline(in, line); ++i) out << line << "\n";
  }
  check_run("plain", rwkv::TuneConfig{}, dir);  // the fused passes of tune_fused.h
  rwkv::TuneConfig kernel;
  kernel.method = "kernel";
  kernel.kernel_m = 64;
  check_run("kernel", kernel, dir);
  rwkv::TuneConfig kl;
  kl.guided = "kl";
  kl.guide = kRes + "models/demo-guide.safetensors";
  kl.guide_filter = false;  // the guide answers the format task in sentences
  check_run("guided-kl", kl, dir);
  remove_flat_dir(dir.string());
  return gpu_check::finish(9);
}
