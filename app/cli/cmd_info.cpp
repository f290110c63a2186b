// rwkv-tune info: what a checkpoint is (dims, parameters, dtype, format, sha256).
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "common.h"

namespace cli {

namespace {

std::string thousands(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3) s.insert(i, ",");
  return s;
}

nlohmann::json to_json(const rwkv::ModelInfo& m) {
  const auto& d = m.dims;
  return {{"path", m.path},
          {"format", m.format},
          {"stored_dtype", m.stored_dtype},
          {"sha256", m.sha256},
          {"n_params", m.n_params},
          {"dims",
           {{"n_vocab", d.n_vocab},
            {"n_embd", d.n_embd},
            {"n_layer", d.n_layer},
            {"n_head", d.n_head},
            {"head_size", d.head_size},
            {"dim_ffn", d.dim_ffn},
            {"d_decay", d.d_decay},
            {"d_aaa", d.d_aaa},
            {"d_mv", d.d_mv},
            {"d_gate", d.d_gate}}}};
}

void print_table(const rwkv::ModelInfo& m) {
  const auto& d = m.dims;
  auto row = [](const char* key, const std::string& value) { std::printf("%-12s %s\n", key, value.c_str()); };
  row("path", m.path);
  row("format", m.format);
  row("stored", m.stored_dtype);
  row("sha256", m.sha256);
  row("parameters", thousands(m.n_params));
  row("vocab", std::to_string(d.n_vocab));
  row("embd", std::to_string(d.n_embd));
  row("layers", std::to_string(d.n_layer));
  row("heads", std::to_string(d.n_head));
  row("head_size", std::to_string(d.head_size));
  row("ffn", std::to_string(d.dim_ffn));
  row("lora", "decay " + std::to_string(d.d_decay) + ", aaa " + std::to_string(d.d_aaa) + ", mv " +
                  std::to_string(d.d_mv) + ", gate " + std::to_string(d.d_gate));
}

}  // namespace

int cmd_info(const Args& args) {
  ArgParser a("info", "Prints a checkpoint's dimensions, parameter count, stored dtype, format and sha256.");
  add_model_options(a);
  a.flag("json", "print one JSON object instead of a table");
  a.parse(args);

  const auto model = load_model(a);
  if (a.has("json"))
    std::printf("%s\n", to_json(model->info()).dump(2).c_str());
  else
    print_table(model->info());
  return 0;
}

}  // namespace cli
