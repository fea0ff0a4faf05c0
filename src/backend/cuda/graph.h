// src/backend/cuda/graph.h — Graph: one captured and instantiated CUDA graph (move-only RAII
// over cudaGraphExec_t). capture() records everything `body` enqueues on `stream` (which must
// not be the legacy default stream) in thread-local capture mode, so a body that allocates,
// synchronizes or copies from pageable host memory on this thread fails the capture with a
// Status instead of corrupting it; the stream is always left out of capture mode. launch()
// replays the recorded work on a stream; the graph reads and writes exactly the device
// addresses it was captured with, so those buffers must outlive the Graph and keep their
// addresses.
#pragma once

#include <functional>

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::backend::cuda {

class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(Graph&& o) noexcept;
  Graph& operator=(Graph&& o) noexcept;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  static core::Result<Graph> capture(cudaStream_t stream,
                                     const std::function<core::Status()>& body);

  bool valid() const { return exec_ != nullptr; }
  size_t node_count() const { return nodes_; }
  core::Status launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t exec_ = nullptr;
  size_t nodes_ = 0;
};

// True while `stream` is being captured (ops use it to refuse work that cannot be captured).
bool is_capturing(cudaStream_t stream);

}  // namespace lightllm::backend::cuda
