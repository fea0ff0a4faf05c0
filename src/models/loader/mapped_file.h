// src/models/loader/mapped_file.h — MappedFile: a whole file mapped read-only into memory.
// Owns one mmap (PROT_READ, MAP_PRIVATE) and unmaps it when the last shared_ptr goes away.
// Tensor views of weights hold a shared_ptr<const MappedFile> as their owner, so the
// mapping outlives every view. Writing through a view of a mapping faults: weights are
// read-only. An empty file is represented with data() == nullptr and size() == 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace lightllm::loader {

class MappedFile {
 public:
  // Maps `path`; not_found if it does not exist, invalid_argument if it is not a regular
  // file, data_loss if it cannot be read or mapped.
  static core::Result<std::shared_ptr<const MappedFile>> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lightllm::loader
