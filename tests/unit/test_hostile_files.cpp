// Hostile inputs found by the fuzz targets (tests/fuzz) and by reading the loaders with them in
// mind, each rebuilt here byte by byte: every one must end in an rwkv::Error naming the file,
// never a crash, a hang, a leak or a huge allocation. docs/robustness.md lists where each came from.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "rwkv/error.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "weights.h"

using namespace std::string_literals;  // "..."s keeps embedded NUL bytes

namespace {

// ---- a tiny pickle writer: just the opcodes these cases need (protocol 2) ----
std::string le(uint64_t v, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += static_cast<char>((v >> (8 * k)) & 0xff);
  return out;
}
std::string str(const std::string& s) { return "X" + le(s.size(), 4) + s; }  // BINUNICODE
std::string i64(int64_t v) { return std::string("\x8a\x08", 2) + le(static_cast<uint64_t>(v), 8); }  // LONG1
std::string tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (const auto& i : items) out += i;
  return out + "t";
}
// torch._utils._rebuild_tensor_v2(storage "0" of `numel` floats, offset, size, stride)
std::string tensor(int64_t numel, int64_t offset, const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  std::vector<std::string> sz, st;
  for (int64_t v : size) sz.push_back(i64(v));
  for (int64_t v : stride) st.push_back(i64(v));
  const std::string storage = tuple({str("storage"), "ctorch\nFloatStorage\n", str("0"), str("cpu"), i64(numel)}) + "Q";
  return "ctorch._utils\n_rebuild_tensor_v2\n" + tuple({storage, i64(offset), tuple(sz), tuple(st)}) + "R";
}
std::string dict_of(const std::string& key, const std::string& value) { return "}" + str(key) + value + "s"; }
const std::string kHead("\x80\x02", 2);

}  // namespace

class TestHostileFiles : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  // A torch.save-style zip: <name>/data.pkl, byteorder, and the given data/<key> records.
  std::string pth(const QString& name, const std::string& pickle, const std::map<std::string, std::string>& records = {}) {
    const std::string path = tmp_.filePath(name).toStdString();
    caffe2::serialize::PyTorchStreamWriter w(path);
    w.writeRecord("data.pkl", pickle.data(), pickle.size());
    w.writeRecord("byteorder", "little", 6);
    for (const auto& [k, v] : records) w.writeRecord("data/" + k, v.data(), v.size());
    w.writeEndOfFile();
    return path;
  }

  // fn must throw rwkv::Error of `kind` whose message names the file and holds `what`.
  void expectError(const std::function<void()>& fn, rwkv::ErrorKind kind, const std::string& path,
                   const std::string& what) {
    try {
      fn();
    } catch (const rwkv::Error& e) {
      const std::string msg = e.what();
      QVERIFY2(e.kind() == kind, msg.c_str());
      QVERIFY2(msg.find(path) != std::string::npos, msg.c_str());
      QVERIFY2(msg.find(what) != std::string::npos, msg.c_str());
      return;
    }
    QFAIL(("no error for " + path).c_str());
  }
  void expectBadModelAndState(const std::string& path, const std::string& what) {
    expectError([&] { rwkv::Model::load(path); }, rwkv::ErrorKind::Format, path, what);
    expectError([&] { rwkv::load_state(path); }, rwkv::ErrorKind::Format, path, what);
  }

 private Q_SLOTS:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  // 2 MB of TUPLE1 opcodes nest a list two million tuples deep. Freeing that chain of
  // shared_ptrs recursed once per level and overflowed the stack (rwkv-tune info: SIGSEGV).
  void pthDeepNesting() {
    const std::string p = pth("deep.pth", kHead + "]" + std::string(2000000, '\x85') + ".");
    expectBadModelAndState(p, "the top-level object is a tuple, not a dict");
  }

  // A list that contains itself (memo + APPEND) and a dict that holds itself: reference cycles
  // that shared_ptr never freed (LeakSanitizer under scripts/dev test --sanitize).
  void pthSelfReference() {
    const std::string list = pth("cycle_list.pth", kHead + "]q\x00h\x00" "a."s);
    expectBadModelAndState(list, "the top-level object is a list, not a dict");
    const std::string dict = pth("cycle_dict.pth", kHead + "}q\x00"s + str("self") + "h\x00" "s."s);
    expectBadModelAndState(dict, "it contains no named tensors");
  }

  // _rebuild_from_type_v2(func, type, args) nests: each level recursed in the unpickler, so a
  // few MB of them overflowed the stack. 1000 levels are enough to hit the depth limit (64).
  void pthDeepTensorSubclass() {
    std::string args = "N";
    for (int i = 0; i < 1000; ++i)
      args = tuple({"ctorch._tensor\n_rebuild_from_type_v2\n", "N", args});
    const std::string p = pth("subclass.pth", kHead + dict_of("w", "ctorch._tensor\n_rebuild_from_type_v2\n" + args + "R") + ".");
    expectBadModelAndState(p, "nested too deeply");
  }

  // Size and stride whose product overflows int64 (undefined behaviour, and a wrapped bound
  // could pass the "inside the storage" check).
  void pthViewOverflow() {
    const std::string data(16, '\0');  // 4 floats
    const int64_t big = int64_t(1) << 62;
    const std::string p = pth("overflow.pth", kHead + dict_of("w", tensor(4, 0, {big, 4}, {big, 1})) + ".", {{"0", data}});
    expectBadModelAndState(p, "reaches past the end of its storage");
  }

  // A stride-0 view of one float claiming 2^40 elements: converting it to fp32 weights would
  // copy 4 TB (or, smaller, take the machine's memory) from a file of a few hundred bytes.
  void pthExpandedView() {
    const std::string p = pth("expand.pth", kHead + dict_of("w", tensor(1, 0, {int64_t(1) << 20, int64_t(1) << 20}, {0, 0})) + ".",
                              {{"0", std::string(4, '\0')}});
    expectBadModelAndState(p, "expands a storage of 1");
  }

  // numel * element size wrapping around to the record's size.
  void pthStorageSizeOverflow() {
    const std::string p = pth("storage.pth", kHead + dict_of("w", tensor(int64_t(1) << 62, 0, {1}, {1})) + ".", {{"0", ""}});
    expectBadModelAndState(p, "impossibly large");
  }
};

QTEST_GUILESS_MAIN(TestHostileFiles)
#include "test_hostile_files.moc"
