// src/backend/cuda/stream.cpp — Stream and Event.
#include "backend/cuda/stream.h"

#include <utility>

#include "backend/cuda/cuda_check.h"

namespace lightllm::backend::cuda {

Stream::~Stream() {
  if (s_ != nullptr) cudaStreamDestroy(s_);
}
Stream::Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) cudaStreamDestroy(s_);
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

core::Result<Stream> Stream::create() {
  Stream s;
  LLM_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s.s_, cudaStreamNonBlocking));
  return s;
}

core::Status Stream::synchronize() const {
  return LLM_CUDA_CHECK(cudaStreamSynchronize(s_));
}

Event::~Event() {
  if (e_ != nullptr) cudaEventDestroy(e_);
}
Event::Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (e_ != nullptr) cudaEventDestroy(e_);
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

core::Result<Event> Event::create(bool timing) {
  Event e;
  LLM_CUDA_RETURN_IF_ERROR(
      cudaEventCreateWithFlags(&e.e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  return e;
}

core::Status Event::record(cudaStream_t stream) const {
  return LLM_CUDA_CHECK(cudaEventRecord(e_, stream));
}
core::Status Event::synchronize() const {
  return LLM_CUDA_CHECK(cudaEventSynchronize(e_));
}
core::Status Event::wait_on(cudaStream_t stream) const {
  return LLM_CUDA_CHECK(cudaStreamWaitEvent(stream, e_, 0));
}
core::Result<float> Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  LLM_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start.e_, e_));
  return ms;
}

}  // namespace lightllm::backend::cuda
