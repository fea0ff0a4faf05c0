// src/core/tensor.cpp — Shape and Tensor views.
#include "core/tensor.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace lightllm::core {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  assert(dims.size() <= static_cast<size_t>(kMaxDims));
  ndim_ = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) dims_[i] = dims[i];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

std::string Shape::to_string() const {
  return fmt::format("[{}]", fmt::join(to_vector(), ", "));
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[static_cast<size_t>(i)] != o.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

namespace {
constexpr size_t kLazyAllocBytes = size_t{16} << 20;  // 16 MiB

std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s) {
  std::array<int64_t, kMaxDims> st{};
  int64_t acc = 1;
  for (int i = s.ndim() - 1; i >= 0; --i) {
    st[static_cast<size_t>(i)] = acc;
    acc *= s[i];
  }
  return st;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  if (bytes >= kLazyAllocBytes) {
    // Large buffers (the KV pool) come from the kernel as zero pages that are only backed by
    // memory once written, so a pool sized for the worst case costs what is actually used.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    std::shared_ptr<void> owner(p, [bytes](void* q) { munmap(q, bytes); });
    return view(p, shape, dtype, Device::cpu, std::move(owner));
  }
  const size_t rounded = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
  return view(p, shape, dtype, Device::cpu, std::move(owner));
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device) {
  return view(data, shape, dtype, device, nullptr);
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device,
                    std::shared_ptr<const void> owner) {
  Tensor t;
  t.data_ = data;
  t.dtype_ = dtype;
  t.device_ = device;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.owner_ = std::move(owner);
  return t;
}

bool Tensor::is_contiguous() const {
  return strides_ == contiguous_strides(shape_);
}

Tensor Tensor::rows(int64_t row0, int64_t n) const {
  assert(ndim() >= 1 && row0 >= 0 && row0 + n <= dim(0));
  Tensor t = *this;
  t.data_ =
      static_cast<char*>(data_) + row0 * strides_[0] * static_cast<int64_t>(dtype_size(dtype_));
  t.shape_[0] = n;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  assert(is_contiguous() && shape.numel() == numel());
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

std::string Tensor::describe() const {
  return fmt::format("{}{} {}", dtype_name(dtype_), shape_.to_string(),
                     device_ == Device::cpu ? "cpu" : "cuda");
}

}  // namespace lightllm::core
