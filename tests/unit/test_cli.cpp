// rwkv-tune, run as a separate process (RWKV_TUNE_EXE): `info` against the fixture's documented
// dims and sha256 (and a torch-made .pth against QCryptographicHash), `logits` against rwkv.cpp's
// expected logits, `generate` against the engine API in-process, tokenizer discovery, and the
// exit codes and messages of bad usage.
#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <map>

#include "fixtures.h"
#include "python.h"
#include "rwkv/context.h"
#include "rwkv/error.h"
#include "rwkv/generate.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "tune_process.h"

namespace {

using tune_process::Run;
using tune_process::describe;
using tune_process::tune;

#define EXPECT_EXIT(run, args, expected)                                   \
  const Run run = tune(args);                                              \
  QVERIFY2(run.code == (expected), qPrintable(describe(args, run)))

// "key   value" lines of `info`'s table.
std::map<QString, QString> table(const QByteArray& out) {
  std::map<QString, QString> rows;
  for (const QString& line : QString::fromUtf8(out).split('\n', Qt::SkipEmptyParts)) {
    const int sp = line.indexOf(' ');
    if (sp > 0) rows[line.left(sp)] = line.mid(sp).trimmed();
  }
  return rows;
}

QString sha256_of(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  QCryptographicHash h(QCryptographicHash::Sha256);
  h.addData(&f);
  return QString::fromLatin1(h.result().toHex());
}

// What the engine API gives for the same settings, in-process.
std::string engine_generate(const QString& model_path, const std::string& prompt, const rwkv::GenerateParams& p) {
  auto model = rwkv::Model::load(model_path.toStdString());
  rwkv::Context ctx(model);
  auto tok = rwkv::make_byte_tokenizer();
  return rwkv::generate(ctx, *tok, prompt, p).text;
}

const char* kTinySha = "0dce48ebe81873c1cfd6383bb4f4b259ff123b228e0c7d264ed6b1a2d547dd86";

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void versionAndHelp() {
    const QStringList v{"--version"};
    EXPECT_EXIT(ver, v, 0);
    QVERIFY2(QRegularExpression("^rwkv-tune \\d+\\.\\d+\\.\\d+\\n$").match(QString::fromUtf8(ver.out)).hasMatch(),
             ver.out.constData());

    const QStringList h{"--help"};
    EXPECT_EXIT(top, h, 0);
    // Every command the top-level help lists has its own --help.
    QStringList commands;
    bool in_list = false;
    for (const QString& line : QString::fromUtf8(top.out).split('\n')) {
      if (line.startsWith("commands:")) in_list = true;
      else if (in_list && line.startsWith("  ")) commands << line.trimmed().section(' ', 0, 0);
    }
    for (const char* mine : {"info", "generate", "logits"}) QVERIFY2(commands.contains(mine), top.out.constData());
    for (const QString& c : commands) {
      for (const char* flag : {"--help", "-h"}) {
        const QStringList args{c, flag};
        EXPECT_EXIT(r, args, 0);
        QVERIFY2(r.out.startsWith(("usage: rwkv-tune " + c).toUtf8()), qPrintable(describe(args, r)));
        QVERIFY2(r.err.isEmpty(), qPrintable(describe(args, r)));
      }
    }
    // --help wins even next to otherwise bad arguments.
    const QStringList g{"generate", "--bogus", "1", "--help"};
    EXPECT_EXIT(gh, g, 0);
    const QStringList g2{"generate", "--help", "--bogus"};
    EXPECT_EXIT(gh2, g2, 0);
    QCOMPARE(gh2.out, gh.out);
    for (const char* opt : {"--model", "--tokenizer", "--state", "--prompt", "--max-tokens", "--seed", "--temperature",
                            "--top-p", "--top-k", "--repetition-penalty", "--stop"})
      QVERIFY2(gh2.out.contains(opt), opt);
  }

  void infoTinyFixture() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    const QStringList args{"info", "--model", tiny};
    EXPECT_EXIT(r, args, 0);
    auto t = table(r.out);
    QCOMPARE(t["sha256"], QString(kTinySha));
    QCOMPARE(t["vocab"], QString("256"));
    QCOMPARE(t["embd"], QString("64"));
    QCOMPARE(t["layers"], QString("12"));
    QCOMPARE(t["heads"], QString("1"));
    QCOMPARE(t["head_size"], QString("64"));
    QCOMPARE(t["ffn"], QString("256"));
    QCOMPARE(t["parameters"], QString("829,888"));
    QCOMPARE(t["format"], QString("rwkv.cpp"));
    QCOMPARE(t["stored"], QString("fp32"));

    const QStringList jargs{"info", "--json", "--model=" + tiny};
    EXPECT_EXIT(j, jargs, 0);
    const auto doc = nlohmann::json::parse(j.out.toStdString());
    QCOMPARE(QString::fromStdString(doc["sha256"].get<std::string>()), QString(kTinySha));
    QCOMPARE(doc["n_params"].get<int64_t>(), int64_t(829888));
    QCOMPARE(doc["dims"]["n_vocab"].get<int>(), 256);
    QCOMPARE(doc["dims"]["n_embd"].get<int>(), 64);
    QCOMPARE(doc["dims"]["n_layer"].get<int>(), 12);
    QCOMPARE(doc["dims"]["n_head"].get<int>(), 1);
    QCOMPARE(doc["dims"]["head_size"].get<int>(), 64);
    QCOMPARE(doc["dims"]["dim_ffn"].get<int>(), 256);
    QCOMPARE(doc["stored_dtype"].get<std::string>(), std::string("fp32"));

    REQUIRE_FIXTURE(tiny16, fixtures::kTinyFp16);
    const QStringList a16{"info", "--model", tiny16, "--json"};
    EXPECT_EXIT(j16, a16, 0);
    const auto d16 = nlohmann::json::parse(j16.out.toStdString());
    QCOMPARE(QString::fromStdString(d16["sha256"].get<std::string>()), sha256_of(tiny16));
    QCOMPARE(d16["stored_dtype"].get<std::string>(), std::string("fp16"));
  }

  // `bench` prints one JSON object per (ctx, bsz): measured figures, and whether the tuning step
  // recomputed its layers (--recompute).
  void benchJsonLines() {
    for (const bool recompute : {false, true}) {
      QStringList args{"bench", "--shape", "tiny", "--what", "prefill,tune", "--ctx", "16", "--bsz", "1,2",
                       "--iters", "1", "--warmup", "0"};
      if (recompute) args << "--recompute";
      EXPECT_EXIT(r, args, 0);
      const auto lines = QString::fromUtf8(r.out).split('\n', Qt::SkipEmptyParts);
      QCOMPARE(lines.size(), 2);
      for (int i = 0; i < 2; ++i) {
        const auto j = nlohmann::json::parse(lines[i].toStdString());
        QCOMPARE(j["bsz"].get<int>(), i + 1);
        QCOMPARE(j["recompute"].get<bool>(), recompute);
        QVERIFY(j["tune_tok_s"].get<double>() > 0 && j["prefill_tok_s"].get<double>() > 0);
      }
    }
  }

  // --profile: one more tuning step under the profiler, summarised where its time went; on the
  // CPU the summary names aten ops (the backward's, too) and a trace file is written beside it.
  void benchProfile() {
    QTemporaryDir dir;
    const QString out = dir.filePath("profile.txt");
    EXPECT_EXIT(r, (QStringList{"bench", "--shape", "tiny", "--what", "tune", "--ctx", "16", "--iters", "1", "--warmup",
                                "0", "--profile", out}),
                0);
    QFile f(out);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(out));
    const QString text = QString::fromUtf8(f.readAll());
    QVERIFY2(text.contains("ms wall") && text.contains("aten::mm"), qPrintable(text.left(2000)));
    QVERIFY2(!text.contains("did not run"), qPrintable(text.left(2000)));
    QVERIFY(QFileInfo(out + ".json").size() > 0);
    // More than one configuration would overwrite one file: refused.
    EXPECT_EXIT(r2, (QStringList{"bench", "--shape", "tiny", "--what", "tune", "--bsz", "1,2", "--profile", out}), 2);
    QVERIFY(r2.err.contains("--profile"));
  }

  void logitsMatchRwkvCpp() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    REQUIRE_FIXTURE(expected_path, fixtures::kTinyExpected);
    QFile f(expected_path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray raw = f.readAll();
    QCOMPARE(raw.size(), 256 * 4);
    const auto* expected = reinterpret_cast<const float*>(raw.constData());

    const QStringList args{"logits", "--model", tiny, "--tokens", "34,105,110"};
    EXPECT_EXIT(r, args, 0);
    const auto arr = nlohmann::json::parse(r.out.toStdString());
    QVERIFY(arr.is_array());
    QCOMPARE(int(arr.size()), 256);
    double max_diff = 0;
    int argmax = 0;
    for (int i = 0; i < 256; ++i) {
      QVERIFY(arr[i].is_number());
      max_diff = std::max(max_diff, std::abs(arr[i].get<double>() - expected[i]));
      if (arr[i].get<double>() > arr[argmax].get<double>()) argmax = i;
    }
    QVERIFY2(max_diff < 1e-4, qPrintable(QString("max |diff| %1").arg(max_diff)));
    QCOMPARE(argmax, 32);
    // Spaces around ids are accepted.
    const QStringList spaced{"logits", "--model", tiny, "--tokens", "34, 105 ,110"};
    EXPECT_EXIT(r2, spaced, 0);
    QCOMPARE(r2.out, r.out);
  }

  void generateMatchesEngine() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    const QString prompt = "The quick brown fox";
    const QStringList greedy{"generate", "--model", tiny, "--prompt", prompt, "--temperature", "0", "--max-tokens", "48"};
    EXPECT_EXIT(a, greedy, 0);
    EXPECT_EXIT(b, greedy, 0);
    QVERIFY2(!a.out.isEmpty(), qPrintable(describe(greedy, a)));
    QCOMPARE(a.out, b.out);

    rwkv::GenerateParams p;
    p.max_tokens = 48;
    p.sampler.temperature = 0.0f;
    const std::string in_process = engine_generate(tiny, prompt.toStdString(), p);
    QCOMPARE(a.out, QByteArray::fromStdString(in_process));

    // Sampling settings reach the sampler: the same run in-process gives the same text.
    const QStringList sampled{"generate",    "--model", tiny,   "--prompt", prompt, "--max-tokens", "48",
                              "--temperature", "0.9",   "--top-p", "0.95", "--top-k",  "40",
                              "--repetition-penalty", "1.2", "--seed", "1234"};
    EXPECT_EXIT(s, sampled, 0);
    rwkv::GenerateParams ps;
    ps.max_tokens = 48;
    ps.sampler.temperature = 0.9f;
    ps.sampler.top_p = 0.95f;
    ps.sampler.top_k = 40;
    ps.sampler.repetition_penalty = 1.2f;
    ps.sampler.seed = 1234;
    QCOMPARE(s.out, QByteArray::fromStdString(engine_generate(tiny, prompt.toStdString(), ps)));
    QVERIFY2(s.out != a.out, "sampled text differs from greedy");
    QStringList other_seed = sampled;
    other_seed[other_seed.indexOf("1234")] = "99";
    EXPECT_EXIT(s2, other_seed, 0);
    QVERIFY(s2.out != s.out);
  }

  // --stop cuts the text before the stop string's first occurrence (and stops there). The stop
  // is taken from a sampled run's own text, so the tokens up to it are the same with and without.
  void generateStopString() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    const QStringList base{"generate", "--model", tiny, "--prompt", "The", "--temperature", "0.5", "--seed", "1",
                           "--max-tokens", "80"};
    EXPECT_EXIT(full, base, 0);
    QByteArray stop;
    for (int pos = 10; pos + 3 <= full.out.size() && stop.isEmpty(); ++pos) {
      const QByteArray w = full.out.mid(pos, 3);
      const bool ascii = std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (ascii && full.out.indexOf(w) > 0) stop = w;
    }
    QVERIFY2(!stop.isEmpty(), qPrintable(describe(base, full)));
    const QByteArray expected = full.out.left(full.out.indexOf(stop));
    QStringList with_stop = base;
    with_stop << "--stop" << "@@never@@" << "--stop" << QString::fromLatin1(stop) << "--verbose";
    EXPECT_EXIT(cut, with_stop, 0);
    QCOMPARE(cut.out, expected);
    QVERIFY2(cut.err.contains("stop:" + stop), cut.err.constData());
  }

  void tokenizerDiscovery() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // A real torch checkpoint with a 1000-token vocabulary (not bytes), nothing beside it.
    RUN_PYTHON("make_random_model.py", (QStringList{"--out", dir.path(), "--layers", "1", "--embd", "64",
                                                    "--vocab", "1000", "--tokens", "2", "--no-rwkv-pkg"}));
    const QString model = dir.path() + "/model_bf16.pth";

    const QStringList info{"info", "--model", model, "--json"};
    EXPECT_EXIT(i, info, 0);
    const auto doc = nlohmann::json::parse(i.out.toStdString());
    QCOMPARE(QString::fromStdString(doc["sha256"].get<std::string>()), sha256_of(model));
    QCOMPARE(doc["format"].get<std::string>(), std::string("pth"));
    QCOMPARE(doc["stored_dtype"].get<std::string>(), std::string("bf16"));
    QCOMPARE(doc["dims"]["n_vocab"].get<int>(), 1000);
    QCOMPARE(doc["dims"]["n_layer"].get<int>(), 1);

    const QStringList gen{"generate", "--model", model, "--prompt", "hi", "--max-tokens", "4"};
    EXPECT_EXIT(none, gen, 1);
    QVERIFY2(none.err.contains("--tokenizer") && none.err.contains(dir.path().toUtf8()), none.err.constData());

    // A World vocab beside it is found, and refused: it has more ids than the model.
    REQUIRE_FIXTURE(vocab, fixtures::kWorldVocab);
    QVERIFY(QFile::copy(vocab, dir.path() + "/rwkv_vocab_v20230424.txt"));
    EXPECT_EXIT(big, gen, 1);
    QVERIFY2(big.err.contains("1000") && big.err.contains("world"), big.err.constData());

    // An explicit --tokenizer is used as given.
    QStringList bytes = gen;
    bytes << "--tokenizer" << "bytes";
    EXPECT_EXIT(ok, bytes, 0);
  }

  // --state: S0 = 0.05*sin(0.37*flat + 7) written with the engine's save_state; the logits must
  // match the numpy oracle's vector for that S0 (spec/reference/vectors/tiny_hello_s0seed7.json).
  void stateFile() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    REQUIRE_FIXTURE(vec_path, "spec/reference/vectors/tiny_hello_s0seed7.json");
    std::ifstream vf(vec_path.toStdString());
    const auto vec = nlohmann::json::parse(vf);
    const auto& d = vec["dims"];
    rwkv::InitialState s0 = rwkv::InitialState::zeros(d["n_layer"], d["n_head"], d["head_size"]);
    for (size_t f = 0; f < s0.wkv.size(); ++f) s0.wkv[f] = static_cast<float>(0.05 * std::sin(0.37 * double(f) + 7));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString state = dir.path() + "/s7.rwkvstate";
    rwkv::save_state(state.toStdString(), s0, rwkv::StateFormat::Ours);

    QStringList toks;
    for (int t : vec["tokens"]) toks << QString::number(t);
    auto max_diff = [](const QByteArray& out, const nlohmann::json& want) {
      const auto got = nlohmann::json::parse(out.toStdString());
      if (got.size() != want.size()) return 1e9;
      double m = 0;
      for (size_t i = 0; i < want.size(); ++i) m = std::max(m, std::abs(got[i].get<double>() - want[i].get<double>()));
      return m;
    };
    // All tokens: logits_last. The first token alone: logits_first, where S0 matters most.
    const QStringList all{"logits", "--model", tiny, "--state", state, "--tokens", toks.join(',')};
    EXPECT_EXIT(r, all, 0);
    const double d_last = max_diff(r.out, vec["logits_last"]);
    QVERIFY2(d_last < 1e-4, qPrintable(QString("max |diff| %1 against the oracle (all tokens)").arg(d_last)));
    const QStringList first{"logits", "--model", tiny, "--state", state, "--tokens", toks.first()};
    EXPECT_EXIT(r1, first, 0);
    const double d_first = max_diff(r1.out, vec["logits_first"]);
    QVERIFY2(d_first < 1e-4, qPrintable(QString("max |diff| %1 against the oracle (first token)").arg(d_first)));
    // Without --state the first-token logits are the zero state's: measurably different (the
    // oracle's two vectors differ by 7e-3).
    const QStringList zero{"logits", "--model", tiny, "--tokens", toks.first()};
    EXPECT_EXIT(z, zero, 0);
    const double d_zero = max_diff(z.out, vec["logits_first"]);
    QVERIFY2(d_zero > 3e-3, qPrintable(QString("--state has no effect (%1)").arg(d_zero)));

    // generate --state equals the engine API with the same initial state.
    const QStringList gen{"generate", "--model", tiny, "--state", state, "--prompt", "Hello", "--max-tokens", "32",
                          "--temperature", "0.8", "--seed", "2"};
    EXPECT_EXIT(g, gen, 0);
    auto model = rwkv::Model::load(tiny.toStdString());
    rwkv::Context ctx(model);
    ctx.set_initial_state(s0);
    rwkv::GenerateParams p;
    p.max_tokens = 32;
    p.sampler.temperature = 0.8f;
    p.sampler.seed = 2;
    QCOMPARE(g.out, QByteArray::fromStdString(rwkv::generate(ctx, *rwkv::make_byte_tokenizer(), "Hello", p).text));

    // A state made for other dims, and a missing state file, are runtime errors.
    const QString other = dir.path() + "/other.rwkvstate";
    rwkv::save_state(other.toStdString(), rwkv::InitialState::zeros(2, 2, 64), rwkv::StateFormat::Ours);
    const QStringList bad{"logits", "--model", tiny, "--state", other, "--tokens", "1,2"};
    EXPECT_EXIT(b, bad, 1);
    QVERIFY2(b.err.startsWith("rwkv-tune: error: ") && b.out.isEmpty(), qPrintable(describe(bad, b)));
    const QStringList missing{"generate", "--model", tiny, "--state", dir.path() + "/nope.rwkvstate", "--prompt", "a"};
    EXPECT_EXIT(m, missing, 1);
    QVERIFY2(m.err.contains("nope.rwkvstate"), qPrintable(describe(missing, m)));
  }

  // ---- The engine's generate() that the CLI streams from (in-process). ----

  // Streamed pieces add up to the text; every id was stepped through the context; prob is
  // softmax(logits)[id] of an independent forward over prompt + the ids before it.
  void engineGenerateStreaming() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    auto model = rwkv::Model::load(tiny.toStdString());
    auto tok = rwkv::make_byte_tokenizer();
    rwkv::Context ctx(model);
    rwkv::GenerateParams p;
    p.max_tokens = 24;
    p.stop_at_eos = false;
    p.sampler.temperature = 0.8f;
    p.sampler.seed = 5;
    std::vector<int> ids;
    std::vector<float> probs;
    std::string streamed;
    const auto res = rwkv::generate(ctx, *tok, "The", p, [&](const rwkv::GeneratedToken& t) {
      ids.push_back(t.id);
      probs.push_back(t.prob);
      streamed += t.text;
      return true;
    });
    QCOMPARE(res.stop_reason, std::string("max_tokens"));
    QCOMPARE(int(res.tokens.size()), 24);
    QCOMPARE(ids, res.tokens);
    QCOMPARE(streamed, res.text);
    QCOMPARE(res.text, tok->decode(res.tokens));

    std::vector<int> seq = tok->encode("The");
    for (size_t i = 0; i < ids.size(); ++i) {
      rwkv::Context ref(model);
      const auto logits = ref.eval(seq);
      double m = logits[0], z = 0;
      for (float v : logits) m = std::max(m, double(v));
      for (float v : logits) z += std::exp(v - m);
      const double expected = std::exp(logits[ids[i]] - m) / z;
      QVERIFY2(std::abs(probs[i] - expected) < 1e-5,
               qPrintable(QString("token %1: prob %2, expected %3").arg(i).arg(probs[i]).arg(expected)));
      seq.push_back(ids[i]);
    }
    // After generate the context has seen the prompt and every generated id.
    rwkv::Context ref(model);
    ref.eval(seq);
    const auto a = ctx.full_state(), b = ref.full_state();
    QCOMPARE(a.wkv.wkv.size(), b.wkv.wkv.size());
    for (size_t i = 0; i < a.wkv.wkv.size(); ++i) QVERIFY(std::abs(a.wkv.wkv[i] - b.wkv.wkv[i]) < 1e-4);
    for (size_t i = 0; i < a.att_shift.size(); ++i) QVERIFY(std::abs(a.att_shift[i] - b.att_shift[i]) < 1e-4);
  }

  void engineGenerateStops() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    auto model = rwkv::Model::load(tiny.toStdString());
    auto bytes = rwkv::make_byte_tokenizer();
    rwkv::GenerateParams p;
    p.max_tokens = 40;
    p.stop_at_eos = false;
    p.sampler.temperature = 0.8f;
    p.sampler.seed = 11;
    rwkv::Context ctx(model);
    const auto full = rwkv::generate(ctx, *bytes, "The", p);
    QCOMPARE(int(full.tokens.size()), 40);

    // A stop string taken from the text: cut at its first occurrence, reason names it.
    const std::string stop = full.text.substr(20, 2);
    rwkv::GenerateParams ps = p;
    ps.stop = {"\x01never", stop};
    ctx.reset();
    std::string streamed;
    const auto cut = rwkv::generate(ctx, *bytes, "The", ps, [&](const rwkv::GeneratedToken& t) {
      streamed += t.text;
      return true;
    });
    QCOMPARE(cut.stop_reason, "stop:" + stop);
    QCOMPARE(cut.text, full.text.substr(0, full.text.find(stop)));
    QCOMPARE(streamed, cut.text);  // nothing of the stop string was streamed
    QVERIFY(cut.tokens.size() <= 25);  // the stop ends by byte 22; Utf8Stream holds back <= 3 bytes

    // on_token returning false stops after that token; a set cancel flag stops before sampling.
    ctx.reset();
    int calls = 0;
    const auto three = rwkv::generate(ctx, *bytes, "The", p, [&](const rwkv::GeneratedToken&) { return ++calls < 3; });
    QCOMPARE(three.stop_reason, std::string("cancelled"));
    QCOMPARE(three.tokens, std::vector<int>(full.tokens.begin(), full.tokens.begin() + 3));
    std::atomic<bool> cancel{true};
    ctx.reset();
    const auto none = rwkv::generate(ctx, *bytes, "The", p, {}, &cancel);
    QCOMPARE(none.stop_reason, std::string("cancelled"));
    QVERIFY(none.tokens.empty());

    // eos: a tokenizer whose end-of-text id is the 6th sampled token stops there (not included).
    struct EosAt : rwkv::Tokenizer {
      const rwkv::Tokenizer& base;
      int eos;
      EosAt(const rwkv::Tokenizer& b, int e) : base(b), eos(e) {}
      std::vector<int> encode(const std::string& t) const override { return base.encode(t); }
      std::string decode(const std::vector<int>& ids) const override { return base.decode(ids); }
      int vocab_size() const override { return base.vocab_size(); }
      std::string name() const override { return "eos-at"; }
      int eos_id() const override { return eos; }
    };
    const int eos = full.tokens[5];
    const size_t first = std::find(full.tokens.begin(), full.tokens.end(), eos) - full.tokens.begin();
    EosAt eos_tok(*bytes, eos);
    rwkv::GenerateParams pe = p;
    pe.stop_at_eos = true;
    ctx.reset();
    const auto at_eos = rwkv::generate(ctx, eos_tok, "The", pe);
    QCOMPARE(at_eos.stop_reason, std::string("eos"));
    QCOMPARE(at_eos.tokens, std::vector<int>(full.tokens.begin(), full.tokens.begin() + first));

    // Bad input.
    auto kind_of = [&](const std::string& prompt, const rwkv::GenerateParams& gp) {
      try {
        ctx.reset();
        rwkv::generate(ctx, *bytes, prompt, gp);
      } catch (const rwkv::Error& e) {
        return e.kind();
      }
      return rwkv::ErrorKind::Cancelled;  // "no error"
    };
    QCOMPARE(kind_of("", p), rwkv::ErrorKind::Argument);
    rwkv::GenerateParams empty_stop = p;
    empty_stop.stop = {""};
    QCOMPARE(kind_of("The", empty_stop), rwkv::ErrorKind::Argument);
    rwkv::GenerateParams zero = p;
    zero.max_tokens = 0;
    ctx.reset();
    const auto z = rwkv::generate(ctx, *bytes, "The", zero);
    QVERIFY(z.tokens.empty() && z.text.empty());
    QCOMPARE(z.stop_reason, std::string("max_tokens"));
  }

  void badUsage_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("names");  // the message must contain this
    const QString tiny = fixtures::path(fixtures::kTinyFp32);
    QTest::newRow("no command") << QStringList{} << 2 << "no command";
    QTest::newRow("unknown command") << QStringList{"frobnicate"} << 2 << "frobnicate";
    QTest::newRow("unknown flag") << QStringList{"info", "--model", tiny, "--bogus"} << 2 << "--bogus";
    QTest::newRow("unknown flag with =") << QStringList{"logits", "--colour=red", "--model", tiny, "--tokens", "1"} << 2
                                         << "--colour";
    QTest::newRow("positional") << QStringList{"info", tiny} << 2 << "unexpected argument";
    QTest::newRow("missing --model") << QStringList{"info"} << 2 << "--model";
    QTest::newRow("missing --prompt") << QStringList{"generate", "--model", tiny} << 2 << "--prompt";
    QTest::newRow("missing value") << QStringList{"info", "--model"} << 2 << "--model";
    QTest::newRow("flag with value") << QStringList{"info", "--model", tiny, "--json=yes"} << 2 << "--json";
    QTest::newRow("given twice") << QStringList{"info", "--model", tiny, "--model", tiny} << 2 << "more than once";
    QTest::newRow("missing file") << QStringList{"info", "--model", "/nonexistent/dir/model.pth"} << 1
                                  << "/nonexistent/dir/model.pth";
    QTest::newRow("empty prompt") << QStringList{"generate", "--model", tiny, "--prompt", ""} << 1 << "empty prompt";
    QTest::newRow("bad temperature") << QStringList{"generate", "--model", tiny, "--prompt", "a", "--temperature", "hot"}
                                     << 2 << "--temperature";
    QTest::newRow("bad top-p") << QStringList{"generate", "--model", tiny, "--prompt", "a", "--top-p", "1.5"} << 2
                               << "--top-p";
    QTest::newRow("bad max-tokens") << QStringList{"generate", "--model", tiny, "--prompt", "a", "--max-tokens", "-3"}
                                    << 2 << "--max-tokens";
    QTest::newRow("empty stop") << QStringList{"generate", "--model", tiny, "--prompt", "a", "--stop", ""} << 2
                                << "--stop";
    QTest::newRow("unknown token id") << QStringList{"logits", "--model", tiny, "--tokens", "34,300,110"} << 1 << "300";
    QTest::newRow("bad token list") << QStringList{"logits", "--model", tiny, "--tokens", "34,x1,110"} << 2 << "'x1'";
    QTest::newRow("empty token item") << QStringList{"logits", "--model", tiny, "--tokens", "34,,110"} << 2 << "empty";
    QTest::newRow("negative token") << QStringList{"logits", "--model", tiny, "--tokens", "-1"} << 2 << "-1";
  }
  void badUsage() {
    REQUIRE_FIXTURE(tiny, fixtures::kTinyFp32);
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, names);
    EXPECT_EXIT(r, args, code);
    const QString err = QString::fromUtf8(r.err);
    QVERIFY2(err.startsWith("rwkv-tune: error: "), qPrintable(describe(args, r)));
    QVERIFY2(err.contains(names), qPrintable(describe(args, r)));
    if (code == 2) QVERIFY2(err.contains("usage: rwkv-tune"), qPrintable(describe(args, r)));
    QVERIFY2(r.out.isEmpty(), qPrintable(describe(args, r)));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
