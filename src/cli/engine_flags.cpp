// src/cli/engine_flags.cpp — see engine_flags.h.
#include "cli/engine_flags.h"

#include <filesystem>
#include <vector>

namespace lightllm::cli {

namespace fs = std::filesystem;

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

void add_engine_flags(CLI::App& cmd, EngineConfig& e) {
  cmd.add_option("--model,--model-dir", e.model_dir,
                 "HF model folder (config.json, *.safetensors, tokenizer); default: the bundled "
                 "model in <repo>/models/" +
                     std::string(kBundledModelName));
  cmd.add_option("--device", e.device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd.add_option("--tp", e.tp, "tensor-parallel ranks (GPUs over all nodes; needs --device cuda)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--nnodes", e.nnodes,
                 "hosts of the tensor-parallel group (--tp / --nnodes GPUs each)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--node-rank", e.node_rank,
                 "this host's index in the group; 0 serves, the others follow node 0")
      ->check(CLI::Range(0, 63))
      ->capture_default_str();
  cmd.add_option("--nccl-host", e.nccl_host, "node 0's address for the multi-node rendezvous")
      ->capture_default_str();
  cmd.add_option("--nccl-port", e.nccl_port, "node 0's TCP port for the multi-node rendezvous")
      ->check(CLI::Range(1, 65535))
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
  cmd.add_flag("--disable-prefix-cache", e.disable_prefix_cache, "turn off the radix prefix cache");
  cmd.add_option("--tokenizer-threads", e.tokenizer_threads, "tokenizer pool threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--cpu-threads", e.cpu_threads, "CPU compute threads; 0 = all cores")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--memory-check", e.memory_check,
                 "start-up dummy steps of the largest size beside the KV pool (shrinks the pool "
                 "on out-of-memory): auto (on for cuda), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd.add_option("--graph-max-batch-size", e.graph_max_batch_size,
                 "CUDA: decode steps of up to this many requests replay a CUDA graph")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd.add_flag("--disable-cuda-graph", e.disable_cuda_graph,
               "CUDA: run every decode step eagerly (no CUDA graphs)");
  cmd.add_flag("--disable-overlap", e.disable_overlap,
               "CUDA: start step N+1 only after step N's tokens reached the host (by default it "
               "is queued before, fed N's tokens on the GPU)");
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
