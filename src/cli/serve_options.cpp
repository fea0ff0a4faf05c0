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
  EngineConfig& e = o.engine;
  server::ServerConfig& s = o.server;
  if (with_engine_flags) {
    cmd.add_option("--model,--model-dir", e.model_dir,
                   "HF model folder (config.json, *.safetensors, tokenizer); default: the bundled "
                   "model in <repo>/models/" +
                       std::string(kBundledModelName));
    cmd.add_option("--device", e.device, "cpu or cuda")
        ->check(CLI::IsMember({"cpu", "cuda"}))
        ->capture_default_str();
    cmd.add_option("--tp", e.tp, "tensor-parallel ranks (GPUs)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    cmd.add_option("--max-total-token-num", e.max_total_token_num,
                   "KV pool size in tokens; 0 = from free memory x --mem-fraction")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd.add_option("--mem-fraction", e.mem_fraction,
                   "share of free memory after weights for the KV pool")
        ->check(CLI::Range(0.01, 1.0))
        ->capture_default_str();
    cmd.add_option("--kv-cache-dtype", e.kv_cache_dtype,
                   "KV cache type: auto (model dtype), f32, bf16, int8")
        ->check(CLI::IsMember({"auto", "f32", "bf16", "int8"}))
        ->capture_default_str();
    cmd.add_option("--batch-max-tokens", e.batch_max_tokens,
                   "max tokens in one prefill step; 0 = auto")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd.add_option("--running-max-req-size", e.running_max_req_size, "max requests running at once")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd.add_option("--max-req-total-len", e.max_req_total_len,
                   "max prompt + output tokens per request; 0 = the model's context")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd.add_option("--router-token-ratio", e.router_token_ratio,
                   "router admission token ratio; 0 = plain future-token admission")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd.add_option("--router-max-new-token-len", e.router_max_new_token_len,
                   "output-length estimate floor used by admission")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd.add_option("--chunked-prefill-size", e.chunked_prefill_size,
                   "split prompts into chunks of this many tokens; 0 = off")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd.add_flag("--disable-prefix-cache", e.disable_prefix_cache,
                 "turn off the radix prefix cache");
    cmd.add_option("--tokenizer-threads", e.tokenizer_threads, "tokenizer pool threads")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd.add_option("--cpu-threads", e.cpu_threads, "CPU compute threads; 0 = all cores")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
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

std::string default_model_dir() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "models" / kBundledModelName);
    candidates.push_back(exe.parent_path() / "models" / kBundledModelName);
  }
#ifdef LIGHTLLM_SOURCE_MODELS_DIR
  candidates.push_back(fs::path(LIGHTLLM_SOURCE_MODELS_DIR) / kBundledModelName);
#endif
  for (const auto& c : candidates) {
    if (fs::is_directory(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return "";
}

}  // namespace lightllm::cli
