// src/ops/device_ops.cpp — tensor placement: device allocation, host<->device copies with
// float conversion, the current CUDA stream and device memory info (see ops.h). Without
// LIGHTLLM_CUDA every CUDA request is an unimplemented error and CPU requests still work.
#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "ops/ops.h"

#if LIGHTLLM_CUDA
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "ops/cuda_context.h"
#endif

namespace lightllm::ops {

using core::Device;
using core::DType;

namespace {

bool is_float(DType d) {
  return d == DType::f32 || d == DType::bf16 || d == DType::f16;
}

float load_f(const void* p, DType d, int64_t i) {
  switch (d) {
    case DType::bf16: return core::bf16_to_f32(static_cast<const core::bf16*>(p)[i]);
    case DType::f16: return core::f16_to_f32(static_cast<const core::f16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// A host copy of host tensor `t` in `dtype` (t itself when the dtype already matches).
core::Result<Tensor> host_convert(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  if (!is_float(t.dtype()) || !is_float(dtype))
    return core::invalid_argument("to_device: cannot convert {} to {}", t.describe(),
                                  core::dtype_name(dtype));
  Tensor out = Tensor::empty(t.shape(), dtype);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float f = load_f(t.raw(), t.dtype(), i);
    if (dtype == DType::f32)
      out.data<float>()[i] = f;
    else if (dtype == DType::bf16)
      out.data<core::bf16>()[i] = core::f32_to_bf16(f);
    else
      out.data<core::f16>()[i] = core::f32_to_f16(f);
  }
  return out;
}

}  // namespace

StreamMark::StreamMark(Timing timing) : timing_(timing) {}

StreamMark::StreamMark(StreamMark&& o) noexcept
    : timing_(o.timing_),
      event_(std::exchange(o.event_, nullptr)),
      recorded_(std::exchange(o.recorded_, false)) {}

StreamMark& StreamMark::operator=(StreamMark&& o) noexcept {
  if (this != &o) {
    StreamMark old(std::move(*this));
    timing_ = o.timing_;
    event_ = std::exchange(o.event_, nullptr);
    recorded_ = std::exchange(o.recorded_, false);
  }
  return *this;
}

core::Result<MappedTensor> UploadRing::begin(int64_t n, DType dtype) {
  Buffer& b = buffers_[static_cast<size_t>(turn_)];
  LLM_RETURN_IF_ERROR(b.read.wait());
  const int64_t bytes = n * static_cast<int64_t>(core::dtype_size(dtype));
  if (!b.mem.host.defined() || b.mem.host.numel() < bytes) {
    // Powers of two from 64 KiB: a step's upload grows by a few bytes per decode step (its
    // req_to_token rows follow the longest context), and freeing page-locked memory may wait
    // for the device, so the ring reallocates a handful of times, not every other step.
    const uint64_t size = std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(bytes, 1 << 16)));
    if (b.mem.host.defined()) retired_.push_back(std::exchange(b.mem, MappedTensor{}));
    LLM_ASSIGN_OR_RETURN(b.mem, empty_mapped({static_cast<int64_t>(size)}, DType::i8));
  }
  // Valid until the second begin() after this one.
  return MappedTensor{.host = Tensor::view(b.mem.host.raw(), {n}, dtype, Device::cpu),
                      .device = Tensor::view(b.mem.device.raw(), {n}, dtype, Device::cuda)};
}

Status UploadRing::end() {
  LLM_RETURN_IF_ERROR(buffers_[static_cast<size_t>(turn_)].read.record());
  turn_ = 1 - turn_;
  return {};
}

#if LIGHTLLM_CUDA

bool cuda_built() {
  return true;
}

void set_cuda_stream(void* stream) {
  cuda_detail::set_current_stream(static_cast<cudaStream_t>(stream));
}

void* cuda_stream() {
  return cuda_detail::current_stream();
}

Status set_cuda_device(int device) {
  return LLM_CUDA_CHECK(cuda_detail::set_current_device(device));
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

Status cuda_synchronize() {
  return LLM_CUDA_CHECK(cudaStreamSynchronize(cuda_detail::current_stream()));
}

core::Result<std::string> cuda_device_name() {
  int dev = 0;
  LLM_RETURN_IF_ERROR(LLM_CUDA_CHECK(cudaGetDevice(&dev)));
  LLM_ASSIGN_OR_RETURN(backend::cuda::DeviceInfo info, backend::cuda::device_info(dev));
  return info.name;
}

core::Result<double> cuda_copy_bandwidth(int64_t bytes, int repeats) {
  if (bytes <= 0) return core::invalid_argument("cuda_copy_bandwidth: {} bytes", bytes);
  return backend::cuda::copy_bandwidth(static_cast<size_t>(bytes), repeats);
}

uint64_t device_alloc_failures() {
  return backend::cuda::allocation_failures();
}

Status cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes) {
  size_t f = 0, t = 0;
  LLM_RETURN_IF_ERROR(backend::cuda::mem_info(&f, &t));
  *free_bytes = static_cast<int64_t>(f);
  *total_bytes = static_cast<int64_t>(t);
  return {};
}

core::Result<Tensor> empty_pinned(const core::Shape& shape, DType dtype) {
  const size_t bytes =
      std::max<size_t>(static_cast<size_t>(shape.numel()) * core::dtype_size(dtype), 1);
  void* p = nullptr;
  LLM_CUDA_RETURN_IF_ERROR(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  std::memset(p, 0, bytes);
  std::shared_ptr<void> owner(p, [](void* q) { cudaFreeHost(q); });
  return Tensor::view(p, shape, dtype, Device::cpu, owner);
}

core::Result<MappedTensor> empty_mapped(const core::Shape& shape, DType dtype) {
  const size_t bytes =
      std::max<size_t>(static_cast<size_t>(shape.numel()) * core::dtype_size(dtype), 1);
  void* p = nullptr;
  LLM_CUDA_RETURN_IF_ERROR(cudaHostAlloc(&p, bytes, cudaHostAllocMapped));
  std::shared_ptr<void> owner(p, [](void* q) { cudaFreeHost(q); });
  std::memset(p, 0, bytes);
  void* d = nullptr;
  LLM_CUDA_RETURN_IF_ERROR(cudaHostGetDevicePointer(&d, p, 0));
  return MappedTensor{.host = Tensor::view(p, shape, dtype, Device::cpu, owner),
                      .device = Tensor::view(d, shape, dtype, Device::cuda, owner)};
}

core::Result<Tensor> empty_on(Device device, const core::Shape& shape, DType dtype) {
  if (device == Device::cpu) return Tensor::empty(shape, dtype);
  const size_t bytes = static_cast<size_t>(shape.numel()) * core::dtype_size(dtype);
  LLM_ASSIGN_OR_RETURN(backend::cuda::DeviceBuffer buf,
                       backend::cuda::DeviceBuffer::allocate(std::max<size_t>(bytes, 1)));
  LLM_RETURN_IF_ERROR(buf.memset_zero());
  auto owner = std::make_shared<backend::cuda::DeviceBuffer>(std::move(buf));
  return Tensor::view(owner->data(), shape, dtype, Device::cuda, owner);
}

core::Result<Tensor> to_device(const Tensor& t, Device device, DType dtype) {
  if (!t.is_contiguous())
    return core::invalid_argument("to_device: {} is not contiguous", t.describe());
  Tensor host = t;
  if (t.device() == Device::cuda) {
    if (device == Device::cuda && t.dtype() == dtype) return t;
    if (!is_float(t.dtype()))
      return core::unimplemented("to_device: copying {} back to the host", t.describe());
    host = Tensor::empty(t.shape(), DType::f32);
    LLM_RETURN_IF_ERROR(copy_to_host_f32(t, host));
  }
  LLM_ASSIGN_OR_RETURN(Tensor conv, host_convert(host, dtype));
  if (device == Device::cpu) return conv;
  LLM_ASSIGN_OR_RETURN(Tensor out, empty_on(Device::cuda, t.shape(), dtype));
  LLM_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(out.raw(), conv.raw(), conv.nbytes(), cudaMemcpyHostToDevice));
  return out;
}

Status copy_to_host_f32(const Tensor& src, Tensor& dst) {
  if (dst.device() != Device::cpu || dst.dtype() != DType::f32 || src.numel() != dst.numel() ||
      !is_float(src.dtype()) || !src.is_contiguous() || !dst.is_contiguous())
    return core::invalid_argument("copy_to_host_f32: {} -> {}", src.describe(), dst.describe());
  if (src.device() == Device::cpu) {
    for (int64_t i = 0; i < src.numel(); ++i)
      dst.data<float>()[i] = load_f(src.raw(), src.dtype(), i);
    return {};
  }
  const cudaStream_t s = cuda_detail::current_stream();
  if (src.dtype() == DType::f32) {
    LLM_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToHost, s));
    return LLM_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  std::vector<uint16_t> bits(static_cast<size_t>(src.numel()));
  LLM_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(bits.data(), src.raw(), src.nbytes(), cudaMemcpyDeviceToHost, s));
  LLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s));
  for (int64_t i = 0; i < src.numel(); ++i)
    dst.data<float>()[i] = load_f(bits.data(), src.dtype(), i);
  return {};
}

Status copy_to_host_async(const Tensor& src, Tensor& dst) {
  if (dst.device() != Device::cpu || src.dtype() != dst.dtype() || src.numel() != dst.numel() ||
      !src.is_contiguous() || !dst.is_contiguous())
    return core::invalid_argument("copy_to_host: {} -> {}", src.describe(), dst.describe());
  if (src.numel() == 0) return {};
  if (src.device() == Device::cpu) {
    std::memcpy(dst.raw(), src.raw(), src.nbytes());
    return {};
  }
  return LLM_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToHost,
                                        cuda_detail::current_stream()));
}

Status copy_to_host(const Tensor& src, Tensor& dst) {
  LLM_RETURN_IF_ERROR(copy_to_host_async(src, dst));
  if (src.device() == Device::cpu || src.numel() == 0) return {};
  return cuda_synchronize();
}

Status copy_to_device(const Tensor& src, Tensor& dst) {
  if (src.device() != Device::cpu || dst.device() != Device::cuda || src.dtype() != dst.dtype() ||
      src.numel() != dst.numel() || !src.is_contiguous() || !dst.is_contiguous())
    return core::invalid_argument("copy_to_device: {} -> {}", src.describe(), dst.describe());
  if (src.numel() == 0) return {};
  // From pageable memory the copy is staged before cudaMemcpyAsync returns, so the caller
  // may reuse `src` at once.
  return LLM_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyHostToDevice,
                                        cuda_detail::current_stream()));
}

StreamMark::~StreamMark() {
  if (event_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

namespace {

// The calling thread's side stream on its current device (StreamMark::record_after), created on
// first use and destroyed with the thread.
core::Result<cudaStream_t> side_stream() {
  struct Streams {
    std::vector<cudaStream_t> by_device;
    ~Streams() {
      for (cudaStream_t s : by_device)
        if (s != nullptr) cudaStreamDestroy(s);
    }
  };
  thread_local Streams streams;
  int dev = 0;
  LLM_CUDA_RETURN_IF_ERROR(cudaGetDevice(&dev));
  if (streams.by_device.size() <= static_cast<size_t>(dev))
    streams.by_device.resize(static_cast<size_t>(dev) + 1, nullptr);
  cudaStream_t& s = streams.by_device[static_cast<size_t>(dev)];
  if (s == nullptr) LLM_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

}  // namespace

Status StreamMark::record_on(void* stream) {
  if (event_ == nullptr) {
    cudaEvent_t e = nullptr;
    LLM_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(
        &e, timing_ == Timing::on ? cudaEventDefault : cudaEventDisableTiming));
    event_ = e;
  }
  LLM_CUDA_RETURN_IF_ERROR(
      cudaEventRecord(static_cast<cudaEvent_t>(event_), static_cast<cudaStream_t>(stream)));
  recorded_ = true;
  return {};
}

Status StreamMark::record() {
  return record_on(cuda_detail::current_stream());
}

Status StreamMark::record_after(const StreamMark& on) {
  if (!on.recorded_) return core::internal_error("StreamMark: record_after an unrecorded mark");
  LLM_ASSIGN_OR_RETURN(cudaStream_t side, side_stream());
  LLM_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side, static_cast<cudaEvent_t>(on.event_), 0));
  return record_on(side);
}

Status StreamMark::wait() const {
  if (!recorded_) return {};
  return LLM_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
}

bool StreamMark::passed() const {
  if (!recorded_) return false;
  const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event_));
  if (e == cudaSuccess) return true;
  if (e != cudaErrorNotReady) cudaGetLastError();  // an error surfaces at the next wait()
  return false;
}

core::Result<float> StreamMark::elapsed_ms_since(const StreamMark& earlier) const {
  if (!recorded_ || !earlier.recorded_)
    return core::internal_error("StreamMark: elapsed time between unrecorded marks");
  if (timing_ != Timing::on || earlier.timing_ != Timing::on)
    return core::internal_error("StreamMark: elapsed time between untimed marks");
  float ms = 0.0f;
  LLM_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(earlier.event_),
                                                static_cast<cudaEvent_t>(event_)));
  return ms;
}

#else  // no CUDA backend in this build

bool cuda_built() {
  return false;
}
void set_cuda_stream(void*) {}
void* cuda_stream() {
  return nullptr;
}
size_t decode_attention_workspace_bytes(int, int, int, int, int) {
  return 0;
}
Status set_cuda_device(int) {
  return core::unimplemented("CUDA backend not built");
}
int cuda_device_count() {
  return 0;
}
Status cuda_synchronize() {
  return core::unimplemented("CUDA backend not built");
}
Status cuda_mem_info(int64_t*, int64_t*) {
  return core::unimplemented("CUDA backend not built");
}

core::Result<std::string> cuda_device_name() {
  return core::unimplemented("CUDA backend not built");
}

core::Result<double> cuda_copy_bandwidth(int64_t, int) {
  return core::unimplemented("CUDA backend not built");
}

uint64_t device_alloc_failures() {
  return 0;
}

core::Result<Tensor> empty_pinned(const core::Shape& shape, DType dtype) {
  return Tensor::empty(shape, dtype);
}

core::Result<MappedTensor> empty_mapped(const core::Shape&, DType) {
  return core::unimplemented("empty_mapped: CUDA backend not built");
}

core::Result<Tensor> empty_on(Device device, const core::Shape& shape, DType dtype) {
  if (device == Device::cpu) return Tensor::empty(shape, dtype);
  return core::unimplemented("empty_on: CUDA backend not built");
}

core::Result<Tensor> to_device(const Tensor& t, Device device, DType dtype) {
  if (device == Device::cuda || t.device() == Device::cuda)
    return core::unimplemented("to_device: CUDA backend not built");
  return host_convert(t, dtype);
}

Status copy_to_host_f32(const Tensor& src, Tensor& dst) {
  if (src.device() == Device::cuda) return core::unimplemented("CUDA backend not built");
  if (dst.dtype() != DType::f32 || src.numel() != dst.numel() || !is_float(src.dtype()))
    return core::invalid_argument("copy_to_host_f32: {} -> {}", src.describe(), dst.describe());
  for (int64_t i = 0; i < src.numel(); ++i)
    dst.data<float>()[i] = load_f(src.raw(), src.dtype(), i);
  return {};
}

Status copy_to_host(const Tensor& src, Tensor& dst) {
  if (src.device() == Device::cuda) return core::unimplemented("CUDA backend not built");
  if (dst.device() != Device::cpu || src.dtype() != dst.dtype() || src.numel() != dst.numel() ||
      !src.is_contiguous() || !dst.is_contiguous())
    return core::invalid_argument("copy_to_host: {} -> {}", src.describe(), dst.describe());
  if (src.numel() > 0) std::memcpy(dst.raw(), src.raw(), src.nbytes());
  return {};
}

Status copy_to_device(const Tensor&, Tensor&) {
  return core::unimplemented("copy_to_device: CUDA backend not built");
}

Status copy_to_host_async(const Tensor& src, Tensor& dst) {
  return copy_to_host(src, dst);
}

StreamMark::~StreamMark() = default;

Status StreamMark::record() {
  recorded_ = true;
  return {};
}

Status StreamMark::record_after(const StreamMark&) {
  recorded_ = true;
  return {};
}

Status StreamMark::wait() const {
  return {};
}

bool StreamMark::passed() const {
  return recorded_;
}

core::Result<float> StreamMark::elapsed_ms_since(const StreamMark&) const {
  return 0.0f;
}

#endif

}  // namespace lightllm::ops
