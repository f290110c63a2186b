// rwkv-tune inspect: the inspector's data for one prompt (engine: rwkv/inspect.h) — per token the
// wkv state norm of every layer, its change, the distance to the run from the zero state, the
// transition spectra, and optionally one layer's full state matrices. A table by default, the
// whole record as JSON with --json.
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "rwkv/error.h"
#include "rwkv/inspect.h"
#include "rwkv/state_file.h"

namespace cli {

namespace {

using json = nlohmann::json;

// [T+1][L] as nested arrays.
json per_token_layer(const std::vector<float>& v, int T1, int L) {
  json out = json::array();
  for (int t = 0; t < T1 && !v.empty(); ++t) {
    json row = json::array();
    for (int l = 0; l < L; ++l) row.push_back(v[static_cast<size_t>(t) * L + l]);
    out.push_back(row);
  }
  return out;
}

json to_json(const rwkv::Inspection& in) {
  const int T = in.n_tokens, L = in.n_layer, H = in.n_head, N = in.head_size;
  json tokens = json::array();
  for (int t = 0; t < T; ++t) tokens.push_back({{"id", in.tokens[t]}, {"text", in.pieces[t]}});
  json matrices = json::array();
  if (in.matrices_layer >= 0)
    for (int t = 0; t <= T; ++t) {
      json heads = json::array();
      for (int h = 0; h < H; ++h) {
        const float* m = in.matrix(t, h);
        json rows = json::array();
        for (int i = 0; i < N; ++i) rows.push_back(std::vector<float>(m + i * N, m + (i + 1) * N));
        heads.push_back(rows);
      }
      matrices.push_back(heads);
    }
  json spectra = json::array();  // [T][L][H] -> [[re, im], ...] or null for a layer not computed
  if (!in.spectra.empty())
    for (int t = 0; t < T; ++t) {
      json layers = json::array();
      for (int l = 0; l < L; ++l) {
        if (std::isnan(in.eigenvalues(t, l, 0)[0])) {
          layers.push_back(nullptr);
          continue;
        }
        json heads = json::array();
        for (int h = 0; h < H; ++h) {
          const float* e = in.eigenvalues(t, l, h);
          json ev = json::array();
          for (int i = 0; i < N; ++i) ev.push_back({e[2 * i], e[2 * i + 1]});
          heads.push_back(ev);
        }
        layers.push_back(heads);
      }
      spectra.push_back(layers);
    }
  return {{"dims", {{"n_layer", L}, {"n_head", H}, {"head_size", N}}},
          {"n_tokens", T},
          {"n_prompt_tokens", in.n_prompt_tokens},
          {"tokens", tokens},
          {"norm", per_token_layer(in.norm, T + 1, L)},
          {"delta", per_token_layer(in.delta, T + 1, L)},
          {"zero_norm", per_token_layer(in.zero_norm, T + 1, L)},
          {"zero_distance", per_token_layer(in.zero_distance, T + 1, L)},
          {"matrices_layer", in.matrices_layer},
          {"matrices", matrices},
          {"spectra", spectra}};
}

std::string shown(const std::string& piece) {
  std::string s;
  for (char c : piece) s += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
  return s;
}

void print_table(const rwkv::Inspection& in) {
  const int L = in.n_layer, H = in.n_head, N = in.head_size;
  std::printf("%5s  %-10s %12s %12s %12s %10s %10s\n", "t", "token", "|S| mean", "|dS| mean", "|S-S0z| mean",
              "max eig", "min eig");
  for (int t = 0; t <= in.n_tokens; ++t) {
    double n = 0, dn = 0, dist = 0;
    for (int l = 0; l < L; ++l) {
      n += in.norm[in.traj_index(t, l)] / L;
      dn += in.delta[in.traj_index(t, l)] / L;
      if (!in.zero_distance.empty()) dist += in.zero_distance[in.traj_index(t, l)] / L;
    }
    double hi = -INFINITY, lo = INFINITY;  // over the computed layers/heads of the transition at token t
    if (t > 0 && !in.spectra.empty())
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
          const float* e = in.eigenvalues(t - 1, l, h);
          if (std::isnan(e[0])) continue;
          hi = std::max(hi, double(e[0]));
          lo = std::min(lo, double(e[2 * (N - 1)]));
        }
    const std::string tok = t == 0 ? "(S0)" : "'" + shown(in.pieces[t - 1]) + "'";
    std::printf("%5d  %-10s %12.5g %12.5g %12.5g %10.4f %10.4f\n", t, tok.c_str(), n, dn, dist, hi, lo);
  }
}

}  // namespace

int cmd_inspect(const Args& args) {
  ArgParser a("inspect", "Runs a prompt and reports the state's dynamics token by token (norms, changes, transition spectra).");
  add_model_options(a);
  a.option("tokenizer", "FILE", "World vocab .txt, sentencepiece .model or 'bytes' (default: as for generate)");
  a.option("state", "FILE", "initial state file; default: zeros");
  a.required("prompt", "TEXT", "the text to run (use the chat form \"User: ...\\n\\nAssistant:\" for answers)");
  a.option("answer-tokens", "N", "append a greedy answer of at most N tokens (stops at a blank line)", "0");
  a.option("matrices-layer", "L", "also dump every head's state matrix of layer L at every token; -1 = none", "-1");
  a.option("spectra-layer", "L", "transition spectra of layer L only; -1 = every layer, -2 = none", "-1");
  a.option("guide", "FILE", "also run this guide model (same tokenizer) over the same tokens from its zero state; "
           "the table shows both, the JSON has a \"guide\" object");
  a.flag("json", "print one JSON object instead of a table");
  a.parse(args);

  const auto model = load_model(a);
  const auto tok = resolve_tokenizer(a.str("tokenizer"), model->info());
  rwkv::InitialState s0;
  if (a.has("state")) {
    const rwkv::StateFile state = rwkv::load_state(a.str("state"));
    const std::string warning = rwkv::check_state_matches(state, model->info());
    if (!warning.empty()) std::fprintf(stderr, "rwkv-tune: warning: %s\n", warning.c_str());
    s0 = state.s0;
  }
  rwkv::InspectOptions opt;
  opt.answer_tokens = static_cast<int>(a.integer("answer-tokens", 0, 1 << 20));
  opt.matrices_layer = static_cast<int>(a.integer("matrices-layer", -1, model->dims().n_layer - 1));
  opt.spectra_layer = static_cast<int>(a.integer("spectra-layer", -2, model->dims().n_layer - 1));
  const rwkv::Inspection in = rwkv::inspect(model, *tok, a.str("prompt"), s0, opt);
  if (!a.has("guide")) {
    if (a.has("json"))
      std::printf("%s\n", to_json(in).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    else
      print_table(in);
    return 0;
  }
  rwkv::LoadOptions lo;
  lo.device = a.str("device");
  const auto guide = rwkv::Model::load(a.str("guide"), lo);
  if (guide->dims().n_vocab != model->dims().n_vocab)
    throw rwkv::Error(rwkv::ErrorKind::Mismatch, "guide " + a.str("guide") + " has a vocabulary of " +
                                                     std::to_string(guide->dims().n_vocab) + " tokens, the model " +
                                                     model->info().path + " " + std::to_string(model->dims().n_vocab));
  rwkv::InspectOptions go;
  go.matrices_layer = -1;
  go.spectra_layer = -2;
  go.zero_trajectory = false;
  const rwkv::Inspection g = rwkv::inspect_tokens(guide, *tok, in.tokens, in.n_prompt_tokens, {}, go);
  if (a.has("json")) {
    json j = to_json(in);
    j["guide"] = to_json(g);
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    std::printf("model %s:\n", model->info().path.c_str());
    print_table(in);
    std::printf("\nguide %s (the same tokens, zero state):\n", a.str("guide").c_str());
    print_table(g);
  }
  return 0;
}

}  // namespace cli
