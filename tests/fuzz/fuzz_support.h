// Shared by the libFuzzer targets: the engine's loaders take paths, so each input is written to
// a real file first; rwkv::Error is the documented answer to a bad file, anything else (another
// exception, a crash, a sanitizer report) is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "rwkv/error.h"

namespace fuzz {

// A file that holds the current input, rewritten for every run and removed at exit.
class InputFile {
 public:
  explicit InputFile(const std::string& suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/rwkv-fuzz-" + std::to_string(::getpid()) + suffix;
  }
  ~InputFile() { ::unlink(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& write(const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(path_.c_str());
      std::abort();  // the harness itself failed: not a finding in the engine
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs fn; an rwkv::Error is the loader rejecting the input, which is fine. Any other exception
// propagates out of LLVMFuzzerTestOneInput and aborts: the loader broke its contract.
template <class F>
void expect_rwkv_errors(F&& fn) {
  try {
    fn();
  } catch (const rwkv::Error&) {
  }
}

}  // namespace fuzz
