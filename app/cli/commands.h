// The rwkv-tune subcommands. Each lives in its own cmd_<name>.cpp and receives the arguments
// after its name; it returns the exit code, throws cli::UsageError for usage mistakes (exit 2)
// and rwkv::Error / std::exception for runtime failures (exit 1). main.cpp lists them in a table.
#pragma once
#include <string>
#include <vector>

namespace cli {

using Args = std::vector<std::string>;

int cmd_info(const Args& args);
int cmd_generate(const Args& args);
int cmd_logits(const Args& args);
int cmd_tune(const Args& args);
int cmd_bench(const Args& args);
int cmd_pretrain(const Args& args);
int cmd_eval(const Args& args);
int cmd_inspect(const Args& args);
int cmd_ablate(const Args& args);

}  // namespace cli
