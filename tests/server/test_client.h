// tests/server/test_client.h — a small blocking HTTP/1.1 client over real loopback sockets for
// the server tests, plus a fixture that runs the Server over a FakeEngine on a free port.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "server/fake_engine.h"
#include "server/server.h"

namespace lightllm::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
};

// One keep-alive connection.
class TestConnection {
 public:
  explicit TestConnection(uint16_t port);
  // Sends a request; `extra_headers` are raw "Name: value\r\n" lines.
  void send(const std::string& method, const std::string& path, const std::string& body,
            const std::string& extra_headers = "");
  void send_raw(const std::string& bytes);
  HttpResult read_response();
  // Reads until `needle` appears in the raw bytes (or EOF); returns everything read so far.
  std::string read_until(const std::string& needle);
  void close();
  bool peer_closed();  // true when the server has closed the connection

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffered_;
  bool head_ = false;  // last request was HEAD: the response has no body
};

HttpResult http_request(uint16_t port, const std::string& method, const std::string& path,
                        const std::string& body = "", const std::string& extra_headers = "");

// Splits an SSE body into the JSON payloads of its `data:` events ("[DONE]" kept as text).
std::vector<std::string> sse_payloads(const std::string& body);

class ServerFixture : public ::testing::Test {
 protected:
  void start(FakeEngine::Options eopt = {}, server::ServerConfig cfg = {});
  void TearDown() override;
  HttpResult post(const std::string& path, const nlohmann::json& body,
                  const std::string& headers = "") {
    return http_request(port(), "POST", path, body.dump(), headers);
  }
  HttpResult get(const std::string& path, const std::string& headers = "") {
    return http_request(port(), "GET", path, "", headers);
  }
  uint16_t port() const { return server_->port(); }

  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace lightllm::testing
