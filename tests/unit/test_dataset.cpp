// Dataset: every record shape parses to the right tokens and target mask (checked range by
// range with the byte tokenizer, whose token ids are the text's bytes, and at the prompt/answer
// boundary with the World tokenizer), every kind of bad line is reported with its line number,
// empty and unusable files, ctx_len truncation, and the seeded split (against a Python
// implementation of the same splitmix64 Fisher-Yates in tests/python/dataset_split_oracle.py).
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fixtures.h"
#include "python.h"
#include "rwkv/dataset.h"
#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

using rwkv::Dataset;
using rwkv::Error;
using rwkv::ErrorKind;
using rwkv::Sample;

namespace {

// The byte tokenizer with an end-of-text id 256 (the real byte tokenizer has none), so the eos
// handling can be seen apart from any byte.
class BytesWithEos final : public rwkv::Tokenizer {
 public:
  std::vector<int> encode(const std::string& t) const override { return bytes_->encode(t); }
  std::string decode(const std::vector<int>& ids) const override { return bytes_->decode(ids); }
  int vocab_size() const override { return 257; }
  std::string name() const override { return "bytes+eos"; }
  int eos_id() const override { return 256; }

 private:
  std::unique_ptr<rwkv::Tokenizer> bytes_ = rwkv::make_byte_tokenizer();
};

// Expected tokens and mask built from pieces: the byte values of each piece, flagged as target.
struct Expect {
  std::vector<int> tokens;
  std::vector<uint8_t> target;
  Expect& add(const std::string& text, bool tgt) {
    for (unsigned char c : text) tokens.push_back(c), target.push_back(tgt ? 1 : 0);
    return *this;
  }
  Expect& eos(bool tgt) {
    tokens.push_back(256), target.push_back(tgt ? 1 : 0);
    return *this;
  }
};

void compare(const Sample& s, const Expect& e) {
  QCOMPARE(s.tokens, e.tokens);
  QCOMPARE(s.target, e.target);
}

Dataset parse(const std::string& content, const rwkv::Tokenizer& tok, int ctx_len = 4096) {
  return rwkv::parse_jsonl(content, "mem.jsonl", tok, ctx_len);
}

const rwkv::DatasetIssue* issue_at(const Dataset& d, int line) {
  for (const auto& i : d.issues)
    if (i.line == line) return &i;
  return nullptr;
}

}  // namespace

class TestDataset : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void qaTargetsOnAnswerAndEos() {
    BytesWithEos tok;
    const Dataset d = parse(R"({"question": "What is 2+2?", "answer": "Four."})", tok);
    QCOMPARE(d.samples.size(), size_t(1));
    QCOMPARE(d.shape, std::string("qa"));
    compare(d.samples[0], Expect().add("User: What is 2+2?\n\nAssistant:", false).add(" Four.", true).eos(true));
    QCOMPARE(d.samples[0].line, 1);
    QVERIFY(!d.samples[0].truncated);
    QCOMPARE(d.n_tokens(), int64_t(std::string("User: What is 2+2?\n\nAssistant:").size() + 6 + 1));
    QCOMPARE(d.n_target_tokens(), int64_t(6 + 1));
    QCOMPARE(rwkv::chat_prompt("What is 2+2?"), std::string("User: What is 2+2?\n\nAssistant:"));

    // The real byte tokenizer has no end-of-text id: nothing is appended.
    const auto bytes = rwkv::make_byte_tokenizer();
    const Dataset b = parse(R"({"question": "q", "answer": "a"})", *bytes);
    compare(b.samples[0], Expect().add("User: q\n\nAssistant:", false).add(" a", true));
  }

  void qaAliases() {
    BytesWithEos tok;
    const Dataset d = parse(
        "{\"prompt\": \"P\", \"response\": \"R\"}\n"
        "{\"instruction\": \"I\", \"output\": \"O\"}\n"
        "{\"instruction\": \"I\", \"input\": \"X\", \"output\": \"O\"}\n"
        "{\"instruction\": \"I\", \"input\": \"\", \"output\": \"O\"}\n",
        tok);
    QCOMPARE(d.samples.size(), size_t(4));
    compare(d.samples[0], Expect().add("User: P\n\nAssistant:", false).add(" R", true).eos(true));
    compare(d.samples[1], Expect().add("User: I\n\nAssistant:", false).add(" O", true).eos(true));
    compare(d.samples[2], Expect().add("User: I\n\nX\n\nAssistant:", false).add(" O", true).eos(true));
    compare(d.samples[3], Expect().add("User: I\n\nAssistant:", false).add(" O", true).eos(true));
  }

  void textTargetsAllButFirst() {
    BytesWithEos tok;
    const Dataset d = parse(R"({"text": "Hello world"})", tok);
    QCOMPARE(d.shape, std::string("text"));
    Expect e;
    e.add("H", false).add("ello world", true).eos(true);
    compare(d.samples[0], e);
  }

  void chatTargetsOnAssistantTurns() {
    BytesWithEos tok;
    const std::string line =
        R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},)"
        R"( {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"},)"
        R"( {"role": "assistant", "content": "See you."}]})";
    const Dataset d = parse(line, tok);
    QCOMPARE(d.shape, std::string("chat"));
    compare(d.samples[0], Expect()
                              .add("System: Be brief.\n\nUser: Hi\n\nAssistant:", false)
                              .add(" Hello.\n\n", true)
                              .add("User: Bye\n\nAssistant:", false)
                              .add(" See you.\n\n", true)
                              .eos(true));

    // Ending on a user turn: the eos is appended but not learnt.
    const Dataset u = parse(
        R"({"messages": [{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"}, {"role": "user", "content": "C"}]})",
        tok);
    compare(u.samples[0],
            Expect().add("User: A\n\nAssistant:", false).add(" B\n\n", true).add("User: C\n\n", false).eos(false));
  }

  void mixedShapes() {
    BytesWithEos tok;
    const Dataset d = parse("{\"text\": \"ab\"}\n{\"question\": \"q\", \"answer\": \"a\"}\n", tok);
    QCOMPARE(d.shape, std::string("mixed"));
    QCOMPARE(d.samples.size(), size_t(2));
  }

  // With a real subword tokenizer the prompt and the answer are tokenized apart: the target
  // tokens decode to exactly " <answer>" and the rest to the chat prompt.
  void worldTokenizerBoundary() {
    REQUIRE_FIXTURE(vocab, fixtures::kWorldVocab);
    const auto tok = rwkv::load_world_tokenizer(vocab.toStdString());
    QCOMPARE(tok->eos_id(), 0);
    const std::string q = "Translate to French: good morning", a = "Bonjour, le monde!";
    const Dataset d = parse(R"({"question": ")" + q + R"(", "answer": ")" + a + R"("})", *tok);
    const Sample& s = d.samples[0];
    std::vector<int> prompt, answer;
    for (size_t t = 0; t < s.tokens.size(); ++t) (s.target[t] ? answer : prompt).push_back(s.tokens[t]);
    QCOMPARE(answer.back(), 0);  // the end-of-text id, learnt
    answer.pop_back();
    QCOMPARE(tok->decode(prompt), rwkv::chat_prompt(q));
    QCOMPARE(tok->decode(answer), " " + a);
    QCOMPARE(prompt, tok->encode(rwkv::chat_prompt(q)));
    QCOMPARE(answer, tok->encode(" " + a));
    for (size_t t = 0; t < prompt.size(); ++t) QCOMPARE(int(s.target[t]), 0);
  }

  void everyBadLineReported() {
    BytesWithEos tok;
    const std::vector<std::string> lines = {
        "\xEF\xBB\xBF{\"text\": \"bom line\"}",                           // 1 ok (BOM tolerated)
        "{\"text\": 5}",                                                // 2 wrong type
        "{not json",                                                    // 3 invalid JSON
        "",                                                             // 4 empty: skipped
        "[1, 2]",                                                       // 5 not an object
        "{\"foo\": \"bar\", \"baz\": 1}",                               // 6 no known fields
        "{\"question\": \"q\", \"answer\": \"\"}",                      // 7 empty answer
        "{\"text\": \"\"}",                                             // 8 empty text
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",  // 9 no assistant turn
        "{\"question\": \"q\", \"answer\": \"fine\"}\r",                // 10 ok (CRLF)
        "{\"question\": \"q only\"}",                                   // 11 no answer
        "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}",    // 12 unknown role
        "{\"messages\": \"hello\"}",                                    // 13 messages not an array
        "   ",                                                          // 14 blank: skipped
        "{\"answer\": 3, \"question\": \"q\"}",                         // 15 answer wrong type
        "{\"messages\": [{\"role\": \"assistant\", \"content\": 7}]}",  // 16 content wrong type
        "{\"text\": \"last\"}",                                         // 17 ok, no newline at the end
    };
    std::string content;
    for (size_t i = 0; i < lines.size(); ++i) content += lines[i] + (i + 1 < lines.size() ? "\n" : "");
    const Dataset d = parse(content, tok);

    QCOMPARE(d.samples.size(), size_t(3));
    QCOMPARE(d.samples[0].line, 1);
    QCOMPARE(d.samples[1].line, 10);
    QCOMPARE(d.samples[2].line, 17);
    compare(d.samples[0], Expect().add("b", false).add("om line", true).eos(true));
    compare(d.samples[1], Expect().add("User: q\n\nAssistant:", false).add(" fine", true).eos(true));
    QCOMPARE(d.n_lines, 15);  // 17 lines, two blank

    const std::vector<std::pair<int, std::string>> expected = {
        {2, "\"text\" must be a string, found number"},
        {3, "invalid JSON: "},
        {5, "not a JSON object"},
        {6, "no known fields"},
        {7, "empty answer"},
        {8, "empty text"},
        {9, "no assistant turn"},
        {11, "without an answer"},
        {12, "unknown role \"bot\""},
        {13, "\"messages\" must be an array, found string"},
        {15, "\"answer\" must be a string, found number"},
        {16, "messages[0]: \"content\" must be a string, found number"},
    };
    QCOMPARE(d.issues.size(), expected.size());
    for (const auto& [line, why] : expected) {
      const auto* is = issue_at(d, line);
      QVERIFY2(is, qPrintable(QString("no issue for line %1").arg(line)));
      QVERIFY2(is->reason.find(why) != std::string::npos, qPrintable(QString("line %1: '%2' lacks '%3'")
                                                                         .arg(line)
                                                                         .arg(is->reason.c_str(), why.c_str())));
    }
    QVERIFY(issue_at(d, 6)->reason.find("foo") != std::string::npos);  // names the keys it found
  }

  void malformedJsonCarriesParserMessage() {
    BytesWithEos tok;
    const Dataset d = parse("{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n{\"text\": \"a\",}\n", tok);
    QCOMPARE(d.samples.size(), size_t(1));
    QCOMPARE(d.issues.size(), size_t(2));
    for (const auto& is : d.issues) {
      QVERIFY2(is.reason.rfind("invalid JSON: ", 0) == 0, is.reason.c_str());
      QVERIFY2(is.reason.find("parse error") != std::string::npos, is.reason.c_str());  // nlohmann's text
    }
    QCOMPARE(d.issues[0].line, 2);
    QCOMPARE(d.issues[1].line, 3);
  }

  void emptyOrUnusableDatasetThrows() {
    BytesWithEos tok;
    for (const std::string content : {std::string(""), std::string("\n\n  \n"), std::string("\xEF\xBB\xBF")}) {
      try {
        parse(content, tok);
        QFAIL("expected Error(Format)");
      } catch (const Error& e) {
        QCOMPARE(e.kind(), ErrorKind::Format);
        QVERIFY2(std::string(e.what()).find("empty") != std::string::npos, e.what());
      }
    }
    // Every line in a shape we do not know: the message lists the first issues with their lines.
    try {
      parse("{\"foo\": 1}\n{\"bar\": 2}\n\n{\"conversations\": []}\n", tok);
      QFAIL("expected Error(Format)");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), ErrorKind::Format);
      const std::string m = e.what();
      QVERIFY2(m.find("mem.jsonl") != std::string::npos, e.what());
      QVERIFY2(m.find("line 1: no known fields") != std::string::npos, e.what());
      QVERIFY2(m.find("line 4: no known fields") != std::string::npos, e.what());
    }
  }

  void fileOnDisk() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("data.jsonl").toStdString();
    const std::string content = "{\"text\": \"abc\"}\n{\"question\": \"q\", \"answer\": \"a\"}\n";
    std::ofstream(path, std::ios::binary) << content;
    BytesWithEos tok;
    const Dataset f = rwkv::load_jsonl(path, tok, 64);
    const Dataset m = parse(content, tok, 64);
    QCOMPARE(f.path, path);
    QCOMPARE(f.samples.size(), size_t(2));
    for (size_t i = 0; i < 2; ++i) QCOMPARE(f.samples[i].tokens, m.samples[i].tokens);
    try {
      rwkv::load_jsonl(dir.filePath("missing.jsonl").toStdString(), tok, 64);
      QFAIL("expected Error(Io)");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), ErrorKind::Io);
      QVERIFY2(std::string(e.what()).find("missing.jsonl") != std::string::npos, e.what());
    }
    std::ofstream(dir.filePath("empty.jsonl").toStdString());
    try {
      rwkv::load_jsonl(dir.filePath("empty.jsonl").toStdString(), tok, 64);
      QFAIL("expected Error(Format)");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), ErrorKind::Format);
    }
  }

  void truncationToCtxLen() {
    BytesWithEos tok;
    const std::string prompt = rwkv::chat_prompt("q");
    QCOMPARE(prompt, std::string("User: q\n\nAssistant:"));
    const int ctx = 30;
    const std::vector<std::string> answers = {"a long answer that does not fit", "short", "1234567890", "123456789"};
    std::string content;
    for (const auto& a : answers) content += "{\"question\": \"q\", \"answer\": \"" + a + "\"}\n";
    const std::string text(40, 't');
    content += "{\"text\": \"" + text + "\"}\n";
    const Dataset d = parse(content, tok, ctx);
    QCOMPARE(d.samples.size(), size_t(5));

    // Expected from the rendered lengths: prompt + " answer" + eos, cut at ctx.
    int n_cut = 0;
    for (size_t i = 0; i < answers.size(); ++i) {
      const std::string full_answer = " " + answers[i];
      const size_t full = prompt.size() + full_answer.size() + 1;
      Expect e;
      e.add(prompt, false);
      if (full <= size_t(ctx)) {
        e.add(full_answer, true).eos(true);
      } else {
        e.add(full_answer.substr(0, std::min(full_answer.size(), ctx - prompt.size())), true);
        ++n_cut;
      }
      compare(d.samples[i], e);
      QCOMPARE(d.samples[i].truncated, full > size_t(ctx));
    }
    Expect te;
    te.add(text.substr(0, 1), false).add(text.substr(1, ctx - 1), true);
    compare(d.samples[4], te);
    QVERIFY(d.samples[4].truncated);
    ++n_cut;
    QCOMPARE(n_cut, 3);  // the data above covers: cut in the answer, fits, only the eos cut, fits exactly
    QCOMPARE(d.n_truncated, n_cut);
  }

  void answerDoesNotFit() {
    BytesWithEos tok;
    const std::string q(40, 'x');
    const int ctx = 24;
    const Dataset d = parse("{\"question\": \"" + q + "\", \"answer\": \"a\"}\n{\"text\": \"fine\"}\n", tok, ctx);
    QCOMPARE(d.samples.size(), size_t(1));
    QCOMPARE(d.samples[0].line, 2);
    QCOMPARE(d.n_truncated, 0);
    QCOMPARE(d.issues.size(), size_t(1));
    QCOMPARE(d.issues[0].line, 1);
    const std::string want = "answer does not fit in ctx_len 24: prompt has " +
                             std::to_string(rwkv::chat_prompt(q).size()) + " tokens";
    QCOMPARE(d.issues[0].reason, want);

    // A prompt of exactly ctx_len tokens leaves no room either; one less leaves one target.
    const std::string fill(ctx - rwkv::chat_prompt("").size(), 'y');
    QCOMPARE(rwkv::chat_prompt(fill).size(), size_t(ctx));
    const Dataset exact = parse("{\"question\": \"" + fill + "\", \"answer\": \"a\"}\n{\"text\": \"ok\"}", tok, ctx);
    QCOMPARE(exact.issues.size(), size_t(1));
    QCOMPARE(exact.issues[0].reason, std::string("answer does not fit in ctx_len 24: prompt has 24 tokens"));
    const Dataset one = parse("{\"question\": \"" + fill.substr(1) + "\", \"answer\": \"ab\"}", tok, ctx);
    QCOMPARE(one.n_target_tokens(), int64_t(1));
    QVERIFY(one.samples[0].truncated);

    // Chat whose first assistant reply starts beyond ctx_len.
    const Dataset c = parse(R"({"messages": [{"role": "user", "content": ")" + q +
                                R"("}, {"role": "assistant", "content": "a"}]})" "\n{\"text\": \"ok\"}",
                            tok, ctx);
    QCOMPARE(c.issues.size(), size_t(1));
    QVERIFY2(c.issues[0].reason.find("ctx_len 24") != std::string::npos, c.issues[0].reason.c_str());
  }

  void badCtxLen() {
    BytesWithEos tok;
    try {
      parse("{\"text\": \"ab\"}", tok, 1);
      QFAIL("expected Error(Argument)");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), ErrorKind::Argument);
    }
  }

  void splitIsDeterministicAndComplete() {
    BytesWithEos tok;
    std::string content;
    for (int i = 0; i < 100; ++i) content += "{\"text\": \"sample " + std::to_string(i) + "\"}\n";
    const Dataset d = parse(content, tok);
    QCOMPARE(d.samples.size(), size_t(100));

    std::vector<Sample> tr1, ev1, tr2, ev2, tr3, ev3;
    rwkv::split_dataset(d, 0.1, 42, &tr1, &ev1);
    rwkv::split_dataset(d, 0.1, 42, &tr2, &ev2);
    rwkv::split_dataset(d, 0.1, 43, &tr3, &ev3);
    QCOMPARE(ev1.size(), size_t(10));
    QCOMPARE(tr1.size(), size_t(90));
    const auto lines = [](const std::vector<Sample>& v) {
      std::vector<int> out;
      for (const auto& s : v) out.push_back(s.line);
      return out;
    };
    QCOMPARE(lines(ev1), lines(ev2));
    QCOMPARE(lines(tr1), lines(tr2));
    QVERIFY(lines(ev1) != lines(ev3));
    // Disjoint, complete, each part in file order.
    std::set<int> all;
    for (int l : lines(ev1)) all.insert(l);
    for (int l : lines(tr1)) all.insert(l);
    QCOMPARE(all.size(), size_t(100));
    const std::vector<int> ev_lines = lines(ev1), tr_lines = lines(tr1);
    QVERIFY(std::is_sorted(ev_lines.begin(), ev_lines.end()));
    QVERIFY(std::is_sorted(tr_lines.begin(), tr_lines.end()));

    // Sizes: round(fraction * n), never every sample.
    rwkv::split_dataset(d, 0.0, 1, &tr1, &ev1);
    QCOMPARE(ev1.size(), size_t(0));
    QCOMPARE(tr1.size(), size_t(100));
    rwkv::split_dataset(d, 0.125, 1, &tr1, &ev1);  // 12.5 -> 13
    QCOMPARE(ev1.size(), size_t(13));
    rwkv::split_dataset(d, 1.0, 1, &tr1, &ev1);
    QCOMPARE(tr1.size(), size_t(1));
    QCOMPARE(ev1.size(), size_t(99));
    Dataset single = parse("{\"text\": \"only\"}", tok);
    rwkv::split_dataset(single, 0.5, 1, &tr1, &ev1);
    QCOMPARE(tr1.size(), size_t(1));
    QCOMPARE(ev1.size(), size_t(0));
    try {
      rwkv::split_dataset(d, 1.5, 1, &tr1, &ev1);
      QFAIL("expected Error(Argument)");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), ErrorKind::Argument);
    }
  }

  // The same shuffle written independently in Python picks the same eval samples, so the split
  // does not depend on the C++ standard library.
  void splitMatchesPythonOracle() {
    BytesWithEos tok;
    QTemporaryDir dir;
    for (const auto& [n, fraction, seed] :
         std::vector<std::tuple<int, double, uint64_t>>{{100, 0.1, 42}, {37, 0.3, 0xDEADBEEFCAFEF00Dull}, {5, 0.5, 0}}) {
      std::string content;
      for (int i = 0; i < n; ++i) content += "{\"text\": \"s" + std::to_string(i) + "\"}\n";
      const Dataset d = parse(content, tok);
      std::vector<Sample> tr, ev;
      rwkv::split_dataset(d, fraction, seed, &tr, &ev);
      const QString out = dir.filePath("eval.txt");
      RUN_PYTHON("dataset_split_oracle.py",
                 (QStringList{QString::number(n), QString::number(fraction, 'g', 17), QString::number(seed), out}));
      std::ifstream in(out.toStdString());
      std::vector<int> want;
      for (int idx; in >> idx;) want.push_back(idx + 1);  // 0-based sample index -> line
      std::vector<int> got;
      for (const auto& s : ev) got.push_back(s.line);
      QCOMPARE(got, want);
    }
  }
};

QTEST_GUILESS_MAIN(TestDataset)
#include "test_dataset.moc"
