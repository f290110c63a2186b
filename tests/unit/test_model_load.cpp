// Model loading: every checkpoint form (rwkv.cpp FP32/FP16, .pth bf16/fp16/fp32/OrderedDict/
// wrapped, .safetensors) must give the same weights as an independent reader (the numpy oracle
// for rwkv.cpp files, the writing torch script for the others), and every bad input must give
// the right ErrorKind with a message naming the file, the key and the shapes.
#include <QFile>
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>

#include "fixtures.h"
#include "python.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "sha256.h"
#include "weights.h"

using rwkv::ErrorKind;

namespace {

std::string s(const QString& q) { return q.toStdString(); }

// The model's weights under their .pth names, as fp32 CPU tensors (squeezed shapes).
std::map<std::string, torch::Tensor> named(const rwkv::Model::Impl& m) {
  std::map<std::string, torch::Tensor> out;
  auto put = [&](const std::string& k, const torch::Tensor& t) {
    if (t.defined()) out[k] = t.to(torch::kCPU, torch::kFloat32);
  };
  put("emb.weight", m.emb);
  put("blocks.0.ln0.weight", m.ln0_w);
  put("blocks.0.ln0.bias", m.ln0_b);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    const auto& l = m.layers[i];
    const auto& a = l.att;
    put(p + "ln1.weight", l.ln1_w); put(p + "ln1.bias", l.ln1_b);
    put(p + "ln2.weight", l.ln2_w); put(p + "ln2.bias", l.ln2_b);
    put(p + "att.x_r", a.x_r); put(p + "att.x_w", a.x_w); put(p + "att.x_k", a.x_k);
    put(p + "att.x_v", a.x_v); put(p + "att.x_a", a.x_a); put(p + "att.x_g", a.x_g);
    put(p + "att.w0", a.w0); put(p + "att.w1", a.w1); put(p + "att.w2", a.w2);
    put(p + "att.a0", a.a0); put(p + "att.a1", a.a1); put(p + "att.a2", a.a2);
    put(p + "att.v0", a.v0); put(p + "att.v1", a.v1); put(p + "att.v2", a.v2);
    put(p + "att.g1", a.g1); put(p + "att.g2", a.g2);
    put(p + "att.k_k", a.k_k); put(p + "att.k_a", a.k_a); put(p + "att.r_k", a.r_k);
    put(p + "att.receptance.weight", a.Wr); put(p + "att.key.weight", a.Wk);
    put(p + "att.value.weight", a.Wv); put(p + "att.output.weight", a.Wo);
    put(p + "att.ln_x.weight", a.ln_x_w); put(p + "att.ln_x.bias", a.ln_x_b);
    put(p + "ffn.x_k", l.ffn.x_k); put(p + "ffn.key.weight", l.ffn.Wkey); put(p + "ffn.value.weight", l.ffn.Wval);
  }
  put("ln_out.weight", m.ln_out_w);
  put("ln_out.bias", m.ln_out_b);
  put("head.weight", m.head);
  return out;
}

// ref.json + ref.f32 written by make_checkpoints.py.
struct Reference {
  nlohmann::json doc;
  std::map<std::string, torch::Tensor> tensors;
};

Reference load_reference(const QString& dir) {
  Reference r;
  std::ifstream js(s(dir + "/ref.json"));
  r.doc = nlohmann::json::parse(js);
  QFile f(dir + "/ref.f32");
  if (!f.open(QIODevice::ReadOnly)) return r;
  const QByteArray raw = f.readAll();
  const auto* base = reinterpret_cast<const float*>(raw.constData());
  for (const auto& [name, e] : r.doc["tensors"].items()) {
    const auto shape = e["shape"].get<std::vector<int64_t>>();
    r.tensors[name] = torch::from_blob(const_cast<float*>(base) + e["offset"].get<int64_t>(), shape,
                                       torch::kFloat32).clone();
  }
  return r;
}

// Empty when the model's weights equal the reference exactly, else a description.
QString compare_weights(const rwkv::Model& model, const Reference& ref) {
  const auto got = named(model.impl());
  for (const auto& [k, t] : ref.tensors) {
    if (k.rfind("blocks.0.att.v", 0) == 0 && k.size() == 15) continue;  // layer-0 dummies are ignored
    auto it = got.find(k);
    if (it == got.end()) return QString("model lacks '%1'").arg(k.c_str());
    if (it->second.sizes() != t.sizes())
      return QString("'%1': shape %2 vs reference %3").arg(k.c_str(), c10::str(it->second.sizes()).c_str(),
                                                             c10::str(t.sizes()).c_str());
    if (!torch::equal(it->second, t))
      return QString("'%1': max |diff| %2").arg(k.c_str()).arg((it->second - t).abs().max().item<double>());
  }
  for (const auto& kv : got)
    if (!ref.tensors.count(kv.first)) return QString("model has '%1', the reference does not").arg(kv.first.c_str());
  return {};
}

QString compare_dims(const rwkv::ModelDims& d, const nlohmann::json& j) {
  const std::pair<const char*, int> f[] = {
      {"n_vocab", d.n_vocab}, {"n_embd", d.n_embd}, {"n_layer", d.n_layer}, {"n_head", d.n_head},
      {"head_size", d.head_size}, {"dim_ffn", d.dim_ffn}, {"d_decay", d.d_decay}, {"d_aaa", d.d_aaa},
      {"d_mv", d.d_mv}, {"d_gate", d.d_gate}};
  for (const auto& [name, v] : f)
    if (j[name].get<int>() != v) return QString("%1 = %2, expected %3").arg(name).arg(v).arg(j[name].get<int>());
  return {};
}

// Empty when fn throws rwkv::Error of `kind` whose message contains every one of `needles`.
QString expect_error(const std::function<void()>& fn, ErrorKind kind, const std::vector<std::string>& needles) {
  try {
    fn();
  } catch (const rwkv::Error& e) {
    const std::string msg = e.what();
    if (qEnvironmentVariableIsSet("RWKV_TEST_VERBOSE")) qInfo("%s error: %s", rwkv::error_kind_name(e.kind()), e.what());
    if (e.kind() != kind)
      return QString("expected %1 error, got %2: %3").arg(rwkv::error_kind_name(kind), rwkv::error_kind_name(e.kind()), msg.c_str());
    for (const auto& n : needles)
      if (msg.find(n) == std::string::npos) return QString("message lacks '%1': %2").arg(n.c_str(), msg.c_str());
    return {};
  } catch (const std::exception& e) {
    return QString("expected rwkv::Error, got std::exception: %1").arg(e.what());
  }
  return "no exception thrown";
}

#define EXPECT_LOAD_ERROR(path, kind, ...)                                                           \
  do {                                                                                               \
    const std::string _p = (path);                                                                   \
    const QString _m = expect_error([&] { rwkv::Model::load(_p); }, kind, {_p, ##__VA_ARGS__});      \
    QVERIFY2(_m.isEmpty(), qPrintable(QString::fromStdString(_p) + ": " + _m));                      \
  } while (0)

QByteArray read_all(const QString& p) {
  QFile f(p);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool write_all(const QString& p, const QByteArray& b) {
  QFile f(p);
  return f.open(QIODevice::WriteOnly) && f.write(b) == b.size();
}

void put_i32(QByteArray* b, int off, int32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[off + i] = char((uint32_t(v) >> (8 * i)) & 0xff);
}

// A safetensors file from a header string and a data section.
QByteArray safetensors_bytes(const std::string& header, int data_bytes) {
  QByteArray b(8, '\0');
  for (int i = 0; i < 8; ++i) b[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  b += QByteArray::fromStdString(header);
  b += QByteArray(data_bytes, '\0');
  return b;
}

}  // namespace

class TestModelLoad : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString rand_, tiny32_, tiny16_, rand2h_, hashes_;

  QString t(const QString& name) const { return tmp_.path() + "/" + name; }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    REQUIRE_FIXTURE(f32, fixtures::kTinyFp32);
    REQUIRE_FIXTURE(f16, fixtures::kTinyFp16);
    REQUIRE_FIXTURE(r2h, fixtures::kRandom2h);
    rand_ = t("random"); tiny32_ = t("tiny32"); tiny16_ = t("tiny16"); rand2h_ = t("rand2h"); hashes_ = t("hashes");
    RUN_PYTHON("make_checkpoints.py", (QStringList{"random", rand_}));
    RUN_PYTHON("make_checkpoints.py", (QStringList{"from-rwkvcpp", f32, tiny32_}));
    RUN_PYTHON("make_checkpoints.py", (QStringList{"from-rwkvcpp", f16, tiny16_}));
    RUN_PYTHON("make_checkpoints.py", (QStringList{"from-rwkvcpp", r2h, rand2h_}));
    RUN_PYTHON("make_checkpoints.py", (QStringList{"hashes", hashes_}));
  }

  // ---- SHA-256 ---------------------------------------------------------------------------
  void sha256KnownAnswers() {
    // FIPS 180-2 appendix B examples.
    QVERIFY(write_all(t("abc.txt"), "abc"));
    QCOMPARE(rwkv::sha256_file(s(t("abc.txt"))),
             std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QVERIFY(write_all(t("two_blocks.txt"), "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"));
    QCOMPARE(rwkv::sha256_file(s(t("two_blocks.txt"))),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    QVERIFY(write_all(t("million_a.txt"), QByteArray(1000000, 'a')));
    QCOMPARE(rwkv::sha256_file(s(t("million_a.txt"))),
             std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  }

  void sha256MatchesHashlib() {
    std::ifstream js(s(hashes_ + "/hashes.json"));
    const auto doc = nlohmann::json::parse(js);
    QVERIFY(doc.size() >= 10);
    for (const auto& [name, hex] : doc.items())
      QCOMPARE(rwkv::sha256_file(s(hashes_ + "/" + QString::fromStdString(name))), hex.get<std::string>());
  }

  // Both compression paths (portable and x86 SHA extensions), fed in awkward chunk sizes.
  void sha256BothPathsChunked() {
    std::ifstream js(s(hashes_ + "/hashes.json"));
    const auto doc = nlohmann::json::parse(js);
    if (!rwkv::Sha256::hardware_available()) qInfo("this CPU has no SHA extensions: only the portable path runs");
    for (bool hw : {false, true}) {
      for (const auto& [name, hex] : doc.items()) {
        const QByteArray data = read_all(hashes_ + "/" + QString::fromStdString(name));
        rwkv::Sha256 sha(hw);
        QCOMPARE(sha.uses_hardware(), hw && rwkv::Sha256::hardware_available());
        const int steps[] = {1, 7, 63, 64, 65, 200, 4099};
        int pos = 0;
        for (int k = 0; pos < data.size(); ++k) {
          const int n = std::min<int>(steps[k % 7], data.size() - pos);
          sha.update(data.constData() + pos, size_t(n));
          pos += n;
        }
        QCOMPARE(sha.hex_digest(), hex.get<std::string>());
      }
    }
  }

  void sha256MissingFile() {
    const QString m = expect_error([&] { rwkv::sha256_file(s(t("nope.bin"))); }, ErrorKind::Io, {"nope.bin"});
    QVERIFY2(m.isEmpty(), qPrintable(m));
  }

  // ---- the tiny rwkv.cpp fixture -----------------------------------------------------------
  void tinyFixture_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("refdir");
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<QString>("sha");  // from fixtures/README.md
    QTest::newRow("FP32") << fixtures::kTinyFp32 << "tiny32" << "fp32"
                          << "0dce48ebe81873c1cfd6383bb4f4b259ff123b228e0c7d264ed6b1a2d547dd86";
    QTest::newRow("FP16") << fixtures::kTinyFp16 << "tiny16" << "fp16"
                          << "3a7eef47b3d6c7f32d28c490486b08b4dd6c826d867394af12bd2a22749ff37f";
  }
  void tinyFixture() {
    QFETCH(QString, file);
    QFETCH(QString, refdir);
    QFETCH(QString, dtype);
    QFETCH(QString, sha);
    REQUIRE_FIXTURE(path, file);
    auto model = rwkv::Model::load(s(path));
    const auto& info = model->info();
    const auto& d = info.dims;
    // fixtures/README.md and spec section 3
    QCOMPARE(d.n_vocab, 256); QCOMPARE(d.n_embd, 64); QCOMPARE(d.n_layer, 12); QCOMPARE(d.n_head, 1);
    QCOMPARE(d.head_size, 64); QCOMPARE(d.dim_ffn, 256);
    QCOMPARE(d.d_decay, 32); QCOMPARE(d.d_aaa, 32); QCOMPARE(d.d_mv, 32); QCOMPARE(d.d_gate, 32);
    QCOMPARE(info.n_params, int64_t(829888));
    QCOMPARE(info.sha256, s(sha));
    QCOMPARE(info.format, std::string("rwkv.cpp"));
    QCOMPARE(info.stored_dtype, s(dtype));
    QCOMPARE(info.path, s(path));
    // Weights equal the numpy oracle's independent reading of the same file, bit for bit.
    const Reference ref = load_reference(t(refdir));
    QCOMPARE(ref.doc["n_params"].get<int64_t>(), info.n_params);
    const QString diff = compare_weights(*model, ref);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    const auto& impl = model->impl();
    QCOMPARE(impl.layers.size(), size_t(12));
    QVERIFY(!impl.layers[0].att.v0.defined());
    QVERIFY(impl.layers[1].att.v0.defined());
    QCOMPARE(impl.dtype, torch::kFloat32);
    QVERIFY(impl.device.is_cpu());
  }

  void tinyFp16CloseToFp32() {  // fixtures README: the FP16 file's weights are within 3e-8
    REQUIRE_FIXTURE(p32, fixtures::kTinyFp32);
    REQUIRE_FIXTURE(p16, fixtures::kTinyFp16);
    const auto a = named(rwkv::Model::load(s(p32))->impl());
    const auto b = named(rwkv::Model::load(s(p16))->impl());
    QCOMPARE(a.size(), b.size());
    double worst = 0;
    for (const auto& [k, v] : a) worst = std::max(worst, (v - b.at(k)).abs().max().item<double>());
    QVERIFY2(worst <= 3e-8, qPrintable(QString::number(worst)));
  }

  void random2HeadFixture() {  // multi-head r_k and C != N
    REQUIRE_FIXTURE(path, fixtures::kRandom2h);
    auto model = rwkv::Model::load(s(path));
    const Reference ref = load_reference(rand2h_);
    QVERIFY2(compare_dims(model->dims(), ref.doc["dims"]).isEmpty(), qPrintable(compare_dims(model->dims(), ref.doc["dims"])));
    QCOMPARE(model->dims().n_head, 2);
    QCOMPARE(model->info().n_params, ref.doc["n_params"].get<int64_t>());
    const QString diff = compare_weights(*model, ref);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
  }

  // ---- torch-made checkpoints in every form ------------------------------------------------
  void randomAllForms_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("format");
    QTest::addColumn<QString>("dtype");
    QTest::newRow("pth bf16 dict") << "m_bf16.pth" << "pth" << "bf16";
    QTest::newRow("pth fp32 dict") << "m_fp32.pth" << "pth" << "fp32";
    QTest::newRow("pth fp16 dict") << "m_fp16.pth" << "pth" << "fp16";
    QTest::newRow("pth bf16 OrderedDict+_metadata") << "m_od_bf16.pth" << "pth" << "bf16";
    QTest::newRow("pth Parameters, pickle protocol 4") << "m_params_p4.pth" << "pth" << "fp32";
    QTest::newRow("pth wrapped state_dict") << "m_wrapped.pth" << "pth" << "fp32";
    QTest::newRow("pth layer-0 v dummies") << "m_l0dummies.pth" << "pth" << "fp32";
    QTest::newRow("safetensors bf16") << "m_bf16.safetensors" << "safetensors" << "bf16";
    QTest::newRow("safetensors fp32") << "m_fp32.safetensors" << "safetensors" << "fp32";
    QTest::newRow("rwkv.cpp fp32") << "m_fp32.bin" << "rwkv.cpp" << "fp32";
    QTest::newRow("rwkv.cpp fp16") << "m_fp16.bin" << "rwkv.cpp" << "fp16";
  }
  void randomAllForms() {
    QFETCH(QString, file);
    QFETCH(QString, format);
    QFETCH(QString, dtype);
    const Reference ref = load_reference(rand_);
    const std::string path = s(rand_ + "/" + file);
    auto model = rwkv::Model::load(path);
    const auto& info = model->info();
    const QString dd = compare_dims(info.dims, ref.doc["dims"]);
    QVERIFY2(dd.isEmpty(), qPrintable(dd));
    QCOMPARE(info.dims.n_head, 2);
    QCOMPARE(info.dims.n_vocab, 300);
    QCOMPARE(info.n_params, ref.doc["n_params"].get<int64_t>());
    QCOMPARE(info.format, s(format));
    QCOMPARE(info.stored_dtype, s(dtype));
    QCOMPARE(info.sha256, ref.doc["sha256"][s(file)].get<std::string>());
    const QString diff = compare_weights(*model, ref);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    QVERIFY(!model->impl().layers[0].att.v1.defined());  // dummies in layer 0 are not used
  }

  void computeBf16() {
    const Reference ref = load_reference(rand_);
    rwkv::LoadOptions opt;
    opt.compute_bf16 = true;
    auto model = rwkv::Model::load(s(rand_ + "/m_fp32.safetensors"), opt);
    const auto& impl = model->impl();
    QCOMPARE(impl.dtype, torch::kBFloat16);
    QCOMPARE(impl.emb.scalar_type(), torch::kBFloat16);
    QCOMPARE(impl.layers[1].att.Wk.scalar_type(), torch::kBFloat16);
    QCOMPARE(impl.layers[1].att.v1.scalar_type(), torch::kBFloat16);
    QCOMPARE(impl.layers[1].att.w0.scalar_type(), torch::kFloat32);  // vectors stay fp32
    QCOMPARE(impl.layers[1].att.r_k.scalar_type(), torch::kFloat32);
    QVERIFY(impl.layers[1].att.Wk.is_contiguous());
    const QString diff = compare_weights(*model, ref);  // values are bf16-exact
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
  }

  // ---- bad inputs --------------------------------------------------------------------------
  void missingFile() { EXPECT_LOAD_ERROR(s(t("does-not-exist.pth")), ErrorKind::Io, "no such file"); }

  void directory() { EXPECT_LOAD_ERROR(s(tmp_.path()), ErrorKind::Io, "directory"); }

  void unknownFormat() {
    QVERIFY(write_all(t("notes.txt"), "hello, this is not a model\n"));
    EXPECT_LOAD_ERROR(s(t("notes.txt")), ErrorKind::Format, "unknown model format");
    QVERIFY(write_all(t("empty.bin"), QByteArray()));
    EXPECT_LOAD_ERROR(s(t("empty.bin")), ErrorKind::Format, "unknown model format", "empty");
  }

  void truncated_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("pth") << "m_bf16.pth";
    QTest::newRow("safetensors") << "m_bf16.safetensors";
    QTest::newRow("rwkv.cpp") << "m_fp32.bin";
  }
  void truncated() {
    QFETCH(QString, file);
    const QByteArray full = read_all(rand_ + "/" + file);
    QVERIFY(full.size() > 100000);
    for (int keep : {16, 20, 30, 100, 4096, int(full.size() / 2), int(full.size() - 1)}) {
      const QString cut = t(QString("cut%1_").arg(keep) + file);
      QVERIFY(write_all(cut, full.left(keep)));
      EXPECT_LOAD_ERROR(s(cut), ErrorKind::Format);
    }
    if (file.endsWith(".bin")) {
      EXPECT_LOAD_ERROR(s(t("cut20_m_fp32.bin")), ErrorKind::Format, "truncated", "header");
      EXPECT_LOAD_ERROR(s(t(QString("cut%1_m_fp32.bin").arg(full.size() - 1))), ErrorKind::Format, "truncated",
                        "head.weight");
    }
  }

  void truncatedSafetensorsMessages() {
    const QByteArray full = read_all(rand_ + "/m_bf16.safetensors");
    QVERIFY(write_all(t("st_head.safetensors"), full.left(30)));
    EXPECT_LOAD_ERROR(s(t("st_head.safetensors")), ErrorKind::Format, "truncated", "header");
    QVERIFY(write_all(t("st_data.safetensors"), full.left(full.size() - 10)));
    EXPECT_LOAD_ERROR(s(t("st_data.safetensors")), ErrorKind::Format, "truncated", "needs data bytes");
  }

  void missingKey() {
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_missing_key.pth"), ErrorKind::MissingKey,
                      "missing tensor 'blocks.1.att.key.weight'");
  }

  void wrongShape() {
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_shape_w2.pth"), ErrorKind::Shape,
                      "tensor 'blocks.1.att.w2' has shape [128, 24], expected [24, 128]");
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_shape_rk.pth"), ErrorKind::Shape,
                      "tensor 'blocks.1.att.r_k' has shape [1, 128], expected [2, 64]");
  }

  void nonFinite() {
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_nan.safetensors"), ErrorKind::NonFinite, "blocks.1.ffn.value.weight", "1 NaN");
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_inf.pth"), ErrorKind::NonFinite, "blocks.0.att.a0", "1 Inf");
  }

  void notAModel() {
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_state_file.pth"), ErrorKind::Format, "state file");
    EXPECT_LOAD_ERROR(s(rand_ + "/bad_list.pth"), ErrorKind::Format, "not a readable PyTorch checkpoint", "is a list, not a dict");
    QVERIFY(write_all(t("fake.zip"), QByteArray("PK\x03\x04", 4) + QByteArray(200, 'x')));
    EXPECT_LOAD_ERROR(s(t("fake.zip")), ErrorKind::Format, "not a readable PyTorch checkpoint", "zip archive");
  }

  // Corrupting bytes inside data.pkl (stored uncompressed) must give a Format error, never a crash.
  void corruptPickle() {
    const QByteArray full = read_all(rand_ + "/m_bf16.pth");
    const int at = full.indexOf("emb.weight");  // the first key inside data.pkl
    QVERIFY(at > 0);
    int n_ok = 0;
    for (int delta = -20; delta < 200; ++delta) {
      QByteArray b = full;
      b[at + delta] = char(b[at + delta] ^ 0x5a);
      const QString p = t("corrupt_pickle.pth");
      QVERIFY(write_all(p, b));
      try {
        rwkv::Model::load(s(p));
        ++n_ok;  // a harmless byte (e.g. a memo index) may still load
      } catch (const rwkv::Error& e) {
        if (qEnvironmentVariableIsSet("RWKV_TEST_VERBOSE")) qInfo("%s error: %s", rwkv::error_kind_name(e.kind()), e.what());
        QVERIFY2(e.kind() == ErrorKind::Format || e.kind() == ErrorKind::MissingKey || e.kind() == ErrorKind::Shape,
                 e.what());
        QVERIFY2(std::string(e.what()).find(s(p)) != std::string::npos, e.what());
      }
    }
    QVERIFY(n_ok < 200);
  }

  void quantizedRwkvcpp() {
    REQUIRE_FIXTURE(p32, fixtures::kTinyFp32);
    QByteArray b = read_all(p32);
    QVERIFY(b.size() > 1000);
    put_i32(&b, 24 + 8, 2);  // first record (emb.weight): dtype field -> Q4_0
    QVERIFY(write_all(t("q4.bin"), b));
    EXPECT_LOAD_ERROR(s(t("q4.bin")), ErrorKind::Format, "'emb.weight'", "Q4_0", "only FP32 and FP16");
    put_i32(&b, 24 + 8, 9);
    QVERIFY(write_all(t("q8.bin"), b));
    EXPECT_LOAD_ERROR(s(t("q8.bin")), ErrorKind::Format, "'emb.weight'", "Q8_0");
  }

  void corruptRwkvcpp() {
    REQUIRE_FIXTURE(p32, fixtures::kTinyFp32);
    const QByteArray orig = read_all(p32);
    QByteArray b = orig;
    put_i32(&b, 24, 1000);  // n_dims
    QVERIFY(write_all(t("dims.bin"), b));
    EXPECT_LOAD_ERROR(s(t("dims.bin")), ErrorKind::Format, "1000 dimensions");
    b = orig;
    put_i32(&b, 36, 0x7fffffff);  // ne[0] of emb.weight: would need terabytes
    QVERIFY(write_all(t("huge.bin"), b));
    EXPECT_LOAD_ERROR(s(t("huge.bin")), ErrorKind::Format);
    b = orig;
    put_i32(&b, 28, 0x7fffffff);  // name length
    QVERIFY(write_all(t("name.bin"), b));
    EXPECT_LOAD_ERROR(s(t("name.bin")), ErrorKind::Format, "name length");
    b = orig;
    put_i32(&b, 4, 7);  // version
    QVERIFY(write_all(t("version.bin"), b));
    EXPECT_LOAD_ERROR(s(t("version.bin")), ErrorKind::Format, "version 7");
  }

  void corruptSafetensors() {
    struct Case { const char* name; std::string header; int data; ErrorKind kind; std::string needle; };
    const std::vector<Case> cases = {
        {"dtype", R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16, ErrorKind::Format, "dtype I64"},
        {"size", R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24, ErrorKind::Format, "[2, 3]"},
        {"beyond", R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[100,108]}})", 8, ErrorKind::Format, "truncated"},
        {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
         12, ErrorKind::Format, "overlap"},
        {"json", R"({"a":{"dtype":"F32", oops)", 8, ErrorKind::Format, "not valid JSON"},
        {"negative", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, ErrorKind::Format, "shape"},
        {"huge", R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", 8,
         ErrorKind::Format, "large"},
    };
    for (const auto& c : cases) {
      const QString p = t(QString("bad_%1.safetensors").arg(c.name));
      QVERIFY(write_all(p, safetensors_bytes(c.header, c.data)));
      EXPECT_LOAD_ERROR(s(p), c.kind, c.needle);
    }
  }

  void invalidDevice() {
    rwkv::LoadOptions opt;
    opt.device = "tpu:3";
    const std::string p = s(rand_ + "/m_bf16.pth");
    const QString m = expect_error([&] { rwkv::Model::load(p, opt); }, ErrorKind::Argument, {"tpu:3"});
    QVERIFY2(m.isEmpty(), qPrintable(m));
  }
};

QTEST_GUILESS_MAIN(TestModelLoad)
#include "test_model_load.moc"
