// write_curves_csv, write_loss_svg, mean_spread (see ablate_report.h).
#include "ablate_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "rwkv/error.h"

namespace cli {
namespace {

void save(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw rwkv::Error(rwkv::ErrorKind::Io, "cannot write " + path);
}

std::string num(double v, const char* f = "%.6g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

void write_curves_csv(const std::string& path, const std::vector<RunCurve>& curves) {
  std::ostringstream o;
  o << "task,config,seed,step,kind,value\n";
  for (const auto& c : curves) {
    for (const auto& [s, v] : c.loss) o << c.task << "," << c.config << "," << c.seed << "," << s << ",train," << num(v) << "\n";
    for (const auto& [s, v] : c.eval) o << c.task << "," << c.config << "," << c.seed << "," << s << ",eval," << num(v) << "\n";
  }
  save(path, o.str());
}

void write_loss_svg(const std::string& path, const std::string& task, const std::vector<RunCurve>& curves) {
  // config -> step -> (sum, count), in the order the configurations first appear
  std::vector<std::string> order;
  std::map<std::string, std::map<int, std::pair<double, int>>> acc;
  for (const auto& c : curves) {
    if (c.task != task) continue;
    if (!acc.count(c.config)) order.push_back(c.config);
    auto& m = acc[c.config];
    for (const auto& [s, v] : c.loss)
      if (std::isfinite(v)) {
        m[s].first += v;
        ++m[s].second;
      }
  }
  double lo = INFINITY, hi = -INFINITY;
  int max_step = 1;
  for (const auto& [name, m] : acc)
    for (const auto& [s, sc] : m) {
      const double v = sc.first / sc.second;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      max_step = std::max(max_step, s);
    }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  const bool logy = lo > 0 && hi / lo > 20;
  const auto ty = [&](double v) { return logy ? std::log10(v) : v; };
  double y0 = ty(lo), y1 = ty(hi);
  if (y1 - y0 < 1e-12) y1 = y0 + 1;
  const double W = 760, H = 440, L = 70, R = 190, T = 40, B = 50;
  const auto px = [&](double s) { return L + (W - L - R) * (max_step > 1 ? (s - 1) / (max_step - 1) : 0.5); };
  const auto py = [&](double v) { return T + (H - T - B) * (1 - (ty(v) - y0) / (y1 - y0)); };
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"};
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << L << "\" y=\"22\" font-size=\"15\">" << escape(task)
    << ": training loss per step (mean over seeds)" << (logy ? ", log scale" : "") << "</text>\n"
    << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // y ticks
    const double tv = y0 + (y1 - y0) * i / 4, v = logy ? std::pow(10, tv) : tv, y = py(v);
    o << "<line x1=\"" << L - 4 << "\" x2=\"" << W - R << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << L - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << num(v, "%.3g")
      << "</text>\n";
  }
  for (int i = 0; i <= 4; ++i) {  // x ticks
    const int s = 1 + static_cast<int>(std::lround((max_step - 1) * i / 4.0));
    o << "<text x=\"" << px(s) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << s << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">optimizer step</text>\n";
  for (size_t k = 0; k < order.size(); ++k) {
    const char* col = colors[k % (sizeof colors / sizeof *colors)];
    std::ostringstream pts;
    for (const auto& [s, sc] : acc[order[k]]) pts << num(px(s), "%.1f") << "," << num(py(sc.first / sc.second), "%.1f") << " ";
    o << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"1.6\" points=\"" << pts.str() << "\"/>\n";
    const double ly = T + 10 + 18 * k;
    o << "<line x1=\"" << W - R + 12 << "\" x2=\"" << W - R + 36 << "\" y1=\"" << ly << "\" y2=\"" << ly << "\" stroke=\""
      << col << "\" stroke-width=\"2\"/>\n<text x=\"" << W - R + 42 << "\" y=\"" << ly + 4 << "\">" << escape(order[k])
      << "</text>\n";
  }
  o << "</svg>\n";
  save(path, o.str());
}

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

}  // namespace cli
