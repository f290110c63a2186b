// rwkv-tune pretrain: trains a fresh RWKV-7 (all weights) from a recipe file. Used to make the
// project's demo models; Ctrl-C (or SIGTERM) stops with a checkpoint that --resume continues.
#include <signal.h>

#include <atomic>
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/pretrain.h"

namespace cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

}  // namespace

int cmd_pretrain(const Args& args) {
  ArgParser a("pretrain", "Trains a fresh RWKV-7 (every weight) as a recipe file says; makes the demo models.");
  a.required("recipe", "FILE", "recipe JSON (shape, corpus, tokenizer, schedule, seed; paths relative to it)");
  a.required("out", "FILE", "model to write (.safetensors); the checkpoint is <out>.ckpt");
  a.option("tokenizer", "FILE", "override the recipe's tokenizer");
  a.option("device", "D", "cpu, cuda or cuda:N", "cpu");
  a.option("steps", "N", "override the recipe's step count (changes the recipe)");
  a.option("stop-after", "N", "stop with a checkpoint after N steps of this call (0 = run to the end)", "0");
  a.flag("resume", "continue from <out>.ckpt when it exists");
  a.parse(args);

  rwkv::PretrainRecipe r = rwkv::PretrainRecipe::load(a.str("recipe"));
  if (a.has("steps")) r.steps = static_cast<int>(a.integer("steps", 1, 100000000));
  rwkv::PretrainOptions o;
  o.tokenizer = a.str("tokenizer");
  o.out = a.str("out");
  o.device = a.str("device");
  o.resume = a.has("resume");
  o.stop_after = static_cast<int>(a.integer("stop-after", 0, 100000000));
  o.cancel = &g_stop;
  signal(SIGINT, on_stop_signal);
  signal(SIGTERM, on_stop_signal);
  o.on_progress = [](const rwkv::PretrainProgress& p) {
    std::printf("step %d/%d  loss %.4f", p.step, p.steps, p.loss);
    if (p.eval_loss >= 0) std::printf("  eval %.4f", p.eval_loss);
    std::printf("  lr %.3g  %.0f tok/s  elapsed %s  ETA %s\n", p.lr, p.tokens_per_s, format_duration(p.elapsed_s).c_str(),
                format_duration(p.eta_s).c_str());
    std::fflush(stdout);
  };
  const rwkv::PretrainResult res = rwkv::pretrain(r, o);
  const bool done = res.steps >= r.steps;
  std::printf("%s %s: %lld parameters, %d steps, train loss %.4f, eval loss %.4f, %lld tokens this call, %s\n",
              done ? "wrote" : "stopped; checkpoint", done ? o.out.c_str() : (o.out + ".ckpt").c_str(),
              static_cast<long long>(res.n_params), res.steps, res.loss, res.eval_loss,
              static_cast<long long>(res.tokens), format_duration(res.wall_s).c_str());
  return done ? 0 : 130;
}

}  // namespace cli
