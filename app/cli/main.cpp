// rwkv-tune: the headless command-line tool over the engine. main only dispatches: one table
// row per subcommand (cmd_*.cpp), and the mapping of failures to messages and exit codes
// (2 = usage error, 1 = runtime error).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "args.h"
#include "commands.h"
#include "rwkv/error.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const cli::Args&);
};

const Command kCommands[] = {
    {"info", "print a model's dimensions, parameter count, stored dtype, format and sha256", cli::cmd_info},
    {"generate", "generate text from a prompt, streamed to stdout", cli::cmd_generate},
    {"logits", "print the last position's logits for a token list as a JSON array", cli::cmd_logits},
    {"tune", "tune the initial state on a JSON Lines data set (autosave, resume, Ctrl-C cancels)", cli::cmd_tune},
    {"eval", "answer an eval file (JSON Lines, GSM8K, MMLU CSV) greedily and score it (--json)", cli::cmd_eval},
    {"inspect", "run a prompt and dump the state's dynamics: norms, changes, transition spectra (--json)", cli::cmd_inspect},
    {"ablate", "run the ablation (base, plain, kernel M, +DBP) over the demo tasks and seeds; write a table", cli::cmd_ablate},
    {"bench", "measure prefill, decode and tuning tokens/s (JSON lines)", cli::cmd_bench},
    {"pretrain", "train a fresh model (all weights) from a recipe; makes the demo models", cli::cmd_pretrain},
};

std::string usage() {
  std::string u = "usage: rwkv-tune <command> [options]\n       rwkv-tune <command> --help\n       rwkv-tune --version\n\ncommands:\n";
  for (const auto& c : kCommands) u += "  " + std::string(c.name) + std::string(10 - std::strlen(c.name), ' ') + c.summary + "\n";
  return u;
}

int usage_error(const std::string& message, const std::string& usage_text) {
  std::fprintf(stderr, "rwkv-tune: error: %s\n\n%s", message.c_str(), usage_text.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("no command given", usage());
  const std::string name = argv[1];
  if (name == "--version") {
    std::printf("rwkv-tune %s\n", RWKV_VERSION);
    return 0;
  }
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  const Command* cmd = nullptr;
  for (const auto& c : kCommands)
    if (name == c.name) cmd = &c;
  if (!cmd) return usage_error("unknown command '" + name + "'", usage());

  try {
    return cmd->run(cli::Args(argv + 2, argv + argc));
  } catch (const cli::HelpRequested& h) {
    std::fputs(h.text.c_str(), stdout);
    return 0;
  } catch (const cli::UsageError& e) {
    return usage_error(e.what(), e.usage());
  } catch (const rwkv::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "rwkv-tune: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "rwkv-tune: error: %s\n", e.what());
    return 1;
  }
}
