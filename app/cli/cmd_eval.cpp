// rwkv-tune eval: greedy answers to an eval file (JSON Lines or MMLU CSV) scored against the
// references (engine: rwkv/evaluate.h). stdout carries the report (a table, or one JSON object
// with --json); stderr carries progress, one line per item, and the records that were skipped
// with their file:line. Ctrl-C stops after the current token and reports the items answered.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"

namespace cli {

namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_eval_interrupt(int) {
  g_cancel.store(true);
  signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// One line for the table: newlines shown as \n, cut to `width` characters (UTF-8 aware).
std::string cell(const std::string& s, size_t width) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {  // a character starts here
      if (chars == width) {
        out += "...";
        break;
      }
      ++chars;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\t' || c == '\r') out += ' ';
    else out += static_cast<char>(c);
  }
  return out;
}

nlohmann::json to_json(const rwkv::EvalReport& rep, const rwkv::EvalSet& set, const ArgParser& a) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : rep.items)
    items.push_back({{"index", r.index},
                     {"line", r.item.line},
                     {"prompt", r.item.prompt},
                     {"reference", r.item.reference},
                     {"output", r.output},
                     {"extracted", r.score.extracted},
                     {"correct", r.score.correct},
                     {"exact", r.score.exact},
                     {"contains", r.score.contains},
                     {"format_failure", r.score.format_failure},
                     {"tokens", r.tokens.size()},
                     {"stop_reason", r.stop_reason},
                     {"seconds", r.seconds}});
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& i : set.issues) skipped.push_back({{"line", i.line}, {"reason", i.reason}});
  const rwkv::EvalTotals& t = rep.totals;
  return {{"model", a.str("model")},
          {"state", a.has("state") ? nlohmann::json(a.str("state")) : nlohmann::json()},
          {"data", set.path},
          {"format", set.format},
          {"score", rwkv::score_mode_name(t.score)},
          {"items", items},
          {"skipped", skipped},
          {"totals",
           {{"n", t.n},
            {"correct", t.correct},
            {"accuracy", t.accuracy()},
            {"exact", t.exact},
            {"contains", t.contains},
            {"format_failures", t.format_failures},
            {"tokens", t.tokens},
            {"seconds", t.seconds},
            {"tokens_per_s", t.tokens_per_s()},
            {"cancelled", t.cancelled}}}};
}

void print_table(const rwkv::EvalReport& rep) {
  std::printf("%4s %6s %-5s %-32s %s\n", "#", "line", "ok", "reference", "output");
  for (const auto& r : rep.items) {
    const char* verdict = r.score.format_failure ? "fmt" : r.score.correct ? "yes" : "no";
    std::printf("%4d %6d %-5s %-32s %s\n", r.index + 1, r.item.line, verdict, cell(r.item.reference, 30).c_str(),
                cell(r.output, 60).c_str());
  }
  const rwkv::EvalTotals& t = rep.totals;
  std::printf("\nscore            %s%s\n", rwkv::score_mode_name(t.score), t.cancelled ? " (cancelled)" : "");
  std::printf("items            %d\n", t.n);
  std::printf("accuracy         %.4f (%d/%d)\n", t.accuracy(), t.correct, t.n);
  std::printf("exact            %d\n", t.exact);
  std::printf("contains         %d\n", t.contains);
  std::printf("format_failures  %d\n", t.format_failures);
  std::printf("tokens/s         %.1f (%lld tokens, %.2f s)\n", t.tokens_per_s(), static_cast<long long>(t.tokens),
              t.seconds);
}

}  // namespace

int cmd_eval(const Args& args) {
  const rwkv::EvalParams d;
  ArgParser a("eval", "Answers every item of an eval file greedily and scores the answers against the references.");
  add_model_options(a);
  a.option("tokenizer", "FILE", "World vocab .txt, sentencepiece .model or 'bytes' (default: as for generate)");
  a.option("state", "FILE", "initial state file (.rwkvstate, RWKV-PEFT .pth, Ai00 .st); default: zeros");
  a.required("data", "FILE", "JSON Lines (question/answer or chat, GSM8K) or an MMLU-layout .csv");
  a.option("score", "MODE", "auto, exact, contains, gsm8k or choice", "auto");
  a.option("max-tokens", "N", "tokens per answer at most", std::to_string(d.max_tokens));
  a.option("limit", "N", "evaluate the first N items only, 0 = all", "0");
  a.option("batch", "N", "answers generated together (much faster on a GPU; 1 = one by one, exactly as generate)",
           "1");
  a.flag("json", "print one JSON object (items and totals) instead of a table");
  a.parse(args);

  rwkv::EvalParams p;
  try {
    p.score = rwkv::parse_score_mode(a.str("score"));
  } catch (const rwkv::Error& e) {
    a.fail(std::string("--score: ") + e.what());
  }
  p.max_tokens = static_cast<int>(a.integer("max-tokens", 1, 1 << 30));
  p.limit = static_cast<int>(a.integer("limit", 0, 1 << 30));
  p.batch = static_cast<int>(a.integer("batch", 1, 4096));

  const rwkv::EvalSet set = rwkv::load_eval_set(a.str("data"));
  for (const auto& i : set.issues)
    std::fprintf(stderr, "rwkv-tune: warning: %s:%d: %s (skipped)\n", set.path.c_str(), i.line, i.reason.c_str());
  const auto model = load_model(a);
  const auto tok = resolve_tokenizer(a.str("tokenizer"), model->info());
  rwkv::Context ctx(model);
  if (a.has("state")) {
    const std::string warning = apply_state_file(ctx, a.str("state"));
    if (!warning.empty()) std::fprintf(stderr, "rwkv-tune: warning: %s\n", warning.c_str());
  }

  const size_t total = p.limit > 0 ? std::min<size_t>(set.items.size(), p.limit) : set.items.size();
  int correct = 0;
  rwkv::EvalCallbacks cb;
  cb.on_item = [&](const rwkv::EvalItemResult& r) {
    correct += r.score.correct;
    std::fprintf(stderr, "[%d/%zu] line %d: %s, %zu tokens, %.2f s (%d correct so far)\n", r.index + 1, total,
                 r.item.line, r.score.format_failure ? "format failure" : r.score.correct ? "correct" : "wrong",
                 r.tokens.size(), r.seconds, correct);
  };
  g_cancel.store(false);
  signal(SIGINT, on_eval_interrupt);
  const rwkv::EvalReport rep = rwkv::evaluate(ctx, *tok, set, p, cb, &g_cancel);
  signal(SIGINT, SIG_DFL);

  if (a.has("json"))
    std::printf("%s\n", to_json(rep, set, a).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  else
    print_table(rep);
  return rep.totals.cancelled ? 130 : 0;
}

}  // namespace cli
