// src/server/http_session.cpp — see http_session.h. The state machine per request:
//   read_header -> (limits, 100-continue) -> read body -> dispatch -> respond / stream
//   -> finish_request -> read_header (keep-alive) or linger_close.
#include "server/http_session.h"

#include <fmt/format.h>

#include "core/log.h"
#include "server/json_fields.h"

namespace lightllm::server {

std::string http_head(int status, std::string_view content_type, long long content_length,
                      bool keep_alive) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  std::string head = fmt::format("HTTP/1.1 {} {}\r\nServer: lightllm\r\n", status,
                                 std::string_view(reason.data(), reason.size()));
  if (!content_type.empty()) head += fmt::format("Content-Type: {}\r\n", content_type);
  if (content_length < 0) {
    head += "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n";
  } else {
    head += fmt::format("Content-Length: {}\r\n", content_length);
  }
  head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

HttpSession::HttpSession(tcp::socket socket, Dispatcher& dispatcher, const HttpLimits& limits)
    : stream_(std::move(socket)),
      dispatcher_(dispatcher),
      limits_(limits),
      body_timer_(stream_.get_executor()) {}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
}

void HttpSession::read_header() {
  if (closed_) return;
  if (close_requested_) return close_now();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(limits_.max_body_bytes);
  stream_.expires_after(limits_.idle_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
  if (ec == http::error::header_limit) {
    return fail_request(431,
                        fmt::format("request headers exceed {} bytes", limits_.max_header_bytes));
  }
  if (ec == http::error::body_limit) {  // Content-Length already over the limit
    return fail_request(
        413, fmt::format("request body exceeds the limit of {} bytes", limits_.max_body_bytes));
  }
  if (ec) {
    // EOF, timeout, reset, or garbage: answer garbage if the peer can still read, else close.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return close_now();
    }
    return fail_request(400, fmt::format("malformed HTTP request: {}", ec.message()));
  }
  const auto& req = parser_->get();
  if (auto len = parser_->content_length(); len && *len > limits_.max_body_bytes) {
    return fail_request(413, fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                                         *len, limits_.max_body_bytes));
  }
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    queue_write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  stream_.expires_never();
  body_timed_out_ = false;
  body_timer_.expires_after(limits_.read_timeout);
  body_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: the body arrived
    self->body_timed_out_ = true;
    beast::error_code ignored;
    self->stream_.socket().cancel(ignored);  // on_body sees operation_aborted
  });
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec2, std::size_t) { self->on_body(ec2); });
}

void HttpSession::on_body(beast::error_code ec) {
  body_timer_.cancel();
  if (body_timed_out_) {
    return fail_request(408, "request body did not arrive within the read timeout");
  }
  if (ec == http::error::body_limit) {
    return fail_request(
        413, fmt::format("request body exceeds the limit of {} bytes", limits_.max_body_bytes));
  }
  if (ec) return close_now();
  handle_request();
}

void HttpSession::handle_request() {
  auto& msg = parser_->get();
  HttpRequest req;
  req.method = msg.method();
  const std::string_view target(msg.target().data(), msg.target().size());
  const auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  req.body = std::move(msg.body());
  req.authorization = std::string(msg[http::field::authorization]);
  req.content_type = std::string(msg[http::field::content_type]);
  keep_alive_ = msg.keep_alive() && !close_requested_;
  head_only_ = req.method == http::verb::head;

  in_flight_ = true;
  response_done_ = false;
  streaming_ = false;
  on_disconnect_ = nullptr;
  stream_.expires_never();
  watch_disconnect();
  try {
    dispatcher_.dispatch(req, shared_from_this());
  } catch (const std::exception& e) {
    LLM_ERROR("handler for {} failed: {}", req.path, e.what());
    if (!response_done_ && !streaming_) {
      respond(500, "application/json", error_body(e.what(), "", "internal_error"));
    }
  }
}

void HttpSession::fail_request(int status, std::string message) {
  in_flight_ = true;
  head_only_ = false;
  keep_alive_ = false;
  LLM_DEBUG("HTTP {}: {}", status, message);
  respond(status, "application/json", error_body(message, "", "invalid_request_error"));
}

// While a request is in flight, a peek (MSG_PEEK: nothing is consumed) watches the socket:
// EOF or a reset means the client has gone; a byte means a pipelined request, read after this
// response. Not async_wait(wait_read) + available(): asio may complete a wait speculatively
// while nothing is readable, and that was taken for a disconnect (closing healthy requests).
void HttpSession::watch_disconnect() {
  const unsigned gen = ++watch_generation_;
  stream_.socket().async_receive(
      asio::buffer(&peek_byte_, 1), tcp::socket::message_peek,
      asio::bind_executor(stream_.get_executor(),
                          [self = shared_from_this(), gen](beast::error_code ec, std::size_t n) {
                            if (gen != self->watch_generation_ || !self->in_flight_) return;
                            if (ec == asio::error::operation_aborted) return;  // cancelled
                            if (!ec && n > 0) return;  // a pipelined request is waiting
                            self->notify_disconnect();
                            self->close_now();
                          }));
}

void HttpSession::notify_disconnect() {
  if (auto cb = std::move(on_disconnect_)) {
    on_disconnect_ = nullptr;
    cb();
  }
}

void HttpSession::respond(int status, std::string_view content_type, std::string body) {
  if (closed_ || !in_flight_ || response_done_ || streaming_) return;
  std::string bytes =
      http_head(status, content_type, static_cast<long long>(body.size()), keep_alive_);
  if (!head_only_) bytes += body;
  response_done_ = true;
  queue_write(std::move(bytes));
}

void HttpSession::begin_stream(std::string_view content_type) {
  if (closed_ || !in_flight_ || response_done_ || streaming_) return;
  streaming_ = true;
  queue_write(http_head(200, content_type, -1, keep_alive_));
}

void HttpSession::stream_send(std::string data) {
  if (closed_ || !streaming_ || response_done_ || data.empty()) return;
  std::string chunk = fmt::format("{:x}\r\n", data.size());
  chunk += data;
  chunk += "\r\n";
  queue_write(std::move(chunk));
}

void HttpSession::end_stream() {
  if (closed_ || !streaming_ || response_done_) return;
  response_done_ = true;
  queue_write("0\r\n\r\n");
}

void HttpSession::queue_write(std::string bytes) {
  pending_ += bytes;
  if (!writing_) flush();
}

void HttpSession::flush() {
  if (closed_ || pending_.empty()) return;
  writing_ = true;
  writing_buf_.clear();
  writing_buf_.swap(pending_);
  stream_.expires_after(limits_.write_timeout);
  asio::async_write(
      stream_, asio::buffer(writing_buf_),
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void HttpSession::on_write(beast::error_code ec) {
  writing_ = false;
  if (ec) {
    notify_disconnect();
    return close_now();
  }
  if (!pending_.empty()) return flush();
  if (in_flight_ && response_done_) {
    finish_request();
  } else if (streaming_) {
    stream_.expires_never();  // waiting for the engine, not for the client
  }
}

void HttpSession::finish_request() {
  in_flight_ = false;
  on_disconnect_ = nullptr;
  ++watch_generation_;
  beast::error_code ignored;
  stream_.socket().cancel(ignored);  // ends the disconnect watch
  if (!keep_alive_ || close_requested_) return linger_close();
  read_header();
}

// Half-closes and drains what the client still sends (e.g. the rest of an oversized body),
// so it reads our error reply instead of a connection reset.
void HttpSession::linger_close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(2));
  auto drain = std::make_shared<std::array<char, 16384>>();
  auto self = shared_from_this();
  auto reader = std::make_shared<std::function<void(beast::error_code, std::size_t)>>();
  *reader = [self, drain, reader](beast::error_code ec, std::size_t) {
    if (ec) {
      *reader = nullptr;  // break the cycle
      return self->close_now();
    }
    self->stream_.async_read_some(asio::buffer(*drain), *reader);
  };
  stream_.async_read_some(asio::buffer(*drain), *reader);
}

void HttpSession::close_now() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void HttpSession::close_when_idle() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->close_requested_ = true;
    self->keep_alive_ = false;
    if (!self->in_flight_) self->close_now();
  });
}

}  // namespace lightllm::server
