// rwkv-tune logits: the logits after a token list (from the zero state or a state file), as one
// JSON array of V floats printed with full float precision.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/error.h"

namespace cli {

namespace {

// "34,105,110" -> {34, 105, 110}; spaces around ids are allowed, anything else is a usage error.
std::vector<int> parse_tokens(const ArgParser& a) {
  const std::string list = a.str("tokens");
  std::vector<int> ids;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    const std::string where = "item " + std::to_string(ids.size() + 1) + " of --tokens '" + list + "'";
    if (item.empty()) a.fail(where + " is empty (expected comma-separated token ids, e.g. 34,105,110)");
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || item[0] == '+')
      a.fail(where + " is '" + item + "', not a token id (expected a non-negative integer)");
    if (v < 0 || v > 0x7fffffff) a.fail(where + " is " + item + ", not a token id (expected a non-negative integer)");
    ids.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

}  // namespace

int cmd_logits(const Args& args) {
  ArgParser a("logits", "Runs a token list through the model and prints the last position's logits as a JSON array.");
  add_model_options(a);
  a.required("tokens", "IDS", "comma-separated token ids, e.g. 34,105,110");
  a.option("state", "FILE", "initial state file (.rwkvstate, RWKV-PEFT .pth, Ai00 .st)");
  a.parse(args);

  const std::vector<int> ids = parse_tokens(a);
  const auto model = load_model(a);
  const int V = model->dims().n_vocab;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= V)
      throw rwkv::Error(rwkv::ErrorKind::Token, "unknown token id " + std::to_string(ids[i]) + " (item " +
                                                    std::to_string(i + 1) + " of --tokens): " + model->info().path +
                                                    " has ids 0.." + std::to_string(V - 1));

  rwkv::Context ctx(model);
  if (a.has("state")) {
    const std::string warning = apply_state_file(ctx, a.str("state"));
    if (!warning.empty()) std::fprintf(stderr, "rwkv-tune: warning: %s\n", warning.c_str());
  }
  const std::vector<float> logits = ctx.eval(ids);  // [V]

  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i]))
      throw rwkv::Error(rwkv::ErrorKind::NonFinite, "logit " + std::to_string(i) + " is not finite");
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", static_cast<double>(logits[i]));
    out += buf;
  }
  out += "]\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace cli
