// tests/cuda/test_nccl.cpp — NcclCommunicator on every visible GPU (one thread per rank, as
// the engine runs them): all_reduce_sum, all_gather and broadcast in f32, bf16, f16 and i32
// against a host reference. Skipped (with the reason) when fewer than 2 GPUs are visible.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <thread>

#include <cuda_runtime_api.h>

#include "dist/nccl_communicator.h"
#include "ops/ops.h"

namespace lightllm::dist {
namespace {

using core::DType;
using core::Tensor;

// Exactly representable in every dtype (small integers), so sums are exact too.
float value(int rank, int64_t i) {
  return static_cast<float>((rank * 7 + i * 3) % 17 - 8);
}

// Runs body(rank, comm) on one thread per GPU; returns the failures.
std::vector<std::string> on_every_gpu(int n, const std::function<void(int, Communicator&)>& body) {
  auto id = nccl_unique_id();
  EXPECT_TRUE(id.ok()) << id.status().to_string();
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      if (auto st = ops::set_cuda_device(r); !st.ok()) {
        errors[r] = st.to_string();
        return;
      }
      auto comm = NcclCommunicator::create(*id, n, r);
      if (!comm.ok()) {
        errors[r] = comm.status().to_string();
        return;
      }
      body(r, **comm);
    });
  for (auto& t : threads) t.join();
  return errors;
}

Tensor host_values(int rank, int64_t rows, int64_t cols, DType dt) {
  Tensor t = Tensor::empty({rows, cols}, dt);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = value(rank, i);
    if (dt == DType::f32) t.data<float>()[i] = v;
    if (dt == DType::bf16) t.data<core::bf16>()[i] = core::f32_to_bf16(v);
    if (dt == DType::f16) t.data<core::f16>()[i] = core::f32_to_f16(v);
    if (dt == DType::i32) t.data<int32_t>()[i] = static_cast<int32_t>(v);
  }
  return t;
}

// A device tensor back as f32 (i32 converted on the host).
std::vector<float> download(const Tensor& d) {
  std::vector<float> out(static_cast<size_t>(d.numel()));
  EXPECT_TRUE(ops::cuda_synchronize().ok());
  if (d.dtype() == DType::i32) {
    std::vector<int32_t> tmp(out.size());
    EXPECT_EQ(cudaMemcpy(tmp.data(), d.raw(), d.nbytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(tmp[i]);
    return out;
  }
  Tensor h = Tensor::view(out.data(), d.shape(), DType::f32);
  EXPECT_TRUE(ops::copy_to_host_f32(d, h).ok());
  return out;
}

Tensor upload(const Tensor& h) {
  auto d = ops::empty_on(core::Device::cuda, h.shape(), h.dtype());
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(cudaMemcpy(d->raw(), h.raw(), h.nbytes(), cudaMemcpyHostToDevice), cudaSuccess);
  return *d;
}

class Nccl : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    n_ = ops::cuda_device_count();
    if (n_ < 2) GTEST_SKIP() << "NCCL collectives need at least 2 GPUs; " << n_ << " visible";
  }
  int n_ = 0;
};

TEST_P(Nccl, AllReduceSumMatchesHostSum) {
  const DType dt = GetParam();
  constexpr int64_t kRows = 37, kCols = 129;  // odd sizes: no alignment luck
  std::vector<std::vector<float>> got(static_cast<size_t>(n_));
  auto errors = on_every_gpu(n_, [&](int r, Communicator& c) {
    Tensor x = upload(host_values(r, kRows, kCols, dt));
    ASSERT_TRUE(c.all_reduce_sum(x).ok());
    got[r] = download(x);
  });
  for (int r = 0; r < n_; ++r) {
    EXPECT_EQ(errors[r], "");
    ASSERT_EQ(got[r].size(), size_t{kRows * kCols});
    for (int64_t i = 0; i < kRows * kCols; ++i) {
      float want = 0;
      for (int q = 0; q < n_; ++q) want += value(q, i);
      ASSERT_EQ(got[r][i], want) << "rank " << r << " element " << i;
    }
  }
}

TEST_P(Nccl, AllGatherIsRankMajor) {
  const DType dt = GetParam();
  constexpr int64_t kRows = 5, kCols = 33;
  std::vector<std::vector<float>> got(static_cast<size_t>(n_));
  auto errors = on_every_gpu(n_, [&](int r, Communicator& c) {
    Tensor x = upload(host_values(r, kRows, kCols, dt));
    auto out = ops::empty_on(core::Device::cuda, {n_ * kRows, kCols}, dt);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(c.all_gather(x, *out).ok());
    got[r] = download(*out);
    auto wrong = ops::empty_on(core::Device::cuda, {kRows, kCols}, dt);
    EXPECT_EQ(c.all_gather(x, *wrong).code(), core::StatusCode::invalid_argument);
  });
  for (int r = 0; r < n_; ++r) {
    EXPECT_EQ(errors[r], "");
    for (int q = 0; q < n_; ++q)
      for (int64_t i = 0; i < kRows * kCols; ++i)
        ASSERT_EQ(got[r][q * kRows * kCols + i], value(q, i)) << "rank " << r << " from " << q;
  }
}

TEST_P(Nccl, BroadcastFromEveryRoot) {
  const DType dt = GetParam();
  constexpr int64_t kRows = 3, kCols = 65;
  for (int root = 0; root < n_; ++root) {
    std::vector<std::vector<float>> got(static_cast<size_t>(n_));
    auto errors = on_every_gpu(n_, [&](int r, Communicator& c) {
      Tensor x = upload(host_values(r, kRows, kCols, dt));
      ASSERT_TRUE(c.broadcast(x, root).ok());
      got[r] = download(x);
      EXPECT_EQ(c.broadcast(x, n_).code(), core::StatusCode::invalid_argument);
    });
    for (int r = 0; r < n_; ++r) {
      EXPECT_EQ(errors[r], "");
      for (int64_t i = 0; i < kRows * kCols; ++i)
        ASSERT_EQ(got[r][i], value(root, i)) << "root " << root << " rank " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Nccl,
                         ::testing::Values(DType::f32, DType::bf16, DType::f16, DType::i32),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

TEST(NcclEnv, NvlsIsOffUnlessTheEnvironmentSaysOtherwise) {
  const char* before = std::getenv("NCCL_NVLS_ENABLE");
  disable_nvls_unless_set();
  const char* after = std::getenv("NCCL_NVLS_ENABLE");
  ASSERT_NE(after, nullptr);
  if (before == nullptr) {
    EXPECT_STREQ(after, "0");
  }
}

}  // namespace
}  // namespace lightllm::dist
