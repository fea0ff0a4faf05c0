// src/core/tensor.h — Tensor: a typed, strided view of memory on one device.
// A Tensor either borrows memory (a view of an mmapped file, a slice of a larger
// tensor) or shares ownership of an allocation made by Tensor::empty(). Copying a
// Tensor copies the view, never the data. Shapes have at most kMaxDims dimensions;
// strides are in elements, row-major by default.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace lightllm::core {

enum class Device : uint8_t { cpu, cuda };

inline constexpr int kMaxDims = 4;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  int64_t numel() const;
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + ndim_}; }
  std::string to_string() const;  // "[2, 3, 4]"
  bool operator==(const Shape& o) const;

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

class Tensor {
 public:
  Tensor() = default;

  // A new, zero-filled, 64-byte aligned host tensor (device == cpu).
  static Tensor empty(const Shape& shape, DType dtype);
  // A non-owning, contiguous view of `data`.
  static Tensor view(void* data, const Shape& shape, DType dtype, Device device = Device::cpu);
  // A view that keeps `owner` alive (e.g. an mmapped file) while any copy lives.
  static Tensor view(void* data, const Shape& shape, DType dtype, Device device,
                     std::shared_ptr<const void> owner);

  bool defined() const { return data_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + shape_.ndim() : i]; }
  int64_t stride(int i) const { return strides_[static_cast<size_t>(i)]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  void* raw() const { return data_; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(data_);
  }

  // Rows [row0, row0 + n) along dimension 0, as a view.
  Tensor rows(int64_t row0, int64_t n) const;
  // Same data, new shape (contiguous tensors only; numel must match).
  Tensor reshape(const Shape& shape) const;

  std::string describe() const;  // "bf16[4096, 4096] cpu"

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
  Shape shape_;
  std::array<int64_t, kMaxDims> strides_{};
  std::shared_ptr<const void> owner_;
};

}  // namespace lightllm::core
