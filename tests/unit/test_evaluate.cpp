// Evaluation (rwkv/evaluate.h, `rwkv-tune eval`): parsing of our JSON Lines shapes, GSM8K lines and
// the MMLU CSV layout with the line of every unusable record; the scorers and auto selection; and
// on the tiny rwkv.cpp fixture (bytes tokenizer) that an item's output is exactly what
// `rwkv-tune generate --temperature 0 --stop "\n\n"` prints for its prompt, with and without a
// state, and that `rwkv-tune eval --json` reports the numbers of the in-process API; on demo-small
// that batched answering (generate_greedy_batch) gives the same answers.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <random>
#include <set>

#include "fixtures.h"
#include "rwkv/context.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/evaluate.h"
#include "rwkv/model.h"
#include "rwkv/state_file.h"
#include "rwkv/tokenizer.h"
#include "tune_process.h"

namespace {

using tune_process::Run;
using tune_process::describe;
using tune_process::tune;

void write_file(const QString& path, const std::string& text) {
  std::ofstream f(path.toStdString(), std::ios::binary);
  f << text;
}

std::string jsonl_line(const nlohmann::json& j) { return j.dump() + "\n"; }

// What the Format error says, or "" when none was thrown.
std::string format_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const rwkv::Error& e) {
    return e.kind() == rwkv::ErrorKind::Format ? e.what() : std::string("wrong kind: ") + e.what();
  }
  return "";
}

const int kMaxTokens = 24;  // per answer on the tiny fixture: enough to see text, fast

rwkv::EvalItem item_with_reference(const std::string& reference) {
  rwkv::EvalItem it;
  it.reference = reference;
  return it;
}

}  // namespace

class TestEvaluate : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void jsonlShapes() {
    std::string text;
    text += jsonl_line({{"question", "What is 2+2?"}, {"answer", "4"}});                          // line 1
    text += jsonl_line({{"instruction", "Add"}, {"input", "2 and 3"}, {"output", "5"}});           // line 2
    text += "\n";                                                                                  // line 3 (blank)
    text += jsonl_line({{"text", "free text has no answer"}});                                     // line 4
    text += "{not json\n";                                                                         // line 5
    text += jsonl_line({{"messages",
                         {{{"role", "system"}, {"content", "Be brief."}},
                          {{"role", "user"}, {"content", "Hi"}},
                          {{"role", "assistant"}, {"content", "Hello."}},
                          {{"role", "user"}, {"content", "Name a colour"}},
                          {{"role", "assistant"}, {"content", "Red"}}}}});                         // line 6
    text += jsonl_line({{"question", "Janet has 3 apples..."},
                        {"answer", "She has 3+2=<<3+2=5>>5 apples.\n#### 1,005"}});                 // line 7
    text += jsonl_line({{"prompt", "no answer"}});                                                 // line 8
    const rwkv::EvalSet set = rwkv::parse_eval_jsonl(text, "mem.jsonl");
    QCOMPARE(set.format, std::string("jsonl"));
    QCOMPARE(set.items.size(), size_t(4));
    QCOMPARE(set.items[0].line, 1);
    QCOMPARE(set.items[0].prompt, rwkv::chat_prompt("What is 2+2?"));
    QCOMPARE(set.items[0].reference, std::string("4"));
    QCOMPARE(set.items[1].line, 2);
    QCOMPARE(set.items[1].prompt, rwkv::chat_prompt("Add\n\n2 and 3"));  // Alpaca input after a blank line
    QCOMPARE(set.items[2].line, 6);
    // The chat prompt is every turn before the last assistant reply, rendered as the tuner does.
    QCOMPARE(set.items[2].prompt,
             std::string("System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Name a colour\n\nAssistant:"));
    QCOMPARE(set.items[2].reference, std::string("Red"));
    QCOMPARE(set.items[3].line, 7);
    QVERIFY(set.items[3].reference.find("#### 1,005") != std::string::npos);

    QCOMPARE(set.issues.size(), size_t(3));
    QCOMPARE(set.issues[0].line, 4);
    QVERIFY2(set.issues[0].reason.find("text") != std::string::npos, set.issues[0].reason.c_str());
    QCOMPARE(set.issues[1].line, 5);
    QVERIFY2(set.issues[1].reason.find("invalid JSON") != std::string::npos, set.issues[1].reason.c_str());
    QCOMPARE(set.issues[2].line, 8);

    // Nothing usable: the error names the file and the lines.
    const std::string err = format_error([] { rwkv::parse_eval_jsonl("\n{\"text\": \"x\"}\n", "only_text.jsonl"); });
    QVERIFY2(err.find("only_text.jsonl") != std::string::npos && err.find("line 2") != std::string::npos, err.c_str());
  }

  void mmluCsv() {
    // Quoted fields with commas, an escaped quote and a line break inside; a lowercase letter;
    // a short record and a bad letter, each reported on the line its record starts.
    const std::string csv =
        "What is 1+1?,1,2,3,4,B\n"                                  // line 1
        "\"Pick, carefully\",\"say \"\"hi\"\"\",\"two\nlines\",x,y,d\r\n"  // lines 2-3
        "\n"                                                        // line 4
        "Too,few,columns\n"                                         // line 5
        "Q,a,b,c,d,E\n"                                             // line 6
        "Last?,w,x,y,z,A";                                          // line 7, no final newline
    const rwkv::EvalSet set = rwkv::parse_eval_csv(csv, "mem.csv");
    QCOMPARE(set.format, std::string("csv"));
    QCOMPARE(set.items.size(), size_t(3));
    QCOMPARE(set.items[0].line, 1);
    QCOMPARE(set.items[0].prompt,
             rwkv::chat_prompt("What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer with the letter."));
    QCOMPARE(set.items[0].reference, std::string("B"));
    QCOMPARE(set.items[1].line, 2);
    QCOMPARE(set.items[1].prompt,
             rwkv::chat_prompt("Pick, carefully\nA. say \"hi\"\nB. two\nlines\nC. x\nD. y\nAnswer with the letter."));
    QCOMPARE(set.items[1].reference, std::string("D"));
    QCOMPARE(set.items[2].line, 7);
    QCOMPARE(set.items[2].reference, std::string("A"));
    QCOMPARE(set.issues.size(), size_t(2));
    QCOMPARE(set.issues[0].line, 5);
    QVERIFY2(set.issues[0].reason.find("6 columns") != std::string::npos, set.issues[0].reason.c_str());
    QCOMPARE(set.issues[1].line, 6);
    QVERIFY2(set.issues[1].reason.find("A-D") != std::string::npos, set.issues[1].reason.c_str());
    // The public renderer is what the parser used.
    QCOMPARE(rwkv::multiple_choice_question("Q", {"a", "b", "c", "d"}),
             std::string("Q\nA. a\nB. b\nC. c\nD. d\nAnswer with the letter."));

    const std::string err = format_error([] { rwkv::parse_eval_csv("ok,1,2,3,4,A\n\"open,1,2,3,4,A\n", "q.csv"); });
    QVERIFY(err.empty());  // the first record is usable; the unterminated one is an issue
    const rwkv::EvalSet partial = rwkv::parse_eval_csv("ok,1,2,3,4,A\n\"open,1,2,3,4,A\n", "q.csv");
    QCOMPARE(partial.items.size(), size_t(1));
    QCOMPARE(partial.issues.size(), size_t(1));
    QCOMPARE(partial.issues[0].line, 2);
    const std::string none = format_error([] { rwkv::parse_eval_csv("a,b\n", "bad.csv"); });
    QVERIFY2(none.find("bad.csv") != std::string::npos && none.find("line 1") != std::string::npos, none.c_str());
  }

  void loadByExtension() {
    QTemporaryDir dir;
    write_file(dir.filePath("m.csv"), "Q,a,b,c,d,C\n");
    write_file(dir.filePath("q.jsonl"), jsonl_line({{"question", "Q"}, {"answer", "A"}}));
    QCOMPARE(rwkv::load_eval_set(dir.filePath("m.csv").toStdString()).format, std::string("csv"));
    QCOMPARE(rwkv::load_eval_set(dir.filePath("q.jsonl").toStdString()).format, std::string("jsonl"));
    try {
      rwkv::load_eval_set(dir.filePath("missing.jsonl").toStdString());
      QFAIL("a missing file must throw");
    } catch (const rwkv::Error& e) {
      QCOMPARE(e.kind(), rwkv::ErrorKind::Io);
      QVERIFY(std::string(e.what()).find("missing.jsonl") != std::string::npos);
    }
  }

  void extractors() {
    QCOMPARE(rwkv::gsm8k_number("so 5+5=10\n#### 10"), std::string("10"));
    QCOMPARE(rwkv::gsm8k_number("#### 3\nthen #### 1,234,567 dollars"), std::string("1234567"));  // the last one
    QCOMPARE(rwkv::gsm8k_number("####$-4.50."), std::string("-4.5"));
    QCOMPARE(rwkv::gsm8k_number("#### 72.0"), std::string("72"));
    QCOMPARE(rwkv::gsm8k_number("the answer is 72"), std::string());  // no #### -> no answer
    QCOMPARE(rwkv::gsm8k_number("#### seventy"), std::string());
    QCOMPARE(rwkv::first_choice_letter("The answer is B."), 'B');
    QCOMPARE(rwkv::first_choice_letter("Answer: (C)"), 'C');  // "Answer" starts with A but is a word
    QCOMPARE(rwkv::first_choice_letter("I think D"), 'D');    // I is alone but not a choice
    QCOMPARE(rwkv::first_choice_letter("BAD CAB"), char(0));
    QCOMPARE(rwkv::first_choice_letter("A"), 'A');
  }

  void scorers() {
    using M = rwkv::ScoreMode;
    auto s = rwkv::score_answer(M::Exact, "  Paris \n", "Paris");
    QVERIFY(s.correct && s.exact && s.contains && !s.format_failure);
    s = rwkv::score_answer(M::Exact, "Paris, France", "Paris");
    QVERIFY(!s.correct && !s.exact && s.contains);
    s = rwkv::score_answer(M::Contains, "Paris, France", "Paris");
    QVERIFY(s.correct);
    s = rwkv::score_answer(M::Gsm8k, "3 + 2 = 5\n#### 5", "blah #### 5");
    QVERIFY(s.correct && !s.format_failure);
    QCOMPARE(s.extracted, std::string("5"));
    s = rwkv::score_answer(M::Gsm8k, "The answer is 5", "blah #### 5");  // right number, no ####
    QVERIFY(!s.correct && s.format_failure);
    s = rwkv::score_answer(M::Gsm8k, "#### 6", "#### 5");
    QVERIFY(!s.correct && !s.format_failure);
    s = rwkv::score_answer(M::Choice, " B. two", "B");
    QVERIFY(s.correct);
    s = rwkv::score_answer(M::Choice, "none of them", "B");
    QVERIFY(!s.correct && s.format_failure);
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::score_answer(M::Gsm8k, "#### 1", "no number"));
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::score_answer(M::Choice, "A", "E"));
    // Reasoned references (the demo facts train split) carry their letter at the end.
    s = rwkv::score_answer(M::Choice, "Purbee lives in Pellin, so the answer is B.", "Purbee lives in Pellin, so the answer is B.");
    QVERIFY(s.correct && s.extracted == "B");
    s = rwkv::score_answer(M::Choice, "Purbee lives in Tesk, so the answer is D.", "Purbee lives in Pellin, so the answer is B.");
    QVERIFY(!s.correct && s.extracted == "D");
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::score_answer(M::Choice, "B", "Purbee lives in Pellin, so it is B."));
    QCOMPARE(rwkv::resolve_score_mode(M::Auto, {item_with_reference("the answer is C."), item_with_reference("A")}), M::Choice);
    QCOMPARE(rwkv::resolve_score_mode(M::Auto, {item_with_reference("the answer is C."), item_with_reference("Paris")}), M::Exact);
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::score_answer(M::Auto, "A", "A"));

    const auto items = [](std::vector<std::string> refs) {
      std::vector<rwkv::EvalItem> v;
      for (auto& r : refs) v.push_back({1, "p", r});
      return v;
    };
    QCOMPARE(rwkv::resolve_score_mode(M::Auto, items({"x", "y #### 3"})), M::Gsm8k);
    QCOMPARE(rwkv::resolve_score_mode(M::Auto, items({"A", " C ", "D"})), M::Choice);
    QCOMPARE(rwkv::resolve_score_mode(M::Auto, items({"A", "Paris"})), M::Exact);
    QCOMPARE(rwkv::resolve_score_mode(M::Contains, items({"A"})), M::Contains);
    QCOMPARE(rwkv::parse_score_mode("gsm8k"), M::Gsm8k);
    QVERIFY_THROWS_EXCEPTION(rwkv::Error, rwkv::parse_score_mode("bleu"));
  }

  // The model's answers through evaluate() equal `rwkv-tune generate` greedy output, with and
  // without a state; the scores follow from references built from those very outputs.
  void answersEqualGenerate() {
    REQUIRE_FIXTURE(model_path, fixtures::kTinyFp32);
    QTemporaryDir dir;
    const std::vector<std::string> questions = {"Who are you?", "Tell me about the sea", "Count: one, two,"};

    // A random state with a visible scale, written as our state file.
    auto model = rwkv::Model::load(model_path.toStdString());
    const auto& d = model->dims();
    auto s0 = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (float& x : s0.wkv) x = nd(rng);
    const QString state_path = dir.filePath("s.rwkvstate");
    rwkv::save_state(state_path.toStdString(), s0, rwkv::StateFormat::Ours);

    for (const bool with_state : {false, true}) {
      // 1. The CLI's greedy generate output for every prompt.
      std::vector<std::string> cli_out;
      for (const auto& q : questions) {
        QStringList args{"generate", "--model", model_path, "--prompt", QString::fromStdString(rwkv::chat_prompt(q)),
                         "--temperature", "0", "--stop", "\n\n", "--max-tokens", QString::number(kMaxTokens)};
        if (with_state) args << "--state" << state_path;
        const Run r = tune(args);
        QVERIFY2(r.code == 0, qPrintable(describe(args, r)));
        cli_out.push_back(r.out.toStdString());
      }
      // 2. References: item 0 is the model's own answer (exact), item 1 a piece of it (contains
      // only), item 2 something it did not say.
      std::string text;
      text += jsonl_line({{"question", questions[0]}, {"answer", cli_out[0]}});
      const std::string piece = cli_out[1].substr(cli_out[1].size() / 3, 4);
      QVERIFY2(!piece.empty() && piece != cli_out[1], cli_out[1].c_str());
      text += jsonl_line({{"question", questions[1]}, {"answer", piece}});
      text += jsonl_line({{"question", questions[2]}, {"answer", "\x01never said"}});
      const QString data = dir.filePath("eval.jsonl");
      write_file(data, text);

      // 3. In-process.
      rwkv::Context ctx(model);
      if (with_state) ctx.set_initial_state(s0);
      auto tok = rwkv::make_byte_tokenizer();
      rwkv::EvalParams p;
      p.max_tokens = kMaxTokens;
      std::vector<int> streamed_items;
      std::string streamed0;
      rwkv::EvalCallbacks cb;
      cb.on_token = [&](int index, const rwkv::GeneratedToken& t) {
        if (index == 0) streamed0 += t.text;
        return true;
      };
      cb.on_item = [&](const rwkv::EvalItemResult& r) { streamed_items.push_back(r.index); };
      const rwkv::EvalSet set = rwkv::load_eval_set(data.toStdString());
      const rwkv::EvalReport rep = rwkv::evaluate(ctx, *tok, set, p, cb);
      QCOMPARE(rep.items.size(), questions.size());
      QCOMPARE(streamed_items, (std::vector<int>{0, 1, 2}));
      for (size_t i = 0; i < questions.size(); ++i)
        QVERIFY2(rep.items[i].output == cli_out[i],
                 qPrintable(QString("item %1 state %2: eval '%3' vs generate '%4'")
                                .arg(i)
                                .arg(with_state)
                                .arg(QString::fromStdString(rep.items[i].output), QString::fromStdString(cli_out[i]))));
      QVERIFY(rwkv::chat_prompt(questions[0]) == rep.items[0].item.prompt);
      QVERIFY(rep.items[0].output.rfind(streamed0, 0) == 0);  // streaming gives a prefix of the answer
      QCOMPARE(rep.totals.score, rwkv::ScoreMode::Exact);
      QCOMPARE(rep.totals.n, 3);
      QCOMPARE(rep.totals.exact, 1);
      QCOMPARE(rep.totals.correct, 1);
      QCOMPARE(rep.totals.contains, 2);
      QVERIFY(rep.items[0].score.exact && !rep.items[1].score.exact && rep.items[1].score.contains);
      QVERIFY(rep.totals.tokens > 0 && rep.totals.tokens_per_s() > 0);

      // 4. `rwkv-tune eval --json` reports the same items and totals.
      QStringList args{"eval", "--model", model_path, "--data", data, "--max-tokens", QString::number(kMaxTokens),
                       "--json"};
      if (with_state) args << "--state" << state_path;
      const Run r = tune(args);
      QVERIFY2(r.code == 0, qPrintable(describe(args, r)));
      const auto j = nlohmann::json::parse(r.out.toStdString());
      QCOMPARE(j["score"].get<std::string>(), std::string("exact"));
      QCOMPARE(j["items"].size(), size_t(3));
      for (size_t i = 0; i < 3; ++i) {
        QCOMPARE(j["items"][i]["output"].get<std::string>(), rep.items[i].output);
        QCOMPARE(j["items"][i]["exact"].get<bool>(), rep.items[i].score.exact);
        QCOMPARE(j["items"][i]["line"].get<int>(), static_cast<int>(i) + 1);
      }
      QCOMPARE(j["totals"]["n"].get<int>(), rep.totals.n);
      QCOMPARE(j["totals"]["exact"].get<int>(), rep.totals.exact);
      QCOMPARE(j["totals"]["contains"].get<int>(), rep.totals.contains);
      QCOMPARE(j["totals"]["accuracy"].get<double>(), rep.totals.accuracy());
      QVERIFY(r.err.contains("[3/3]"));  // progress on stderr
    }
  }

  // GSM8K references and MMLU CSVs through the CLI: auto picks the scorer, format failures are
  // counted (the tiny model writes no "####"), --limit, the table, bad references name file:line.
  void cliScorersAndErrors() {
    REQUIRE_FIXTURE(model_path, fixtures::kTinyFp32);
    QTemporaryDir dir;
    const QString gsm = dir.filePath("gsm.jsonl");
    write_file(gsm, jsonl_line({{"question", "1+1?"}, {"answer", "1+1=2\n#### 2"}}) +
                        jsonl_line({{"question", "2+2?"}, {"answer", "#### 4"}}));
    QStringList args{"eval", "--model", model_path, "--data", gsm, "--max-tokens", "8", "--json"};
    Run r = tune(args);
    QVERIFY2(r.code == 0, qPrintable(describe(args, r)));
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["score"].get<std::string>(), std::string("gsm8k"));
    int failures = 0;
    for (const auto& it : j["items"])
      failures += it["output"].get<std::string>().find("####") == std::string::npos;
    QCOMPARE(j["totals"]["format_failures"].get<int>(), failures);

    const QString mmlu = dir.filePath("mmlu.csv");
    write_file(mmlu, "Which is a colour?,Red,Dog,Run,Ten,A\nWhich is a number?,Red,Dog,Run,Ten,D\nbroken,line\n");
    args = QStringList{"eval", "--model", model_path, "--data", mmlu, "--max-tokens", "8", "--limit", "1"};
    r = tune(args);
    QVERIFY2(r.code == 0, qPrintable(describe(args, r)));
    QVERIFY2(r.out.contains("score            choice"), qPrintable(describe(args, r)));
    QVERIFY2(r.out.contains("items            1\n"), qPrintable(describe(args, r)));
    QVERIFY2(r.err.contains("mmlu.csv:3: expected 6 columns"), qPrintable(describe(args, r)));

    // Forcing gsm8k on references without "####": refused before answering, naming file:line.
    const QString qa = dir.filePath("qa.jsonl");
    write_file(qa, jsonl_line({{"question", "x"}, {"answer", "#### 1"}}) + jsonl_line({{"question", "y"}, {"answer", "z"}}));
    args = QStringList{"eval", "--model", model_path, "--data", qa, "--score", "gsm8k"};
    r = tune(args);
    QVERIFY2(r.code == 1 && r.err.contains("qa.jsonl:2:") && r.err.contains("####"), qPrintable(describe(args, r)));
    args = QStringList{"eval", "--model", model_path, "--data", qa, "--score", "bleu"};
    r = tune(args);
    QVERIFY2(r.code == 2 && r.err.contains("--score"), qPrintable(describe(args, r)));
  }

  // evaluate() with a batch (generate_greedy_batch) gives the answers of the one-by-one path:
  // demo-small on arithmetic questions, whose answers stop at different lengths (rows leave the
  // batch mid-way), with a random S0 and with a writing kernel-upscaled state (its U rides in the
  // batch).
  void batchedAnswersEqualOneByOne() {
    const QString res = fixtures::sourceDir() + "/resources";
    auto model = rwkv::Model::load((res + "/models/demo-small.safetensors").toStdString());
    auto tok = rwkv::load_tokenizer((res + "/models/demo.model").toStdString());
    rwkv::EvalSet set = rwkv::load_eval_set((res + "/tasks/arith_eval.jsonl").toStdString());
    const auto& d = model->dims();
    auto s0 = rwkv::InitialState::zeros(d.n_layer, d.n_head, d.head_size);
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    for (float& x : s0.wkv) x = nd(rng);
    auto with_kernel = s0;
    {
      const int M = 16, L = d.n_layer, H = d.n_head, N = d.head_size;
      auto k = std::make_shared<rwkv::KernelState>();
      k->n_layer = L, k->n_head = H, k->head_size = N, k->m = M;
      auto fill = [&](std::vector<float>& v, size_t n, float scale) {
        v.resize(n);
        for (float& x : v) x = scale * nd(rng);
      };
      fill(k->C, size_t(L) * H * M * N, 1.0f);
      fill(k->Q, size_t(L) * H * N * M, 1.0f);
      fill(k->U0, size_t(L) * H * M * M, 30.0f);
      k->R.assign(size_t(L) * H * M * M, 0.0f);
      for (size_t lh = 0; lh < size_t(L) * H; ++lh)
        for (int m = 0; m < M; ++m) k->R[(lh * M + m) * M + m] = 1.0f;
      k->gamma.assign(size_t(L) * H, 0.05f);
      k->write = true;  // tokens write into U, so each row's U matters to the end of its answer
      k->beta.assign(size_t(L) * H, 1.0f);
      with_kernel.kernel = k;
    }
    rwkv::EvalParams p;
    p.max_tokens = 96;
    p.limit = 9;
    for (const auto* state : {&s0, &with_kernel}) {
      rwkv::Context ctx(model);
      ctx.set_initial_state(*state);
      p.batch = 1;
      const auto one = rwkv::evaluate(ctx, *tok, set, p);
      p.batch = 4;  // groups of 4, 4, 1
      std::vector<int> order;
      rwkv::EvalCallbacks cb;
      cb.on_item = [&](const rwkv::EvalItemResult& r) { order.push_back(r.index); };
      const auto batched = rwkv::evaluate(ctx, *tok, set, p, cb);
      QCOMPARE(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
      QCOMPARE(batched.items.size(), one.items.size());
      std::set<size_t> lengths;
      for (size_t i = 0; i < one.items.size(); ++i) {
        const auto& a = one.items[i];
        const auto& b = batched.items[i];
        QVERIFY2(a.output == b.output, qPrintable(QString("item %1 (kernel %2): one by one '%3', batched '%4'")
                                                      .arg(i)
                                                      .arg(bool(state->kernel))
                                                      .arg(QString::fromStdString(a.output), QString::fromStdString(b.output))));
        QVERIFY(a.tokens == b.tokens);
        QCOMPARE(a.stop_reason, b.stop_reason);
        lengths.insert(a.tokens.size());
      }
      QCOMPARE(batched.totals.correct, one.totals.correct);
      QVERIFY2(lengths.size() >= 3, "the answers should end at different lengths");
    }
    // The kernel state changes the answers (so its U really rode along in the batch).
    rwkv::Context a(model), b(model);
    a.set_initial_state(s0);
    b.set_initial_state(with_kernel);
    p.batch = 4;
    const auto ra = rwkv::evaluate(a, *tok, set, p), rb = rwkv::evaluate(b, *tok, set, p);
    int differ = 0;
    for (size_t i = 0; i < ra.items.size(); ++i) differ += ra.items[i].tokens != rb.items[i].tokens;
    QVERIFY2(differ > 0, "the kernel state changed no answer");
  }

  void cancelKeepsFinishedItems() {
    REQUIRE_FIXTURE(model_path, fixtures::kTinyFp32);
    auto model = rwkv::Model::load(model_path.toStdString());
    rwkv::Context ctx(model);
    auto tok = rwkv::make_byte_tokenizer();
    rwkv::EvalSet set;
    set.path = "mem";
    for (int i = 0; i < 4; ++i) set.items.push_back({i + 1, rwkv::chat_prompt("q" + std::to_string(i)), "a"});
    std::atomic<bool> cancel{false};
    rwkv::EvalCallbacks cb;
    cb.on_item = [&](const rwkv::EvalItemResult& r) {
      if (r.index == 1) cancel = true;
    };
    rwkv::EvalParams p;
    p.max_tokens = 4;
    const auto rep = rwkv::evaluate(ctx, *tok, set, p, cb, &cancel);
    QVERIFY(rep.totals.cancelled);
    QCOMPARE(rep.totals.n, 2);
    QCOMPARE(rep.items.size(), size_t(2));
  }
};

QTEST_GUILESS_MAIN(TestEvaluate)
#include "test_evaluate.moc"
