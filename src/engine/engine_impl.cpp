// src/engine/engine_impl.cpp — engine start-up, submission, the tokenizer pool and the router
// thread (see engine_impl.h). The output thread lives in output_stage.cpp.
#include "engine/engine_impl.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "core/log.h"
#include "engine/runner/tp_config.h"
#include "engine/sampling/generation_defaults.h"
#include "kv/kv_sizing.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"
#include "models/model.h"
#include "ops/ops.h"

namespace lightllm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::eos: return "stop";  // OpenAI and LightLLM both say "stop" for EOS
    case FinishReason::abort: return "abort";
    case FinishReason::error: return "error";
  }
  return "none";
}

std::unique_ptr<Engine> Engine::create(const EngineConfig& config, std::string* error) {
  return engine::EngineImpl::create(config, error);
}

namespace engine {
namespace {

// Available memory (bytes) as the kernel reports it; 0 when unknown.
int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// "auto": the KV cache keeps the checkpoint's precision (f32 stays f32, 16-bit becomes bf16).
core::Result<kv::KvDType> kv_dtype_for(const std::string& name, core::DType weights) {
  if (name != "auto") return kv::parse_kv_dtype(name);
  return kv::KvDType{weights == core::DType::f32 ? core::DType::f32 : core::DType::bf16};
}

}  // namespace

std::unique_ptr<Engine> EngineImpl::create(const EngineConfig& config, std::string* error) {
  std::unique_ptr<EngineImpl> engine(new EngineImpl());
  core::Status st = engine->start(config);
  if (!st.ok()) {
    if (error) *error = st.message();
    engine->shutdown();
    return nullptr;
  }
  return engine;
}

core::Status EngineImpl::start(const EngineConfig& config) {
  // init() runs on the router thread: the ops' per-thread device state (CUDA stream, cuBLASLt
  // handle, plans and workspaces, sampling scratch) is then made by the memory check's dummy
  // steps on the thread that runs every step, so the check covers it. `config` is only read
  // until init_result is ready.
  std::promise<core::Status> initialized;
  std::future<core::Status> init_result = initialized.get_future();
  router_thread_ = std::thread([this, &config, done = std::move(initialized)]() mutable {
    core::Status st = init(config);
    const bool ok = st.ok();
    done.set_value(std::move(st));
    if (ok) router_loop();
  });
  if (core::Status st = init_result.get(); !st.ok()) {
    router_thread_.join();
    return st;
  }
  const int n_tok_threads = std::max(1, config_.tokenizer_threads);
  for (int i = 0; i < n_tok_threads; ++i)
    tokenizer_threads_.emplace_back([this] { tokenizer_loop(); });
  output_thread_ = std::thread([this] { output_loop(); });
  return {};
}

core::Status EngineImpl::init(const EngineConfig& config) {
  // OpenMP's thread count is per calling thread: the model loads and runs here, so set it here.
  if (config.cpu_threads > 0) omp_set_num_threads(config.cpu_threads);
  config_ = config;
  if (config.device != "cpu" && config.device != "cuda")
    return core::invalid_argument("--device {}: expected cpu or cuda", config.device);
  const bool on_cuda = config.device == "cuda";
  if (on_cuda && !ops::cuda_built())
    return core::unimplemented("--device cuda: this build has no CUDA backend (LIGHTLLM_CUDA=OFF)");
  LLM_RETURN_IF_ERROR(validate_tp_flags(config));
  if (config.node_rank != 0)
    return core::invalid_argument(
        "--node-rank {}: only node 0 runs the engine; the other nodes run run_tp_follower",
        config.node_rank);
  const core::Device device = on_cuda ? core::Device::cuda : core::Device::cpu;

  LLM_ASSIGN_OR_RETURN(loader::ModelFiles files, loader::open_model_folder(config.model_dir));
  // tp > 1: the ranks' shards live on their worker threads (tp_runner.h); `model` is rank 0's.
  std::unique_ptr<models::Model> single;
  std::optional<TpLeader> tp;
  if (config.tp > 1) {
    LLM_RETURN_IF_ERROR(validate_tp_model(files.config, config.tp));
    LLM_RETURN_IF_ERROR(validate_tp_devices(config, ops::cuda_device_count()));
    LLM_ASSIGN_OR_RETURN(TpLeader leader, start_tp_leader(config));
    tp = std::move(leader);
  } else {
    LLM_ASSIGN_OR_RETURN(single, models::load_model(config.model_dir, device));
  }
  const models::Model* model = single ? single.get() : &tp->group->model();
  const models::ModelShape& shape = model->shape();

  auto tok = tokenizer::Tokenizer::from_dir(config.model_dir);
  if (tok.ok()) {
    tokenizer_ = std::move(tok).value();
  } else if (tok.status().code() == core::StatusCode::not_found) {
    LLM_WARN("{}: no tokenizer ({}); only token-id prompts are accepted", config.model_dir,
             tok.status().message());
  } else {
    return tok.status();
  }

  if (tokenizer_ && tokenizer_->config().chat_template) {
    auto parsed = tokenizer::ChatTemplate::parse(*tokenizer_->config().chat_template);
    if (!parsed.ok())
      return parsed.status().with_context(config.model_dir +
                                          "/tokenizer_config.json chat_template");
    chat_template_ = std::move(parsed).value();
  }

  info_.name = std::filesystem::path(config.model_dir).filename().string();
  if (info_.name.empty())
    info_.name = std::filesystem::path(config.model_dir).parent_path().filename();
  info_.architecture = shape.architecture;
  info_.vocab_size = shape.vocab;
  info_.max_context = shape.max_context;
  info_.dtype = std::string(core::dtype_name(shape.weight_dtype));

  defaults_ = sampling::default_sampling_params(files.generation);

  for (int64_t id : files.config.eos_token_ids) eos_ids_.push_back(static_cast<int32_t>(id));
  for (int64_t id : files.generation.eos_token_ids) eos_ids_.push_back(static_cast<int32_t>(id));
  if (tokenizer_)
    eos_ids_.insert(eos_ids_.end(), tokenizer_->eos_ids().begin(), tokenizer_->eos_ids().end());
  std::sort(eos_ids_.begin(), eos_ids_.end());
  eos_ids_.erase(std::unique(eos_ids_.begin(), eos_ids_.end()), eos_ids_.end());

  max_req_total_len_ = config.max_req_total_len > 0 ? config.max_req_total_len : shape.max_context;
  if (max_req_total_len_ <= 0)
    return core::invalid_argument(
        "{}: config.json has no max_position_embeddings; pass "
        "--max-req-total-len",
        config.model_dir);

  // KV pool: an explicit size, or a share of the memory that is free now.
  // On CUDA the KV cache holds the activation dtype (the attention kernels read it directly)
  // or int8 with f32 scales (`--kv-cache-dtype int8`, dequantized inside the kernels).
  LLM_ASSIGN_OR_RETURN(
      kv::KvDType kv_dtype,
      on_cuda ? kv_dtype_for(config.kv_cache_dtype == "auto"
                                 ? std::string(core::dtype_name(model->activation_dtype()))
                                 : config.kv_cache_dtype,
                             model->activation_dtype())
              : kv_dtype_for(config.kv_cache_dtype, shape.weight_dtype));
  if (on_cuda && kv_dtype.elem != core::DType::i8 && kv_dtype.elem != model->activation_dtype())
    return core::invalid_argument(
        "--kv-cache-dtype {}: on CUDA the KV cache is int8 or the activation dtype {}",
        config.kv_cache_dtype, core::dtype_name(model->activation_dtype()));
  const kv::KvShape kv_shape{shape.n_layers, shape.n_kv_heads, shape.head_dim};
  LLM_ASSIGN_OR_RETURN(const int64_t per_token, kv::bytes_per_token(kv_shape, kv_dtype));
  info_.weight_bytes = model->weight_bytes();
  info_.decode_weight_bytes = model->step_weight_bytes(1);
  info_.kv_bytes_per_token = per_token;
  int64_t capacity = config.max_total_token_num;
  std::string bound = "--max-total-token-num";
  if (capacity <= 0 && on_cuda) {
    // After the weights are on the device: a share of what the device has free now (the rest
    // is left for activations, cuBLASLt workspaces and the CUDA context).
    int64_t free_b = 0, total_b = 0;
    LLM_RETURN_IF_ERROR(ops::cuda_mem_info(&free_b, &total_b));
    if (tp) {  // the least free memory of all ranks
      LLM_ASSIGN_OR_RETURN(free_b, tp_min_free_memory(*tp));
    }
    capacity = static_cast<int64_t>(config.mem_fraction * static_cast<double>(free_b)) / per_token;
    bound = fmt::format("--mem-fraction {} of {:.2f} GiB free device memory (of {:.2f} GiB)",
                        config.mem_fraction, static_cast<double>(free_b) / (1 << 30),
                        static_cast<double>(total_b) / (1 << 30));
  } else if (capacity <= 0) {
    const int64_t avail = available_memory_bytes();
    capacity = static_cast<int64_t>(config.mem_fraction * static_cast<double>(avail)) / per_token;
    bound = fmt::format("--mem-fraction {} of {:.1f} GiB available memory", config.mem_fraction,
                        static_cast<double>(avail) / (1 << 30));
    // Host memory is shared with everything else on the machine: never reserve more than the
    // running requests could ever hold (the prefix cache would otherwise grow into all of it).
    const int64_t most_needed = int64_t{config.running_max_req_size} * max_req_total_len_;
    if (most_needed < capacity) {
      capacity = most_needed;
      bound = fmt::format("--running-max-req-size {} x --max-req-total-len {}",
                          config.running_max_req_size, max_req_total_len_);
    }
  }
  if (capacity < max_req_total_len_)
    LLM_WARN("KV pool of {} tokens is smaller than --max-req-total-len {}", capacity,
             max_req_total_len_);
  if (capacity <= 0) return core::invalid_argument("KV pool size must be positive ({})", bound);
  LLM_INFO("model {} ({}, {} layers, {} weights, {:.1f} MiB)", info_.name, info_.architecture,
           shape.n_layers, info_.dtype, static_cast<double>(model->weight_bytes()) / (1 << 20));

  router::RouterConfig rc;
  rc.max_total_tokens = capacity;
  rc.running_max_req_size = config.running_max_req_size;
  rc.max_req_total_len = max_req_total_len_;
  rc.batch_max_tokens = config.batch_max_tokens;
  rc.chunked_prefill_size = config.chunked_prefill_size;
  rc.router_token_ratio = config.router_token_ratio;
  rc.router_max_new_token_len = config.router_max_new_token_len;
  rc.enable_prefix_cache = !config.disable_prefix_cache;
  rc.eos_token_ids = eos_ids_;
  rc.max_inflight_steps = config.max_inflight_steps > 0 ? config.max_inflight_steps
                          : on_cuda                     ? 2
                                                        : 1;
  if (rc.max_inflight_steps > 2)
    return core::invalid_argument("max_inflight_steps {}: at most 2 (plan one step ahead)",
                                  config.max_inflight_steps);
  // CUDA graphs (one GPU): one extra slot, never given to a request, takes the padding rows' K/V.
  const bool graphs =
      !tp && on_cuda && !config.disable_cuda_graph && config.graph_max_batch_size > 0;
  std::optional<PoolFit> fit;
  if (!tp) {
    LLM_ASSIGN_OR_RETURN(fit, allocate_pool(*single, rc, kv_dtype.elem, graphs));
    if (fit->capacity != capacity)
      bound += fmt::format(", shrunk by the memory check from {}", capacity);
    capacity = rc.max_total_tokens = fit->capacity;
  }
  LLM_INFO(
      "KV cache: {} tokens = {:.1f} requests of max length {}, of {} ({} bytes/token), "
      "bounded by {}",
      capacity, static_cast<double>(capacity) / static_cast<double>(max_req_total_len_),
      max_req_total_len_, core::dtype_name(kv_dtype.elem), per_token, bound);
  if (graphs)
    LLM_RETURN_IF_ERROR(single->set_cuda_graphs(
        {.max_batch = config.graph_max_batch_size, .max_kv_len = max_req_total_len_}));
  router_ = std::make_unique<router::Router>(rc);
  if (tp) {
    LLM_RETURN_IF_ERROR(start_tp_runner(*tp, capacity, kv_dtype.elem));
  } else {
    runner_ = std::make_unique<ModelRunner>(std::move(single), std::move(fit->kv),
                                            router_->req_to_token());
    runner_->set_overlap(!config.disable_overlap);
    // The largest step samples running_max_req_size rows: its buffers now, not mid-serving.
    if (core::Status st = runner_->reserve_sampling(rc.running_max_req_size); !st.ok())
      LLM_WARN("device sampling buffers for {} rows not reserved ({}); they grow on demand",
               rc.running_max_req_size, st.to_string());
    executor_ = runner_.get();
  }
  {
    std::lock_guard lock(stats_mu_);
    stats_.kv_total = capacity;
  }

  return {};
}

core::Result<PoolFit> EngineImpl::allocate_pool(models::Model& model,
                                                const router::RouterConfig& rc, core::DType kv_elem,
                                                bool scratch_slot) const {
  const router::RouterConfig resolved = router::resolve_router_config(rc);
  const models::ModelShape& shape = model.shape();
  const std::string& mode = config_.memory_check;
  if (mode != "auto" && mode != "on" && mode != "off")
    return core::invalid_argument("--memory-check {}: expected auto, on or off", mode);
  PoolRequest req{.n_layers = shape.n_layers,
                  .n_kv_heads = shape.n_kv_heads,
                  .head_dim = shape.head_dim,
                  .dtype = kv_elem,
                  .limits = {.batch_max_tokens = resolved.batch_max_tokens,
                             .running_max_req_size = resolved.running_max_req_size,
                             .max_req_total_len = resolved.max_req_total_len},
                  .check = mode == "on" || (mode == "auto" && model.device() == core::Device::cuda),
                  .scratch_slot = scratch_slot};
  return allocate_checked_pool(model, rc.max_total_tokens, req);
}

core::Status EngineImpl::start_tp_runner(TpLeader& tp, int64_t capacity, core::DType kv_dtype) {
  LLM_RETURN_IF_ERROR(tp_allocate_kv(tp, capacity, kv_dtype, router_->req_to_token()));
  tp_runner_ = std::make_unique<TpRunner>(std::move(tp.group), std::move(tp.followers),
                                          router_->req_to_token());
  executor_ = tp_runner_.get();
  LLM_INFO("tensor parallelism: {} ranks over {} nodes", config_.tp, config_.nnodes);
  return {};
}

EngineImpl::~EngineImpl() {
  shutdown();
}

void EngineImpl::shutdown() {
  if (stopping_.exchange(true)) return;
  tokenize_queue_.close();
  for (auto& t : tokenizer_threads_)
    if (t.joinable()) t.join();
  {  // everything still in flight ends with reason abort
    std::lock_guard lock(live_mu_);
    for (auto& [id, req] : live_)
      router_queue_.push({.kind = RouterCommand::Kind::abort, .id = id});
  }
  router_queue_.close();
  if (router_thread_.joinable()) router_thread_.join();
  output_queue_.close();
  if (output_thread_.joinable()) output_thread_.join();
}

uint64_t EngineImpl::submit(GenerateRequest request, StreamCallback on_event, std::string* error) {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return uint64_t{0};
  };
  if (stopping_) return fail("the engine is shutting down");
  if (auto bad = request.params.validate(info_.vocab_size)) return fail(*bad);
  if (request.params.best_of != request.params.n)
    return fail("best_of > n is not supported yet: use n alone");
  if (request.prompt_ids.empty() && request.prompt.empty()) return fail("the prompt is empty");
  for (int32_t id : request.prompt_ids)
    if (id < 0 || id >= info_.vocab_size)
      return fail(fmt::format("prompt token id {} is outside the vocabulary [0, {})", id,
                              info_.vocab_size));
  if (request.prompt_ids.empty() && !tokenizer_)
    return fail("this model folder has no tokenizer: send token ids instead of text");

  auto req = std::make_shared<Request>();
  req->id = next_request_id_++;
  req->input = std::move(request);
  req->on_event = std::move(on_event);
  req->completions = req->input.params.n;
  req->open_completions = req->completions;
  {
    std::lock_guard lock(live_mu_);
    live_[req->id] = req;
  }
  const uint64_t id = req->id;
  if (!tokenize_queue_.push(std::move(req))) {
    std::lock_guard lock(live_mu_);
    live_.erase(id);
    return fail("the engine is shutting down");
  }
  return id;
}

void EngineImpl::abort(uint64_t request_id) {
  router_queue_.push({.kind = RouterCommand::Kind::abort, .id = request_id});
}

void EngineImpl::tokenizer_loop() {
  while (auto item = tokenize_queue_.pop()) {
    std::shared_ptr<Request> req = std::move(*item);
    req->prompt_ids = req->input.prompt_ids.empty()
                          ? tokenizer_->encode(req->input.prompt, req->input.add_special_tokens)
                          : req->input.prompt_ids;
    const int64_t total =
        static_cast<int64_t>(req->prompt_ids.size()) + req->input.params.max_new_tokens;
    RouterCommand cmd{.kind = RouterCommand::Kind::submit, .request = req};
    if (req->prompt_ids.empty()) {
      cmd.kind = RouterCommand::Kind::reject;
      cmd.message = "the prompt is empty after tokenization";
    } else if (total > max_req_total_len_) {
      cmd.kind = RouterCommand::Kind::reject;
      cmd.message = fmt::format(
          "prompt ({} tokens) + max_new_tokens ({}) = {} exceeds the limit of {} tokens "
          "(--max-req-total-len / the model context)",
          req->prompt_ids.size(), req->input.params.max_new_tokens, total, max_req_total_len_);
    }
    router_queue_.push(std::move(cmd));
  }
}

void EngineImpl::router_loop() {
  using Clock = std::chrono::steady_clock;
  StepLoop loop(*router_, *executor_, [this](const core::Status& st) { fail_running(st); });
  for (;;) {
    // Take new commands; wait for one only when there is nothing to run.
    std::vector<RouterCommand> cmds = router_queue_.drain();
    if (cmds.empty() && !router_->has_work() && !loop.busy()) {
      auto cmd = router_queue_.pop();
      if (!cmd) break;  // closed and drained
      cmds.push_back(std::move(*cmd));
    }
    // Busy time only (the wait above is not counted): bookkeeping vs the model step.
    const Clock::time_point t0 = Clock::now();
    for (RouterCommand& cmd : cmds) handle_command(cmd);
    // Plan, start, finish and commit; step N+1 is planned (and on CUDA started) while step N
    // runs (StepLoop).
    const Clock::duration step_time = loop.turn();
    OutputBatch out;
    out.events = router_->take_events();
    for (const auto& ev : out.events) {
      auto open = group_open_.find(ev.group_id);
      if (!ev.finished || open == group_open_.end()) continue;
      if (--open->second == 0) {
        group_open_.erase(open);
        group_seqs_.erase(ev.group_id);
      }
    }
    const router::RouterStats rs = router_->stats();
    const Clock::duration busy = Clock::now() - t0;
    {
      std::lock_guard lock(stats_mu_);
      stats_.running = rs.running;
      stats_.waiting = rs.waiting;
      stats_.paused = rs.paused;
      stats_.kv_used = rs.kv_used - rs.kv_cached;
      stats_.kv_cached = rs.kv_cached;
      stats_.steps = rs.steps;
      stats_.pauses = rs.pauses;
      stats_.prefill_tokens = rs.prefill_tokens;
      stats_.decode_tokens = rs.decode_tokens;
      stats_.prefix_hit_tokens = rs.prefix_hit_tokens;
      stats_.router_seconds += std::chrono::duration<double>(busy - step_time).count();
      stats_.step_seconds += std::chrono::duration<double>(step_time).count();
      stats_.device_idle = loop.device_idle();
      if (runner_) {
        const models::CudaGraphStats graphs = runner_->model().cuda_graph_stats();
        stats_.cuda_graphs_captured = static_cast<uint64_t>(graphs.captured);
        stats_.cuda_graph_replays = static_cast<uint64_t>(graphs.replays);
      }
    }
    // After the stats: a client that sees a final event also sees its slots released.
    if (!out.events.empty()) output_queue_.push(std::move(out));
    if (!loop.busy() && router_queue_.closed() && router_->idle() && router_queue_.drain().empty())
      break;
  }
}

void EngineImpl::fail_running(const core::Status& st) {
  // A failed step is a bug or a broken model: end every request with the error rather than
  // spinning; the engine keeps accepting new ones.
  LLM_ERROR("step failed: {}", st.to_string());
  for (auto& [group, seqs] : group_seqs_) {
    std::shared_ptr<Request> req;
    {
      std::lock_guard lock(outputs_mu_);
      for (uint64_t s : seqs) {
        auto it = outputs_.find(s);
        if (it == outputs_.end()) continue;
        req = it->second.request;
        outputs_.erase(it);  // the router's abort events for it are then ignored
      }
    }
    for (uint64_t s : seqs) router_->abort(s);
    if (req) output_queue_.push({.failed = req, .error = "model step failed: " + st.message()});
  }
}

void EngineImpl::handle_command(RouterCommand& cmd) {
  using Kind = RouterCommand::Kind;
  if (cmd.kind == Kind::abort) {
    auto it = group_seqs_.find(cmd.id);
    if (it != group_seqs_.end()) {
      for (uint64_t s : it->second) router_->abort(s);
    } else {
      early_aborts_.push_back(cmd.id);  // still being tokenized
    }
    return;
  }
  if (cmd.kind == Kind::finish) {
    router_->finish(cmd.id, FinishReason::stop);
    return;
  }
  const std::shared_ptr<Request>& req = cmd.request;
  auto early = std::find(early_aborts_.begin(), early_aborts_.end(), req->id);
  if (early != early_aborts_.end()) {
    early_aborts_.erase(early);
    output_queue_.push({.failed = req, .error = ""});
    return;
  }
  if (cmd.kind == Kind::reject) {
    output_queue_.push({.failed = req, .error = cmd.message});
    return;
  }
  std::vector<uint64_t> seqs;
  for (int i = 0; i < req->completions; ++i) {
    const uint64_t seq_id = next_seq_id_++;
    {
      std::lock_guard lock(outputs_mu_);
      CompletionState& c = outputs_[seq_id];
      c.request = req;
      c.index = i;
      if (tokenizer_) {
        c.detok = std::make_unique<tokenizer::IncrementalDetokenizer>(
            *tokenizer_, req->input.params.skip_special_tokens, req->prompt_ids);
        c.stops = std::make_unique<tokenizer::StopMatcher>(req->input.params.stop_sequences);
      }
    }
    router::SequenceSpec spec{.seq_id = seq_id,
                              .group_id = req->id,
                              .index = i,
                              .group_size = req->completions,
                              .prompt = req->prompt_ids,
                              .params = req->input.params};
    core::Status st = router_->submit(std::move(spec));
    if (!st.ok()) {
      // Nothing of this request will be reported by the router: forget its outputs first.
      seqs.push_back(seq_id);
      {
        std::lock_guard lock(outputs_mu_);
        for (uint64_t s : seqs) outputs_.erase(s);
      }
      for (uint64_t s : seqs) router_->abort(s);
      output_queue_.push({.failed = req, .error = st.message()});
      return;
    }
    seqs.push_back(seq_id);
  }
  group_open_[req->id] = static_cast<int>(seqs.size());
  group_seqs_[req->id] = std::move(seqs);
}

EngineStats EngineImpl::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

std::vector<int32_t> EngineImpl::tokenize(const std::string& text, bool add_special_tokens) const {
  return tokenizer_ ? tokenizer_->encode(text, add_special_tokens) : std::vector<int32_t>{};
}

std::string EngineImpl::detokenize(const std::vector<int32_t>& ids, bool skip_special) const {
  return tokenizer_ ? tokenizer_->decode(ids, skip_special) : std::string();
}

}  // namespace engine
}  // namespace lightllm
