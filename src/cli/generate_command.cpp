// src/cli/generate_command.cpp — `lightllm generate`: offline generation for scripts and tests.
// (Wired to the model runner in the foundation work; until then it says so and fails.)
#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace lightllm::cli {

void add_generate_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("generate", "Generate tokens for a prompt, offline");
  auto* model = new std::string();
  cmd->add_option("--model", *model, "HF model folder")->required();
  cmd->callback([&exit_code] {
    std::fprintf(stderr, "lightllm generate: not implemented yet\n");
    exit_code = kExitFailure;
  });
}

}  // namespace lightllm::cli
