#include "rwkv/error.h"

namespace rwkv {

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Io: return "io";
    case ErrorKind::Format: return "format";
    case ErrorKind::MissingKey: return "missing-key";
    case ErrorKind::Shape: return "shape";
    case ErrorKind::NonFinite: return "non-finite";
    case ErrorKind::Token: return "token";
    case ErrorKind::Argument: return "argument";
    case ErrorKind::Mismatch: return "mismatch";
    case ErrorKind::Cancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace rwkv
