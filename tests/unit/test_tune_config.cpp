// TuneConfig: validation names the bad field, JSON round trips and refuses unknown keys and wrong
// types, and to_command_line() gives a command line that `rwkv-tune tune --dry-run` turns back into
// the same config (so the CLI and the config cannot drift apart).
#include <QObject>
#include <QProcess>
#include <QTest>

#include <functional>

#include "fixtures.h"
#include "rwkv/error.h"
#include "rwkv/tune_config.h"

namespace {

rwkv::TuneConfig base() {
  rwkv::TuneConfig c;
  c.model = "m.pth";
  c.data = "d.jsonl";
  c.out = "s.rwkvstate";
  return c;
}

// Everything different from the defaults, with values that need full precision.
rwkv::TuneConfig unusual() {
  rwkv::TuneConfig c = base();
  c.model = "/tmp/some dir/model with spaces.pth";
  c.tokenizer = "bytes";
  c.init_state = "init.pth";
  c.resume = "run.autosave";
  c.autosave = "elsewhere.autosave";
  c.ctx_len = 77;
  c.eval_fraction = 0.123456789012345;
  c.lr = 0.1 + 1e-13;
  c.lr_final = 1.0 / 3.0;
  c.warmup_steps = 3;
  c.schedule = "linear";
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.adam_eps = 1e-7;
  c.weight_decay = 0.01;
  c.grad_clip = 0.0;
  c.epochs = 4;
  c.max_steps = 123;
  c.micro_bsz = 3;
  c.accum = 2;
  c.eval_every = 7;
  c.early_stop_patience = 2;
  c.seed = 18446744073709551557ULL;  // needs all 64 bits
  c.autosave_every = 9;
  c.device = "cuda:1";
  c.snapshot_every = 0;
  c.snapshot_heads = {{0, 1}, {2, 3}};
  c.snapshot_size = 16;
  c.method = "kernel";
  c.kernel_m = 96;
  c.kernel_support = "random";
  c.kernel_gamma = 2.0 / 3.0;
  c.kernel_write = true;
  c.kernel_lr = 0.07;
  c.dbp = "update";
  c.dbp_alpha = 0.3;
  c.dbp_lambda = 0.25;
  c.dbp_task_grad = true;
  c.dbp_lr = 3e-4;
  c.dbp_eta = 1.0 / 7.0;
  c.recompute = true;
  return c;
}

}  // namespace

class TestTuneConfig : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void defaultsAreValid();
  void badValuesNameTheField_data();
  void badValuesNameTheField();
  void jsonRoundTrip();
  void jsonRefusesUnknownKeysAndWrongTypes();
  void commandLineRoundTrip();
  void commandLineRejectsBadValue();
};

void TestTuneConfig::defaultsAreValid() {
  base().validate();
  unusual().validate();
}

void TestTuneConfig::badValuesNameTheField_data() {
  QTest::addColumn<QString>("field");
  QTest::addColumn<int>("which");
  const char* names[] = {"model", "data", "out", "ctx_len", "eval_fraction", "eval_fraction", "lr", "lr", "lr_final",
                         "warmup_steps", "schedule", "beta1", "beta2", "adam_eps", "weight_decay", "grad_clip",
                         "epochs", "max_steps", "micro_bsz", "accum", "eval_every", "early_stop_patience",
                         "autosave_every", "device", "snapshot_every", "snapshot_size", "snapshot_heads", "method",
                         "kernel_m", "kernel_support", "kernel_gamma", "dbp", "dbp", "dbp_alpha", "dbp_lr",
                         "dbp_eta"};
  for (int i = 0; i < int(sizeof names / sizeof names[0]); ++i)
    QTest::newRow(qPrintable(QString("%1 #%2").arg(names[i]).arg(i))) << QString(names[i]) << i;
}

void TestTuneConfig::badValuesNameTheField() {
  QFETCH(QString, field);
  QFETCH(int, which);
  const std::vector<std::function<void(rwkv::TuneConfig&)>> breakers = {
      [](auto& c) { c.model = ""; },          [](auto& c) { c.data = ""; },
      [](auto& c) { c.out = ""; },            [](auto& c) { c.ctx_len = 1; },
      [](auto& c) { c.eval_fraction = 0.95; }, [](auto& c) { c.eval_fraction = -0.1; },
      [](auto& c) { c.lr = 0; },              [](auto& c) { c.lr = NAN; },
      [](auto& c) { c.lr_final = -1; },       [](auto& c) { c.warmup_steps = -1; },
      [](auto& c) { c.schedule = "cosin"; },  [](auto& c) { c.beta1 = 1.0; },
      [](auto& c) { c.beta2 = -0.1; },        [](auto& c) { c.adam_eps = 0; },
      [](auto& c) { c.weight_decay = -1; },   [](auto& c) { c.grad_clip = -1; },
      [](auto& c) { c.epochs = 0; },          [](auto& c) { c.max_steps = -5; },
      [](auto& c) { c.micro_bsz = 0; },       [](auto& c) { c.accum = 0; },
      [](auto& c) { c.eval_every = -1; },     [](auto& c) { c.early_stop_patience = -1; },
      [](auto& c) { c.autosave_every = -1; }, [](auto& c) { c.device = "gpu"; },
      [](auto& c) { c.snapshot_every = -1; }, [](auto& c) { c.snapshot_size = 0; },
      [](auto& c) { c.snapshot_heads = {{0, -1}}; },
      [](auto& c) { c.method = "kernal"; },   [](auto& c) { c.method = "kernel"; c.kernel_m = 0; },
      [](auto& c) { c.method = "kernel"; c.kernel_support = "kmedoids"; },
      [](auto& c) { c.method = "kernel"; c.kernel_gamma = -1; },
      [](auto& c) { c.dbp = "loss"; },        // DBP needs the kernel method
      [](auto& c) { c.method = "kernel"; c.dbp = "whiten"; },
      [](auto& c) { c.method = "kernel"; c.dbp = "loss"; c.dbp_alpha = -1; },
      [](auto& c) { c.method = "kernel"; c.dbp = "loss"; c.dbp_lr = 0; },
      [](auto& c) { c.method = "kernel"; c.dbp = "update"; c.dbp_eta = 2; },
  };
  rwkv::TuneConfig c = base();
  breakers.at(which)(c);
  try {
    c.validate();
    QFAIL("validate() accepted a bad value");
  } catch (const rwkv::Error& e) {
    QCOMPARE(e.kind(), rwkv::ErrorKind::Argument);
    const QString msg = e.what();
    QVERIFY2(msg.contains(field + " must be"), qPrintable(msg));
    QVERIFY2(msg.contains("found"), qPrintable(msg));
  }
}

void TestTuneConfig::jsonRoundTrip() {
  const rwkv::TuneConfig c = unusual();
  const std::string j = c.to_json();
  const rwkv::TuneConfig back = rwkv::TuneConfig::from_json(j);
  QCOMPARE(QString::fromStdString(back.to_json()), QString::fromStdString(j));
  QCOMPARE(back.seed, c.seed);
  QCOMPARE(back.lr, c.lr);  // exact
  QCOMPARE(back.lr_final, c.lr_final);
  QCOMPARE(back.eval_fraction, c.eval_fraction);
  QVERIFY(back.snapshot_heads == c.snapshot_heads);
  // Missing keys keep their defaults.
  const auto partial = rwkv::TuneConfig::from_json(R"({"model": "x.pth", "lr": 0.5})");
  QCOMPARE(partial.lr, 0.5);
  QCOMPARE(partial.ctx_len, rwkv::TuneConfig().ctx_len);
  QCOMPARE(QString::fromStdString(partial.schedule), QString("cosine"));
}

void TestTuneConfig::jsonRefusesUnknownKeysAndWrongTypes() {
  const auto expect_error = [](const std::string& json, const QString& needle) {
    try {
      rwkv::TuneConfig::from_json(json);
      QFAIL(qPrintable("accepted " + QString::fromStdString(json)));
    } catch (const rwkv::Error& e) {
      QCOMPARE(e.kind(), rwkv::ErrorKind::Argument);
      QVERIFY2(QString(e.what()).contains(needle), e.what());
    }
  };
  expect_error(R"({"model": "x", "learning_rate": 0.1})", "learning_rate");
  expect_error(R"({"lr": "0.1"})", "\"lr\" must be a number");
  expect_error(R"({"ctx_len": 1.5})", "\"ctx_len\" must be an integer");
  expect_error(R"({"seed": -1})", "\"seed\" must be a non-negative integer");
  expect_error(R"({"snapshot_heads": [[0]]})", "snapshot_heads");
  expect_error(R"({"kernel_write": 1})", "\"kernel_write\" must be true or false");
  expect_error(R"([1, 2])", "expected an object");
  expect_error(R"({"lr": )", "not valid JSON");
}

void TestTuneConfig::commandLineRoundTrip() {
  // (--resume reads the autosave's settings as the base, so the file must exist: left out here.)
  rwkv::TuneConfig no_resume = unusual();
  no_resume.resume.clear();
  for (const rwkv::TuneConfig& c : {base(), no_resume}) {
    const auto argv = c.to_command_line();
    QCOMPARE(QString::fromStdString(argv.at(0)), QString("rwkv-tune"));
    QCOMPARE(QString::fromStdString(argv.at(1)), QString("tune"));
    QStringList args;
    for (size_t i = 1; i < argv.size(); ++i) args << QString::fromStdString(argv[i]);
    args << "--dry-run";
    QProcess p;
    p.start(RWKV_TUNE_EXE, args);
    QVERIFY(p.waitForFinished(60000));
    const QString err = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(p.exitCode() == 0, qPrintable(args.join(' ') + "\n" + err));
    const std::string out = p.readAllStandardOutput().toStdString();
    const rwkv::TuneConfig back = rwkv::TuneConfig::from_json(out);
    QCOMPARE(QString::fromStdString(back.to_json()), QString::fromStdString(c.to_json()));
  }
}

void TestTuneConfig::commandLineRejectsBadValue() {
  rwkv::TuneConfig c = base();
  QStringList args;
  for (size_t i = 1; i < c.to_command_line().size(); ++i) args << QString::fromStdString(c.to_command_line()[i]);
  args << "--micro-bsz" << "0" << "--dry-run";
  QProcess p;
  p.start(RWKV_TUNE_EXE, args);
  QVERIFY(p.waitForFinished(60000));
  QVERIFY(p.exitCode() != 0);
  const QString err = QString::fromUtf8(p.readAllStandardError());
  QVERIFY2(err.contains("micro_bsz must be >= 1"), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestTuneConfig)
#include "test_tune_config.moc"
