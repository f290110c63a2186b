// Paths to the read-only reference material in ../shared, and helpers shared by the Qt tests.
// A test that needs a fixture and cannot find it fails loudly (never skips).
#pragma once
#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QTest>

namespace fixtures {

inline QString sharedDir() {
  const QByteArray env = qgetenv("RWKV_SHARED_DIR");
  return QDir::cleanPath(env.isEmpty() ? QString(RWKV_SHARED_DIR) : QString::fromLocal8Bit(env));
}

// Absolute path of ../shared/<rel>; empty if it does not exist (use REQUIRE_FIXTURE).
inline QString path(const QString& rel) {
  const QString p = sharedDir() + "/" + rel;
  return QFileInfo::exists(p) ? p : QString();
}

inline QString sourceDir() { return QDir::cleanPath(RWKV_SOURCE_DIR); }

}  // namespace fixtures

// Declares `QString var` holding ../shared/<rel>, or fails the test naming the missing file.
#define REQUIRE_FIXTURE(var, rel)                                                              \
  const QString var = fixtures::path(rel);                                                     \
  if (var.isEmpty())                                                                           \
    QFAIL(qPrintable(QString("fixture missing: %1/%2 (set RWKV_SHARED_DIR or the CMake cache " \
                             "variable RWKV_SHARED_DIR)")                                      \
                         .arg(fixtures::sharedDir(), rel)));

namespace fixtures {
inline const char* kTinyFp32 = "fixtures/rwkv-cpp/tiny-rwkv-7v0-834K-FP32.bin";
inline const char* kTinyFp16 = "fixtures/rwkv-cpp/tiny-rwkv-7v0-834K-FP16.bin";
inline const char* kTinyExpected = "fixtures/rwkv-cpp/expected-logits-7v0-834K.bin";
inline const char* kWorldVocab = "fixtures/world-vocab/rwkv_vocab_v20230424.txt";
inline const char* kRandom2h = "spec/reference/vectors/random-2head-C128-L2.bin";
}  // namespace fixtures
