// rwkv-tune ablate: the paper's ablation (method note section 6) on the demo task suite. For every
// task (<tasks-dir>/<task>_{train,eval}.jsonl), configuration and seed it tunes a state with the
// same optimizer settings, answers the task's eval file greedily with it (rwkv::evaluate, the
// scorer chosen from the references) and writes to the output folder:
//   results.md      mean accuracy ± sample standard deviation over the seeds per task, the cost
//                   of each configuration (tuning and guide seconds) and every single run
//   curves.csv      every run's training loss per step and eval loss
//   loss_<task>.svg the mean training loss per step of each configuration
//   work/           the tuned states
// Configurations: base (no tuning), plain, kernelM and kernelM+dbp, cot, kl, kl_multi (guided by
// --guide) and guide (the guide model itself, untuned). A run that fails (e.g. the guide answers
// no training question correctly) is reported in the table and the ablation goes on.
// --quick: a tiny CPU smoke version (two tasks, few lines, two steps, M = 16), for tests.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ablate_report.h"
#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/generate.h"
#include "rwkv/state_file.h"
#include "rwkv/tuner.h"

namespace cli {

namespace {

namespace fs = std::filesystem;

struct AblationConfig {
  std::string name;            // "base", "plain", "kernel256", "kernel256+dbp", "cot", "kl", "guide"
  bool tune = true;
  bool guide_model = false;    // evaluate the guide model instead of the student
  std::string method = "plain";
  int m = 0;
  bool dbp = false;
  std::string guided = "off";
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
  if (name == "base" || name == "guide") {
    c.tune = false;
    c.guide_model = name == "guide";
    return c;
  }
  if (name == "plain") return c;
  if (name == "cot" || name == "kl" || name == "kl_multi") {
    c.guided = name;
    return c;
  }
  std::string rest = name;
  const auto plus = rest.find('+');
  if (plus != std::string::npos) {
    if (rest.substr(plus) != "+dbp") a.fail("--configs: unknown suffix in '" + name + "' (only +dbp)");
    c.dbp = true;
    rest = rest.substr(0, plus);
  }
  if (rest.rfind("kernel", 0) != 0 || rest.size() == 6)
    a.fail("--configs: '" + name + "' is not base, plain, kernelM, kernelM+dbp, cot, kl, kl_multi or guide");
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
  std::vector<double> acc, tune_s, guide_s;
  int failed = 0;
};

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string mean_of(const std::vector<double>& v, const char* f) {
  if (v.empty()) return "-";
  double m = 0;
  for (double x : v) m += x;
  char buf[32];
  std::snprintf(buf, sizeof buf, f, m / double(v.size()));
  return buf;
}

// Records the loss curve and prints the guide's progress lines.
struct CurveObserver : rwkv::TuneObserver {
  RunCurve* curve;
  explicit CurveObserver(RunCurve* c) : curve(c) {}
  void on_step(const rwkv::StepMetrics& m) override {
    if (!m.skipped) curve->loss.push_back({m.step, m.loss});
  }
  void on_eval(const rwkv::EvalMetrics& e) override { curve->eval.push_back({e.step, e.eval_loss}); }
  void on_log(const std::string& s) override {
    if (s.rfind("guide", 0) == 0) {
      std::printf("    %s\n", s.c_str());
      std::fflush(stdout);
    }
  }
};

// Option values, with the --quick defaults for the options not given.
class Opts {
 public:
  Opts(const ArgParser& a, bool quick) : a_(a), quick_(quick) {}
  std::string str(const std::string& n) const {
    static const std::map<std::string, std::string> q = {
        {"tasks", "arith,facts"}, {"configs", "base,plain,kernel16,kernel16+dbp,cot,kl,guide"}, {"seeds", "2"},
        {"steps", "2"}, {"train-limit", "6"}, {"eval-limit", "3"}, {"max-tokens", "48"}, {"guide-max-tokens", "64"},
        {"micro-bsz", "2"}, {"eval-every", "1"}, {"ctx-len", "256"}};
    if (quick_ && !a_.has(n) && q.count(n)) return q.at(n);
    return a_.str(n);
  }
  int integer(const std::string& n, int lo, int hi) const {
    const std::string v = str(n);
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || x < lo || x > hi)
      a_.fail("--" + n + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
    return static_cast<int>(x);
  }

 private:
  const ArgParser& a_;
  bool quick_;
};

}  // namespace

int cmd_ablate(const Args& args) {
  ArgParser a("ablate",
              "Runs the ablation (base, plain, kernel M with and without DBP, guided cot and kl, the guide alone) over "
              "tasks and seeds and writes a Markdown table, loss curves (CSV) and loss plots (SVG) to a folder.");
  a.option("model", "FILE", "the student model every configuration tunes (its tokenizer is found beside it)",
           "resources/models/demo-small.safetensors");
  a.option("guide", "FILE", "the guide model of the cot, kl and kl_multi configurations and of 'guide'",
           "resources/models/demo-guide.safetensors");
  a.option("tasks-dir", "DIR", "folder of <task>_train.jsonl and <task>_eval.jsonl", "resources/tasks");
  a.option("tasks", "LIST", "comma-separated task names", "arith,facts,format");
  a.option("configs", "LIST", "comma-separated: base, plain, kernelM, kernelM+dbp, cot, kl, kl_multi, guide",
           "base,plain,kernel256,kernel512,kernel768,kernel256+dbp,kernel512+dbp,kernel768+dbp,cot,kl,guide");
  a.option("seeds", "N", "seeds per tuned configuration (1..N)", "3");
  a.option("epochs", "N", "tuning epochs", "10");
  a.option("steps", "N", "optimizer steps (overrides --epochs), 0 = by epochs", "0");
  a.option("lr", "LR", "peak learning rate", "0.2");
  a.option("lr-final", "LR", "final learning rate", "0.01");
  a.option("micro-bsz", "N", "samples per forward", "4");
  a.option("ctx-len", "N", "tokens per sample", "512");
  a.option("eval-every", "N", "steps between eval-loss points of the curves", "20");
  a.option("dbp", "MODE", "the DBP mode of the +dbp configurations: loss or update", "loss");
  a.option("kl-weight", "W", "kl, kl_multi: weight of the KL term", "1");
  a.option("ce-weight", "W", "kl, kl_multi: weight of the CE on the guide's answers", "0");
  a.option("guide-max-tokens", "N", "tokens per guide answer", "256");
  a.flag("guide-no-filter", "guided configurations keep every guide answer, not only those matching the reference");
  a.option("train-limit", "N", "use the first N training lines, 0 = all", "0");
  a.option("eval-limit", "N", "answer the first N eval items, 0 = all", "0");
  a.option("max-tokens", "N", "tokens per answer", "64");
  a.option("eval-batch", "N", "answers generated together in the accuracy evaluation, 0 = 32 on a GPU, 1 on the CPU",
           "0");
  a.option("device", "DEV", "cpu, cuda or cuda:N", "cpu");
  a.option("out", "DIR", "the folder to write results.md, curves.csv, loss_<task>.svg and work/ to", "ablation");
  a.option("note", "TEXT", "a line about where and how the table was made, written under the title", "");
  a.flag("quick", "a tiny smoke version: tasks arith,facts, 6 training lines, 3 eval items, 2 steps, M = 16, 2 seeds "
                  "(options given explicitly still apply)");
  a.parse(args);
  const bool quick = a.has("quick");
  const Opts o(a, quick);

  std::vector<AblationConfig> configs;
  for (const auto& n : split(o.str("configs"), ',')) configs.push_back(parse_config(a, n));
  const auto tasks = split(o.str("tasks"), ',');
  if (tasks.empty() || configs.empty()) a.fail("--tasks and --configs must name at least one each");
  const int seeds = o.integer("seeds", 1, 1000);
  const std::string dbp_mode = a.str("dbp");
  if (dbp_mode != "loss" && dbp_mode != "update") a.fail("--dbp: expected loss or update, got '" + dbp_mode + "'");
  const fs::path out = a.str("out"), work = out / "work";
  fs::create_directories(work);

  rwkv::LoadOptions lo;
  lo.device = a.str("device");
  lo.compute_bf16 = lo.device != "cpu";
  const auto model = rwkv::Model::load(a.str("model"), lo);
  const auto tok = resolve_tokenizer("", model->info());
  std::shared_ptr<const rwkv::Model> guide;
  for (const auto& c : configs)
    if (c.guide_model && !guide) guide = rwkv::Model::load(a.str("guide"), lo);

  int eval_batch = o.integer("eval-batch", 0, 4096);
  if (eval_batch == 0) eval_batch = rwkv::default_greedy_batch(*model);

  std::map<std::pair<std::string, std::string>, Cell> cells;  // (config, task)
  std::vector<RunCurve> curves;
  std::ostringstream runs;
  runs << "| task | config | seed | accuracy | best eval loss | tune s | guide: kept / asked, tokens written + scored, s |\n"
          "|---|---|---|---|---|---|---|\n";
  const auto t_all = std::chrono::steady_clock::now();
  // results.md, curves.csv and the plots, rewritten after every run so that a run cut short
  // (a device time limit, Ctrl-C) keeps what it measured; `done` says whether it is complete.
  auto write_results = [&](bool done) {
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
    std::ostringstream md;
    md << "# Results: the ablation on the demo task suite\n\n";
    if (!a.str("note").empty()) md << a.str("note") << "\n\n";
    md << "Made by `rwkv-tune ablate" << (quick ? " --quick" : "") << "` on " << now_utc() << " with the student "
       << model->info().path << " and the guide " << a.str("guide") << " on " << a.str("device") << ", " << seeds
       << " seed(s) per tuned configuration, " << o.str("epochs") << " epochs (steps " << o.str("steps") << "), lr "
       << a.str("lr") << " -> " << a.str("lr-final") << ", micro-batch " << o.str("micro-bsz") << ", train limit "
       << o.str("train-limit") << ", eval limit " << o.str("eval-limit") << ", eval batch " << eval_batch << ", DBP mode " << dbp_mode
       << ", guided: KL weight " << a.str("kl-weight") << ", CE weight " << a.str("ce-weight") << ", filter "
       << (a.has("guide-no-filter") ? "off" : "on") << "; " << format_duration(total_s)
       << (done ? " in all" : " so far (incomplete: the run did not finish)")
       << ". Accuracy in % on each task's eval file (greedy; mean ± sample standard deviation over the "
          "seeds; base and guide are untuned and have no seed).\n\n";
    md << "| config |";
    for (const auto& t : tasks) md << " " << t << " |";
    md << "\n|---|";
    for (size_t i = 0; i < tasks.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& c : configs) {
      md << "| " << c.name << " |";
      for (const auto& t : tasks) {
        const Cell& cell = cells[{c.name, t}];
        md << " " << mean_spread(cell.acc) << (cell.failed ? " (" + std::to_string(cell.failed) + " failed)" : "") << " |";
      }
      md << "\n";
    }
    md << "\nCost: mean seconds per tuning run (the guide's seconds included, and also shown alone).\n\n| config |";
    for (const auto& t : tasks) md << " " << t << " |";
    md << "\n|---|";
    for (size_t i = 0; i < tasks.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& c : configs) {
      if (!c.tune) continue;
      md << "| " << c.name << " |";
      for (const auto& t : tasks) {
        const Cell& cell = cells[{c.name, t}];
        md << " " << mean_of(cell.tune_s, "%.1f") << (cell.guide_s.empty() ? "" : " (guide " + mean_of(cell.guide_s, "%.1f") + ")")
           << " |";
      }
      md << "\n";
    }
    md << "\nLoss curves: `curves.csv`; plots:";
    for (const auto& t : tasks) md << " [" << t << "](loss_" << t << ".svg)";
    md << ".\n\nEvery run:\n\n" << runs.str();
    rwkv::atomic_write_file((out / "results.md").string(), md.str());
    write_curves_csv((out / "curves.csv").string(), curves);
    for (const auto& t : tasks) write_loss_svg((out / ("loss_" + t + ".svg")).string(), t, curves);
  };
  for (const auto& task : tasks) {
    const fs::path dir = a.str("tasks-dir");
    const std::string train = (dir / (task + "_train.jsonl")).string(), evalf = (dir / (task + "_eval.jsonl")).string();
    const std::string train_used = (work / (task + "_train_used.jsonl")).string();
    copy_lines(train, train_used, o.integer("train-limit", 0, 1 << 30));
    const rwkv::EvalSet set = rwkv::load_eval_set(evalf);
    rwkv::EvalParams ep;
    ep.max_tokens = o.integer("max-tokens", 1, 1 << 20);
    ep.limit = o.integer("eval-limit", 0, 1 << 30);
    ep.batch = eval_batch;
    for (const auto& c : configs) {
      for (int seed = 1; seed <= (c.tune ? seeds : 1); ++seed) {
        rwkv::InitialState state;
        double best_eval = NAN, tune_s = 0;
        std::string guide_note = "-";
        auto& cell = cells[{c.name, task}];
        if (c.tune) {
          rwkv::TuneConfig t;
          t.model = a.str("model");
          t.data = train_used;
          t.out = (work / (task + "_" + c.name + "_s" + std::to_string(seed) + ".rwkvstate")).string();
          t.autosave = t.out + ".autosave";
          t.device = a.str("device");
          t.seed = static_cast<uint64_t>(seed);
          t.epochs = o.integer("epochs", 1, 1 << 20);
          t.max_steps = o.integer("steps", 0, 1 << 30);
          t.lr = a.number("lr", 1e-12, 1e6);
          t.lr_final = a.number("lr-final", 0, 1e6);
          t.micro_bsz = o.integer("micro-bsz", 1, 4096);
          t.ctx_len = o.integer("ctx-len", 2, 1 << 20);
          t.eval_fraction = 0.1;  // picks the best state; the accuracy is on the task's eval file
          t.eval_every = o.integer("eval-every", 0, 1 << 30);
          t.autosave_every = 0;
          t.snapshot_every = 0;
          t.method = c.method;
          if (c.method == "kernel") t.kernel_m = c.m;
          t.dbp = c.dbp ? dbp_mode : "off";
          if (c.guided != "off") {
            t.guided = c.guided;
            t.guide = a.str("guide");
            t.guide_kl_weight = a.number("kl-weight", 0, 1e6);
            t.guide_ce_weight = a.number("ce-weight", 0, 1e6);
            t.guide_max_tokens = o.integer("guide-max-tokens", 1, 1 << 20);
            t.guide_filter = !a.has("guide-no-filter");
          }
          std::printf("[%s] %s seed %d: tuning...\n", task.c_str(), c.name.c_str(), seed);
          std::fflush(stdout);
          RunCurve curve{task, c.name, seed, {}, {}};
          CurveObserver obs(&curve);
          try {
            rwkv::Tuner tuner(t, &obs);
            const auto s = tuner.run(&obs);
            best_eval = s.best_eval_loss;
            tune_s = s.wall_s;
            if (c.guided != "off") {
              tune_s += tuner.info().guide.seconds;  // the guide's answers (and kl's scoring) came before run()
              char buf[160];
              std::snprintf(buf, sizeof buf, "%d / %d, %lld + %lld, %.1f", s.guide.kept, s.guide.questions,
                            static_cast<long long>(s.guide.tokens_generated),
                            static_cast<long long>(s.guide.tokens_scored), s.guide.seconds);
              guide_note = buf;
              cell.guide_s.push_back(s.guide.seconds);
            }
            state = rwkv::load_state(t.out).s0;
          } catch (const rwkv::Error& e) {
            if (e.kind() == rwkv::ErrorKind::Cancelled) throw;
            std::printf("[%s] %s seed %d: failed: %s\n", task.c_str(), c.name.c_str(), seed, e.what());
            runs << "| " << task << " | " << c.name << " | " << seed << " | failed: " << e.what() << " | - | - | - |\n";
            ++cell.failed;
            write_results(false);
            continue;
          }
          curves.push_back(std::move(curve));
        }
        rwkv::Context ctx(c.guide_model ? guide : model);
        ctx.set_initial_state(state);
        const auto rep = rwkv::evaluate(ctx, *tok, set, ep);
        cell.acc.push_back(rep.totals.accuracy());
        if (c.tune) cell.tune_s.push_back(tune_s);
        char line[512];
        std::snprintf(line, sizeof line, "| %s | %s | %d | %.1f%% (%d/%d) | %s | %.0f | %s |\n", task.c_str(),
                      c.name.c_str(), c.tune ? seed : 0, 100 * rep.totals.accuracy(), rep.totals.correct, rep.totals.n,
                      std::isfinite(best_eval) ? std::to_string(best_eval).substr(0, 6).c_str() : "-", tune_s,
                      guide_note.c_str());
        runs << line;
        write_results(false);
        std::printf("[%s] %s seed %d: accuracy %.1f%% (%d/%d)\n", task.c_str(), c.name.c_str(), seed,
                    100 * rep.totals.accuracy(), rep.totals.correct, rep.totals.n);
        std::fflush(stdout);
      }
    }
  }
  write_results(true);
  std::printf("wrote %s, curves.csv and %zu loss plot(s) in %s\n", (out / "results.md").string().c_str(), tasks.size(),
              out.string().c_str());
  return 0;
}

}  // namespace cli
