// src/cli/serve_options.cpp — see serve_options.h.
#include "cli/serve_options.h"

#include <filesystem>

#include "cli/config_file.h"

namespace lightllm::cli {

namespace fs = std::filesystem;

void ServeOptions::finalize() {
  auto ms = [](double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); };
  server.limits.read_timeout = ms(read_timeout_s);
  server.limits.idle_timeout = ms(idle_timeout_s);
  server.limits.write_timeout = ms(write_timeout_s);
  server.limits.max_body_bytes = max_body_bytes;
  server.limits.max_header_bytes = max_header_bytes;
  server.shutdown_grace = ms(shutdown_grace_s);
  server.max_req_total_len = engine.max_req_total_len;
}

void add_serve_options(CLI::App& cmd, ServeOptions& o, bool with_engine_flags) {
  server::ServerConfig& s = o.server;
  if (with_engine_flags) add_engine_flags(cmd, o.engine);
  cmd.add_option("--host", s.host, "address to listen on (0.0.0.0 for all interfaces)")
      ->capture_default_str();
  cmd.add_option("--port", s.port, "TCP port (0 = any free port)")->capture_default_str();
  cmd.add_option("--api-key", s.api_key, "require 'Authorization: Bearer KEY' (default: no key)");
  cmd.add_option("--served-model-name,--model-name", s.served_model_name,
                 "model name reported by the API (default: the model folder's name)");
  cmd.add_option("--io-threads", s.io_threads, "HTTP I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd.add_option("--max-body-bytes", o.max_body_bytes, "larger request bodies get 413")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--max-header-bytes", o.max_header_bytes, "larger request headers get 431")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--read-timeout", o.read_timeout_s, "seconds for a started request to arrive")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--idle-timeout", o.idle_timeout_s, "seconds a keep-alive connection may idle")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--write-timeout", o.write_timeout_s,
                 "seconds a slow client gets to drain one write")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--shutdown-grace", o.shutdown_grace_s,
                 "on SIGINT/SIGTERM, seconds in-flight requests may finish before they are aborted")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_yaml_config_option(cmd);
}

}  // namespace lightllm::cli
