// tests/server/server_bad_input_test.cpp — table-driven malformed / out-of-range requests: each
// gets the right 4xx and an error body naming the field, and the server keeps serving.
#include <gtest/gtest.h>

#include "server/test_client.h"

namespace lightllm::testing {
namespace {

using nlohmann::json;

struct BadCase {
  const char* path;
  std::string body;
  int status;
  const char* param;  // expected error.param ("" = null)
  const char* says;   // substring of the message
};

std::vector<BadCase> cases() {
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  return {
      {"/generate", "{not json", 400, "body", "not valid JSON"},
      {"/generate", "[1,2]", 400, "body", "JSON object"},
      {"/generate", R"({"parameters":{}})", 400, "inputs", "inputs is required"},
      {"/generate", R"({"inputs":5})", 400, "inputs", "string or a list"},
      {"/generate", R"({"inputs":""})", 400, "inputs", "must not be empty"},
      {"/generate", R"({"inputs":"x","parameters":[]})", 400, "parameters", "object"},
      {"/generate", R"({"inputs":"x","parameters":{"max_new_tokens":-1}})", 400,
       "parameters.max_new_tokens", "[1, 256]"},
      {"/generate", R"({"inputs":"x","parameters":{"max_new_tokens":10000000000}})", 400,
       "parameters.max_new_tokens", "[1, 256]"},
      {"/generate", R"({"inputs":"x","parameters":{"max_new_tokens":"5"}})", 400,
       "parameters.max_new_tokens", "integer"},
      {"/generate", R"({"inputs":"x","parameters":{"max_new_tokens":2.5}})", 400,
       "parameters.max_new_tokens", "integer"},
      {"/generate", R"({"inputs":"x","parameters":{"temperature":0}})", 400,
       "parameters.temperature", "(0"},
      {"/generate", R"({"inputs":"x","parameters":{"top_p":1.5}})", 400, "parameters.top_p",
       "(0, 1]"},
      {"/generate", R"({"inputs":"x","parameters":{"do_sample":"yes"}})", 400,
       "parameters.do_sample", "boolean"},
      {"/generate", R"({"inputs":"x","parameters":{"stop_sequences":[1]}})", 400,
       "parameters.stop_sequences", "string"},
      {"/generate", R"({"inputs":"x","parameters":{"n":2,"best_of":1}})", 400, "parameters.best_of",
       ">= n"},
      {"/generate", R"({"inputs":"x","parameters":{"bogus":1}})", 400, "parameters.bogus",
       "unknown field"},
      {"/generate", R"({"inputs":"x","extra":1})", 400, "extra", "unknown field"},
      {"/generate", R"({"inputs":[1,99999]})", 400, "inputs", "[0, 258]"},
      {"/generate_stream", R"({"inputs":"x","parameters":{"n":2}})", 400, "parameters.n", "n == 1"},
      {"/", R"({"inputs":"x","stream":"true"})", 400, "stream", "boolean"},
      {"/tokens", R"({"txt":"x"})", 400, "txt", "unknown field"},
      {"/v1/completions", R"({"prompt":"x","max_tokens":0})", 400, "max_tokens", "[1, 256]"},
      {"/v1/completions", R"({"prompt":"x","max_tokens":-3})", 400, "max_tokens", "[1, 256]"},
      {"/v1/completions", R"({"prompt":"x","max_tokens":999999})", 400, "max_tokens", "[1, 256]"},
      {"/v1/completions", R"({"max_tokens":3})", 400, "prompt", "required"},
      {"/v1/completions", R"({"prompt":""})", 400, "prompt", "empty"},
      {"/v1/completions", R"({"prompt":["a",""]})", 400, "prompt[1]", "empty"},
      {"/v1/completions", R"({"prompt":["a",[5,6]]})", 400, "prompt[1]", "not both"},
      {"/v1/completions", R"({"prompt":[[5],[]]})", 400, "prompt[1]", "non-empty"},
      {"/v1/completions", R"({"prompt":["a",7]})", 400, "prompt[1]", "non-empty string"},
      {"/v1/completions", R"({"prompt":[[5],[6,99999]]})", 400, "prompt[1]", "[0, 258]"},
      {"/v1/completions", R"({"prompt":"x","temperature":3})", 400, "temperature", "[0, 2]"},
      {"/v1/completions", R"({"prompt":"x","n":0})", 400, "n", "[1, 64]"},
      {"/v1/completions", R"({"prompt":"x","stop":["a","b","c","d","e"]})", 400, "stop",
       "at most 4"},
      {"/v1/completions", R"({"prompt":"x","stop":5})", 400, "stop", "string or a list"},
      {"/v1/completions", R"({"prompt":"x","logprobs":21})", 400, "logprobs", "[0, 20]"},
      {"/v1/completions", R"({"prompt":"x","presence_penalty":-3})", 400, "presence_penalty",
       "[-2, 2]"},
      {"/v1/completions", R"({"prompt":"x","echo":true})", 400, "echo", "not supported"},
      {"/v1/completions", R"({"prompt":"x","logit_bias":{"5x":1}})", 400, "logit_bias",
       "not a token id"},
      {"/v1/completions", R"({"prompt":"x","logit_bias":{"259":1}})", 400, "logit_bias",
       "[0, 259)"},
      {"/v1/completions", R"({"prompt":"x","logit_bias":{"5":101}})", 400, "logit_bias",
       "[-100, 100]"},
      {"/v1/completions", R"({"prompt":"x","logit_bias":{"5":1,"05":2}})", 400, "logit_bias",
       "twice"},
      {"/v1/completions", R"({"prompt":"x","logit_bias":[5]})", 400, "logit_bias", "object"},
      {"/v1/completions", R"({"prompt":"x","stream_options":{"include_usage":true}})", 400,
       "stream_options", "stream is true"},
      {"/v1/completions", R"({"prompt":"x","frobnicate":1})", 400, "frobnicate", "unknown field"},
      {"/v1/chat/completions", R"({"model":"m"})", 400, "messages", "required"},
      {"/v1/chat/completions", R"({"messages":[]})", 400, "messages", "must not be empty"},
      {"/v1/chat/completions", R"({"messages":"hi"})", 400, "messages", "must be a list"},
      {"/v1/chat/completions", R"({"messages":[{"content":"hi"}]})", 400, "messages[0].role",
       "required"},
      {"/v1/chat/completions", R"({"messages":[{"role":"wizard","content":"hi"}]})", 400,
       "messages[0].role", "not one of"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":7}]})", 400,
       "messages[0].content", "string"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user"}]})", 400, "messages[0].content",
       "required"},
      {"/v1/chat/completions", "{" + msgs + R"(,"max_completion_tokens":0})", 400,
       "max_completion_tokens", "[1, 256]"},
      {"/v1/chat/completions", "{" + msgs + R"(,"top_logprobs":3})", 400, "top_logprobs",
       "requires logprobs"},
      {"/v1/chat/completions", "{" + msgs + R"(,"tools":[{"type":"function"}]})", 400, "tools",
       "not supported"},
      {"/v1/chat/completions", "{" + msgs + R"(,"seed":"x"})", 400, "seed", "integer"},
      {"/v1/chat/completions", "{" + msgs + R"(,"messages2":1})", 400, "messages2",
       "unknown field"},
  };
}

class BadInputTest : public ServerFixture {
 protected:
  void SetUp() override { start(); }
};

TEST_F(BadInputTest, EveryCaseNamesTheFieldAndServerKeepsServing) {
  TestConnection keep(port());  // one keep-alive connection survives all the errors
  for (const auto& c : cases()) {
    SCOPED_TRACE(std::string(c.path) + " " + c.body);
    keep.send("POST", c.path, c.body);
    auto r = keep.read_response();
    ASSERT_EQ(r.status, c.status) << r.body;
    auto j = json::parse(r.body);
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["param"], json(c.param)) << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(c.says), std::string::npos) << r.body;
    EXPECT_EQ(j["message"], j["error"]["message"]);
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  }
  EXPECT_TRUE(engine_->submitted().empty());  // nothing reached the engine
  EXPECT_EQ(get("/health").status, 200);
  EXPECT_TRUE(engine_->wait_idle(std::chrono::milliseconds(1000)));
}

TEST_F(BadInputTest, MalformedHttpAndHugeHeadersAreRejected) {
  {
    TestConnection c(port());
    c.send_raw("THIS IS NOT HTTP\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r.status, 400);
  }
  {
    TestConnection c(port());
    c.send("GET", "/liveness", "", "X-Big: " + std::string(20000, 'x') + "\r\n");
    EXPECT_EQ(c.read_response().status, 431);
  }
  {
    TestConnection c(port());  // client that sends half a body and vanishes
    c.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inputs\"");
    c.close();
  }
  EXPECT_EQ(get("/liveness").status, 200);
  EXPECT_TRUE(engine_->submitted().empty());
}

TEST(SlowClientTest, StalledRequestIsDroppedAfterTheReadTimeout) {
  FakeEngine engine;
  server::ServerConfig cfg;
  cfg.port = 0;
  cfg.limits.idle_timeout = std::chrono::milliseconds(300);
  cfg.limits.read_timeout = std::chrono::milliseconds(300);
  server::Server srv(engine, cfg);
  ASSERT_TRUE(srv.start().ok());
  TestConnection slow(srv.port());
  slow.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\n");  // headers never finish
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.peer_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(http_request(srv.port(), "GET", "/liveness").status, 200);
  srv.shutdown();
  engine.shutdown();
}

// A body that stops arriving gets 408 (not a silent close: beast's stream timeout would close
// the socket before the reply could be written).
TEST(SlowClientTest, StalledBodyGets408) {
  FakeEngine engine;
  server::ServerConfig cfg;
  cfg.port = 0;
  cfg.limits.read_timeout = std::chrono::milliseconds(300);
  server::Server srv(engine, cfg);
  ASSERT_TRUE(srv.start().ok());
  TestConnection slow(srv.port());
  slow.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inputs\"");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = slow.read_response();
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find("read timeout"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(slow.peer_closed());
  EXPECT_EQ(http_request(srv.port(), "GET", "/liveness").status, 200);
  EXPECT_TRUE(engine.submitted().empty());
  srv.shutdown();
  engine.shutdown();
}

}  // namespace
}  // namespace lightllm::testing
