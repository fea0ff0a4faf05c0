// src/cli/serve_options.h — every `lightllm serve` flag (LightLLM's names with dashes), bound to
// EngineConfig + ServerConfig, each with help text and its default; also settable from
// `--config FILE.yaml` (config_file.h). Shared by `lightllm serve` and the test server binary.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/engine_flags.h"
#include "lightllm/engine.h"
#include "server/server.h"

namespace lightllm::cli {

struct ServeOptions {
  EngineConfig engine;
  server::ServerConfig server;
  double read_timeout_s = 30, idle_timeout_s = 60, write_timeout_s = 60, shutdown_grace_s = 5;
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_header_bytes = 16u << 10;

  // Copies the timeouts and limits (kept in seconds/bytes for the flags) into `server`.
  void finalize();
};

// Adds the engine and server flags plus --config to `cmd`. `with_engine_flags` = false leaves
// out the model/engine flags (the fake test server has no model).
void add_serve_options(CLI::App& cmd, ServeOptions& o, bool with_engine_flags = true);

}  // namespace lightllm::cli
