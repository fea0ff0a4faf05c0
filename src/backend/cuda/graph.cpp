// src/backend/cuda/graph.cpp — Graph capture, instantiation and launch (see graph.h).
#include "backend/cuda/graph.h"

#include <utility>

#include "backend/cuda/cuda_check.h"

namespace lightllm::backend::cuda {

Graph::~Graph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
}
Graph::Graph(Graph&& o) noexcept
    : exec_(std::exchange(o.exec_, nullptr)), nodes_(std::exchange(o.nodes_, 0)) {}
Graph& Graph::operator=(Graph&& o) noexcept {
  if (this != &o) {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
    exec_ = std::exchange(o.exec_, nullptr);
    nodes_ = std::exchange(o.nodes_, 0);
  }
  return *this;
}

core::Result<Graph> Graph::capture(cudaStream_t stream, const std::function<core::Status()>& body) {
  if (stream == nullptr)
    return core::invalid_argument("CUDA graph capture needs a created stream, not the default one");
  LLM_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const core::Status body_status = body();
  cudaGraph_t graph = nullptr;
  // Always end the capture: it returns the stream to normal mode even when the body failed.
  const core::Status end_status = LLM_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  struct GraphGuard {
    cudaGraph_t g;
    ~GraphGuard() {
      if (g != nullptr) cudaGraphDestroy(g);
    }
  } guard{graph};
  if (!body_status.ok()) {
    cudaGetLastError();  // clear the (non-sticky) error an invalidated capture leaves behind
    return core::Status(body_status.code(),
                        "during CUDA graph capture: " + std::string(body_status.message()));
  }
  LLM_RETURN_IF_ERROR(end_status);
  if (graph == nullptr) return core::internal_error("CUDA graph capture produced no graph");
  Graph out;
  LLM_CUDA_RETURN_IF_ERROR(cudaGraphGetNodes(graph, nullptr, &out.nodes_));
  LLM_CUDA_RETURN_IF_ERROR(cudaGraphInstantiate(&out.exec_, graph, 0));
  return out;
}

core::Status Graph::launch(cudaStream_t stream) const {
  if (exec_ == nullptr) return core::internal_error("launching an empty CUDA graph");
  return LLM_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

bool is_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &st) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return st != cudaStreamCaptureStatusNone;
}

}  // namespace lightllm::backend::cuda
