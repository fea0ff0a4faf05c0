// src/ops/cuda_sampling_ops.cpp — the CUDA side of ops::sample: packs the checked batch into
// one page-locked staging buffer, uploads it with one copy on the current stream into a per-thread
// device scratch (grown on demand, never shrunk) and launches kernels::cuda::sample. The upload
// is skipped when the scratch already holds the same bytes from the last upload on the same
// stream (a steady batch without penalties: greedy rows are the same every step), which saves
// a copy op between two decode steps (docs/PERFORMANCE.md run 22). Batches of plain greedy rows
// (no penalties, masks or logprobs) take the kernel's split arg max, with its own scratch.
// Built only with LIGHTLLM_CUDA.
#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "kernels/cuda/sampling.h"
#include "ops/cuda_context.h"
#include "ops/cuda_ops.h"

namespace lightllm::ops::cuda_impl {
namespace {

struct SampleScratch {
  backend::cuda::DeviceBuffer dev;  // [rows | pen_tokens | pen_counts | mask_tokens | pen_raw]
  // The split arg max's partials and per-row counts ([argmax_rows] u32, zero between launches).
  backend::cuda::DeviceBuffer argmax;  // [part_value | part_index | row_done]
  int64_t argmax_rows = 0;
  // Outgrown buffers, freed with the scratch: cudaFree waits for the whole device, which stalled
  // a serving step for milliseconds (docs/PERFORMANCE.md run 23); growth is geometric, so these
  // hold less than the live buffers do.
  std::vector<backend::cuda::DeviceBuffer> retired;
  UploadRing upload;                   // page-locked staging for the one upload
  std::vector<unsigned char> last;     // the bytes of the last upload into dev
  std::vector<unsigned char> packing;  // this call's bytes (reused: no allocation per step)
  cudaStream_t last_stream = nullptr;
};

SampleScratch& scratch() {
  thread_local SampleScratch s;
  return s;
}

size_t align256(size_t n) {
  return (n + 255) & ~size_t{255};
}

// Every row greedy without penalties or masks, and no logprobs: the split arg max can run.
bool plain_greedy(const kernels::SampleBatch& batch, bool logprobs) {
  if (logprobs) return false;
  for (const kernels::SampleRow& r : batch.rows)
    if (r.do_sample != 0 || r.pen_begin != r.pen_end || r.mask_begin != r.mask_end) return false;
  return true;
}

// The split arg max's scratch for n_rows rows: 1024 rows (1 MiB) at first, then powers of two;
// zeroed on `stream` when allocated.
Status reserve_argmax(SampleScratch& s, int64_t n_rows, cudaStream_t stream) {
  if (s.argmax_rows >= n_rows) return {};
  const auto rows =
      static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(n_rows, 1024))));
  const size_t parts = static_cast<size_t>(rows) * kernels::cuda::kArgmaxMaxSplits;
  if (s.argmax.size() > 0) s.retired.push_back(std::move(s.argmax));  // kernels may still use it
  s.argmax_rows = 0;
  LLM_ASSIGN_OR_RETURN(s.argmax, backend::cuda::DeviceBuffer::allocate(
                                     parts * 8 + static_cast<size_t>(rows) * sizeof(uint32_t)));
  LLM_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(s.argmax.data(), 0, s.argmax.size(), stream));
  s.argmax_rows = rows;
  return {};
}

}  // namespace

Status sample(Tensor& logits, const kernels::SampleBatch& batch, Tensor& out_ids,
              Tensor* out_logprobs, Tensor* out_ids_copy) {
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"logits", &logits},
                                {"out_ids", &out_ids},
                                {"out_logprobs", out_logprobs},
                                {"out_ids_copy", out_ids_copy}}) {
    if (t != nullptr && t->device() != core::Device::cuda)
      return core::invalid_argument("sample: {} ({}) is on the host but the op runs on CUDA", name,
                                    t->describe());
  }
  const int64_t n_rows = logits.dim(0);
  if (n_rows == 0) return {};
  SampleScratch& s = scratch();
  const cudaStream_t stream = cuda_detail::current_stream();
  int32_t* ids_copy = out_ids_copy != nullptr ? out_ids_copy->data<int32_t>() : nullptr;
  if (plain_greedy(batch, out_logprobs != nullptr)) {  // reads no row parameters: no upload
    LLM_RETURN_IF_ERROR(reserve_argmax(s, n_rows, stream));
    auto* parts = static_cast<unsigned char*>(s.argmax.data());
    const size_t n_parts = static_cast<size_t>(s.argmax_rows) * kernels::cuda::kArgmaxMaxSplits;
    return kernels::cuda::sample({.logits = logits.data<float>(),
                                  .n_rows = n_rows,
                                  .vocab = logits.dim(1),
                                  .out_ids = out_ids.data<int32_t>(),
                                  .out_ids_copy = ids_copy,
                                  .plain_greedy = true,
                                  .part_value = reinterpret_cast<float*>(parts),
                                  .part_index = reinterpret_cast<int32_t*>(parts + n_parts * 4),
                                  .row_done = reinterpret_cast<uint32_t*>(parts + n_parts * 8)},
                                 stream);
  }

  const size_t rows_bytes = batch.rows.size() * sizeof(kernels::SampleRow);
  const size_t pen_bytes = batch.pen_tokens.size() * sizeof(int32_t);
  const size_t mask_bytes = batch.mask_tokens.size() * sizeof(int32_t);
  const size_t off_pen_tokens = align256(rows_bytes);
  const size_t off_pen_counts = off_pen_tokens + align256(pen_bytes);
  const size_t off_mask = off_pen_counts + align256(pen_bytes);
  const size_t upload_bytes = off_mask + mask_bytes;
  const size_t off_pen_raw = align256(upload_bytes);
  const size_t total = off_pen_raw + align256(pen_bytes);

  if (s.dev.size() < total) {
    if (s.dev.size() > 0) s.retired.push_back(std::move(s.dev));  // kernels may still read it
    s.last.clear();
    LLM_ASSIGN_OR_RETURN(s.dev, backend::cuda::DeviceBuffer::allocate(total + total / 2));
  }
  std::vector<unsigned char>& packed = s.packing;
  packed.assign(upload_bytes, 0);
  std::memcpy(packed.data(), batch.rows.data(), rows_bytes);
  if (pen_bytes > 0) {
    std::memcpy(packed.data() + off_pen_tokens, batch.pen_tokens.data(), pen_bytes);
    std::memcpy(packed.data() + off_pen_counts, batch.pen_counts.data(), pen_bytes);
  }
  if (mask_bytes > 0) std::memcpy(packed.data() + off_mask, batch.mask_tokens.data(), mask_bytes);
  // Earlier kernels on this stream only read the uploaded part, so equal bytes are still there.
  if (packed != s.last || stream != s.last_stream) {
    // From page-locked memory (the runner queues this while the step's forward runs: the copy
    // must not wait for the device).
    LLM_ASSIGN_OR_RETURN(MappedTensor staging,
                         s.upload.begin(static_cast<int64_t>(upload_bytes), core::DType::i8));
    const Tensor& staged = staging.host;
    std::memcpy(staged.raw(), packed.data(), upload_bytes);
    LLM_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(s.dev.data(), staged.raw(), upload_bytes, cudaMemcpyHostToDevice, stream));
    LLM_RETURN_IF_ERROR(s.upload.end());
    std::swap(s.last, packed);
    s.last_stream = stream;
  }

  auto* base = static_cast<unsigned char*>(s.dev.data());
  return kernels::cuda::sample(
      {.logits = logits.data<float>(),
       .n_rows = n_rows,
       .vocab = logits.dim(1),
       .rows = reinterpret_cast<const kernels::SampleRow*>(base),
       .pen_tokens = reinterpret_cast<const int32_t*>(base + off_pen_tokens),
       .pen_counts = reinterpret_cast<const int32_t*>(base + off_pen_counts),
       .mask_tokens = reinterpret_cast<const int32_t*>(base + off_mask),
       .pen_raw = reinterpret_cast<float*>(base + off_pen_raw),
       .out_ids = out_ids.data<int32_t>(),
       .out_ids_copy = ids_copy,
       .out_logprobs = out_logprobs != nullptr ? out_logprobs->data<float>() : nullptr},
      stream);
}

}  // namespace lightllm::ops::cuda_impl
