// src/ops/cuda_ops.cpp — CUDA dispatch of the ops (see cuda_ops.h; the projections are in
// cuda_linear_ops.cpp) and the per-thread CUDA context: current stream, the cuBLASLt GEMM
// (cuda_context.h), the decode-attention partials workspace and
// device copies of the rotary inv_freq tables. The first kStableRopeTables distinct tables get
// a device copy each that is never overwritten or freed, so CUDA graphs may capture their
// addresses; further tables (dynamic NTK: one per sequence length) share one buffer uploaded
// when the table changes. Under graph capture nothing here allocates, uploads or synchronizes:
// such a step fails with a Status instead (the graph code warms every shape up eagerly first).
// Built only with LIGHTLLM_CUDA.
#include "ops/cuda_ops.h"

#include <algorithm>
#include <memory>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/graph.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/kv_scatter.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/rotary.h"
#include "kernels/cuda/step_upload.h"
#include "ops/cuda_context.h"
#include "ops/op_checks.h"

namespace lightllm::ops {

namespace {

constexpr size_t kStableRopeTables = 8;

struct StableTable {
  std::vector<float> host;
  backend::cuda::DeviceBuffer device;
};

struct ThreadContext {
  cudaStream_t stream = nullptr;
  std::unique_ptr<kernels::cuda::GemmLt> gemm;
  backend::cuda::DeviceBuffer decode_ws;
  std::vector<StableTable> stable_tables;  // immutable once created
  backend::cuda::DeviceBuffer inv_freq;    // the shared table for the others
  std::vector<float> inv_freq_host;        // what inv_freq holds
};

// The calling thread's device (-1: not known yet, asked from CUDA on first use) and its
// op state per device: workspaces and the cuBLASLt handle live on the device they were made
// on, so a thread that switches devices must not reuse them. One thread per tensor-parallel
// rank keeps the single-GPU fast path: a thread_local read and a vector index.
thread_local int t_device = -1;

ThreadContext& ctx() {
  thread_local std::vector<std::unique_ptr<ThreadContext>> per_device;
  if (t_device < 0) {
    int d = 0;
    t_device = cudaGetDevice(&d) == cudaSuccess ? d : 0;
  }
  const auto i = static_cast<size_t>(t_device);
  if (i >= per_device.size()) per_device.resize(i + 1);
  if (!per_device[i]) per_device[i] = std::make_unique<ThreadContext>();
  return *per_device[i];
}

}  // namespace

namespace cuda_detail {
cudaStream_t current_stream() {
  return ctx().stream;
}
void set_current_stream(cudaStream_t s) {
  ctx().stream = s;
}
cudaError_t set_current_device(int device) {
  const cudaError_t err = cudaSetDevice(device);
  if (err == cudaSuccess) t_device = device;
  return err;
}
core::Result<kernels::cuda::GemmLt*> thread_gemm() {
  ThreadContext& c = ctx();
  if (!c.gemm) {
    LLM_ASSIGN_OR_RETURN(c.gemm, kernels::cuda::GemmLt::create());
  }
  return c.gemm.get();
}
}  // namespace cuda_detail

namespace cuda_impl {

using namespace detail;
using core::DType;

Status embedding(const Tensor& table, const Tensor& ids, Tensor& out) {
  constexpr std::string_view op = "embedding";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"table", table}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"ids", ids}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"ids", ids}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"out", out}, 2));
  LLM_RETURN_IF_ERROR(check_act(op, {"table", table}, out.dtype()));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 0, ids.dim(0), "n_tokens of ids"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 1, table.dim(1), "hidden of table"));
  LLM_RETURN_IF_ERROR(check_device(op, {{"table", table}, {"ids", ids}, {"out", out}}));
  return kernels::cuda::embedding({.dtype = out.dtype(),
                                   .ids = ids.data<int32_t>(),
                                   .table = table.raw(),
                                   .out = out.raw(),
                                   .n_tokens = ids.dim(0),
                                   .hidden = table.dim(1),
                                   .vocab_start = 0,
                                   .vocab_rows = table.dim(0)},
                                  ctx().stream);
}

Status upload_step(const StepUpload& u) {
  // Sizes were checked by ops::upload_step.
  LLM_RETURN_IF_ERROR(check_device(
      "upload_step",
      {{"src", u.src}, {"dst", u.dst}, {"dst_rows", u.dst_rows}, {"sampled", u.sampled}}));
  return kernels::cuda::upload_step({.src = u.src.data<int32_t>(),
                                     .dst = u.dst.data<int32_t>(),
                                     .n = u.dst.numel(),
                                     .dst_rows = u.rows > 0 ? u.dst_rows.data<int32_t>() : nullptr,
                                     .n_rows = u.rows,
                                     .src_stride = u.row_len,
                                     .dst_stride = u.rows > 0 ? u.dst_rows.dim(1) : 0,
                                     .n_ids = u.n_ids,
                                     .feed_at = u.feed_at,
                                     .n_feed = u.n_feed,
                                     .sampled = u.n_feed > 0 ? u.sampled.data<int32_t>() : nullptr},
                                    ctx().stream);
}

namespace {
Status check_norm(std::string_view op, const Tensor& x, const Tensor& weight, const Tensor* bias,
                  const Tensor& out) {
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"out", out}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"x", x}, {"out", out}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"weight", weight}, 1));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 0, x.dim(-1), "hidden of x"));
  for (const Arg& a : {Arg{"out", out}, Arg{"weight", weight}})
    LLM_RETURN_IF_ERROR(check_act(op, a, x.dtype()));
  if (bias != nullptr && bias->defined()) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"bias", *bias}, 1));
    LLM_RETURN_IF_ERROR(check_dim(op, {"bias", *bias}, 0, x.dim(-1), "hidden of x"));
    LLM_RETURN_IF_ERROR(check_act(op, {"bias", *bias}, x.dtype()));
  }
  return check_device(op, {{"x", x}, {"weight", weight}, {"out", out}});
}
}  // namespace

Status rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out) {
  LLM_RETURN_IF_ERROR(check_norm("rms_norm", x, weight, nullptr, out));
  const int64_t hidden = x.dim(-1);
  return kernels::cuda::rmsnorm({.dtype = x.dtype(),
                                 .x = x.raw(),
                                 .weight = weight.raw(),
                                 .out = out.raw(),
                                 .n_tokens = x.numel() / hidden,
                                 .hidden = hidden,
                                 .eps = eps},
                                ctx().stream);
}

Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    Tensor& out) {
  constexpr std::string_view op = "add_rms_norm";
  LLM_RETURN_IF_ERROR(check_norm(op, x, weight, nullptr, out));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"x", x}, {"residual", residual}));
  LLM_RETURN_IF_ERROR(check_act(op, {"residual", residual}, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"residual", residual}}));
  if (out.raw() == residual.raw() || x.raw() == residual.raw())
    return core::invalid_argument("add_rms_norm: out and x must not alias residual");
  const int64_t hidden = x.dim(-1);
  return kernels::cuda::add_rmsnorm({.dtype = x.dtype(),
                                     .x = x.raw(),
                                     .residual = residual.raw(),
                                     .weight = weight.raw(),
                                     .out = out.raw(),
                                     .n_tokens = x.numel() / hidden,
                                     .hidden = hidden,
                                     .eps = eps},
                                    ctx().stream);
}

Status layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Tensor& out) {
  LLM_RETURN_IF_ERROR(check_norm("layer_norm", x, weight, &bias, out));
  const int64_t hidden = x.dim(-1);
  return kernels::cuda::layernorm({.dtype = x.dtype(),
                                   .x = x.raw(),
                                   .weight = weight.raw(),
                                   .bias = bias.defined() ? bias.raw() : nullptr,
                                   .out = out.raw(),
                                   .n_tokens = x.numel() / hidden,
                                   .hidden = hidden,
                                   .eps = eps},
                                  ctx().stream);
}

Status head_layer_norm(Tensor& x, const Tensor& weight, float eps) {
  constexpr std::string_view op = "head_layer_norm";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"x", x}, 3));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"weight", weight}, 2));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 0, x.dim(1), "heads of x"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 1, x.dim(2), "head_dim of x"));
  LLM_RETURN_IF_ERROR(check_act(op, {"weight", weight}, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"x", x}, {"weight", weight}}));
  // Rows are the (token, head) pairs; row r takes weight row r % heads.
  return kernels::cuda::layernorm({.dtype = x.dtype(),
                                   .x = x.raw(),
                                   .weight = weight.raw(),
                                   .bias = nullptr,
                                   .out = x.raw(),
                                   .n_tokens = x.dim(0) * x.dim(1),
                                   .hidden = x.dim(2),
                                   .eps = eps,
                                   .weight_rows = x.dim(1)},
                                  ctx().stream);
}

Status add(Tensor& acc, const Tensor& x) {
  constexpr std::string_view op = "add";
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"acc", acc}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"acc", acc}, {"x", x}));
  LLM_RETURN_IF_ERROR(check_act(op, {"acc", acc}, acc.dtype()));
  LLM_RETURN_IF_ERROR(check_act(op, {"x", x}, acc.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"acc", acc}, {"x", x}}));
  return kernels::cuda::add_inplace(
      {.dtype = acc.dtype(), .acc = acc.raw(), .x = x.raw(), .n = acc.numel()}, ctx().stream);
}

Status gated(const Tensor& gate, const Tensor& up, bool silu, bool tanh_approx, Tensor& out) {
  const std::string_view op = silu ? "silu_mul" : "gelu_mul";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"gate", gate}, 2));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"gate", gate}, {"up", up}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"gate", gate}, {"out", out}));
  for (const Arg& a : {Arg{"up", up}, Arg{"out", out}})
    LLM_RETURN_IF_ERROR(check_act(op, a, gate.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"gate", gate}, {"up", up}, {"out", out}}));
  return kernels::cuda::gated_activation({.dtype = gate.dtype(),
                                          .in = gate.raw(),
                                          .up = up.raw(),
                                          .out = out.raw(),
                                          .n_tokens = gate.dim(0),
                                          .inter = gate.dim(1),
                                          .act = silu          ? kernels::cuda::GatedAct::silu
                                                 : tanh_approx ? kernels::cuda::GatedAct::gelu_tanh
                                                               : kernels::cuda::GatedAct::gelu_erf},
                                         ctx().stream);
}

Status gelu(Tensor& x, bool tanh_approx) {
  constexpr std::string_view op = "gelu";
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_act(op, {"x", x}, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"x", x}}));
  return kernels::cuda::activation(
      {.dtype = x.dtype(),
       .x = x.raw(),
       .out = x.raw(),
       .n = x.numel(),
       .act = tanh_approx ? kernels::cuda::GatedAct::gelu_tanh : kernels::cuda::GatedAct::gelu_erf},
      ctx().stream);
}

// The checked rotary kernel parameters of rope() (and of the fused launches, cuda_context.h),
// with the device copy of the inv_freq table.
core::Result<kernels::cuda::RotaryParams> rotary_params(Tensor& q, Tensor& k,
                                                        const Tensor& positions,
                                                        const std::vector<float>& inv_freq,
                                                        const RopeConfig& cfg) {
  constexpr std::string_view op = "rope";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"q", q}, 3));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"k", k}, 3));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"positions", positions}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"positions", positions}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_act(op, {"k", k}, q.dtype()));
  LLM_RETURN_IF_ERROR(check_dim(op, {"k", k}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"k", k}, 2, q.dim(2), "head_dim of q"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"positions", positions}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_device(op, {{"q", q}, {"k", k}, {"positions", positions}}));
  if (cfg.rotary_dim <= 0 || cfg.rotary_dim % 2 != 0 || cfg.rotary_dim > q.dim(2))
    return core::invalid_argument("rope: cfg.rotary_dim = {} must be even and in (0, {}]",
                                  cfg.rotary_dim, q.dim(2));
  if (static_cast<int64_t>(inv_freq.size()) != cfg.rotary_dim / 2)
    return core::invalid_argument("rope: inv_freq has {} entries, expected rotary_dim / 2 = {}",
                                  inv_freq.size(), cfg.rotary_dim / 2);
  ThreadContext& c = ctx();
  const float* table = nullptr;
  for (const StableTable& t : c.stable_tables)
    if (t.host == inv_freq) table = t.device.as<float>();
  if (table == nullptr) {
    if (backend::cuda::is_capturing(c.stream))
      return core::unimplemented(
          "rope: a rotary table not yet on the device during CUDA graph capture");
    const size_t bytes = inv_freq.size() * sizeof(float);
    if (c.stable_tables.size() < kStableRopeTables) {
      LLM_ASSIGN_OR_RETURN(backend::cuda::DeviceBuffer buf,
                           backend::cuda::DeviceBuffer::allocate(bytes));
      LLM_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(buf.data(), inv_freq.data(), bytes, cudaMemcpyHostToDevice, c.stream));
      c.stable_tables.push_back({inv_freq, std::move(buf)});
      table = c.stable_tables.back().device.as<float>();
    } else {
      if (c.inv_freq_host != inv_freq) {  // every layer shares one table: upload once
        if (c.inv_freq.size() < bytes) {
          LLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(c.stream));  // the old one may be in use
          LLM_ASSIGN_OR_RETURN(c.inv_freq, backend::cuda::DeviceBuffer::allocate(bytes));
        }
        LLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(c.inv_freq.data(), inv_freq.data(), bytes,
                                                 cudaMemcpyHostToDevice, c.stream));
        c.inv_freq_host = inv_freq;
      }
      table = c.inv_freq.as<float>();
    }
  }
  return kernels::cuda::RotaryParams{.dtype = q.dtype(),
                                     .q = q.raw(),
                                     .k = k.raw(),
                                     .positions = positions.data<int32_t>(),
                                     .inv_freq = table,
                                     .n_tokens = q.dim(0),
                                     .n_heads = static_cast<int>(q.dim(1)),
                                     .n_kv_heads = static_cast<int>(k.dim(1)),
                                     .head_dim = static_cast<int>(q.dim(2)),
                                     .rotary_dim = cfg.rotary_dim,
                                     .style = cfg.interleaved
                                                  ? kernels::cuda::RotaryStyle::interleaved
                                                  : kernels::cuda::RotaryStyle::rotate_half,
                                     .attention_factor = static_cast<float>(cfg.attention_factor)};
}

Status rope(Tensor& q, Tensor& k, const Tensor& positions, const std::vector<float>& inv_freq,
            const RopeConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::RotaryParams p,
                       rotary_params(q, k, positions, inv_freq, cfg));
  return kernels::cuda::rotary(p, ctx().stream);
}

Status logn_scale(Tensor& q, const Tensor& positions, int64_t seq_length) {
  constexpr std::string_view op = "logn_scale";
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"q", q}));
  LLM_RETURN_IF_ERROR(check_act(op, {"q", q}, q.dtype()));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"positions", positions}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"positions", positions}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"positions", positions}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_device(op, {{"q", q}, {"positions", positions}}));
  if (seq_length <= 1)
    return core::invalid_argument("logn_scale: seq_length = {} must be > 1", seq_length);
  const int64_t n = q.dim(0);
  if (n == 0) return {};
  return kernels::cuda::logn_scale({.dtype = q.dtype(),
                                    .q = q.raw(),
                                    .positions = positions.data<int32_t>(),
                                    .n_tokens = n,
                                    .row_len = q.numel() / n,
                                    .seq_length = seq_length},
                                   ctx().stream);
}

namespace {
Status check_cache(std::string_view op, const KvCacheView& c, DType act) {
  LLM_RETURN_IF_ERROR(check_tensor(op, {"cache.k", c.k}, 3));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"cache.v", c.v}, 3));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"cache.k", c.k}, {"cache.v", c.v}));
  if (c.k.dtype() == DType::i8) {
    if (c.v.dtype() != DType::i8)
      return core::invalid_argument("{}: cache.v has dtype {} but cache.k has i8", op,
                                    core::dtype_name(c.v.dtype()));
    for (const Arg& a : {Arg{"cache.k_scale", c.k_scale}, Arg{"cache.v_scale", c.v_scale}}) {
      LLM_RETURN_IF_ERROR(check_tensor(op, a, 2));
      LLM_RETURN_IF_ERROR(check_dtype(op, a, {DType::f32}));
      LLM_RETURN_IF_ERROR(check_dim(op, a, 0, c.k.dim(0), "n_slots of cache.k"));
      LLM_RETURN_IF_ERROR(check_dim(op, a, 1, c.k.dim(1), "n_kv_heads of cache.k"));
    }
    return check_device(op, {{"cache.k", c.k},
                             {"cache.v", c.v},
                             {"cache.k_scale", c.k_scale},
                             {"cache.v_scale", c.v_scale}});
  }
  LLM_RETURN_IF_ERROR(check_act(op, {"cache.k", c.k}, act));
  LLM_RETURN_IF_ERROR(check_act(op, {"cache.v", c.v}, act));
  return check_device(op, {{"cache.k", c.k}, {"cache.v", c.v}});
}

}  // namespace

// The checked KV-store kernel parameters of store_kv() (and of the fused launches).
core::Result<kernels::cuda::KvScatterParams> kv_scatter_params(const Tensor& k, const Tensor& v,
                                                               const Tensor& slots,
                                                               KvCacheView& cache) {
  constexpr std::string_view op = "store_kv";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"k", k}, 3));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"k", k}, {"v", v}));
  LLM_RETURN_IF_ERROR(check_act(op, {"v", v}, k.dtype()));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"slots", slots}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"slots", slots}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"slots", slots}, 0, k.dim(0), "n_tokens of k"));
  LLM_RETURN_IF_ERROR(check_cache(op, cache, k.dtype()));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 1, k.dim(1), "n_kv_heads of k"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 2, k.dim(2), "head_dim of k"));
  LLM_RETURN_IF_ERROR(check_device(op, {{"k", k}, {"v", v}, {"slots", slots}}));
  const bool int8 = cache.k.dtype() == DType::i8;
  return kernels::cuda::KvScatterParams{.dtype = k.dtype(),
                                        .k = k.raw(),
                                        .v = v.raw(),
                                        .slots = slots.data<int32_t>(),
                                        .k_cache = cache.k.raw(),
                                        .v_cache = cache.v.raw(),
                                        .k_scale = int8 ? cache.k_scale.data<float>() : nullptr,
                                        .v_scale = int8 ? cache.v_scale.data<float>() : nullptr,
                                        .n_tokens = k.dim(0),
                                        .n_kv_heads = static_cast<int>(k.dim(1)),
                                        .head_dim = static_cast<int>(k.dim(2))};
}

Status store_kv(const Tensor& k, const Tensor& v, const Tensor& slots, KvCacheView& cache) {
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::KvScatterParams p,
                       kv_scatter_params(k, v, slots, cache));
  return cache.k.dtype() == DType::i8 ? kernels::cuda::kv_scatter_int8(p, ctx().stream)
                                      : kernels::cuda::kv_scatter(p, ctx().stream);
}

Status rope_store_kv(const RopeStoreKv& a) {
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::RotaryParams rp,
                       rotary_params(a.q, a.k, a.positions, a.inv_freq, a.cfg));
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::KvScatterParams kp,
                       kv_scatter_params(a.k, a.v, a.slots, a.cache));
  return kernels::cuda::rope_kv_scatter(rp, kp, a.cache.k.dtype() == DType::i8, ctx().stream);
}

namespace {

// What both attention kernels read, checked by attention() below.
struct AttentionKernelArgs {
  const Tensor& q;  // [n_tokens, n_heads, head_dim]
  const KvCacheView& cache;
  const AttentionMeta& meta;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0;
  const float* k_scale = nullptr;  // [n_slots, n_kv_heads] when the cache is int8
  const float* v_scale = nullptr;
  Tensor& out;  // [n_tokens, n_heads, head_dim]
};

// Split-K decode over requests [0, n_reqs), each with one query row (row r = request r).
// max_kv_len: a host-known bound of their kv lengths.
Status run_decode_attention(const AttentionKernelArgs& a, int32_t n_reqs, int32_t max_kv_len) {
  const AttentionMeta::Device& d = a.meta.device;
  kernels::cuda::DecodeAttentionParams p{.dtype = a.q.dtype(),
                                         .kv_int8 = a.k_scale != nullptr,
                                         .q = a.q.raw(),
                                         .k_cache = a.cache.k.raw(),
                                         .v_cache = a.cache.v.raw(),
                                         .k_scale = a.k_scale,
                                         .v_scale = a.v_scale,
                                         .req_to_token = d.req_to_token,
                                         .req_row = d.req_row,
                                         .kv_len = d.kv_len,
                                         .out = a.out.raw(),
                                         .n_reqs = n_reqs,
                                         .n_heads = a.n_heads,
                                         .n_kv_heads = a.n_kv_heads,
                                         .head_dim = a.head_dim,
                                         .req_to_token_stride = d.req_to_token_stride,
                                         .max_kv_len = max_kv_len,
                                         .softmax_scale = a.meta.scale,
                                         .alibi_slopes = a.meta.alibi_slopes};
  ThreadContext& c = ctx();
  if (d.workspace != nullptr) {  // the caller's (a CUDA graph's) scratch
    p.workspace = d.workspace;
    p.workspace_bytes = d.workspace_bytes;
    return kernels::cuda::decode_attention(p, c.stream);
  }
  const size_t need = kernels::cuda::decode_attention_workspace_bytes(p);
  if (c.decode_ws.size() < need) {
    if (backend::cuda::is_capturing(c.stream))
      return core::unimplemented(
          "attention: CUDA graph capture needs AttentionMeta::Device::workspace");
    LLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(c.stream));  // the old one may be in use
    c.decode_ws.reset();
    LLM_ASSIGN_OR_RETURN(c.decode_ws, backend::cuda::DeviceBuffer::allocate(need * 2));
  }
  p.workspace = c.decode_ws.data();
  p.workspace_bytes = c.decode_ws.size();
  return kernels::cuda::decode_attention(p, c.stream);
}

// The FlashAttention-2 prefill kernel over requests [first, n_reqs) (their q_start entries
// are absolute rows of q, so only the per-request arrays are offset).
Status run_prefill_attention(const AttentionKernelArgs& a, int32_t first) {
  const AttentionMeta::Device& d = a.meta.device;
  return kernels::cuda::prefill_attention({.dtype = a.q.dtype(),
                                           .kv_int8 = a.k_scale != nullptr,
                                           .q = a.q.raw(),
                                           .k_cache = a.cache.k.raw(),
                                           .v_cache = a.cache.v.raw(),
                                           .k_scale = a.k_scale,
                                           .v_scale = a.v_scale,
                                           .req_to_token = d.req_to_token,
                                           .req_row = d.req_row + first,
                                           .q_start = d.q_start + first,
                                           .kv_len = d.kv_len + first,
                                           .out = a.out.raw(),
                                           .n_reqs = a.meta.n_reqs - first,
                                           .n_heads = a.n_heads,
                                           .n_kv_heads = a.n_kv_heads,
                                           .head_dim = a.head_dim,
                                           .max_q_len = d.max_q_len,
                                           .req_to_token_stride = d.req_to_token_stride,
                                           .softmax_scale = a.meta.scale,
                                           .causal = true,
                                           .sliding_window = a.meta.sliding_window,
                                           .alibi_slopes = a.meta.alibi_slopes},
                                          ctx().stream);
}

}  // namespace

Status attention(const Tensor& q, const KvCacheView& cache, const AttentionMeta& meta,
                 Tensor& out) {
  constexpr std::string_view op = "attention";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"q", q}, 3));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"q", q}, {"out", out}));
  LLM_RETURN_IF_ERROR(check_act(op, {"out", out}, q.dtype()));
  LLM_RETURN_IF_ERROR(check_cache(op, cache, q.dtype()));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 2, q.dim(2), "head_dim of q"));
  LLM_RETURN_IF_ERROR(check_device(op, {{"q", q}, {"out", out}}));
  const int n_heads = static_cast<int>(q.dim(1)), n_kv_heads = static_cast<int>(cache.k.dim(1));
  if (n_kv_heads == 0 || n_heads % n_kv_heads != 0)
    return core::invalid_argument("attention: n_heads = {} is not a multiple of n_kv_heads = {}",
                                  n_heads, n_kv_heads);
  if (out.raw() == q.raw()) return core::invalid_argument("attention: out must not alias q");
  // ALiBi slopes are read by the kernels: device memory. Not queried under graph capture (the
  // graph code runs every shape eagerly first, with the same pointer).
  if (meta.alibi_slopes != nullptr && !backend::cuda::is_capturing(ctx().stream)) {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, meta.alibi_slopes) != cudaSuccess ||
        (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)) {
      (void)cudaGetLastError();  // clear a failed query
      return core::invalid_argument(
          "attention: meta.alibi_slopes must point to device memory on CUDA ([n_heads] f32)");
    }
  }
  const AttentionMeta::Device& d = meta.device;
  if (meta.n_reqs > 0 && (!d.q_start || !d.kv_len || !d.req_row || !d.req_to_token))
    return core::invalid_argument("attention: meta.device arrays are not staged on the device");
  if (!(meta.scale > 0.0f))
    return core::invalid_argument("attention: meta.scale = {} must be > 0", meta.scale);
  if (meta.n_reqs == 0) return {};
  const int head_dim = static_cast<int>(q.dim(2));
  const bool int8 = cache.k.dtype() == DType::i8;
  const AttentionKernelArgs args{.q = q,
                                 .cache = cache,
                                 .meta = meta,
                                 .n_heads = n_heads,
                                 .n_kv_heads = n_kv_heads,
                                 .head_dim = head_dim,
                                 .k_scale = int8 ? cache.k_scale.data<float>() : nullptr,
                                 .v_scale = int8 ? cache.v_scale.data<float>() : nullptr,
                                 .out = out};
  if (meta.sliding_window != 0) return run_prefill_attention(args, 0);
  if (d.max_q_len == 1 && q.dim(0) == meta.n_reqs)
    return run_decode_attention(args, meta.n_reqs, d.max_kv_len);
  // A mixed step: the router puts decode rows (q_len 1) first. They go to the split-K decode
  // kernel (GQA-shared K/V reads); the prefill kernel would give each of them a whole
  // 128-row tile per query head. The rest (prefill chunks) go to the prefill kernel.
  int32_t n_decode = 0, decode_max_kv = 0;
  while (n_decode < meta.n_reqs && meta.q_start[n_decode + 1] - meta.q_start[n_decode] == 1) {
    decode_max_kv = std::max(decode_max_kv, meta.kv_len[n_decode]);
    ++n_decode;
  }
  if (n_decode > 0) LLM_RETURN_IF_ERROR(run_decode_attention(args, n_decode, decode_max_kv));
  if (n_decode == meta.n_reqs) return {};
  return run_prefill_attention(args, n_decode);
}

}  // namespace cuda_impl

size_t decode_attention_workspace_bytes(int n_reqs, int n_heads, int n_kv_heads, int head_dim,
                                        int max_kv_len) {
  kernels::cuda::DecodeAttentionParams p;
  p.n_reqs = n_reqs;
  p.n_heads = n_heads;
  p.n_kv_heads = n_kv_heads;
  p.head_dim = head_dim;
  p.max_kv_len = max_kv_len;
  return kernels::cuda::decode_attention_workspace_bytes(p);
}

}  // namespace lightllm::ops
