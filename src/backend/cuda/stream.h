// src/backend/cuda/stream.h — Stream and Event: owning RAII wrappers (move-only).
// A Stream is created non-blocking (it does not synchronize with the legacy default stream).
// Events are created with timing enabled unless asked otherwise; elapsed_ms() needs both
// events recorded and completed.
#pragma once

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::backend::cuda {

class Stream {
 public:
  Stream() = default;
  ~Stream();
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  static core::Result<Stream> create();
  cudaStream_t get() const { return s_; }
  core::Status synchronize() const;

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() = default;
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  static core::Result<Event> create(bool timing = true);
  cudaEvent_t get() const { return e_; }
  core::Status record(cudaStream_t stream) const;
  core::Status synchronize() const;
  // Makes `stream` wait for this event (no host blocking).
  core::Status wait_on(cudaStream_t stream) const;
  // Milliseconds from `start` to this event.
  core::Result<float> elapsed_ms_since(const Event& start) const;

 private:
  cudaEvent_t e_ = nullptr;
};

}  // namespace lightllm::backend::cuda
