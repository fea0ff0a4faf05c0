// tests/server/server_test.cpp — the HTTP server over real loopback sockets with a FakeEngine:
// every route, SSE framing byte for byte, OpenAI shapes, n > 1, prompt batches, stop, seed,
// logprobs, metrics, keep-alive, 413, API key, disconnect -> abort (of every prompt of a batch),
// graceful shutdown.
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "server/test_client.h"

namespace lightllm::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ServerTest : public ServerFixture {
 protected:
  void SetUp() override { start(); }

  // POSTs `body` (slow engine steps), waits until its `requests` engine requests run, closes the
  // connection: every one is aborted and the server keeps serving.
  void expect_disconnect_aborts(const std::string& path, const json& body, int requests) {
    engine_->set_step_delay(20ms);
    TestConnection c(port());
    c.send("POST", path, body.dump());
    for (int i = 0; i < 200 && engine_->active() < requests; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(engine_->active(), requests);
    c.close();
    ASSERT_TRUE(engine_->wait_idle(2000ms));
    EXPECT_EQ(engine_->aborted().size(), static_cast<std::size_t>(requests));
    EXPECT_EQ(get("/liveness").status, 200);
  }

  // POSTs `body` streamed with usage; its SSE payloads (the body checked to end in [DONE]).
  std::vector<std::string> stream_with_usage(const std::string& path, json body) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto r = post(path, body);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.body.size() > 14 && r.body.substr(r.body.size() - 14) == "data: [DONE]\n\n");
    return sse_payloads(r.body);
  }
};

TEST_F(ServerTest, GenerateReturnsLightllmShapeAndMapsParameters) {
  auto r = post("/generate", {{"inputs", "hello"},
                              {"parameters",
                               {{"max_new_tokens", 7},
                                {"do_sample", true},
                                {"temperature", 0.5},
                                {"top_p", 0.9},
                                {"top_k", 5},
                                {"repetition_penalty", 1.1},
                                {"seed", 3},
                                {"ignore_eos", true}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto j = json::parse(r.body);
  ASSERT_TRUE(j["generated_text"].is_array());
  ASSERT_EQ(j["generated_text"].size(), 1u);
  EXPECT_EQ(j["generated_text"][0].get<std::string>().size(), 7u);
  EXPECT_EQ(j["count_output_tokens"], 7);
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_EQ(j["prompt_tokens"], 6);  // <s> + 5 bytes
  EXPECT_NE(r.body.find("{\"generated_text\":"), std::string::npos) << r.body;

  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  const auto& p = sub[0].params;
  EXPECT_EQ(sub[0].prompt_ids, engine_->tokenize("hello", true));
  EXPECT_EQ(p.max_new_tokens, 7);
  EXPECT_TRUE(p.do_sample);
  EXPECT_FLOAT_EQ(p.temperature, 0.5f);
  EXPECT_FLOAT_EQ(p.top_p, 0.9f);
  EXPECT_EQ(p.top_k, 5);
  EXPECT_FLOAT_EQ(p.repetition_penalty, 1.1f);
  ASSERT_TRUE(p.seed.has_value());
  EXPECT_EQ(*p.seed, 3u);
  EXPECT_TRUE(p.ignore_eos);
}

TEST_F(ServerTest, GenerateNGivesListsAndDetails) {
  auto r = post("/generate", {{"inputs", "abc"},
                              {"parameters",
                               {{"max_new_tokens", 4},
                                {"n", 3},
                                {"do_sample", true},
                                {"seed", 11},
                                {"return_details", true}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["generated_text"].size(), 3u);
  ASSERT_EQ(j["count_output_tokens"], json({4, 4, 4}));
  ASSERT_EQ(j["finish_reason"], json({"length", "length", "length"}));
  ASSERT_EQ(j["tokens"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::string joined;
    for (const auto& t : j["tokens"][i]) joined += t["text"].get<std::string>();
    EXPECT_EQ(joined, j["generated_text"][i]);
  }
}

// The stream must be exactly LightLLM's framing: `data:` (no space), the JSON as Python's
// json.dumps(ret, ensure_ascii=False) writes it (", " and ": " separators) with keys token,
// generated_text, finished, finish_reason, details, and a blank line after each event.
TEST_F(ServerTest, GenerateStreamFramingByteForByte) {
  const json params = {{"max_new_tokens", 5}};
  auto whole = post(
      "/generate",
      {{"inputs", "frame"}, {"parameters", {{"max_new_tokens", 5}, {"return_details", true}}}});
  ASSERT_EQ(whole.status, 200);
  const auto tokens = json::parse(whole.body)["tokens"];
  ASSERT_EQ(tokens.size(), 5u);

  auto r = post("/generate_stream", {{"inputs", "frame"}, {"parameters", params}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  std::string expected;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const bool last = i + 1 == tokens.size();
    expected += "data:{\"token\": {\"id\": " + tokens[i]["id"].dump() +
                ", \"text\": " + tokens[i]["text"].dump() +
                ", \"logprob\": " + tokens[i]["logprob"].dump() +
                ", \"special\": false, \"count_output_tokens\": " + std::to_string(i + 1) +
                ", \"prompt_tokens\": 6}, \"generated_text\": null, \"finished\": " +
                (last ? "true" : "false") +
                ", \"finish_reason\": " + (last ? "\"length\"" : "null") +
                ", \"details\": null}\n\n";
  }
  EXPECT_EQ(r.body, expected);
}

TEST_F(ServerTest, RootRoutesOnStream) {
  auto a = post("/", {{"inputs", "x"}, {"parameters", {{"max_new_tokens", 2}}}});
  ASSERT_EQ(a.status, 200);
  EXPECT_TRUE(json::parse(a.body).contains("generated_text"));
  auto b = post("/", {{"inputs", "x"}, {"stream", true}, {"parameters", {{"max_new_tokens", 2}}}});
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(sse_payloads(b.body).size(), 2u);
  // Same greedy text either way.
  std::string streamed;
  for (auto& p : sse_payloads(b.body))
    streamed += json::parse(p)["token"]["text"].get<std::string>();
  EXPECT_EQ(streamed, json::parse(a.body)["generated_text"][0]);
}

TEST_F(ServerTest, StopSequenceCutsTheOutput) {
  auto full =
      post("/v1/completions", {{"prompt", "stop test"}, {"max_tokens", 30}, {"temperature", 0}});
  ASSERT_EQ(full.status, 200);
  const std::string text = json::parse(full.body)["choices"][0]["text"];
  ASSERT_GE(text.size(), 10u);
  const std::string stop = text.substr(6, 2);
  const std::string want = text.substr(0, text.find(stop));
  for (bool stream : {false, true}) {
    auto r = post("/v1/completions", {{"prompt", "stop test"},
                                      {"max_tokens", 30},
                                      {"temperature", 0},
                                      {"stop", stop},
                                      {"stream", stream}});
    ASSERT_EQ(r.status, 200);
    std::string got, reason;
    if (stream) {
      for (auto& p : sse_payloads(r.body)) {
        if (p == "[DONE]") continue;
        auto c = json::parse(p)["choices"][0];
        got += c["text"].get<std::string>();
        if (!c["finish_reason"].is_null()) reason = c["finish_reason"];
      }
    } else {
      auto c = json::parse(r.body)["choices"][0];
      got = c["text"];
      reason = c["finish_reason"];
    }
    EXPECT_EQ(got, want) << "stream=" << stream;
    EXPECT_EQ(reason, "stop");
  }
}

TEST_F(ServerTest, SeedIsReproducible) {
  auto ask = [&](int seed) {
    auto r = post("/v1/completions",
                  {{"prompt", "seed"}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", seed}});
    EXPECT_EQ(r.status, 200);
    return json::parse(r.body)["choices"][0]["text"].get<std::string>();
  };
  EXPECT_EQ(ask(5), ask(5));
  EXPECT_NE(ask(5), ask(6));
}

TEST_F(ServerTest, CompletionsShapeWithNAndLogprobs) {
  auto r = post("/v1/completions", {{"model", "m"},
                                    {"prompt", "hi"},
                                    {"max_tokens", 3},
                                    {"n", 2},
                                    {"logprobs", 2},
                                    {"seed", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "m");
  EXPECT_TRUE(j["id"].get<std::string>().rfind("cmpl-", 0) == 0);
  ASSERT_EQ(j["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    auto c = j["choices"][i];
    EXPECT_EQ(c["index"], i);
    EXPECT_EQ(c["finish_reason"], "length");
    auto lp = c["logprobs"];
    ASSERT_EQ(lp["tokens"].size(), 3u);
    ASSERT_EQ(lp["token_logprobs"].size(), 3u);
    ASSERT_EQ(lp["top_logprobs"].size(), 3u);
    EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
    EXPECT_EQ(lp["text_offset"], json({0, 1, 2}));
    std::string joined;
    for (auto& t : lp["tokens"]) joined += t.get<std::string>();
    EXPECT_EQ(joined, c["text"]);
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);
  EXPECT_EQ(j["usage"]["total_tokens"], 9);
  EXPECT_EQ(engine_->submitted().back().params.top_logprobs, 2);
}

// A completions batch: prompt p's completion i is choice p·n + i, each as the prompt alone
// would give it (greedy; the fake engine's tokens depend on the prompt and the completion
// index), with the usage summed over the prompts; a bad prompt anywhere in the batch rejects it
// before anything is submitted.
TEST_F(ServerTest, CompletionsBatchOfPrompts) {
  auto alone = [&](const json& prompt) {  // the texts of n = 2 completions
    auto r = post("/v1/completions",
                  {{"prompt", prompt}, {"max_tokens", 3}, {"temperature", 0}, {"n", 2}});
    EXPECT_EQ(r.status, 200) << r.body;
    const json c = json::parse(r.body)["choices"];
    return std::vector<std::string>{c[0]["text"], c[1]["text"]};
  };
  const auto hi = alone("hi"), hello = alone("hello"), ids = alone({40, 41, 42});
  EXPECT_NE(hi, hello);
  const std::size_t before = engine_->submitted().size();
  auto r = post("/v1/completions",
                {{"prompt", {"hi", "hello"}}, {"max_tokens", 3}, {"temperature", 0}, {"n", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_EQ(j["choices"][i]["text"], (i < 2 ? hi : hello)[i % 2]) << i;
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3 + 6);  // BOS + bytes, each prompt
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  EXPECT_EQ(engine_->submitted().size(), before + 2);

  auto t = post("/v1/completions", {{"prompt", {{40, 41, 42}}},  // token ids; a batch of one
                                    {"max_tokens", 3},
                                    {"temperature", 0},
                                    {"n", 2}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(json::parse(t.body)["choices"][1]["text"], ids[1]);

  auto bad =
      post("/v1/completions", {{"prompt", {"hi", std::string(300, 'p')}}, {"max_tokens", 3}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("prompt[1] has"), std::string::npos) << bad.body;
  EXPECT_EQ(engine_->submitted().size(), before + 3);  // nothing of the bad batch ran

  json many = json::array();
  for (int i = 0; i < 65; ++i) many.push_back("x");
  auto big = post("/v1/completions", {{"prompt", many}, {"max_tokens", 1}});
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(big.body.find("at most 64"), std::string::npos) << big.body;
}

TEST_F(ServerTest, LogitBiasIsMappedInOrder) {
  auto r = post("/v1/completions",
                {{"prompt", "hi"}, {"max_tokens", 2}, {"logit_bias", {{"40", 100}, {"7", -2.5}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<std::pair<int32_t, float>> want{{40, 100.0f}, {7, -2.5f}};
  EXPECT_EQ(engine_->submitted().back().params.logit_bias, want);
  json msgs = json::array({{{"role", "user"}, {"content", "hi"}}});
  auto c = post("/v1/chat/completions",
                {{"messages", msgs}, {"max_tokens", 2}, {"logit_bias", json::object()}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_TRUE(engine_->submitted().back().params.logit_bias.empty());
}

// Streaming a batch: chunks of both prompts, each with its choice index, one finish per choice,
// the usage summed over the prompts, then [DONE].
TEST_F(ServerTest, CompletionsBatchStreams) {
  auto ev = stream_with_usage("/v1/completions",
                              {{"prompt", {"hi", "hello"}}, {"max_tokens", 4}, {"temperature", 0}});
  std::string text[2];
  int finishes[2] = {0, 0};
  for (std::size_t i = 0; i + 2 < ev.size(); ++i) {
    auto c = json::parse(ev[i])["choices"][0];
    const int idx = c["index"];
    ASSERT_TRUE(idx == 0 || idx == 1) << ev[i];
    text[idx] += c["text"].get<std::string>();
    if (!c["finish_reason"].is_null()) ++finishes[idx];
  }
  EXPECT_EQ(finishes[0], 1);
  EXPECT_EQ(finishes[1], 1);
  for (int p = 0; p < 2; ++p) {
    auto one = post("/v1/completions",
                    {{"prompt", p == 0 ? "hi" : "hello"}, {"max_tokens", 4}, {"temperature", 0}});
    EXPECT_EQ(text[p], json::parse(one.body)["choices"][0]["text"]) << p;
  }
  auto usage = json::parse(ev[ev.size() - 2]);
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["prompt_tokens"], 3 + 6);
  EXPECT_EQ(usage["usage"]["completion_tokens"], 8);
}

TEST_F(ServerTest, ChatUsesTemplateAndReturnsMessage) {
  json msgs = json::array(
      {{{"role", "system"}, {"content", "be brief"}},
       {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "hi"}}})}}});
  auto r = post("/v1/chat/completions", {{"model", "m"},
                                         {"messages", msgs},
                                         {"max_completion_tokens", 4},
                                         {"logprobs", true},
                                         {"top_logprobs", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  auto c = j["choices"][0];
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["message"]["content"].get<std::string>().size(), 4u);
  ASSERT_EQ(c["logprobs"]["content"].size(), 4u);
  EXPECT_EQ(c["logprobs"]["content"][0]["top_logprobs"].size(), 1u);
  std::string prompt, err;
  ASSERT_TRUE(engine_->render_chat(
      json{{"messages",
            {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}}}}
          .dump(),
      true, &prompt, &err));
  EXPECT_EQ(engine_->submitted().back().prompt_ids, engine_->tokenize(prompt, false));
}

TEST_F(ServerTest, ChatStreamChunksAndUsage) {
  json msgs = json::array({{{"role", "user"}, {"content", "hi"}}});
  auto ev = stream_with_usage("/v1/chat/completions", {{"messages", msgs}, {"max_tokens", 3}});
  ASSERT_GE(ev.size(), 4u);
  auto first = json::parse(ev[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["usage"].is_null());
  std::string content;
  std::string reason;
  for (std::size_t i = 1; i + 2 < ev.size(); ++i) {
    auto c = json::parse(ev[i])["choices"][0];
    if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) reason = c["finish_reason"];
  }
  EXPECT_EQ(content.size(), 3u);
  EXPECT_EQ(reason, "length");
  auto usage = json::parse(ev[ev.size() - 2]);
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(usage["usage"]["total_tokens"], usage["usage"]["prompt_tokens"].get<int>() + 3);
}

TEST_F(ServerTest, ModelsHealthAndSmallRoutes) {
  auto m = json::parse(get("/v1/models").body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "fake-model");
  EXPECT_EQ(json::parse(get("/get_model_name").body)["model_name"], "fake-model");
  EXPECT_EQ(json::parse(get("/liveness").body)["status"], "ok");
  EXPECT_EQ(json::parse(get("/readiness").body)["status"], "ok");
  const auto before = engine_->submitted().size();
  auto h = get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["message"], "Ok");
  EXPECT_EQ(engine_->submitted().size(), before + 1);  // a real generation when idle
  EXPECT_EQ(engine_->submitted().back().params.max_new_tokens, 1);
  auto head = http_request(port(), "HEAD", "/health");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  auto tl = json::parse(get("/token_load").body);
  EXPECT_TRUE(tl.contains("current_load") && tl.contains("dynamic_max_load"));
  auto t = post("/tokens", {{"text", "four"}});
  EXPECT_EQ(json::parse(t.body)["ntokens"], 5);
  EXPECT_EQ(get("/nope").status, 404);
  EXPECT_EQ(get("/generate").status, 405);
}

TEST_F(ServerTest, MetricsUseLightllmNames) {
  ASSERT_EQ(post("/generate", {{"inputs", "m"}, {"parameters", {{"max_new_tokens", 2}}}}).status,
            200);
  ASSERT_EQ(post("/generate", {{"inputs", 5}}).status, 400);
  auto r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain", 0), 0u);
  const std::string& b = r.body;
  EXPECT_NE(b.find("# TYPE lightllm_request_count_total counter\nlightllm_request_count_total 2\n"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("lightllm_request_success_total 1\n"), std::string::npos);
  EXPECT_NE(b.find("lightllm_request_failure_total 1\n"), std::string::npos);
  EXPECT_NE(b.find("# TYPE lightllm_request_duration histogram"), std::string::npos);
  EXPECT_NE(b.find("lightllm_request_duration_count 1\n"), std::string::npos);
  EXPECT_NE(b.find("lightllm_request_generated_tokens_sum 2\n"), std::string::npos);
  EXPECT_NE(b.find("lightllm_request_duration_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  for (const char* g :
       {"lightllm_queue_size", "lightllm_batch_current_size", "lightllm_batch_pause_size",
        "lightllm_kv_total_tokens", "lightllm_kv_used_tokens"}) {
    EXPECT_NE(b.find(std::string("# TYPE ") + g + " gauge"), std::string::npos) << g;
  }
  // Every sample line is "name[{labels}] value".
  const std::regex line(R"(^(#.*|[a-z_]+(\{le="[^"]+"\})? [-+0-9.eInf]+)$)");
  std::size_t pos = 0;
  while (pos < b.size()) {
    auto end = b.find('\n', pos);
    const std::string l = b.substr(pos, end - pos);
    EXPECT_TRUE(std::regex_match(l, line)) << l;
    pos = end + 1;
  }
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestConnection c(port());
  for (int i = 0; i < 3; ++i) {
    c.send("POST", "/generate",
           json{{"inputs", "k"}, {"parameters", {{"max_new_tokens", 2}}}}.dump());
    auto r = c.read_response();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.headers["connection"], "keep-alive");
  }
  c.send("POST", "/generate_stream",
         json{{"inputs", "k"}, {"parameters", {{"max_new_tokens", 2}}}}.dump());
  EXPECT_EQ(c.read_response().status, 200);
  c.send("GET", "/liveness", "");
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(ServerTest, ClientDisconnectAbortsTheEngineRequest) {
  engine_->set_step_delay(20ms);
  TestConnection c(port());
  c.send("POST", "/generate_stream",
         json{{"inputs", "long"}, {"parameters", {{"max_new_tokens", 200}}}}.dump());
  c.read_until("\n\n");  // first event arrived
  ASSERT_EQ(engine_->active(), 1);
  c.close();
  ASSERT_TRUE(engine_->wait_idle(2000ms));
  ASSERT_EQ(engine_->aborted().size(), 1u);
  EXPECT_LT(engine_->stats().generated_tokens_total, 150u);  // stopped early, not run to the end
  EXPECT_EQ(get("/liveness").status, 200);                   // still serving
}

TEST_F(ServerTest, ClientDisconnectAbortsANonStreamingRequestToo) {
  expect_disconnect_aborts(
      "/v1/chat/completions",
      {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", 200}}, 1);
}

TEST_F(ServerTest, ClientDisconnectAbortsEveryPromptOfABatch) {
  expect_disconnect_aborts("/v1/completions",
                           {{"prompt", {"x", "y", "z"}}, {"max_tokens", 200}, {"stream", true}}, 3);
}

// The engine refuses a batch's second prompt (its context is shorter than the server's limit
// here): the first, already submitted, is aborted and the client gets one 400.
TEST_F(ServerTest, EngineRefusingABatchPromptAbortsTheOthers) {
  TearDown();
  server::ServerConfig cfg;
  cfg.max_req_total_len = 1000;  // above the fake engine's 256
  start({}, cfg);
  engine_->set_step_delay(20ms);
  auto r =
      post("/v1/completions", {{"prompt", {"short", std::string(300, 'p')}}, {"max_tokens", 50}});
  EXPECT_EQ(r.status, 400) << r.body;
  ASSERT_TRUE(engine_->wait_idle(2000ms));
  EXPECT_EQ(engine_->submitted().size(), 1u);
  EXPECT_EQ(engine_->aborted().size(), 1u);
  EXPECT_EQ(get("/liveness").status, 200);
}

TEST_F(ServerTest, ShutdownAbortsStreamsWithAFinalEvent) {
  TearDown();
  server::ServerConfig cfg;
  cfg.shutdown_grace = 100ms;
  FakeEngine::Options eo;
  eo.step_delay = 20ms;
  start(eo, cfg);
  TestConnection c(port());
  c.send("POST", "/generate_stream",
         json{{"inputs", "long"}, {"parameters", {{"max_new_tokens", 200}}}}.dump());
  c.read_until("\n\n");
  std::thread stopper([&] { server_->shutdown(); });
  const std::string all = c.read_until("0\r\n\r\n");
  stopper.join();
  EXPECT_NE(all.find("\"finished\": true, \"finish_reason\": \"abort\""), std::string::npos) << all;
  EXPECT_EQ(all.substr(all.size() - 5), "0\r\n\r\n");
  EXPECT_THROW(TestConnection{port()}, std::exception);  // no longer accepting
}

TEST_F(ServerTest, OversizedBodyGets413AndServerKeepsServing) {
  TearDown();
  server::ServerConfig cfg;
  cfg.limits.max_body_bytes = 1024;
  start({}, cfg);
  const std::string big = json{{"inputs", std::string(5000, 'a')}}.dump();
  auto r = http_request(port(), "POST", "/generate", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("1024"),
            std::string::npos);
  EXPECT_EQ(get("/liveness").status, 200);
}

TEST_F(ServerTest, ApiKeyIsRequiredWhenSet) {
  TearDown();
  server::ServerConfig cfg;
  cfg.api_key = "sekret";
  start({}, cfg);
  auto no = get("/v1/models");
  EXPECT_EQ(no.status, 401);
  EXPECT_EQ(json::parse(no.body)["error"]["type"], "invalid_api_key");
  EXPECT_EQ(get("/v1/models", "Authorization: Bearer wrong\r\n").status, 401);
  EXPECT_EQ(get("/v1/models", "Authorization: Bearer sekret\r\n").status, 200);
  EXPECT_EQ(get("/health").status, 200);  // probes stay open
}

TEST_F(ServerTest, LongPromptRejectedUnlessTruncationAsked) {
  const std::string prompt(300, 'p');  // context is 256
  auto r = post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "prompt");
  auto t = post("/v1/completions",
                {{"prompt", prompt}, {"max_tokens", 4}, {"truncate_prompt_tokens", 100}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(json::parse(t.body)["usage"]["prompt_tokens"], 100);
  auto m = post("/v1/completions", {{"prompt", std::string(200, 'p')}, {"max_tokens", 100}});
  EXPECT_EQ(m.status, 400);
  EXPECT_EQ(json::parse(m.body)["error"]["param"], "max_tokens");
}

TEST_F(ServerTest, ManyConcurrentStreams) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 32; ++i) {
    ts.emplace_back([&, i] {
      auto r = http_request(
          port(), "POST", "/generate_stream",
          json{{"inputs", "c" + std::to_string(i)}, {"parameters", {{"max_new_tokens", 8}}}}
              .dump());
      if (r.status == 200 && sse_payloads(r.body).size() == 8) ++ok;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 32);
  EXPECT_TRUE(engine_->wait_idle(1000ms));
}

}  // namespace
}  // namespace lightllm::testing
