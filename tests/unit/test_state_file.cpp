// State files: bit-exact round trips of the three layouts (Ai00 within f16 rounding, computed
// here bit by bit), content sniffing, interop with Python (torch.load reads our .pth, we read
// torch.save files of bf16/fp32 tensors and Ai00 .st files made with the safetensors package, the
// safetensors package reads our files), atomic writes that keep the old file on every failure,
// refusal of non-finite states, every load error, and check_state_matches.
#include <QDir>
#include <QFile>
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.h"
#include "python.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "safetensors_write.h"
#include "state_file_formats.h"

using rwkv::Error;
using rwkv::ErrorKind;
using rwkv::InitialState;
using rwkv::StateFile;
using rwkv::StateFormat;
using json = nlohmann::json;

namespace {

// A state with values of every magnitude the layouts must keep: normal, tiny, signed zeros.
InitialState make_state(int L, int H, int N, uint32_t seed, float scale = 0.7f) {
  InitialState s = InitialState::zeros(L, H, N);
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, scale);
  for (auto& v : s.wkv) v = n(g);
  s.wkv[1] = -0.0f;
  s.wkv[2] = 1e-30f;
  s.wkv[3] = 3.0e-5f;  // below the f16 normal range: an f16 subnormal
  return s;
}

std::string read_file(const QString& path) {
  std::ifstream in(path.toStdString(), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const QString& path, const std::string& bytes) {
  std::ofstream(path.toStdString(), std::ios::binary) << bytes;
}

void write_raw(const QString& path, const std::vector<float>& v) {
  std::ofstream(path.toStdString(), std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

std::vector<float> read_raw(const QString& path) {
  const std::string b = read_file(path);
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// fp32 -> bf16 -> fp32 with round to nearest even (finite inputs).
float bf16_round(float f) {
  const uint32_t u = bits(f);
  return from_bits(((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16);
}

// Half the spacing of f16 values near x: the largest error of rounding x to f16.
double f16_half_ulp(double x) {
  const double a = std::fabs(x);
  if (a < std::ldexp(1.0, -14)) return std::ldexp(1.0, -25);  // subnormal spacing 2^-24
  return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(a))) - 11);
}

void dims_args(const InitialState& s, QStringList* args) {
  *args << QString::number(s.n_layer) << QString::number(s.n_head) << QString::number(s.head_size);
}

template <typename F>
ErrorKind kind_of(F&& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (what) *what = e.what();
    return e.kind();
  }
  return static_cast<ErrorKind>(-1);
}

QStringList entries(const QString& dir) { return QDir(dir).entryList(QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot); }

}  // namespace

class TestStateFile : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void formatFromExtension() {
    QCOMPARE(rwkv::state_format_for_path("a/b.pth"), StateFormat::PeftPth);
    QCOMPARE(rwkv::state_format_for_path("B.PTH"), StateFormat::PeftPth);
    QCOMPARE(rwkv::state_format_for_path("x.st"), StateFormat::Ai00);
    QCOMPARE(rwkv::state_format_for_path("x.state"), StateFormat::Ai00);
    QCOMPARE(rwkv::state_format_for_path("x.rwkvstate"), StateFormat::Ours);
    QCOMPARE(rwkv::state_format_for_path("dir.pth/file"), StateFormat::Ours);
    QCOMPARE(rwkv::state_format_for_path("noext"), StateFormat::Ours);
  }

  void roundTripOurs() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("s.rwkvstate").toStdString();
    StateFile sf;
    sf.s0 = make_state(3, 2, 8, 1);
    sf.meta = {{"model_sha256", std::string(64, 'a')},
               {"dims", R"({"n_vocab":300,"n_embd":16,"n_layer":3,"n_head":2,"head_size":8})"},
               {"tokenizer", "world"},
               {"config", R"({"lr":0.01,"note":"ünïcode"})"},
               {"metrics", R"({"steps":[]})"},
               {"created", "2025-01-02T03:04:05Z"}};
    rwkv::save_state(path, sf);
    const StateFile back = rwkv::load_state(path);
    QCOMPARE(back.format, StateFormat::Ours);
    QCOMPARE(back.path, path);
    QCOMPARE(back.stored_dtype, std::string("fp32"));
    QCOMPARE(back.s0.n_layer, 3);
    QCOMPARE(back.s0.n_head, 2);
    QCOMPARE(back.s0.head_size, 8);
    QVERIFY(bit_equal(back.s0.wkv, sf.s0.wkv));
    QVERIFY(back.meta == sf.meta);

    // Without metadata: dims from the state and a creation time are filled in.
    rwkv::save_state(path, sf.s0, StateFormat::Ours);
    const StateFile plain = rwkv::load_state(path);
    QVERIFY(bit_equal(plain.s0.wkv, sf.s0.wkv));
    const json dims = json::parse(plain.meta.at("dims"));
    QCOMPARE(dims.at("n_layer").get<int>(), 3);
    QCOMPARE(dims.at("n_head").get<int>(), 2);
    QCOMPARE(dims.at("head_size").get<int>(), 8);
    const std::string created = plain.meta.at("created");
    QVERIFY2(created.size() == 20 && created[4] == '-' && created[10] == 'T' && created.back() == 'Z', created.c_str());

    // Metadata dims that contradict the tensors are refused before writing.
    sf.meta["dims"] = R"({"n_layer":4,"n_head":2,"head_size":8})";
    QCOMPARE(kind_of([&] { rwkv::save_state(dir.filePath("bad.rwkvstate").toStdString(), sf); }), ErrorKind::Argument);
    QVERIFY(!QFile::exists(dir.filePath("bad.rwkvstate")));
  }

  void roundTripPeft() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("s.pth").toStdString();
    const InitialState s0 = make_state(2, 3, 16, 2);
    rwkv::save_state(path, s0, StateFormat::PeftPth);
    QCOMPARE(read_file(QString::fromStdString(path)).substr(0, 4), std::string("PK\x03\x04", 4));
    const StateFile back = rwkv::load_state(path);
    QCOMPARE(back.format, StateFormat::PeftPth);
    QCOMPARE(back.stored_dtype, std::string("fp32"));
    QVERIFY(bit_equal(back.s0.wkv, s0.wkv));
    QVERIFY(back.meta.empty());

    StateFile sf;
    sf.s0 = s0;
    sf.format = StateFormat::PeftPth;
    sf.pth_bf16 = true;
    rwkv::save_state(path, sf);
    const StateFile b16 = rwkv::load_state(path);
    QCOMPARE(b16.stored_dtype, std::string("bf16"));
    std::vector<float> want(s0.wkv.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = bf16_round(s0.wkv[i]);
    QVERIFY(bit_equal(b16.s0.wkv, want));
  }

  void roundTripAi00() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("s.st").toStdString();
    const InitialState s0 = make_state(2, 2, 8, 3);
    rwkv::save_state(path, s0, StateFormat::Ai00);
    const StateFile back = rwkv::load_state(path);
    QCOMPARE(back.format, StateFormat::Ai00);
    QCOMPARE(back.stored_dtype, std::string("fp16"));
    QCOMPARE(back.s0.wkv.size(), s0.wkv.size());
    for (size_t i = 0; i < s0.wkv.size(); ++i) {
      const double err = std::fabs(double(back.s0.wkv[i]) - double(s0.wkv[i]));
      QVERIFY2(err <= f16_half_ulp(s0.wkv[i]), qPrintable(QString("element %1: %2 read back as %3")
                                                            .arg(i)
                                                            .arg(double(s0.wkv[i]), 0, 'g', 9)
                                                            .arg(double(back.s0.wkv[i]), 0, 'g', 9)));
    }
    // On disk the last two axes are swapped: the file's [h][j][i] is S0's [h][i][j].
    const rwkv::TensorMap raw = rwkv::read_safetensors(path);
    const torch::Tensor t0 = raw.at("blocks.1.att.time_state").to(torch::kFloat32);
    QCOMPARE(raw.at("blocks.1.att.time_state").scalar_type(), torch::kHalf);
    const auto a = t0.accessor<float, 3>();
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) QCOMPARE(a[h][j][i], back.s0.wkv[back.s0.index(1, h, i, j)]);
    // A second round trip of the f16 values is exact.
    rwkv::save_state(path, back.s0, StateFormat::Ai00);
    QVERIFY(bit_equal(rwkv::load_state(path).s0.wkv, back.s0.wkv));
  }

  // The content decides the format, not the name.
  void sniffsContent() {
    QTemporaryDir dir;
    const InitialState s0 = make_state(1, 1, 4, 4);
    StateFile ours;
    ours.s0 = s0;
    ours.format = StateFormat::Ours;
    rwkv::save_state(dir.filePath("ours.pth").toStdString(), ours);
    QCOMPARE(rwkv::load_state(dir.filePath("ours.pth").toStdString()).format, StateFormat::Ours);
    rwkv::save_state(dir.filePath("peft.bin").toStdString(), s0, StateFormat::PeftPth);
    QCOMPARE(rwkv::load_state(dir.filePath("peft.bin").toStdString()).format, StateFormat::PeftPth);
    rwkv::save_state(dir.filePath("ai00.rwkvstate").toStdString(), s0, StateFormat::Ai00);
    QCOMPARE(rwkv::load_state(dir.filePath("ai00.rwkvstate").toStdString()).format, StateFormat::Ai00);
  }

  void pythonReadsOurPeft() {
    QTemporaryDir dir;
    const InitialState s0 = make_state(3, 2, 16, 5);
    const QString raw = dir.filePath("want.f32");
    write_raw(raw, s0.wkv);
    for (const bool bf16 : {false, true}) {
      const QString path = dir.filePath(bf16 ? "s_bf16.pth" : "s_fp32.pth");
      StateFile sf;
      sf.s0 = s0;
      sf.format = StateFormat::PeftPth;
      sf.pth_bf16 = bf16;
      rwkv::save_state(path.toStdString(), sf);
      QStringList args{"check-peft", path, raw};
      dims_args(s0, &args);
      args << (bf16 ? "bf16" : "fp32");
      RUN_PYTHON("state_interop.py", args);
    }
  }

  void weReadPythonPeft() {
    QTemporaryDir dir;
    int seed = 10;
    for (const char* dtype : {"fp32", "bf16", "fp16"}) {
      for (const char* kind : {"dict", "state_dict"}) {
        const QString path = dir.filePath(QString("%1_%2.pth").arg(dtype, kind));
        const QString raw = dir.filePath("raw.f32");
        RUN_PYTHON("state_interop.py", (QStringList{"make-peft", path, raw, "4", "2", "8", dtype,
                                                    QString::number(seed++), kind}));
        const StateFile sf = rwkv::load_state(path.toStdString());
        QCOMPARE(sf.format, StateFormat::PeftPth);
        QCOMPARE(sf.stored_dtype, std::string(dtype));
        QCOMPARE(sf.s0.n_layer, 4);
        QCOMPARE(sf.s0.n_head, 2);
        QCOMPARE(sf.s0.head_size, 8);
        QVERIFY2(bit_equal(sf.s0.wkv, read_raw(raw)), qPrintable(path));
      }
    }
  }

  void weReadPythonAi00() {
    QTemporaryDir dir;
    const QString path = dir.filePath("py.st"), raw = dir.filePath("raw.f32");
    RUN_PYTHON("state_interop.py", (QStringList{"make-ai00", path, raw, "3", "2", "16", "7"}));
    const StateFile sf = rwkv::load_state(path.toStdString());
    QCOMPARE(sf.format, StateFormat::Ai00);
    QCOMPARE(sf.s0.n_layer, 3);
    QCOMPARE(sf.s0.n_head, 2);
    QCOMPARE(sf.s0.head_size, 16);
    QVERIFY(bit_equal(sf.s0.wkv, read_raw(raw)));
  }

  void pythonReadsOursAndAi00() {
    QTemporaryDir dir;
    const InitialState s0 = make_state(2, 2, 16, 8);
    const QString raw = dir.filePath("want.f32");
    write_raw(raw, s0.wkv);

    StateFile sf;
    sf.s0 = s0;
    sf.meta = {{"model_sha256", "0123abcd"}, {"tokenizer", "bytes"}, {"config", R"({"ctx_len": 64})"},
               {"metrics", R"({"best_step": 3})"}, {"created", "2025-06-07T08:09:10Z"}};
    const QString ours = dir.filePath("s.rwkvstate");
    rwkv::save_state(ours.toStdString(), sf);
    json meta(sf.meta);
    meta["rwkv_studio_state"] = "1";
    meta["dims"] = rwkv::load_state(ours.toStdString()).meta.at("dims");
    write_file(dir.filePath("meta.json"), meta.dump());
    QStringList args{"check-ours", ours, raw, dir.filePath("meta.json")};
    dims_args(s0, &args);
    RUN_PYTHON("state_interop.py", args);

    const QString st = dir.filePath("s.st");
    rwkv::save_state(st.toStdString(), s0, StateFormat::Ai00);
    QStringList a2{"check-ai00", st, raw};
    dims_args(s0, &a2);
    RUN_PYTHON("state_interop.py", a2);
  }

  void oursHeaderIsAligned() {
    QTemporaryDir dir;
    const QString path = dir.filePath("s.rwkvstate");
    StateFile sf;
    sf.s0 = make_state(2, 1, 4, 9);
    sf.meta["tokenizer"] = "x";  // odd lengths: padding is needed
    rwkv::save_state(path.toStdString(), sf);
    const std::string b = read_file(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(b[i]);
    QCOMPARE((8 + n) % 8, uint64_t(0));
    QCOMPARE(b.size(), size_t(8 + n + 2 * 16 * 4));
    const json h = json::parse(b.substr(8, n));
    QCOMPARE(h.at("__metadata__").at("rwkv_studio_state").get<std::string>(), std::string("1"));
    QCOMPARE(h.at("blocks.1.att.time_state").at("dtype").get<std::string>(), std::string("F32"));
  }

  void nonFiniteRefusedBeforeWriting() {
    QTemporaryDir dir;
    for (const StateFormat f : {StateFormat::Ours, StateFormat::PeftPth, StateFormat::Ai00}) {
      for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        InitialState s0 = make_state(3, 2, 4, 11);
        s0.wkv[s0.index(1, 1, 2, 3)] = bad;
        const QString path = dir.filePath("s.x");
        write_file(path, "old contents");
        std::string what;
        QCOMPARE(kind_of([&] { rwkv::save_state(path.toStdString(), s0, f); }, &what), ErrorKind::NonFinite);
        QVERIFY2(what.find("blocks.1.att.time_state") != std::string::npos, what.c_str());
        QVERIFY2(what.find("[1][2][3]") != std::string::npos, what.c_str());
        QCOMPARE(read_file(path), std::string("old contents"));
        QCOMPARE(entries(dir.path()), QStringList{"s.x"});
      }
    }
    // Finite in fp32 but beyond f16: the Ai00 layout cannot hold it.
    InitialState big = make_state(1, 1, 4, 12);
    big.wkv[5] = 1.0e5f;
    QCOMPARE(kind_of([&] { rwkv::save_state(dir.filePath("big.st").toStdString(), big, StateFormat::Ai00); }),
             ErrorKind::NonFinite);
    QVERIFY(!QFile::exists(dir.filePath("big.st")));
    rwkv::save_state(dir.filePath("big.rwkvstate").toStdString(), big, StateFormat::Ours);  // fp32 holds it
    // Wrong sizes are refused too.
    InitialState broken = make_state(1, 1, 4, 13);
    broken.wkv.pop_back();
    QCOMPARE(kind_of([&] { rwkv::save_state(dir.filePath("b.rwkvstate").toStdString(), broken, StateFormat::Ours); }),
             ErrorKind::Shape);
  }

  void missingFolderThrowsIo() {
    QTemporaryDir dir;
    const QString keep = dir.filePath("keep.rwkvstate");
    rwkv::save_state(keep.toStdString(), make_state(1, 1, 4, 14), StateFormat::Ours);
    const std::string before = read_file(keep);
    std::string what;
    const std::string path = dir.filePath("no/such/dir/s.rwkvstate").toStdString();
    QCOMPARE(kind_of([&] { rwkv::save_state(path, make_state(1, 1, 4, 15), StateFormat::Ours); }, &what),
             ErrorKind::Io);
    QVERIFY2(what.rfind(path + ": cannot write: ", 0) == 0, what.c_str());
    QCOMPARE(read_file(keep), before);
    QCOMPARE(entries(dir.path()), QStringList{"keep.rwkvstate"});
  }

  // A read-only folder: the write fails and the old file stays byte-identical. Root ignores
  // permissions, so as root the save runs with the effective uid of "nobody" (65534).
  void readOnlyFolderKeepsOldFile() {
    QTemporaryDir dir;
    QVERIFY(::chmod(dir.path().toLocal8Bit().constData(), 0755) == 0);
    const QString ro = dir.filePath("ro");
    QVERIFY(QDir().mkdir(ro));
    const QString path = ro + "/s.rwkvstate";
    rwkv::save_state(path.toStdString(), make_state(2, 1, 4, 16), StateFormat::Ours);
    QVERIFY(::chmod(path.toLocal8Bit().constData(), 0644) == 0);
    const std::string before = read_file(path);
    QVERIFY(::chmod(ro.toLocal8Bit().constData(), 0555) == 0);

    const bool root = ::geteuid() == 0;
    if (root) QVERIFY2(::seteuid(65534) == 0, "cannot drop to uid 65534 for the read-only test");
    std::string what;
    ErrorKind k = static_cast<ErrorKind>(-1);
    for (const StateFormat f : {StateFormat::Ours, StateFormat::PeftPth, StateFormat::Ai00}) {
      k = kind_of([&] { rwkv::save_state(path.toStdString(), make_state(2, 1, 4, 17), f); }, &what);
      if (k != ErrorKind::Io) break;
    }
    if (root) QVERIFY(::seteuid(0) == 0);
    ::chmod(ro.toLocal8Bit().constData(), 0755);

    QCOMPARE(k, ErrorKind::Io);
    QVERIFY2(what.find("cannot write: Permission denied") != std::string::npos, what.c_str());
    QCOMPARE(read_file(path), before);
    QCOMPARE(entries(ro), QStringList{"s.rwkvstate"});
  }

  // A write that fails half way (the file size limit stands in for a full disk): the old file
  // stays and the temp file is removed.
  void failureDuringWriteKeepsOldFile() {
    QTemporaryDir dir;
    const QString path = dir.filePath("big.rwkvstate");
    rwkv::save_state(path.toStdString(), make_state(1, 1, 4, 18), StateFormat::Ours);
    const std::string before = read_file(path);

    struct rlimit old_limit;
    QVERIFY(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    QVERIFY(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string what;
    const ErrorKind k = kind_of(
        [&] { rwkv::save_state(path.toStdString(), make_state(4, 4, 16, 19), StateFormat::Ours); }, &what);  // 16 KiB
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);

    QCOMPARE(k, ErrorKind::Io);
    QVERIFY2(what.find("File too large") != std::string::npos, what.c_str());
    QCOMPARE(read_file(path), before);
    QCOMPARE(entries(dir.path()), QStringList{"big.rwkvstate"});
  }

  // Something that is not a file in the way of the temp name: the write fails, nothing of the
  // user's is removed.
  void blockedTempNameKeepsOldFile() {
    QTemporaryDir dir;
    const QString path = dir.filePath("s.rwkvstate");
    rwkv::atomic_write_file(path.toStdString(), "old");
    const QString tmp = path + ".tmp." + QString::number(::getpid());
    QVERIFY(QDir().mkdir(tmp));
    QCOMPARE(kind_of([&] { rwkv::atomic_write_file(path.toStdString(), "new"); }), ErrorKind::Io);
    QCOMPARE(read_file(path), std::string("old"));
    QVERIFY(QFileInfo(tmp).isDir());
    QVERIFY(QDir().rmdir(tmp));
    rwkv::atomic_write_file(path.toStdString(), "new");
    QCOMPARE(read_file(path), std::string("new"));
    QCOMPARE(entries(dir.path()), QStringList{"s.rwkvstate"});
  }

  // A writer killed between creating its temp file and the rename (kill -9 during an autosave)
  // leaves "<path>.tmp.<pid>"; the next successful write removes it, but never the temp file of
  // a process that still runs, nor other names, nor folders.
  void staleTempFilesOfKilledWritersRemoved() {
    QTemporaryDir dir;
    const QString path = dir.filePath("s.rwkvstate");
    const QString gone = path + ".tmp.999999999";  // above any pid_max: its writer no longer runs
    const QString live = path + ".tmp." + QString::number(::getppid());
    const QString other = path + ".tmp.abc", folder = path + ".tmp.999999998";
    for (const QString& f : {gone, live, other}) write_file(f, "partial");
    QVERIFY(QDir().mkdir(folder));
    rwkv::atomic_write_file(path.toStdString(), "new");
    QCOMPARE(read_file(path), std::string("new"));
    QVERIFY(!QFileInfo::exists(gone));
    QVERIFY(QFileInfo::exists(live) && QFileInfo::exists(other) && QFileInfo(folder).isDir());
  }

  void atomicWriteKeepsPermissions() {
    QTemporaryDir dir;
    const QString path = dir.filePath("f");
    rwkv::atomic_write_file(path.toStdString(), std::string("a\0b", 3));
    QCOMPARE(read_file(path), std::string("a\0b", 3));
    QVERIFY(::chmod(path.toLocal8Bit().constData(), 0600) == 0);
    rwkv::atomic_write_file(path.toStdString(), "");
    QCOMPARE(read_file(path), std::string());
    struct stat st;
    QVERIFY(::stat(path.toLocal8Bit().constData(), &st) == 0);
    QCOMPARE(int(st.st_mode & 0777), 0600);
  }

  void loadErrors() {
    QTemporaryDir dir;
    const auto st_file = [&](const QString& name, const std::vector<std::pair<std::string, std::vector<float>>>& ts,
                             std::vector<std::vector<int64_t>> shapes, bool ours) {
      std::vector<rwkv::SafetensorsEntry> es;
      for (size_t k = 0; k < ts.size(); ++k) {
        rwkv::SafetensorsEntry e;
        e.name = ts[k].first;
        e.dtype = "F32";
        e.shape = shapes[k];
        e.data.assign(reinterpret_cast<const char*>(ts[k].second.data()), ts[k].second.size() * 4);
        es.push_back(e);
      }
      std::map<std::string, std::string> meta{{"format", "pt"}};
      if (ours) meta["rwkv_studio_state"] = "1";
      write_file(dir.filePath(name), rwkv::encode_safetensors(es, meta));
      return dir.filePath(name).toStdString();
    };
    const std::vector<float> ok(2 * 4 * 4, 0.25f);
    std::string what;

    // A layer missing in the middle.
    for (const bool ours : {true, false}) {
      const auto p = st_file("gap.st", {{"blocks.0.att.time_state", ok}, {"blocks.2.att.time_state", ok}},
                             {{2, 4, 4}, {2, 4, 4}}, ours);
      QCOMPARE(kind_of([&] { rwkv::load_state(p); }, &what), ErrorKind::MissingKey);
      QVERIFY2(what.find("blocks.1.att.time_state") != std::string::npos && what.find(p) != std::string::npos,
               what.c_str());
    }
    // No state tensor at all.
    auto p = st_file("none.st", {{"emb.weight", ok}}, {{2, 4, 4}}, false);
    QCOMPARE(kind_of([&] { rwkv::load_state(p); }, &what), ErrorKind::MissingKey);
    QVERIFY2(what.find("emb.weight") != std::string::npos, what.c_str());
    // Layers of different shapes, a non-square one.
    p = st_file("shape.st", {{"blocks.0.att.time_state", ok}, {"blocks.1.att.time_state", ok}}, {{2, 4, 4}, {8, 2, 2}},
                true);
    QCOMPARE(kind_of([&] { rwkv::load_state(p); }, &what), ErrorKind::Shape);
    QVERIFY2(what.find("blocks.1.att.time_state") != std::string::npos && what.find("[8, 2, 2]") != std::string::npos,
             what.c_str());
    p = st_file("square.st", {{"blocks.0.att.time_state", ok}}, {{2, 2, 8}}, true);
    QCOMPARE(kind_of([&] { rwkv::load_state(p); }), ErrorKind::Shape);
    // NaN in a file, in each container.
    std::vector<float> nan = ok;
    nan[7] = std::nanf("");
    p = st_file("nan.st", {{"blocks.0.att.time_state", ok}, {"blocks.1.att.time_state", nan}}, {{2, 4, 4}, {2, 4, 4}},
                false);
    QCOMPARE(kind_of([&] { rwkv::load_state(p); }, &what), ErrorKind::NonFinite);
    QVERIFY2(what.find("blocks.1.att.time_state") != std::string::npos, what.c_str());
    InitialState inf = make_state(2, 1, 4, 20);
    inf.wkv[inf.index(1, 0, 0, 1)] = -std::numeric_limits<float>::infinity();
    write_file(dir.filePath("inf.pth"), rwkv::encode_state_peft(inf, false, "inf.pth"));  // the encoder does not check
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("inf.pth").toStdString()); }, &what), ErrorKind::NonFinite);
    QVERIFY2(what.find("blocks.1.att.time_state") != std::string::npos, what.c_str());
    // Not a state file, empty, truncated, missing.
    write_file(dir.filePath("text.st"), "hello, this is text");
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("text.st").toStdString()); }), ErrorKind::Format);
    write_file(dir.filePath("empty.st"), "");
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("empty.st").toStdString()); }), ErrorKind::Format);
    rwkv::save_state(dir.filePath("cut.rwkvstate").toStdString(), make_state(2, 2, 8, 21), StateFormat::Ours);
    const std::string full = read_file(dir.filePath("cut.rwkvstate"));
    write_file(dir.filePath("cut.rwkvstate"), full.substr(0, full.size() - 10));
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("cut.rwkvstate").toStdString()); }), ErrorKind::Format);
    rwkv::save_state(dir.filePath("cut.pth").toStdString(), make_state(2, 2, 8, 22), StateFormat::PeftPth);
    const std::string zip = read_file(dir.filePath("cut.pth"));
    write_file(dir.filePath("cut.pth"), zip.substr(0, zip.size() / 2));
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("cut.pth").toStdString()); }), ErrorKind::Format);
    QCOMPARE(kind_of([&] { rwkv::load_state(dir.filePath("missing.st").toStdString()); }, &what), ErrorKind::Io);
    QVERIFY2(what.find("missing.st") != std::string::npos, what.c_str());
  }

  void checkStateMatches() {
    StateFile sf;
    sf.s0 = make_state(2, 4, 8, 23);
    sf.path = "tuned.rwkvstate";
    rwkv::ModelInfo m;
    m.path = "model.pth";
    m.dims.n_layer = 2;
    m.dims.n_head = 4;
    m.dims.head_size = 8;
    m.dims.n_embd = 32;
    m.sha256 = std::string(64, 'b');
    QCOMPARE(rwkv::check_state_matches(sf, m), std::string());  // no metadata: nothing to warn about

    sf.meta["model_sha256"] = std::string(64, 'B');  // same digest, other case
    QCOMPARE(rwkv::check_state_matches(sf, m), std::string());
    sf.meta["model_sha256"] = "c" + std::string(63, 'b');
    const std::string warn = rwkv::check_state_matches(sf, m);
    QVERIFY(!warn.empty());
    QVERIFY2(warn.find("cbbbbbbbbbbb") != std::string::npos && warn.find("bbbbbbbbbbbb") != std::string::npos,
             warn.c_str());
    QVERIFY2(warn.find("model.pth") != std::string::npos, warn.c_str());

    for (const auto& [L, H, N] : std::vector<std::tuple<int, int, int>>{{3, 4, 8}, {2, 2, 16}, {2, 4, 4}}) {
      rwkv::ModelInfo other = m;
      other.dims.n_layer = L;
      other.dims.n_head = H;
      other.dims.head_size = N;
      std::string what;
      QCOMPARE(kind_of([&] { rwkv::check_state_matches(sf, other); }, &what), ErrorKind::Mismatch);
      QVERIFY2(what.find("n_layer=2, n_head=4, head_size=8") != std::string::npos, what.c_str());
      const std::string theirs = "n_layer=" + std::to_string(L) + ", n_head=" + std::to_string(H) +
                                 ", head_size=" + std::to_string(N);
      QVERIFY2(what.find(theirs) != std::string::npos, what.c_str());
    }
  }
};

QTEST_GUILESS_MAIN(TestStateFile)
#include "test_state_file.moc"
