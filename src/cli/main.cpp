// src/cli/main.cpp — the `lightllm` binary: one subcommand per file (see commands.h).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"LightLLM in C++: LLM inference and serving"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.parse_complete_callback([&] { lightllm::core::set_log_level(log_level); });

  int exit_code = lightllm::cli::kExitOk;
  lightllm::cli::add_generate_command(app, exit_code);
  lightllm::cli::add_tokenize_command(app, exit_code);
  lightllm::cli::add_serve_command(app, exit_code);
  lightllm::cli::add_client_command(app, exit_code);
  lightllm::cli::add_bench_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : lightllm::cli::kExitBadInput;
  }
  return exit_code;
}
