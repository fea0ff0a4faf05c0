// tests/server/test_client.cpp — see test_client.h.
#include "server/test_client.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace lightllm::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

TestConnection::TestConnection(uint16_t port) : socket_(io_) {
  socket_.connect({asio::ip::make_address("127.0.0.1"), port});
}

void TestConnection::send(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& extra_headers) {
  head_ = method == "HEAD";
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += extra_headers + "\r\n" + body;
  send_raw(req);
}

void TestConnection::send_raw(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
}

HttpResult TestConnection::read_response() {
  beast::flat_buffer buf;
  if (!buffered_.empty()) {
    auto b = buf.prepare(buffered_.size());
    asio::buffer_copy(b, asio::buffer(buffered_));
    buf.commit(buffered_.size());
    buffered_.clear();
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  parser.skip(head_);
  beast::error_code ec;
  http::read(socket_, buf, parser, ec);
  HttpResult r;
  if (ec) {
    r.status = -1;
    r.body = ec.message();
    return r;
  }
  auto& msg = parser.get();
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = msg.body();
  return r;
}

std::string TestConnection::read_until(const std::string& needle) {
  char chunk[4096];
  while (buffered_.find(needle) == std::string::npos) {
    boost::system::error_code ec;
    const auto n = socket_.read_some(asio::buffer(chunk), ec);
    if (ec) break;
    buffered_.append(chunk, n);
  }
  return buffered_;
}

void TestConnection::close() {
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

bool TestConnection::peer_closed() {
  char c;
  boost::system::error_code ec;
  socket_.read_some(asio::buffer(&c, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

HttpResult http_request(uint16_t port, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& extra_headers) {
  TestConnection c(port);
  c.send(method, path, body, extra_headers);
  return c.read_response();
}

std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string ev = body.substr(pos, end - pos);
    if (ev.rfind("data: ", 0) == 0) {
      out.push_back(ev.substr(6));
    } else if (ev.rfind("data:", 0) == 0) {
      out.push_back(ev.substr(5));
    }
    pos = end + 2;
  }
  return out;
}

void ServerFixture::start(FakeEngine::Options eopt, server::ServerConfig cfg) {
  engine_ = std::make_unique<FakeEngine>(eopt);
  cfg.port = 0;
  server_ = std::make_unique<server::Server>(*engine_, cfg);
  auto st = server_->start();
  ASSERT_TRUE(st.ok()) << st.to_string();
}

void ServerFixture::TearDown() {
  if (server_) server_->shutdown();
  if (engine_) engine_->shutdown();
  server_.reset();
  engine_.reset();
}

}  // namespace lightllm::testing
