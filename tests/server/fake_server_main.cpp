// tests/server/fake_server_main.cpp — `lightllm_fake_server`: the real HTTP server over the
// FakeEngine, for the Python tests and the load tool. Takes the same server flags and
// `--config FILE.yaml` as `lightllm serve` (src/cli/serve_options.h), plus fake-engine knobs.
// Prints "listening on http://HOST:PORT" once it accepts (the default port 0 picks a free one)
// and shuts down gracefully on SIGINT/SIGTERM.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/serve_options.h"
#include "server/fake_engine.h"
#include "server/server.h"

int main(int argc, char** argv) {
  CLI::App app{"LightLLM HTTP server over a fake engine (tests only)"};
  lightllm::cli::ServeOptions options;
  options.server.port = 0;
  lightllm::cli::add_serve_options(app, options, /*with_engine_flags=*/false);
  lightllm::testing::FakeEngine::Options opt;
  long step_ms = 1;
  app.add_option("--max-context", opt.max_context, "fake model context")->capture_default_str();
  app.add_option("--kv-total", opt.kv_total, "fake KV pool size")->capture_default_str();
  app.add_option("--step-ms", step_ms, "fake decode step time")->capture_default_str();
  app.add_option("--eos-after", opt.eos_after, "fake EOS position; -1 never")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opt.step_delay = std::chrono::milliseconds(step_ms);
  options.finalize();

  lightllm::testing::FakeEngine engine(opt);
  lightllm::server::Server server(engine, options.server);
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
