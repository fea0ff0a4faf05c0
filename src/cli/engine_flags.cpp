// src/cli/engine_flags.cpp — see engine_flags.h.
#include "cli/engine_flags.h"

namespace lightllm::cli {

std::string default_model_dir() { return LIGHTLLM_DEFAULT_MODEL_DIR; }

void add_engine_flags(CLI::App& cmd, EngineConfig& cfg) {
  cfg.model_dir = default_model_dir();
  cmd.add_option("--model,--model-dir", cfg.model_dir, "HF model folder")->capture_default_str();
  cmd.add_option("--device", cfg.device, "cpu or cuda")->capture_default_str();
  cmd.add_option("--tp", cfg.tp, "Tensor-parallel ranks")->capture_default_str();
  cmd.add_option("--max-total-token-num", cfg.max_total_token_num,
                 "KV pool size in tokens (0: from memory x --mem-fraction)")
      ->capture_default_str();
  cmd.add_option("--mem-fraction", cfg.mem_fraction,
                 "Share of free memory after the weights given to the KV pool")
      ->capture_default_str();
  cmd.add_option("--kv-cache-dtype", cfg.kv_cache_dtype, "auto, f32, bf16 or int8")
      ->capture_default_str();
  cmd.add_option("--batch-max-tokens", cfg.batch_max_tokens,
                 "Max prompt tokens prefilled in one step (0: auto)")
      ->capture_default_str();
  cmd.add_option("--running-max-req-size", cfg.running_max_req_size,
                 "Max requests running at once")
      ->capture_default_str();
  cmd.add_option("--max-req-total-len", cfg.max_req_total_len,
                 "Max prompt + output tokens per request (0: model context)")
      ->capture_default_str();
  cmd.add_option("--router-token-ratio", cfg.router_token_ratio,
                 "Pool share kept for growth of running requests")
      ->capture_default_str();
  cmd.add_option("--router-max-new-token-len", cfg.router_max_new_token_len,
                 "Output-length estimate used by admission")
      ->capture_default_str();
  cmd.add_option("--chunked-prefill-size", cfg.chunked_prefill_size,
                 "Split prompts into prefill chunks of this many tokens (0: off)")
      ->capture_default_str();
  cmd.add_flag("--disable-prefix-cache", cfg.disable_prefix_cache, "Do not reuse shared prefixes");
  cmd.add_option("--tokenizer-threads", cfg.tokenizer_threads, "Tokenizer threads")
      ->capture_default_str();
  cmd.add_option("--cpu-threads", cfg.cpu_threads, "CPU backend threads (0: all cores)")
      ->capture_default_str();
}

void add_sampling_flags(CLI::App& cmd, SamplingParams& p) {
  cmd.add_option("--max-new-tokens", p.max_new_tokens, "Tokens to generate")->capture_default_str();
  cmd.add_option("--min-new-tokens", p.min_new_tokens, "No EOS/stop before this many tokens")
      ->capture_default_str();
  cmd.add_flag("--do-sample", p.do_sample, "Sample instead of greedy decoding");
  cmd.add_option("--temperature", p.temperature, "Sampling temperature")->capture_default_str();
  cmd.add_option("--top-p", p.top_p, "Nucleus sampling mass")->capture_default_str();
  cmd.add_option("--top-k", p.top_k, "Top-k sampling (-1: off)")->capture_default_str();
  cmd.add_option("--repetition-penalty", p.repetition_penalty, "HF repetition penalty")
      ->capture_default_str();
  cmd.add_option("--presence-penalty", p.presence_penalty, "OpenAI presence penalty")
      ->capture_default_str();
  cmd.add_option("--frequency-penalty", p.frequency_penalty, "OpenAI frequency penalty")
      ->capture_default_str();
  cmd.add_option("--seed", p.seed, "Sampling seed");
  cmd.add_flag("--ignore-eos", p.ignore_eos, "Keep generating past EOS");
  cmd.add_option("--stop", p.stop_sequences, "Stop string (repeatable)");
}

}  // namespace lightllm::cli
