// Engine-internal: one JSON Lines record rendered as text segments, each marked as predicted
// (target) or context, before tokenization (dataset_render.cpp; used by dataset_parse.cpp).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rwkv {

struct RenderedSample {
  struct Segment {
    std::string text;
    bool target = false;
  };
  std::vector<Segment> segments;  // tokenized one by one and concatenated, so boundaries are exact
  bool eos_target = false;        // the end-of-text token appended after the segments is predicted
  bool target_all_but_first = false;  // "text": every token but the first is a target
  std::string shape;              // "text", "qa" or "chat"
  int prompt_segments = 0;        // qa: the segments before the answer (for the ctx_len message)
};

// Renders one parsed line. On an unusable record returns false with *why set (e.g. "empty answer",
// "\"text\" must be a string, found number").
bool render_record(const nlohmann::json& j, RenderedSample* out, std::string* why);

}  // namespace rwkv
