// src/cli/commands.h — each `lightllm <command>` lives in its own file and registers itself
// on the CLI11 app here. A command's callback sets the process exit code through `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace lightllm::cli {

// Exit codes: 0 ok, 1 runtime failure, 2 bad input (flags, files, JSON).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

void add_generate_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);   // serve_command.cpp
void add_client_command(CLI::App& app, int& exit_code);  // client_command.cpp
void add_bench_command(CLI::App& app, int& exit_code);   // bench_command.cpp
// `bench serving` and `bench int8` under the `bench` command (bench_serving.cpp).
void add_bench_serving_commands(CLI::App& bench, int& exit_code);

}  // namespace lightllm::cli
