#include "args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace cli {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

ArgParser& ArgParser::add(Spec s) {
  specs_.push_back(std::move(s));
  return *this;
}

ArgParser& ArgParser::option(const std::string& name, const std::string& value_name, const std::string& help,
                             const std::string& default_value) {
  return add({name, value_name, help, default_value, Kind::Value});
}
ArgParser& ArgParser::required(const std::string& name, const std::string& value_name, const std::string& help) {
  return add({name, value_name, help, "", Kind::Required});
}
ArgParser& ArgParser::repeatable(const std::string& name, const std::string& value_name, const std::string& help) {
  return add({name, value_name, help, "", Kind::Multi});
}
ArgParser& ArgParser::flag(const std::string& name, const std::string& help) {
  return add({name, "", help, "", Kind::Flag});
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

void ArgParser::fail(const std::string& message) const { throw UsageError(message, usage()); }

void ArgParser::parse(const std::vector<std::string>& args) {
  // --help anywhere wins over every other mistake (write --prompt=--help for that literal value).
  for (const auto& a : args)
    if (a == "--help" || a == "-h") throw HelpRequested{usage()};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0)
      fail("unexpected argument '" + a + "' (options start with --)");
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const Spec* s = find(name);
    if (!s) fail("unknown option --" + name + " for '" + command_ + "'");
    std::string value;
    if (s->kind == Kind::Flag) {
      if (eq != std::string::npos) fail("option --" + name + " takes no value");
    } else if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) fail("option --" + name + " needs a value (" + s->value_name + ")");
      value = args[++i];
    }
    auto& slot = values_[name];
    if (!slot.empty() && s->kind != Kind::Multi) fail("option --" + name + " is given more than once");
    slot.push_back(value);
  }
  for (const auto& s : specs_)
    if (s.kind == Kind::Required && !has(s.name)) fail("missing required option --" + s.name + " " + s.value_name);
}

bool ArgParser::has(const std::string& name) const { return values_.count(name) > 0; }

std::string ArgParser::str(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.front();
  const Spec* s = find(name);
  return s ? s->default_value : std::string();
}

std::vector<std::string> ArgParser::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t ArgParser::integer(const std::string& name, int64_t min, int64_t max) const {
  const std::string v = str(name);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    fail("--" + name + ": expected an integer, got '" + v + "'");
  if (x < min || x > max)
    fail("--" + name + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + v);
  return x;
}

uint64_t ArgParser::u64(const std::string& name) const {
  const std::string v = str(name);
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE)
    fail("--" + name + ": expected a non-negative integer below 2^64, got '" + v + "'");
  return x;
}

double ArgParser::number(const std::string& name, double min, double max) const {
  const std::string v = str(name);
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x))
    fail("--" + name + ": expected a number, got '" + v + "'");
  if (x < min || x > max) {
    auto fmt = [](double d) {
      std::string s = std::to_string(d);
      s.erase(s.find_last_not_of('0') + 1);
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    fail("--" + name + ": expected a number in [" + fmt(min) + ", " + fmt(max) + "], got " + v);
  }
  return x;
}

std::string ArgParser::usage() const {
  std::string u = "usage: rwkv-tune " + command_;
  for (const auto& s : specs_)
    if (s.kind == Kind::Required) u += " --" + s.name + " " + s.value_name;
  u += " [options]\n\n" + summary_ + "\n\noptions:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& s : specs_) {
    std::string left = "--" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    std::string right = s.help;
    if (s.kind == Kind::Required) right += " (required)";
    if (s.kind == Kind::Multi) right += " (repeatable)";
    if (!s.default_value.empty()) right += " [default: " + s.default_value + "]";
    rows.emplace_back(left, right);
  }
  rows.emplace_back("--help, -h", "show this help");
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  for (const auto& r : rows) u += "  " + r.first + std::string(width - r.first.size() + 2, ' ') + r.second + "\n";
  return u;
}

}  // namespace cli
