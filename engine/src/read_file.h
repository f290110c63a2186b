// Whole-file reads for the engine's loaders: one place that turns "missing", "a folder" and
// "read error" into an Error(Io) naming the path and what the file was meant to be.
#pragma once
#include <string>

namespace rwkv {

// The bytes of `path`. `what` completes "is a folder, not ..." (e.g. "a state file").
std::string read_file(const std::string& path, const char* what);

}  // namespace rwkv
