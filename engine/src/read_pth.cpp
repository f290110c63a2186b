// Reader for PyTorch checkpoints written by torch.save: a zip (read with LibTorch's
// PyTorchStreamReader) holding archive/data.pkl and one record archive/data/<key> per storage.
//
// LibTorch's own unpickler (torch::pickle_load) cannot be used: it turns every
// collections.OrderedDict into None, so any state_dict() saved as is - the most common form -
// fails. This file therefore has a small unpickler for the subset torch.save emits (protocols
// 2 to 5). It never executes anything: known globals (OrderedDict, tensor rebuild functions,
// storage types) are interpreted, every other global becomes an opaque placeholder, so extra
// entries of a training checkpoint (argparse namespaces, optimizer state) are skipped.
// Storages are read from the zip straight into tensor memory (one copy, no whole-file buffer).
// Hostile pickles are expected (docs/robustness.md): every object lives in the unpickler's arena,
// which unlinks them all before freeing, so a million nested tuples or a list that contains
// itself neither overflow the stack nor leak; tensor views are checked without overflow.
#include <caffe2/serialize/inline_container.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "rwkv/error.h"
#include "weights.h"

namespace rwkv {
namespace {

struct Obj;
using Ref = std::shared_ptr<Obj>;

struct Obj {
  enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor, Opaque, Mark } kind = None;
  int64_t i = 0;                        // Bool, Int
  double f = 0;                         // Float
  std::string s, s2;                    // Str; Global module (s) and name (s2)
  std::vector<Ref> items;               // Tuple, List
  std::vector<std::pair<Ref, Ref>> kv;  // Dict, in insertion order
  torch::Tensor t;                      // Storage (1-D, numel elements), Tensor
};

struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::optional<torch::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"FloatStorage", torch::kFloat32}, {"HalfStorage", torch::kHalf},    {"BFloat16Storage", torch::kBFloat16},
      {"DoubleStorage", torch::kFloat64}, {"LongStorage", torch::kInt64},  {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},    {"ByteStorage", torch::kUInt8},
      {"BoolStorage", torch::kBool}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

// A view may have more elements than its storage (an expanded tensor, stride 0) but not without
// bound: a few bytes of pickle must not make the loader copy gigabytes.
constexpr int64_t kMaxExpandedElements = int64_t(1) << 24;
constexpr int kMaxReduceDepth = 64;  // tensor-subclass records nest a few levels, not thousands

class Unpickler {
 public:
  Unpickler(const std::string& data, caffe2::serialize::PyTorchStreamReader& zip) : d_(data), zip_(zip) {}
  // Unlinks every object first, so that freeing them never recurses and cycles are broken.
  ~Unpickler() {
    stack_.clear();
    memo_.clear();
    storages_.clear();
    for (const Ref& o : arena_) {
      o->items.clear();
      o->kv.clear();
    }
  }
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  Ref run() {
    for (;;) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                       // PROTO
        case 0x95: bytes(8); break;                   // FRAME (length is only a hint)
        case '.': return pop();                       // STOP
        case '(': push(make(Obj::Mark)); break;       // MARK
        case 'N': push(make(Obj::None)); break;
        case 0x88: push(boolean(true)); break;        // NEWTRUE
        case 0x89: push(boolean(false)); break;       // NEWFALSE
        case 'K': push(integer(u8())); break;         // BININT1
        case 'M': push(integer(le(2))); break;        // BININT2
        case 'J': push(integer(int32_t(le(4)))); break;  // BININT
        case 0x8a: push(integer(long_int(u8()))); break;  // LONG1
        case 0x8b: push(integer(long_int(le(4)))); break;  // LONG4
        case 'G': push(real()); break;                // BINFLOAT
        case 'X': push(str(bytes(le(4)))); break;     // BINUNICODE
        case 0x8c: push(str(bytes(u8()))); break;     // SHORT_BINUNICODE
        case 0x8d: push(str(bytes(le(8)))); break;    // BINUNICODE8
        case 'T': push(str(bytes(le(4)))); break;     // BINSTRING
        case 'U': push(str(bytes(u8()))); break;      // SHORT_BINSTRING
        case 'B': push(str(bytes(le(4)))); break;     // BINBYTES
        case 'C': push(str(bytes(u8()))); break;      // SHORT_BINBYTES
        case ')': push(make(Obj::Tuple)); break;      // EMPTY_TUPLE
        case ']': push(make(Obj::List)); break;       // EMPTY_LIST
        case '}': push(make(Obj::Dict)); break;       // EMPTY_DICT
        case 't': push(tuple(pop_mark())); break;     // TUPLE
        case 0x85: push(tuple(pop_n(1))); break;      // TUPLE1
        case 0x86: push(tuple(pop_n(2))); break;      // TUPLE2
        case 0x87: push(tuple(pop_n(3))); break;      // TUPLE3
        case 'l': { auto l = make(Obj::List); l->items = pop_mark(); push(l); } break;  // LIST
        case 'd': { auto dct = make(Obj::Dict); set_items(*dct, pop_mark()); push(dct); } break;  // DICT
        case 'a': { auto v = pop(); append(top(), {v}); } break;  // APPEND
        case 'e': { auto vs = pop_mark(); append(top(), vs); } break;  // APPENDS
        case 0x8f: push(make(Obj::Opaque)); break;    // EMPTY_SET
        case 0x90: pop_mark(); break;                 // ADDITEMS (to a set: not needed)
        case 0x91: pop_mark(); push(make(Obj::Opaque)); break;  // FROZENSET
        case 's': { auto v = pop(); auto k = pop(); set_items(dict_of(top()), {k, v}); } break;  // SETITEM
        case 'u': { auto kvs = pop_mark(); set_items(dict_of(top()), kvs); } break;  // SETITEMS
        case '0': pop(); break;                       // POP
        case '1': pop_mark(); break;                  // POP_MARK
        case '2': push(top()); break;                 // DUP
        case 'q': memo_[u8()] = top(); break;         // BINPUT
        case 'r': memo_[le(4)] = top(); break;        // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
        case 'h': push(memo(u8())); break;            // BINGET
        case 'j': push(memo(le(4))); break;           // LONG_BINGET
        case 'c': { auto g = make(Obj::Global); g->s = line(); g->s2 = line(); push(g); } break;  // GLOBAL
        case 0x93: { auto name = pop(), mod = pop(); auto g = make(Obj::Global);  // STACK_GLOBAL
                     g->s = mod->s; g->s2 = name->s; push(g); } break;
        case 'R': { auto args = pop(); auto fn = pop(); push(reduce(fn, args)); } break;  // REDUCE
        case 0x81: { auto args = pop(); auto cls = pop(); push(reduce(cls, args)); } break;  // NEWOBJ
        case 'b': pop(); break;                       // BUILD: object state (_metadata etc.) is not needed
        case 'Q': push(persistent(pop())); break;     // BINPERSID
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          throw PickleError(std::string("unsupported pickle opcode ") + hex + " at byte " + std::to_string(pos_ - 1));
        }
      }
    }
  }

 private:
  // ---- input ----
  uint8_t u8() {
    if (pos_ >= d_.size()) throw PickleError("the pickle ends early (no STOP)");
    return static_cast<uint8_t>(d_[pos_++]);
  }
  std::string bytes(uint64_t n) {
    if (n > d_.size() - pos_) throw PickleError("the pickle ends early (a string runs past its end)");
    std::string s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t le(int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(u8()) << (8 * k);
    return v;
  }
  int64_t long_int(uint64_t n) {  // little-endian two's complement
    if (n > 8) throw PickleError("integer too large");
    const std::string b = bytes(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(uint8_t(b[k])) << (8 * k);
    if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const auto nl = d_.find('\n', pos_);
    if (nl == std::string::npos) throw PickleError("the pickle ends early (in GLOBAL)");
    std::string s = d_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  // ---- values ----
  Ref make(Obj::Kind k) {
    auto o = std::make_shared<Obj>();
    o->kind = k;
    arena_.push_back(o);
    return o;
  }
  Ref boolean(bool b) { auto o = make(Obj::Bool); o->i = b; return o; }
  Ref integer(int64_t v) { auto o = make(Obj::Int); o->i = v; return o; }
  Ref str(std::string s) { auto o = make(Obj::Str); o->s = std::move(s); return o; }
  Ref tuple(std::vector<Ref> items) { auto o = make(Obj::Tuple); o->items = std::move(items); return o; }
  Ref real() {
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();  // big-endian
    auto o = make(Obj::Float);
    std::memcpy(&o->f, &bits, 8);
    return o;
  }

  // ---- stack ----
  void push(Ref r) { stack_.push_back(std::move(r)); }
  Ref& top() {
    if (stack_.empty()) throw PickleError("stack underflow");
    return stack_.back();
  }
  Ref pop() {
    Ref r = top();
    stack_.pop_back();
    if (r->kind == Obj::Mark) throw PickleError("unexpected MARK");
    return r;
  }
  std::vector<Ref> pop_n(size_t n) {
    if (stack_.size() < n) throw PickleError("stack underflow");
    std::vector<Ref> v(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return v;
  }
  std::vector<Ref> pop_mark() {
    for (size_t k = stack_.size(); k-- > 0;) {
      if (stack_[k]->kind == Obj::Mark) {
        std::vector<Ref> v(stack_.begin() + static_cast<std::ptrdiff_t>(k) + 1, stack_.end());
        stack_.resize(k);
        return v;
      }
    }
    throw PickleError("no MARK on the stack");
  }
  Ref memo(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) throw PickleError("reference to unknown memo entry " + std::to_string(k));
    return it->second;
  }
  static void append(Ref& r, const std::vector<Ref>& vs) {
    if (r->kind == Obj::Opaque) return;  // items of an unknown sequence type: ignored
    if (r->kind != Obj::List) throw PickleError("APPEND to something that is not a list");
    r->items.insert(r->items.end(), vs.begin(), vs.end());
  }
  static Obj& dict_of(Ref& r) {
    if (r->kind == Obj::Opaque) return *r;  // items of an unknown mapping type: ignored
    if (r->kind != Obj::Dict) throw PickleError("SETITEM on something that is not a dict");
    return *r;
  }
  static void set_items(Obj& d, const std::vector<Ref>& kvs) {
    if (kvs.size() % 2) throw PickleError("odd number of items for a dict");
    if (d.kind != Obj::Dict) return;
    for (size_t k = 0; k < kvs.size(); k += 2) d.kv.emplace_back(kvs[k], kvs[k + 1]);
  }

  // ---- torch objects ----
  static std::vector<int64_t> ints(const Ref& r, const char* what) {
    if (r->kind != Obj::Tuple && r->kind != Obj::List) throw PickleError(std::string(what) + " is not a tuple");
    std::vector<int64_t> v;
    for (const auto& x : r->items) {
      if (x->kind != Obj::Int) throw PickleError(std::string(what) + " holds a non-integer");
      v.push_back(x->i);
    }
    return v;
  }

  Ref reduce(const Ref& fn, const Ref& args, int depth = 0) {
    if (depth > kMaxReduceDepth) throw PickleError("tensor records nested too deeply");
    if (fn->kind != Obj::Global) return make(Obj::Opaque);
    const std::string name = fn->s + "." + fn->s2;
    const std::vector<Ref>& a = args->items;
    if (name == "collections.OrderedDict") return make(Obj::Dict);
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (args->kind != Obj::Tuple || a.size() < 4 || a[0]->kind != Obj::Storage || a[1]->kind != Obj::Int)
        throw PickleError("malformed tensor record");
      return view(a[0]->t, a[1]->i, ints(a[2], "tensor size"), ints(a[3], "tensor stride"));
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args->kind != Obj::Tuple || a.empty() || a[0]->kind != Obj::Tensor) throw PickleError("malformed parameter record");
      return a[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state): a tensor subclass
      if (args->kind != Obj::Tuple || a.size() < 3) throw PickleError("malformed tensor subclass record");
      return reduce(a[0], a[2], depth + 1);
    }
    return make(Obj::Opaque);
  }

  Ref view(const torch::Tensor& storage, int64_t offset, const std::vector<int64_t>& size,
           const std::vector<int64_t>& stride) {
    if (size.size() != stride.size()) throw PickleError("tensor size and stride differ in length");
    if (offset < 0) throw PickleError("negative tensor storage offset");
    int64_t last = offset;  // highest element index the view touches
    int64_t numel = 1;
    bool empty = false, overflow = false;
    for (size_t k = 0; k < size.size(); ++k) {
      if (size[k] < 0 || stride[k] < 0) throw PickleError("negative tensor size or stride");
      if (size[k] == 0) empty = true;
      int64_t reach = 0;
      overflow |= __builtin_mul_overflow(size[k] == 0 ? 0 : size[k] - 1, stride[k], &reach);
      overflow |= __builtin_add_overflow(last, reach, &last);
      overflow |= __builtin_mul_overflow(numel, size[k], &numel);
    }
    if (!empty && (overflow || last >= storage.numel()))
      throw PickleError("a tensor view reaches past the end of its storage");
    if (!empty && numel > std::max<int64_t>(storage.numel(), kMaxExpandedElements))
      throw PickleError("a tensor view of " + std::to_string(numel) + " elements expands a storage of " +
                        std::to_string(storage.numel()));
    auto o = make(Obj::Tensor);
    o->t = storage.as_strided(size, stride, offset);
    return o;
  }

  // ('storage', <storage type global>, key, location, numel) -> the record data/<key>.
  Ref persistent(const Ref& pid) {
    const auto& a = pid->items;
    if (pid->kind != Obj::Tuple || a.size() < 5 || a[0]->kind != Obj::Str || a[0]->s != "storage" ||
        a[1]->kind != Obj::Global || a[2]->kind != Obj::Str || a[4]->kind != Obj::Int || a[4]->i < 0)
      throw PickleError("unknown persistent id (not a storage)");
    const auto dtype = storage_dtype(a[1]->s2);
    if (!dtype) throw PickleError("unsupported storage type " + a[1]->s + "." + a[1]->s2);
    const std::string& key = a[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;

    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) throw PickleError("storage record '" + record + "' is missing");
    uint64_t want = 0;
    if (__builtin_mul_overflow(uint64_t(a[4]->i), uint64_t(c10::elementSize(*dtype)), &want))
      throw PickleError("storage record '" + record + "' is impossibly large");
    const uint64_t have = zip_.getRecordSize(record);
    if (have != want)
      throw PickleError("storage record '" + record + "' has " + std::to_string(have) + " bytes, expected " +
                        std::to_string(want));
    auto o = make(Obj::Storage);
    o->t = torch::empty({a[4]->i}, torch::TensorOptions().dtype(*dtype));
    if (want > 0) zip_.getRecord(record, o->t.data_ptr(), want);
    storages_[key] = o;
    return o;
  }

  const std::string& d_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
  std::map<std::string, Ref> storages_;
  std::vector<Ref> arena_;  // every object made, unlinked by the destructor
};

[[noreturn]] void not_readable(const std::string& path, const std::string& why) {
  throw Error(ErrorKind::Format, path + ": not a readable PyTorch checkpoint: " + why);
}

const char* kind_name(Obj::Kind k) {
  switch (k) {
    case Obj::None: return "None";
    case Obj::Bool: return "a bool";
    case Obj::Int: return "an int";
    case Obj::Float: return "a float";
    case Obj::Str: return "a string";
    case Obj::Tuple: return "a tuple";
    case Obj::List: return "a list";
    case Obj::Dict: return "a dict";
    case Obj::Tensor: return "a single tensor";
    default: return "an object";
  }
}

// LibTorch's zip errors go on with a paragraph of advice; the first sentence is the useful part.
std::string first_sentence(const std::string& msg) {
  const auto end = msg.find(". ");
  return end == std::string::npos ? msg : msg.substr(0, end);
}

}  // namespace

namespace {

// The named tensors of the unpickled root: a dict, or a training checkpoint wrapping one.
TensorMap named_tensors(const Ref& root, const std::string& path) {
  if (root->kind != Obj::Dict) not_readable(path, std::string("the top-level object is ") + kind_name(root->kind) + ", not a dict");

  // Training checkpoints wrap the weights: {"state_dict": {...}, "epoch": ...}.
  const Obj* dict = root.get();
  for (const auto& [k, v] : root->kv)
    if (k->kind == Obj::Str && (k->s == "state_dict" || k->s == "model") && v->kind == Obj::Dict) {
      dict = v.get();
      break;
    }
  TensorMap out;
  for (const auto& [k, v] : dict->kv)
    if (k->kind == Obj::Str && v->kind == Obj::Tensor) out[k->s] = v->t;
  if (out.empty()) not_readable(path, "it contains no named tensors");
  return out;
}

}  // namespace

TensorMap read_pth(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader zip(path);
    if (!zip.hasRecord("data.pkl")) not_readable(path, "the zip has no data.pkl (is it a TorchScript archive?)");
    if (zip.hasRecord("byteorder")) {
      auto [ptr, n] = zip.getRecord("byteorder");
      const std::string order(static_cast<const char*>(ptr.get()), n);
      if (order != "little") not_readable(path, "it was saved on a " + order + "-endian machine");
    }
    auto [ptr, n] = zip.getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(ptr.get()), n);
    Unpickler unpickler(pickle, zip);  // owns every object until the tensors are taken out
    return named_tensors(unpickler.run(), path);
  } catch (const Error&) {
    throw;
  } catch (const PickleError& e) {
    not_readable(path, std::string("corrupt pickle: ") + e.what());
  } catch (const c10::Error& e) {
    not_readable(path, first_sentence(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    not_readable(path, e.what());
  }
}

}  // namespace rwkv
