// A small command-line parser for the rwkv-tune subcommands: `--name value`, `--name=value`,
// boolean flags, repeatable options, required options, `--help`/`-h` everywhere. Mistakes
// throw UsageError (main prints it with the usage and exits 2); --help throws HelpRequested
// (main prints the usage to stdout and exits 0).
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string usage)
      : std::runtime_error(message), usage_(std::move(usage)) {}
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
};

struct HelpRequested {
  std::string text;
};

class ArgParser {
 public:
  // `command` is e.g. "info"; `summary` is one line shown under the usage.
  ArgParser(std::string command, std::string summary);

  // Declarations, in the order they appear in the help. Names are given without "--".
  ArgParser& option(const std::string& name, const std::string& value_name, const std::string& help,
                    const std::string& default_value = "");
  ArgParser& required(const std::string& name, const std::string& value_name, const std::string& help);
  ArgParser& repeatable(const std::string& name, const std::string& value_name, const std::string& help);
  ArgParser& flag(const std::string& name, const std::string& help);

  // Parses the arguments after the subcommand name.
  void parse(const std::vector<std::string>& args);

  bool has(const std::string& name) const;  // given on the command line (or a flag that is set)
  std::string str(const std::string& name) const;  // the value, or the default
  std::vector<std::string> all(const std::string& name) const;  // every value of a repeatable option
  // Typed values (the default when not given); a malformed or out-of-range value is a UsageError
  // naming the option, the expected form and what was found.
  int64_t integer(const std::string& name, int64_t min, int64_t max) const;
  uint64_t u64(const std::string& name) const;
  double number(const std::string& name, double min, double max) const;

  std::string usage() const;
  [[noreturn]] void fail(const std::string& message) const;  // UsageError with this command's usage

 private:
  enum class Kind { Value, Required, Multi, Flag };
  struct Spec {
    std::string name, value_name, help, default_value;
    Kind kind;
  };
  const Spec* find(const std::string& name) const;
  ArgParser& add(Spec s);

  std::string command_, summary_;
  std::vector<Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace cli
