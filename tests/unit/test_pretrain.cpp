// rwkv-tune pretrain's engine part on the CPU: a tiny model (L2, C64, N32, byte tokenizer) learns
// a repetitive corpus; the written model loads through Model::load and gives the loss pretrain
// reported; a run stopped half way and resumed writes the same weights as an uninterrupted one;
// the recipe round-trips through JSON and refuses unknown keys.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>

#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "rwkv/pretrain.h"
#include "rwkv/tokenizer.h"
#include "weights.h"

namespace {

void write_file(const QString& path, const std::string& text) {
  std::ofstream f(path.toStdString(), std::ios::binary);
  f << text;
}

// A corpus a tiny model can learn quickly: a few sentences in many orders, and Q/A chats.
std::string corpus_jsonl() {
  const char* s[] = {"the cat sat on the mat.", "a dog ran in the park.", "we like warm bread.",
                     "rain falls on the hill."};
  std::string out;
  for (int i = 0; i < 120; ++i) {
    out += std::string("{\"text\": \"") + s[i % 4] + " " + s[(i / 4) % 4] + "\"}\n";
    out += "{\"question\": \"where did the cat sit?\", \"answer\": \"on the mat.\"}\n";
  }
  return out;
}

rwkv::PretrainRecipe tiny_recipe(const QString& dir) {
  rwkv::PretrainRecipe r;
  r.name = "tiny-test";
  r.dims.n_layer = 2;
  r.dims.n_embd = 64;
  r.dims.head_size = 32;
  r.dims.dim_ffn = 128;
  r.dims.d_decay = r.dims.d_aaa = r.dims.d_mv = r.dims.d_gate = 8;
  r.corpus = (dir + "/corpus.jsonl").toStdString();
  r.eval_data = (dir + "/eval.jsonl").toStdString();
  r.tokenizer = "bytes";
  r.ctx_len = 48;
  r.micro_bsz = 8;
  r.steps = 60;
  r.lr = 1e-2;
  r.lr_final = 1e-3;
  r.warmup_steps = 5;
  r.eval_every = 20;
  r.seed = 3;
  return r;
}

// Mean answer cross-entropy of a loaded model on a QA file, through the public Context API.
double answer_loss(const std::string& model_path, const std::string& data) {
  auto model = rwkv::Model::load(model_path);
  auto tok = rwkv::make_byte_tokenizer();
  const auto ds = rwkv::load_jsonl(data, *tok, 48);
  rwkv::Context ctx(model);
  double sum = 0;
  int n = 0;
  const int V = model->dims().n_vocab;
  for (const auto& s : ds.samples) {
    ctx.reset();
    const auto logits = ctx.eval(s.tokens, /*all_logits=*/true);  // [T*V]
    for (size_t t = 1; t < s.tokens.size(); ++t) {
      if (!s.target[t]) continue;
      const float* row = logits.data() + (t - 1) * V;
      double mx = row[0], z = 0;
      for (int v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
      for (int v = 0; v < V; ++v) z += std::exp(row[v] - mx);
      sum += -(row[s.tokens[t]] - mx - std::log(z));
      ++n;
    }
  }
  return sum / n;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

class TestPretrain : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    write_file(dir_.path() + "/corpus.jsonl", corpus_jsonl());
    write_file(dir_.path() + "/eval.jsonl",
               "{\"question\": \"where did the cat sit?\", \"answer\": \"on the mat.\"}\n"
               "{\"question\": \"what do we like?\", \"answer\": \"warm bread.\"}\n");
  }

  void learnsAndWritesALoadableModel() {
    auto r = tiny_recipe(dir_.path());
    rwkv::PretrainOptions o;
    o.out = (dir_.path() + "/tiny.safetensors").toStdString();
    std::vector<rwkv::PretrainProgress> seen;
    o.on_progress = [&](const rwkv::PretrainProgress& p) { seen.push_back(p); };
    const auto res = rwkv::pretrain(r, o);
    QCOMPARE(res.steps, 60);
    QVERIFY(seen.size() >= 6);
    const double first = seen.front().loss, last = res.loss;
    qInfo("train loss %.3f (steps 1-10) -> %.3f (end); eval %.3f; %lld params", first, last, res.eval_loss,
          static_cast<long long>(res.n_params));
    QVERIFY2(last < 0.5 * first, "the training loss did not halve");
    QVERIFY(res.eval_loss > 0);
    QVERIFY(!QFile::exists(QString::fromStdString(o.out + ".ckpt")));  // removed once the model is written

    auto model = rwkv::Model::load(o.out);
    QCOMPARE(model->dims().n_layer, 2);
    QCOMPARE(model->dims().n_embd, 64);
    QCOMPARE(model->dims().n_vocab, 256);
    QCOMPARE(QString::fromStdString(model->info().stored_dtype), QString("bf16"));
    // The loaded (bf16-rounded) model gives the held-out loss pretrain measured in fp32.
    const double loaded = answer_loss(o.out, r.eval_data);
    qInfo("eval loss: pretrain %.4f, loaded model %.4f", res.eval_loss, loaded);
    QVERIFY(std::abs(loaded - res.eval_loss) < 0.05 * res.eval_loss + 0.02);
  }

  void resumeGivesTheSameWeights() {
    auto r = tiny_recipe(dir_.path());
    r.steps = 30;
    r.eval_every = 10;
    rwkv::PretrainOptions straight;
    straight.out = (dir_.path() + "/straight.safetensors").toStdString();
    rwkv::pretrain(r, straight);

    rwkv::PretrainOptions part = straight;
    part.out = (dir_.path() + "/resumed.safetensors").toStdString();
    part.stop_after = 13;  // not on an eval boundary
    const auto first = rwkv::pretrain(r, part);
    QCOMPARE(first.steps, 13);
    QVERIFY(!QFile::exists(QString::fromStdString(part.out)));
    QVERIFY(QFile::exists(QString::fromStdString(part.out + ".ckpt")));
    part.stop_after = 0;
    part.resume = true;
    const auto second = rwkv::pretrain(r, part);
    QCOMPARE(second.steps, 30);
    // Same tensors, same bytes (the metadata differs only in wall time).
    const auto a = rwkv::read_safetensors(straight.out), b = rwkv::read_safetensors(part.out);
    QCOMPARE(a.size(), b.size());
    for (const auto& [k, t] : a) QVERIFY2(torch::equal(t, b.at(k)), k.c_str());

    // A changed recipe refuses the old checkpoint.
    part.stop_after = 5;
    part.resume = false;
    rwkv::pretrain(r, part);
    r.lr *= 2;
    part.resume = true;
    part.stop_after = 0;
    try {
      rwkv::pretrain(r, part);
      QFAIL("resumed with a different recipe");
    } catch (const rwkv::Error& e) {
      QCOMPARE(e.kind(), rwkv::ErrorKind::Mismatch);
      QVERIFY(QString(e.what()).contains("different recipe"));
    }
  }

  void recipeJson() {
    auto r = tiny_recipe(dir_.path());
    const auto back = rwkv::PretrainRecipe::from_json(r.to_json());
    QCOMPARE(back.to_json(), r.to_json());
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::PretrainRecipe::from_json(R"({"n_layer": 2, "n_embd": 64, "head_size": 32,
        "corpus": "c.jsonl", "stepz": 5})"));
    // Paths are relative to the recipe's folder.
    write_file(dir_.path() + "/r.json", R"({"n_layer": 2, "n_embd": 64, "head_size": 32, "corpus": "corpus.jsonl",
        "tokenizer": "bytes", "eval_data": "sub/e.jsonl"})");
    const auto loaded = rwkv::PretrainRecipe::load((dir_.path() + "/r.json").toStdString());
    QCOMPARE(QString::fromStdString(loaded.corpus), dir_.path() + "/corpus.jsonl");
    QCOMPARE(QString::fromStdString(loaded.eval_data), dir_.path() + "/sub/e.jsonl");
    QCOMPARE(QString::fromStdString(loaded.tokenizer), QString("bytes"));
    // A corpus whose sha256 differs from the recipe's is refused before any training.
    r.corpus_sha256 = std::string(64, '0');
    rwkv::PretrainOptions o;
    o.out = (dir_.path() + "/never.safetensors").toStdString();
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::pretrain(r, o));
    QVERIFY(!QFile::exists(QString::fromStdString(o.out)));
  }

 private:
  QTemporaryDir dir_;
};

QTEST_GUILESS_MAIN(TestPretrain)
#include "test_pretrain.moc"
