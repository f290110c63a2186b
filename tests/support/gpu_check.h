// A minimal check harness for the gpu tests, which build on the GPU machine where Qt is absent.
// Exit codes: 0 all passed, 1 a check failed, 77 no CUDA device (CTest reports it as skipped).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace gpu_check {

inline int& failures() {
  static int n = 0;
  return n;
}

inline void expect(bool ok, const std::string& what) {
  std::printf("%s  %s\n", ok ? "PASS" : "FAIL", what.c_str());
  if (!ok) ++failures();
}

// Runs the cases; prints the plain closing line.
inline int finish(int cases) {
  std::printf("%d passed, %d failed\n", cases - failures(), failures());
  return failures() ? 1 : 0;
}

}  // namespace gpu_check
