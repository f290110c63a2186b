// rwkv-tune generate: text from a prompt, streamed to stdout token by token. stdout carries
// exactly the generated text (no prompt echo); --verbose adds a summary on stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/generate.h"

namespace cli {

namespace {

rwkv::GenerateParams generate_params(const ArgParser& a) {
  rwkv::GenerateParams p;
  p.max_tokens = static_cast<int>(a.integer("max-tokens", 0, 1 << 30));
  p.sampler.seed = a.u64("seed");
  p.sampler.temperature = static_cast<float>(a.number("temperature", 0.0, 1e6));
  p.sampler.top_p = static_cast<float>(a.number("top-p", 0.0, 1.0));
  if (p.sampler.top_p <= 0.0f) a.fail("--top-p: expected a number in (0, 1], got " + a.str("top-p"));
  p.sampler.top_k = static_cast<int>(a.integer("top-k", 0, 1 << 30));
  p.sampler.repetition_penalty = static_cast<float>(a.number("repetition-penalty", 0.0, 1e6));
  if (p.sampler.repetition_penalty <= 0.0f)
    a.fail("--repetition-penalty: expected a number > 0, got " + a.str("repetition-penalty"));
  p.stop = a.all("stop");
  for (const auto& s : p.stop)
    if (s.empty()) a.fail("--stop: a stop string must not be empty");
  p.stop_at_eos = !a.has("ignore-eos");
  return p;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

int cmd_generate(const Args& args) {
  const rwkv::GenerateParams d;
  ArgParser a("generate", "Generates text from a prompt and streams it to stdout.");
  add_model_options(a);
  a.option("tokenizer", "FILE", "World vocab .txt, sentencepiece .model or 'bytes' (default: bytes for a "
                                "256-token model, else the *.model / rwkv_vocab*.txt beside the model)");
  a.option("state", "FILE", "initial state file (.rwkvstate, RWKV-PEFT .pth, Ai00 .st)");
  a.required("prompt", "TEXT", "the prompt");
  a.option("max-tokens", "N", "tokens to generate at most", std::to_string(d.max_tokens));
  a.option("seed", "N", "sampling seed", std::to_string(d.sampler.seed));
  a.option("temperature", "T", "0 = greedy (argmax)", fmt(d.sampler.temperature));
  a.option("top-p", "P", "nucleus sampling, 1 = off", fmt(d.sampler.top_p));
  a.option("top-k", "K", "keep the K most likely tokens, 0 = off", std::to_string(d.sampler.top_k));
  a.option("repetition-penalty", "R", "penalise tokens already seen, 1 = off", fmt(d.sampler.repetition_penalty));
  a.repeatable("stop", "STR", "stop when the text ends with STR (it is not printed)");
  a.flag("ignore-eos", "keep generating after the end-of-text token");
  a.flag("verbose", "print the stop reason, token count and speed to stderr");
  a.parse(args);

  const rwkv::GenerateParams params = generate_params(a);
  const auto model = load_model(a);
  const auto tok = resolve_tokenizer(a.str("tokenizer"), model->info());
  rwkv::Context ctx(model);
  if (a.has("state")) {
    const std::string warning = apply_state_file(ctx, a.str("state"));
    if (!warning.empty()) std::fprintf(stderr, "rwkv-tune: warning: %s\n", warning.c_str());
  }

  size_t printed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const rwkv::GenerateResult res =
      rwkv::generate(ctx, *tok, a.str("prompt"), params, [&](const rwkv::GeneratedToken& t) {
        std::fwrite(t.text.data(), 1, t.text.size(), stdout);
        std::fflush(stdout);
        printed += t.text.size();
        return true;
      });
  // Text held back at the end (an incomplete character, or a stop-string prefix that never completed).
  if (res.text.size() > printed) std::fwrite(res.text.data() + printed, 1, res.text.size() - printed, stdout);
  if (isatty(fileno(stdout))) std::fputc('\n', stdout);
  std::fflush(stdout);

  if (a.has("verbose")) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[%s, %zu tokens, %.2f s, %.1f tokens/s, tokenizer %s]\n", res.stop_reason.c_str(),
                 res.tokens.size(), s, s > 0 ? res.tokens.size() / s : 0.0, tok->name().c_str());
  }
  return 0;
}

}  // namespace cli
