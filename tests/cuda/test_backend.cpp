// tests/cuda/test_backend.cpp — the CUDA backend: buffers, caching allocator, streams, events,
// and CUDA errors turned into Status with file:line.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/caching_allocator.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/stream.h"

namespace lightllm::backend::cuda {
namespace {

TEST(CudaBackend, DeviceIsPresentAndNamed) {
  auto n = device_count();
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  ASSERT_GE(*n, 1);
  auto info = device_info(0);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->name.empty());
  EXPECT_GT(info->sm_count, 0);
  std::printf("device 0: %s, %d SMs, cc %d.%d, %.1f GiB\n", info->name.c_str(), info->sm_count,
              info->major, info->minor, static_cast<double>(info->total_memory) / (1 << 30));
}

TEST(CudaBackend, BufferRoundTrip) {
  std::vector<int> host(1000);
  for (int i = 0; i < 1000; ++i) host[static_cast<size_t>(i)] = i * 7 - 3;
  auto buf = DeviceBuffer::allocate(host.size() * sizeof(int));
  ASSERT_TRUE(buf.ok());
  ASSERT_TRUE(buf->upload(host.data(), host.size() * sizeof(int)).ok());
  std::vector<int> back(1000, 0);
  ASSERT_TRUE(buf->download(back.data(), back.size() * sizeof(int)).ok());
  EXPECT_EQ(back, host);
  // Bounds are checked, not trusted.
  auto st = buf->upload(host.data(), host.size() * sizeof(int) + 4);
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
  DeviceBuffer moved = std::move(buf).value();
  EXPECT_EQ(moved.size(), 4000u);
}

TEST(CudaBackend, HugeAllocationIsOutOfMemoryNotACrash) {
  auto buf = DeviceBuffer::allocate(size_t{1} << 50);  // 1 PiB
  ASSERT_FALSE(buf.ok());
  EXPECT_EQ(buf.status().code(), core::StatusCode::out_of_memory) << buf.status().to_string();
  // The error is not sticky: the device still works.
  auto small = DeviceBuffer::allocate(256);
  EXPECT_TRUE(small.ok());
}

TEST(CudaBackend, ErrorNamesFileLineAndCall) {
  core::Status st = LLM_CUDA_CHECK(cudaMemcpy(nullptr, nullptr, 16, cudaMemcpyHostToDevice));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("test_backend.cpp:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("cudaMemcpy"), std::string::npos) << st.message();
  cudaGetLastError();
  EXPECT_TRUE(LLM_CUDA_CHECK(cudaDeviceSynchronize()).ok());
}

TEST(CudaBackend, CachingAllocatorReusesBlocks) {
  CachingAllocator alloc;
  void* first = nullptr;
  {
    auto w = alloc.allocate(1000);
    ASSERT_TRUE(w.ok());
    first = w->data();
    EXPECT_EQ(w->size(), 1000u);
    EXPECT_EQ(alloc.bytes_in_use(), CachingAllocator::size_class(1000));
    EXPECT_EQ(alloc.bytes_cached(), 0u);
  }
  EXPECT_EQ(alloc.bytes_in_use(), 0u);
  EXPECT_EQ(alloc.bytes_cached(), CachingAllocator::size_class(1000));
  {
    auto w = alloc.allocate(900);  // same size class: the cached block comes back
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->data(), first);
    auto w2 = alloc.allocate(5 << 20);
    ASSERT_TRUE(w2.ok());
    EXPECT_NE(w2->data(), first);
    EXPECT_EQ(alloc.bytes_in_use() + alloc.bytes_cached(), alloc.bytes_reserved());
    Workspace moved = std::move(w2).value();
    EXPECT_GE(alloc.bytes_in_use(), size_t{5} << 20);
  }
  EXPECT_EQ(alloc.bytes_in_use(), 0u);
  alloc.release_cached();
  EXPECT_EQ(alloc.bytes_reserved(), 0u);
  auto empty = alloc.allocate(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data(), nullptr);
}

TEST(CudaBackend, SizeClassesBoundWaste) {
  for (size_t b : {size_t{1}, size_t{511}, size_t{513}, size_t{1} << 20, (size_t{1} << 20) + 1,
                   size_t{3} << 25, (size_t{1} << 31) + 12345}) {
    const size_t c = CachingAllocator::size_class(b);
    EXPECT_GE(c, b);
    EXPECT_LE(c, b + b / 8 + 512) << b;
  }
}

TEST(CudaBackend, StreamAndEventsTimeWork) {
  auto s = Stream::create();
  ASSERT_TRUE(s.ok());
  auto a = Event::create(), b = Event::create();
  ASSERT_TRUE(a.ok() && b.ok());
  auto buf = DeviceBuffer::allocate(64 << 20);
  ASSERT_TRUE(buf.ok());
  ASSERT_TRUE(a->record(s->get()).ok());
  ASSERT_EQ(cudaMemsetAsync(buf->data(), 1, buf->size(), s->get()), cudaSuccess);
  ASSERT_TRUE(b->record(s->get()).ok());
  ASSERT_TRUE(b->synchronize().ok());
  auto ms = b->elapsed_ms_since(*a);
  ASSERT_TRUE(ms.ok());
  EXPECT_GT(*ms, 0.f);
  ASSERT_TRUE(s->synchronize().ok());
  auto s2 = Stream::create();
  ASSERT_TRUE(s2.ok());
  ASSERT_TRUE(b->wait_on(s2->get()).ok());
  ASSERT_TRUE(s2->synchronize().ok());
}

}  // namespace
}  // namespace lightllm::backend::cuda
