// The three record shapes of dataset.h rendered in the World chat format:
//   text      {"text": T}                     T, loss on every token but the first
//   qa        {"question": Q, "answer": A}    "User: Q\n\nAssistant:" + " A", loss on " A" and eos
//             (aliases prompt/instruction and response/output; an Alpaca "input" next to
//             "instruction" is appended to the question after a blank line, never dropped)
//   chat      {"messages": [{role, content}]} "System: ..\n\n", "User: ..\n\n", "Assistant:" + " ..\n\n",
//             loss on each assistant " content\n\n" and on the final eos after an assistant turn.
#include "dataset_render.h"

#include "rwkv/dataset.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

const char* const kQuestionKeys[] = {"question", "prompt", "instruction"};
const char* const kAnswerKeys[] = {"answer", "response", "output"};

const char* first_key(const json& j, const char* const (&keys)[3]) {
  for (const char* k : keys)
    if (j.contains(k)) return k;
  return nullptr;
}

// *out = j[key] as a string, or false with *why naming the key and the JSON type found.
bool get_string(const json& j, const std::string& key, const std::string& where, std::string* out, std::string* why) {
  const json& v = j.at(key);
  if (!v.is_string()) {
    *why = where + "\"" + key + "\" must be a string, found " + v.type_name();
    return false;
  }
  *out = v.get<std::string>();
  return true;
}

bool render_text(const json& j, RenderedSample* out, std::string* why) {
  std::string text;
  if (!get_string(j, "text", "", &text, why)) return false;
  if (text.empty()) {
    *why = "empty text";
    return false;
  }
  out->shape = "text";
  out->segments.push_back({text, true});
  out->target_all_but_first = true;
  out->eos_target = true;
  return true;
}

bool render_qa(const json& j, RenderedSample* out, std::string* why) {
  const char* qk = first_key(j, kQuestionKeys);
  const char* ak = first_key(j, kAnswerKeys);
  if (!ak) {
    *why = std::string("\"") + qk + "\" without an answer (expected one of \"answer\", \"response\", \"output\")";
    return false;
  }
  if (!qk) {
    *why = std::string("\"") + ak + "\" without a question (expected one of \"question\", \"prompt\", \"instruction\")";
    return false;
  }
  std::string q, a;
  if (!get_string(j, qk, "", &q, why) || !get_string(j, ak, "", &a, why)) return false;
  if (std::string(qk) == "instruction" && j.contains("input")) {
    std::string input;
    if (!get_string(j, "input", "", &input, why)) return false;
    if (!input.empty()) q += "\n\n" + input;
  }
  if (a.empty()) {
    *why = "empty answer";
    return false;
  }
  out->shape = "qa";
  out->segments.push_back({chat_prompt(q), false});
  out->segments.push_back({" " + a, true});
  out->prompt_segments = 1;
  out->eos_target = true;
  return true;
}

bool render_chat(const json& j, RenderedSample* out, std::string* why) {
  const json& msgs = j.at("messages");
  if (!msgs.is_array()) {
    *why = std::string("\"messages\" must be an array, found ") + msgs.type_name();
    return false;
  }
  if (msgs.empty()) {
    *why = "\"messages\" is empty";
    return false;
  }
  bool any_assistant = false, last_assistant = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const json& m = msgs[i];
    const std::string where = "messages[" + std::to_string(i) + "]: ";
    if (!m.is_object()) {
      *why = where + "must be an object with \"role\" and \"content\", found " + m.type_name();
      return false;
    }
    if (!m.contains("role") || !m.contains("content")) {
      *why = where + "needs \"role\" and \"content\"";
      return false;
    }
    std::string role, content;
    if (!get_string(m, "role", where, &role, why) || !get_string(m, "content", where, &content, why)) return false;
    if (role == "assistant") {
      if (content.empty()) {
        *why = where + "empty assistant content";
        return false;
      }
      out->segments.push_back({"Assistant:", false});
      out->segments.push_back({" " + content + "\n\n", true});
      any_assistant = last_assistant = true;
    } else if (role == "user" || role == "system") {
      out->segments.push_back({(role == "user" ? "User: " : "System: ") + content + "\n\n", false});
      last_assistant = false;
    } else {
      *why = where + "unknown role \"" + role + "\" (expected user, assistant or system)";
      return false;
    }
  }
  if (!any_assistant) {
    *why = "messages have no assistant turn (nothing to learn)";
    return false;
  }
  out->shape = "chat";
  out->eos_target = last_assistant;
  return true;
}

}  // namespace

bool render_record(const json& j, RenderedSample* out, std::string* why) {
  *out = RenderedSample{};
  if (!j.is_object()) {
    *why = std::string("not a JSON object (found ") + j.type_name() + ")";
    return false;
  }
  if (j.contains("messages")) return render_chat(j, out, why);
  if (first_key(j, kQuestionKeys) || first_key(j, kAnswerKeys)) return render_qa(j, out, why);
  if (j.contains("text")) return render_text(j, out, why);

  std::string keys;
  int n = 0;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (n++ < 6) keys += (keys.empty() ? "" : ", ") + it.key();
  *why = "no known fields (expected text, question/answer, messages)" +
         (keys.empty() ? std::string("; the object is empty") : "; found " + keys + (n > 6 ? ", ..." : ""));
  return false;
}

std::string chat_prompt(const std::string& question) { return "User: " + question + "\n\nAssistant:"; }

}  // namespace rwkv
