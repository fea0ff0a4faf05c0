// src/cli/generate_command.cpp — `lightllm generate`: offline generation for scripts and tests.
// Runs every prompt through the Engine (all at once, continuously batched) and prints, per
// prompt in the order given, either the text or with --json one object per line:
// {"prompt_ids": [...], "output_ids": [...], "text": "...", "finish_reason": "..."}.
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "lightllm/engine.h"

namespace lightllm::cli {
namespace {

struct GenerateOptions {
  EngineConfig engine;
  std::vector<std::string> prompts;
  std::vector<std::string> prompt_ids;  // "1,2,3" each
  SamplingParams params;
  bool json = false;
};

// Parses "1,2,3" into ids; false on anything that is not a comma-separated integer list.
bool parse_id_list(const std::string& text, std::vector<int32_t>& ids) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) return false;
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return false;
    }
  }
  return !ids.empty();
}

struct Outcome {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> output_ids;
  std::string text;
  FinishReason reason = FinishReason::none;
  std::string error;
  bool done = false;
};

int run_generate(const GenerateOptions& opt) {
  std::vector<GenerateRequest> requests;
  for (const auto& text : opt.prompt_ids) {
    GenerateRequest r;
    if (!parse_id_list(text, r.prompt_ids)) {
      std::fprintf(stderr, "lightllm generate: --prompt-ids '%s' is not a list like 1,2,3\n",
                   text.c_str());
      return kExitBadInput;
    }
    r.params = opt.params;
    requests.push_back(std::move(r));
  }
  for (const auto& text : opt.prompts) {
    GenerateRequest r;
    r.prompt = text;
    r.params = opt.params;
    requests.push_back(std::move(r));
  }
  if (requests.empty()) {
    std::fprintf(stderr, "lightllm generate: give --prompt TEXT or --prompt-ids 1,2,3\n");
    return kExitBadInput;
  }

  EngineConfig config = opt.engine;
  if (config.model_dir.empty()) config.model_dir = default_model_dir();
  std::string error;
  std::unique_ptr<Engine> engine = Engine::create(config, &error);
  if (!engine) {
    std::fprintf(stderr, "lightllm generate: %s\n", error.c_str());
    return kExitFailure;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<Outcome> outcomes(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    outcomes[i].prompt_ids = requests[i].prompt_ids.empty()
                                 ? engine->tokenize(requests[i].prompt, true)
                                 : requests[i].prompt_ids;
    auto on_event = [&, i](const StreamEvent& ev) {
      std::lock_guard lock(mu);
      Outcome& o = outcomes[i];
      for (const auto& t : ev.tokens) {
        o.output_ids.push_back(t.id);
        o.text += t.text;
      }
      if (ev.finished) {
        o.reason = ev.finish_reason;
        o.error = ev.error;
        o.done = true;
        cv.notify_all();
      }
    };
    if (engine->submit(requests[i], on_event, &error) == 0) {
      std::fprintf(stderr, "lightllm generate: prompt %zu: %s\n", i, error.c_str());
      engine->shutdown();
      return kExitBadInput;
    }
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] {
      for (const auto& o : outcomes)
        if (!o.done) return false;
      return true;
    });
  }
  engine->shutdown();

  int rc = kExitOk;
  for (const Outcome& o : outcomes) {
    if (o.reason == FinishReason::error) {
      std::fprintf(stderr, "lightllm generate: %s\n", o.error.c_str());
      rc = kExitFailure;
    }
    if (opt.json) {
      nlohmann::json j = {{"prompt_ids", o.prompt_ids},
                          {"output_ids", o.output_ids},
                          {"text", o.text},
                          {"finish_reason", finish_reason_name(o.reason)}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::cout << o.text << "\n";
    }
  }
  return rc;
}

}  // namespace

void add_generate_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("generate", "Generate text for one or more prompts, offline");
  auto opt = std::make_shared<GenerateOptions>();
  add_engine_flags(*cmd, opt->engine);
  cmd->add_option("--prompt", opt->prompts, "Prompt text (repeatable)");
  cmd->add_option("--prompt-ids", opt->prompt_ids, "Prompt token ids, e.g. 1,2,3 (repeatable)");
  add_sampling_flags(*cmd, opt->params);
  cmd->add_flag("--json", opt->json, "One JSON object per prompt on stdout");
  cmd->callback([opt, &exit_code] { exit_code = run_generate(*opt); });
}

}  // namespace lightllm::cli
