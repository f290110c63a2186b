// The files `rwkv-tune ablate` writes besides its Markdown table: every run's loss curve as CSV
// and one SVG line chart per task (the mean training loss over the seeds per configuration),
// drawn by hand so no plotting library is needed.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace cli {

struct RunCurve {
  std::string task, config;
  int seed = 0;
  std::vector<std::pair<int, double>> loss;  // (step, training loss of the step)
  std::vector<std::pair<int, double>> eval;  // (step, eval loss)
};

// "task,config,seed,step,kind,value" lines (kind = train or eval). Throws rwkv::Error(Io).
void write_curves_csv(const std::string& path, const std::vector<RunCurve>& curves);
// The mean training loss per step over the seeds of each configuration of `task`, one polyline
// each, log-scaled y when the values span more than a factor 20. Throws rwkv::Error(Io).
void write_loss_svg(const std::string& path, const std::string& task, const std::vector<RunCurve>& curves);
// "72.5 ± 3.1" (percent, sample standard deviation) of fractions; one value without spread; "-" for none.
std::string mean_spread(const std::vector<double>& v);

}  // namespace cli
