// src/server/server.cpp — listener, route table, API-key check, signals and graceful shutdown.
#include "server/server.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/log.h"
#include "server/generation.h"
#include "server/json_fields.h"
#include "server/routes.h"

namespace lightllm::server {
namespace {

using Verb = http::verb;

bool is_generation_route(const std::string& path) {
  return path == "/generate" || path == "/generate_stream" || path == "/" ||
         path == "/v1/completions" || path == "/v1/chat/completions";
}

// Probes stay open without a key so orchestrators can check liveness.
bool is_public_route(const std::string& path) {
  return path == "/health" || path == "/healthz" || path == "/liveness" || path == "/readiness";
}

class Router : public Dispatcher {
 public:
  Router(ServerContext& ctx, std::string api_key) : ctx_(ctx), api_key_(std::move(api_key)) {}

  void dispatch(const HttpRequest& req, const SessionPtr& s) override {
    const bool generation = is_generation_route(req.path) && req.method == Verb::post;
    if (generation) ctx_.metrics.request_received();
    try {
      if (!api_key_.empty() && !is_public_route(req.path) &&
          req.authorization != "Bearer " + api_key_) {
        throw ApiError(401, "missing or invalid API key (expected 'Authorization: Bearer <key>')",
                       "", "invalid_api_key");
      }
      route(req, s);
    } catch (const ApiError& e) {
      if (generation) ctx_.metrics.request_rejected();
      s->respond(e.status(), "application/json", error_body(e.what(), e.param(), e.type()));
    }
  }

 private:
  void route(const HttpRequest& req, const SessionPtr& s) {
    const std::string& p = req.path;
    const Verb m = req.method;
    const bool get = m == Verb::get, post = m == Verb::post, head = m == Verb::head;
    if (p == "/generate" && post) return handle_generate(ctx_, req, s, false);
    if (p == "/generate_stream" && post) return handle_generate(ctx_, req, s, true);
    if (p == "/" && post) return handle_root(ctx_, req, s);
    if ((p == "/health" || p == "/healthz") && (get || head)) return handle_health(ctx_, req, s);
    if ((p == "/liveness" || p == "/readiness") && (get || post)) {
      return respond_json(s, 200, {{"status", "ok"}});
    }
    if (p == "/get_model_name" && (get || post)) {
      return respond_json(s, 200, {{"model_name", ctx_.model_name}});
    }
    if (p == "/token_load" && get) return handle_token_load(ctx_, req, s);
    if (p == "/tokens" && (get || post)) return handle_tokens(ctx_, req, s);
    if (p == "/metrics" && get) return handle_metrics(ctx_, req, s);
    if (p == "/v1/completions" && post) return handle_completions(ctx_, req, s);
    if (p == "/v1/chat/completions" && post) return handle_chat_completions(ctx_, req, s);
    if (p == "/v1/models" && get) return handle_models(ctx_, req, s);
    static const char* kKnown[] = {"/generate",
                                   "/generate_stream",
                                   "/",
                                   "/health",
                                   "/healthz",
                                   "/liveness",
                                   "/readiness",
                                   "/get_model_name",
                                   "/token_load",
                                   "/tokens",
                                   "/metrics",
                                   "/v1/completions",
                                   "/v1/chat/completions",
                                   "/v1/models"};
    for (const char* k : kKnown) {
      if (p == k) {
        const auto verb = http::to_string(m);
        throw ApiError(405,
                       fmt::format("method {} is not allowed on {}",
                                   std::string_view(verb.data(), verb.size()), p),
                       "", "invalid_request_error");
      }
    }
    throw ApiError(404, fmt::format("no route for {}", p), "", "not_found");
  }

  ServerContext& ctx_;
  std::string api_key_;
};

}  // namespace

void respond_json(const SessionPtr& s, int status, const Json& j) {
  s->respond(status, "application/json", dump_json(j));
}

struct Server::Impl {
  Impl(Engine& engine, ServerConfig c)
      : config(std::move(c)),
        ctx(engine, config.served_model_name, config.max_req_total_len),
        router(ctx, config.api_key),
        acceptor(io) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        LLM_WARN("accept failed: {}", ec.message());
      } else {
        auto session = std::make_shared<HttpSession>(std::move(sock), router, config.limits);
        {
          std::lock_guard lk(sessions_mu);
          std::erase_if(sessions, [](const auto& w) { return w.expired(); });
          sessions.push_back(session);
        }
        session->start();
      }
      if (!ctx.draining) accept();
    });
  }

  std::size_t live_sessions() {
    std::lock_guard lk(sessions_mu);
    std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    return sessions.size();
  }

  template <typename Pred>
  static bool wait_until(Pred done, std::chrono::milliseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  ServerConfig config;
  asio::io_context io;
  ServerContext ctx;
  Router router;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<HttpSession>> sessions;
  uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_requested = false;
};

Server::Server(Engine& engine, ServerConfig config)
    : impl_(std::make_unique<Impl>(engine, std::move(config))) {}

Server::~Server() {
  shutdown();
}

core::Status Server::start() {
  auto& m = *impl_;
  beast::error_code ec;
  const auto addr = asio::ip::make_address(m.config.host, ec);
  if (ec) return core::invalid_argument("--host: '{}' is not an IP address", m.config.host);
  const tcp::endpoint ep(addr, m.config.port);
  m.acceptor.open(ep.protocol(), ec);
  if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return core::error(core::StatusCode::unavailable, "cannot listen on {}:{}: {}", m.config.host,
                       m.config.port, ec.message());
  }
  m.bound_port = m.acceptor.local_endpoint().port();
  m.accept();
  const int n = std::max(1, m.config.io_threads);
  for (int i = 0; i < n; ++i) m.threads.emplace_back([&m] { m.io.run(); });
  m.started = true;
  return core::Status::ok_status();
}

uint16_t Server::port() const {
  return impl_->bound_port;
}

std::string Server::url() const {
  return fmt::format("http://{}:{}", impl_->config.host, impl_->bound_port);
}

void Server::wait_for_signal() {
  auto& m = *impl_;
  asio::signal_set signals(m.io, SIGINT, SIGTERM);
  signals.async_wait([&m](beast::error_code ec, int sig) {
    if (ec) return;
    LLM_INFO("signal {}: shutting down", sig);
    std::lock_guard lk(m.stop_mu);
    m.stop_requested = true;
    m.stop_cv.notify_all();
  });
  {
    std::unique_lock lk(m.stop_mu);
    m.stop_cv.wait(lk, [&m] { return m.stop_requested; });
  }
  beast::error_code ignored;
  signals.cancel(ignored);
  shutdown();
}

void Server::shutdown() {
  auto& m = *impl_;
  {
    std::lock_guard lk(m.stop_mu);
    m.stop_requested = true;
    m.stop_cv.notify_all();
    if (m.stopped) return;
    m.stopped = true;
  }
  if (!m.started) return;
  m.ctx.draining = true;
  asio::post(m.io, [&m] {
    beast::error_code ignored;
    m.acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard lk(m.sessions_mu);
    for (auto& w : m.sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->close_when_idle();
  live.clear();
  // In-flight requests get the grace period, then are aborted; each still gets its final event.
  if (!Impl::wait_until([&m] { return m.ctx.in_flight() == 0; }, m.config.shutdown_grace)) {
    LLM_INFO("aborting {} requests still in flight", m.ctx.in_flight());
    m.ctx.abort_all();
    Impl::wait_until([&m] { return m.ctx.in_flight() == 0; }, std::chrono::milliseconds(3000));
  }
  Impl::wait_until([&m] { return m.live_sessions() == 0; }, std::chrono::milliseconds(2000));
  {
    std::unique_lock lk(m.ctx.gate->mu);
    m.ctx.gate->open = false;
  }
  m.io.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
}

}  // namespace lightllm::server
