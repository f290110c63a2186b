// rwkv-tune ablate: the paper's ablation on the demo task suite. For every task (train/eval
// files <tasks-dir>/<task>_{train,eval}.jsonl), configuration (base = no tuning, plain S0,
// kernel-upscaled with M in {256, 512, 768}, each with and without DBP) and seed, it tunes a state
// (the same optimizer settings for all), answers the task's eval file greedily with it
// (rwkv::evaluate, the scorer chosen from the references) and writes a Markdown table of the mean
// accuracy and its spread (sample standard deviation over the seeds) plus every single run.
// Guided tuning (CoT, KL) is not part of this skeleton.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"

namespace cli {

namespace {

namespace fs = std::filesystem;

struct AblationConfig {
  std::string name;    // "base", "plain", "kernel256", "kernel256+dbp"
  bool tune = true;
  std::string method = "plain";
  int m = 0;
  bool dbp = false;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

AblationConfig parse_config(const ArgParser& a, const std::string& name) {
  AblationConfig c;
  c.name = name;
  if (name == "base") {
    c.tune = false;
    return c;
  }
  if (name == "plain") return c;
  std::string rest = name;
  const auto plus = rest.find('+');
  if (plus != std::string::npos) {
    if (rest.substr(plus) != "+dbp") a.fail("--configs: unknown suffix in '" + name + "' (only +dbp)");
    c.dbp = true;
    rest = rest.substr(0, plus);
  }
  if (rest.rfind("kernel", 0) != 0 || rest.size() == 6)
    a.fail("--configs: '" + name + "' is not base, plain, kernelM or kernelM+dbp (e.g. kernel256+dbp)");
  c.method = "kernel";
  try {
    c.m = std::stoi(rest.substr(6));
  } catch (const std::exception&) {
    a.fail("--configs: '" + name + "': M is not a number");
  }
  if (c.m <= 0) a.fail("--configs: '" + name + "': M must be positive");
  return c;
}

// The first `limit` non-empty lines of `src` into `dst` (all when limit is 0).
void copy_lines(const std::string& src, const std::string& dst, int limit) {
  std::ifstream in(src);
  if (!in) throw rwkv::Error(rwkv::ErrorKind::Io, "cannot open " + src);
  std::ofstream out(dst);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (limit > 0 && n >= limit) break;
    out << line << "\n";
    ++n;
  }
  if (!out) throw rwkv::Error(rwkv::ErrorKind::Io, "cannot write " + dst);
}

struct Cell {
  std::vector<double> acc;
  std::vector<double> seconds;
};

std::string mean_spread(const std::vector<double>& v) {
  if (v.empty()) return "-";
  double m = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  char buf[64];
  if (v.size() > 1)
    std::snprintf(buf, sizeof buf, "%.1f ± %.1f", 100 * m, 100 * std::sqrt(s / double(v.size() - 1)));
  else
    std::snprintf(buf, sizeof buf, "%.1f", 100 * m);
  return buf;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

int cmd_ablate(const Args& args) {
  ArgParser a("ablate",
              "Runs the ablation (base, plain, kernel M with and without DBP) over tasks and seeds and writes a "
              "Markdown results table.");
  a.required("model", "FILE", "the model every configuration tunes (its tokenizer is found beside it)");
  a.option("tasks-dir", "DIR", "folder of <task>_train.jsonl and <task>_eval.jsonl", "resources/tasks");
  a.option("tasks", "LIST", "comma-separated task names", "format,facts,arith");
  a.option("configs", "LIST", "comma-separated: base, plain, kernelM, kernelM+dbp",
           "base,plain,kernel256,kernel512,kernel768,kernel256+dbp,kernel512+dbp,kernel768+dbp");
  a.option("seeds", "N", "seeds per configuration (1..N)", "3");
  a.option("epochs", "N", "tuning epochs", "10");
  a.option("steps", "N", "optimizer steps (overrides --epochs), 0 = by epochs", "0");
  a.option("lr", "LR", "peak learning rate", "0.2");
  a.option("lr-final", "LR", "final learning rate", "0.01");
  a.option("micro-bsz", "N", "samples per forward", "4");
  a.option("ctx-len", "N", "tokens per sample", "512");
  a.option("dbp", "MODE", "the DBP mode of the +dbp configurations: loss or update", "loss");
  a.option("train-limit", "N", "use the first N training lines, 0 = all", "0");
  a.option("eval-limit", "N", "answer the first N eval items, 0 = all", "0");
  a.option("max-tokens", "N", "tokens per answer", "64");
  a.option("device", "DEV", "cpu, cuda or cuda:N", "cpu");
  a.option("work", "DIR", "folder for the tuned states and logs", "ablation-work");
  a.option("out", "FILE", "the Markdown table to write", "docs/results.md");
  a.option("note", "TEXT", "a line about where and how the table was made, written under the title", "");
  a.parse(args);

  std::vector<AblationConfig> configs;
  for (const auto& n : split(a.str("configs"), ',')) configs.push_back(parse_config(a, n));
  const auto tasks = split(a.str("tasks"), ',');
  if (tasks.empty() || configs.empty()) a.fail("--tasks and --configs must name at least one each");
  const int seeds = static_cast<int>(a.integer("seeds", 1, 1000));
  const std::string dbp_mode = a.str("dbp");
  if (dbp_mode != "loss" && dbp_mode != "update") a.fail("--dbp: expected loss or update, got '" + dbp_mode + "'");
  const fs::path work = a.str("work");
  fs::create_directories(work);

  rwkv::LoadOptions lo;
  lo.device = a.str("device");
  lo.compute_bf16 = lo.device != "cpu";
  const auto model = rwkv::Model::load(a.str("model"), lo);
  const auto tok = resolve_tokenizer("", model->info());

  std::map<std::pair<std::string, std::string>, Cell> cells;  // (config, task)
  std::ostringstream runs;
  runs << "| task | config | seed | accuracy | best eval loss | tune s |\n|---|---|---|---|---|---|\n";
  const auto t_all = std::chrono::steady_clock::now();
  for (const auto& task : tasks) {
    const fs::path dir = a.str("tasks-dir");
    const std::string train = (dir / (task + "_train.jsonl")).string(), evalf = (dir / (task + "_eval.jsonl")).string();
    const std::string train_used = (work / (task + "_train_used.jsonl")).string();
    copy_lines(train, train_used, static_cast<int>(a.integer("train-limit", 0, 1 << 30)));
    const rwkv::EvalSet set = rwkv::load_eval_set(evalf);
    rwkv::EvalParams ep;
    ep.max_tokens = static_cast<int>(a.integer("max-tokens", 1, 1 << 20));
    ep.limit = static_cast<int>(a.integer("eval-limit", 0, 1 << 30));
    for (const auto& c : configs) {
      for (int seed = 1; seed <= (c.tune ? seeds : 1); ++seed) {
        rwkv::InitialState state;
        double best_eval = NAN, tune_s = 0;
        if (c.tune) {
          rwkv::TuneConfig t;
          t.model = a.str("model");
          t.data = train_used;
          t.out = (work / (task + "_" + c.name + "_s" + std::to_string(seed) + ".rwkvstate")).string();
          t.autosave = t.out + ".autosave";
          t.device = a.str("device");
          t.seed = static_cast<uint64_t>(seed);
          t.epochs = static_cast<int>(a.integer("epochs", 1, 1 << 20));
          t.max_steps = static_cast<int>(a.integer("steps", 0, 1 << 30));
          t.lr = a.number("lr", 1e-12, 1e6);
          t.lr_final = a.number("lr-final", 0, 1e6);
          t.micro_bsz = static_cast<int>(a.integer("micro-bsz", 1, 4096));
          t.ctx_len = static_cast<int>(a.integer("ctx-len", 2, 1 << 20));
          t.eval_fraction = 0.1;  // picks the best state; the accuracy is on the task's eval file
          t.eval_every = 0;
          t.autosave_every = 0;
          t.snapshot_every = 0;
          t.method = c.method;
          if (c.method == "kernel") t.kernel_m = c.m;
          t.dbp = c.dbp ? dbp_mode : "off";
          std::printf("[%s] %s seed %d: tuning...\n", task.c_str(), c.name.c_str(), seed);
          std::fflush(stdout);
          rwkv::Tuner tuner(t);
          const auto s = tuner.run();
          best_eval = s.best_eval_loss;
          tune_s = s.wall_s;
          state = rwkv::load_state(t.out).s0;
        }
        rwkv::Context ctx(model);
        ctx.set_initial_state(state);
        const auto rep = rwkv::evaluate(ctx, *tok, set, ep);
        auto& cell = cells[{c.name, task}];
        cell.acc.push_back(rep.totals.accuracy());
        cell.seconds.push_back(tune_s);
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %s | %d | %.1f%% (%d/%d) | %s | %.0f |\n", task.c_str(), c.name.c_str(),
                      c.tune ? seed : 0, 100 * rep.totals.accuracy(), rep.totals.correct, rep.totals.n,
                      std::isfinite(best_eval) ? std::to_string(best_eval).substr(0, 6).c_str() : "-", tune_s);
        runs << line;
        std::printf("[%s] %s seed %d: accuracy %.1f%% (%d/%d)\n", task.c_str(), c.name.c_str(), seed,
                    100 * rep.totals.accuracy(), rep.totals.correct, rep.totals.n);
        std::fflush(stdout);
      }
    }
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();

  std::ostringstream md;
  md << "# Results: the ablation on the demo task suite\n\n";
  if (!a.str("note").empty()) md << a.str("note") << "\n\n";
  md << "Made by `rwkv-tune ablate` on " << now_utc() << " with " << model->info().path << " on "
     << a.str("device") << ", " << seeds << " seed(s) per tuned configuration, " << a.str("epochs")
     << " epochs (steps " << a.str("steps") << "), lr " << a.str("lr") << " -> " << a.str("lr-final")
     << ", micro-batch " << a.str("micro-bsz") << ", train limit " << a.str("train-limit") << ", eval limit "
     << a.str("eval-limit") << ", DBP mode " << dbp_mode << "; " << format_duration(total_s)
     << " in all. Accuracy in % on each task's eval file (greedy; mean ± sample standard deviation over the "
        "seeds; base has no seed).\n\n";
  md << "| config |";
  for (const auto& t : tasks) md << " " << t << " |";
  md << "\n|---|";
  for (size_t i = 0; i < tasks.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& c : configs) {
    md << "| " << c.name << " |";
    for (const auto& t : tasks) md << " " << mean_spread(cells[{c.name, t}].acc) << " |";
    md << "\n";
  }
  md << "\nEvery run:\n\n" << runs.str();
  const fs::path out = a.str("out");
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  std::ofstream f(out);
  f << md.str();
  if (!f) throw rwkv::Error(rwkv::ErrorKind::Io, "cannot write " + out.string());
  std::printf("wrote %s\n", out.string().c_str());
  return 0;
}

}  // namespace cli
