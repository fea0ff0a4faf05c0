// src/cli/client_command.cpp — `lightllm client --url URL --text TEXT [--stream]`: a console
// client for a running server (LightLLM's /generate and /generate_stream), on Boost.Beast.
#include <cstdio>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace lightllm::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct ClientOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string text;
  bool stream = false;
  int max_new_tokens = 64;
  double temperature = 0;
  std::string api_key;
};

// Prints the text of each complete SSE event in `buf` and keeps the unfinished tail.
void drain_events(std::string& buf) {
  for (auto end = buf.find("\n\n"); end != std::string::npos; end = buf.find("\n\n")) {
    std::string ev = buf.substr(0, end);
    buf.erase(0, end + 2);
    if (ev.rfind("data:", 0) != 0) continue;
    const auto j = nlohmann::json::parse(ev.substr(5), nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("token") && j["token"].contains("text")) {
      std::fputs(j["token"]["text"].get<std::string>().c_str(), stdout);
      std::fflush(stdout);
    }
  }
}

int run_client(const ClientOptions& o) {
  const std::string prefix = "http://";
  if (o.url.rfind(prefix, 0) != 0) {
    std::fprintf(stderr, "lightllm client: --url must start with http://, got %s\n", o.url.c_str());
    return kExitBadInput;
  }
  std::string hostport = o.url.substr(prefix.size());
  std::string base_path;
  if (auto slash = hostport.find('/'); slash != std::string::npos) {
    base_path = hostport.substr(slash);
    hostport.resize(slash);
    if (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
  }
  std::string host = hostport, port = "80";
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  nlohmann::json params = {{"max_new_tokens", o.max_new_tokens}};
  if (o.temperature > 0) params.update({{"do_sample", true}, {"temperature", o.temperature}});
  const nlohmann::json body = {{"inputs", o.text}, {"parameters", params}};
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::resolver(io).resolve(host, port));
    http::request<http::string_body> req(
        http::verb::post, base_path + (o.stream ? "/generate_stream" : "/generate"), 11);
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    if (!o.api_key.empty()) req.set(http::field::authorization, "Bearer " + o.api_key);
    req.body() = body.dump();
    req.prepare_payload();
    http::write(stream, req);

    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read_header(stream, buf, parser);
    const int status = static_cast<int>(parser.get().result_int());
    if (status == 200 && o.stream) {
      std::string events;
      auto on_chunk = [&events](std::uint64_t, beast::string_view data, beast::error_code&) {
        events.append(data.data(), data.size());
        drain_events(events);
        return data.size();
      };
      parser.on_chunk_body(on_chunk);
      http::read(stream, buf, parser);
      std::fputs("\n", stdout);
      return kExitOk;
    }
    http::read(stream, buf, parser);
    const auto j = nlohmann::json::parse(parser.get().body(), nullptr, false);
    if (status != 200) {
      std::fprintf(stderr, "lightllm client: HTTP %d: %s\n", status,
                   (!j.is_discarded() && j.contains("message"))
                       ? j["message"].get<std::string>().c_str()
                       : parser.get().body().c_str());
      return status < 500 ? kExitBadInput : kExitFailure;
    }
    std::printf("%s\n", j["generated_text"][0].get<std::string>().c_str());
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lightllm client: %s: %s\n", o.url.c_str(), e.what());
    return kExitFailure;
  }
}

}  // namespace

void add_client_command(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("client", "Send a prompt to a running server and print the answer");
  static ClientOptions o;
  cmd->add_option("--url", o.url, "server URL")->capture_default_str();
  cmd->add_option("--text", o.text, "prompt text")->required();
  cmd->add_flag("--stream", o.stream, "print tokens as they arrive");
  cmd->add_option("--max-new-tokens", o.max_new_tokens, "tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", o.temperature, "sampling temperature; 0 = greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--api-key", o.api_key, "Bearer key, when the server requires one");
  cmd->callback([&exit_code] { exit_code = run_client(o); });
}

}  // namespace lightllm::cli
