// tests/server/fake_server_main.cpp — `lightllm_fake_server`: the real HTTP server over the
// FakeEngine, for the Python tests and the load tool. Prints "listening on http://HOST:PORT"
// (port 0 picks a free one) once it accepts, and shuts down gracefully on SIGINT/SIGTERM.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "server/fake_engine.h"
#include "server/server.h"

int main(int argc, char** argv) {
  CLI::App app{"LightLLM HTTP server over a fake engine (tests only)"};
  lightllm::server::ServerConfig config;
  config.port = 0;
  lightllm::testing::FakeEngine::Options opt;
  long step_ms = 1;
  std::size_t max_body = config.limits.max_body_bytes;
  app.add_option("--host", config.host)->capture_default_str();
  app.add_option("--port", config.port)->capture_default_str();
  app.add_option("--api-key", config.api_key);
  app.add_option("--io-threads", config.io_threads)->capture_default_str();
  app.add_option("--max-context", opt.max_context)->capture_default_str();
  app.add_option("--step-ms", step_ms, "fake decode step time")->capture_default_str();
  app.add_option("--eos-after", opt.eos_after)->capture_default_str();
  app.add_option("--max-body-bytes", max_body)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opt.step_delay = std::chrono::milliseconds(step_ms);
  config.limits.max_body_bytes = max_body;

  lightllm::testing::FakeEngine engine(opt);
  lightllm::server::Server server(engine, config);
  if (auto st = server.start(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  std::printf("listening on %s\n", server.url().c_str());
  std::fflush(stdout);
  server.wait_for_signal();
  engine.shutdown();
  return 0;
}
