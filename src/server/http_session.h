// src/server/http_session.h — one HTTP/1.1 connection on Boost.Beast/Asio.
//
// A session reads one request at a time (keep-alive, no pipelining of responses), hands it to a
// Dispatcher, and writes the response the handler produces: either a whole response (respond)
// or a chunked stream (begin_stream / stream_send / end_stream). While a request is in flight
// the session watches the socket, so a client that disconnects is noticed at once and the
// handler's on_disconnect callback runs (the generation layer aborts the engine request there).
//
// Threading invariant: every member function runs on the session's strand. Code on other
// threads (the engine's output thread) must asio::post onto executor() first.
// Limits: header size (431), body size (413, checked against Content-Length before reading),
// whole-request read timeout, keep-alive idle timeout and a per-write timeout for slow readers.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace lightllm::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpLimits {
  std::size_t max_body_bytes = 8u << 20;           // larger bodies get 413
  std::size_t max_header_bytes = 16u << 10;        // larger header blocks get 431
  std::chrono::milliseconds read_timeout{30000};   // a started request must arrive within this
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{60000};  // each write must drain within this
};

// What a handler sees of a request.
struct HttpRequest {
  http::verb method = http::verb::unknown;
  std::string path;   // target without the query string
  std::string query;  // after '?', may be empty
  std::string body;
  std::string authorization;  // the Authorization header, "" when absent
  std::string content_type;
};

class HttpSession;

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Runs on the session strand. Must eventually call respond() or begin/end_stream() on the
  // session (possibly later, from a posted handler). May throw: the session answers 500.
  virtual void dispatch(const HttpRequest& request,
                        const std::shared_ptr<HttpSession>& session) = 0;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Dispatcher& dispatcher, const HttpLimits& limits);
  ~HttpSession();

  void start();

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // Sends a whole response; the next request is read afterwards (unless the connection closes).
  void respond(int status, std::string_view content_type, std::string body);
  // Chunked streaming response: headers now, then any number of sends, then end_stream().
  void begin_stream(std::string_view content_type);
  void stream_send(std::string data);
  void end_stream();

  // Called (on the strand) when the client goes away while a request is in flight.
  void on_disconnect(std::function<void()> callback) { on_disconnect_ = std::move(callback); }
  bool disconnected() const { return closed_; }

  // Graceful shutdown: idle connections close now, busy ones close after their response.
  void close_when_idle();

 private:
  void read_header();
  void on_header(beast::error_code ec);
  void on_body(beast::error_code ec);
  void handle_request();
  void fail_request(int status, std::string message);  // error reply, then close
  void watch_disconnect();
  void queue_write(std::string bytes);
  void flush();
  void on_write(beast::error_code ec);
  void finish_request();
  void linger_close();
  void close_now();
  void notify_disconnect();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Dispatcher& dispatcher_;
  const HttpLimits& limits_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The body read's deadline. Not the tcp_stream timeout: that one closes the socket, and the
  // 408 reply could never be written.
  asio::steady_timer body_timer_;
  bool body_timed_out_ = false;

  bool keep_alive_ = true;
  bool head_only_ = false;      // HEAD request: headers without the body
  bool in_flight_ = false;      // a request is being handled
  bool response_done_ = false;  // the last byte of the response is queued
  bool streaming_ = false;
  bool closed_ = false;
  bool close_requested_ = false;
  bool writing_ = false;
  unsigned watch_generation_ = 0;
  char peek_byte_ = 0;   // target of the disconnect watch's MSG_PEEK receive
  std::string pending_;  // bytes waiting for the current write to finish
  std::string writing_buf_;
  std::function<void()> on_disconnect_;
};

// "HTTP/1.1 <status> <reason>\r\n" + headers; content_length < 0 means chunked.
std::string http_head(int status, std::string_view content_type, long long content_length,
                      bool keep_alive);

}  // namespace lightllm::server
