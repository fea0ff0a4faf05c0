// src/cli/serve_command.cpp — `lightllm serve`: loads the model through Engine::create, runs the
// HTTP server (src/server) until SIGINT/SIGTERM, then shuts down gracefully.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/serve_options.h"

namespace lightllm::cli {
namespace {

int run_serve(ServeOptions& o) {
  o.finalize();
  EngineConfig cfg = o.engine;
  if (cfg.model_dir.empty()) {
    cfg.model_dir = default_model_dir();
    if (cfg.model_dir.empty()) {
      std::fprintf(
          stderr,
          "lightllm serve: no --model given and the bundled model (models/%s) was not found\n",
          kBundledModelName);
      return kExitBadInput;
    }
  }
  std::string error;
  if (cfg.node_rank > 0) {  // a follower of a multi-node group: no server, node 0's steps
    if (!run_tp_follower(cfg, &error)) {
      std::fprintf(stderr, "lightllm serve (node %d): %s\n", cfg.node_rank, error.c_str());
      return kExitFailure;
    }
    return kExitOk;
  }
  std::unique_ptr<Engine> engine = Engine::create(cfg, &error);
  if (!engine) {
    std::fprintf(stderr, "lightllm serve: %s\n", error.c_str());
    return kExitBadInput;
  }
  server::Server server(*engine, o.server);
  if (auto st = server.start(); !st.ok()) {
    std::fprintf(stderr, "lightllm serve: %s\n", st.to_string().c_str());
    engine->shutdown();
    return kExitFailure;
  }
  const ModelInfo info = engine->model_info();
  const EngineStats stats = engine->stats();
  std::printf("model: %s (%s, %s, context %lld) from %s\n", info.name.c_str(),
              info.architecture.c_str(), info.dtype.c_str(),
              static_cast<long long>(info.max_context), cfg.model_dir.c_str());
  std::printf("token capacity: %lld KV slots (kv-cache-dtype %s)\n",
              static_cast<long long>(stats.kv_total), cfg.kv_cache_dtype.c_str());
  std::printf("listening on %s\n", server.url().c_str());
  std::fflush(stdout);
  server.wait_for_signal();
  engine->shutdown();
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve a model over HTTP (LightLLM and OpenAI APIs)");
  static ServeOptions options;  // CLI11 binds to it; lives for the whole process
  add_serve_options(*cmd, options);
  cmd->callback([&exit_code] { exit_code = run_serve(options); });
}

}  // namespace lightllm::cli
