// src/server/server.h — the HTTP server: LightLLM's and OpenAI's APIs over one Engine.
//
// Usage:  Server server(engine, config);  server.start();  server.wait_for_signal();
// start() binds (port 0 picks a free port; port() tells which) and runs `io_threads` Asio
// threads; thousands of open streams share them. shutdown() stops accepting, lets requests in
// flight finish for `shutdown_grace`, then aborts the rest (each client still gets its final
// event), closes every connection and joins the threads. The Engine must outlive the Server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "lightllm/engine.h"
#include "server/http_session.h"

namespace lightllm::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0: any free port
  std::string api_key;   // non-empty: require "Authorization: Bearer <key>"
  int io_threads = 2;
  std::string served_model_name;  // "" = the model folder's name
  int64_t max_req_total_len = 0;  // prompt + output per request; 0 = model context
  HttpLimits limits;
  std::chrono::milliseconds shutdown_grace{5000};
};

class Server {
 public:
  Server(Engine& engine, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  core::Status start();
  uint16_t port() const;
  std::string url() const;  // http://host:port

  // Blocks until SIGINT or SIGTERM (or shutdown() from another thread), then shuts down.
  void wait_for_signal();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightllm::server
