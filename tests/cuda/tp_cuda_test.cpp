// tests/cuda/tp_cuda_test.cpp — the tensor-parallel model path on CUDA (ctest label `cuda`),
// without NCCL: N ranks are threads on ONE GPU (each with its own thread-local CUDA context)
// and the collectives go through the in-process FakeCommunicator, staged through host memory
// (a device-wide synchronize, a copy to the host, the fake collective, a copy back). This
// proves the device side of sharding — per-rank weights uploaded, local token ids staged into
// the [padded + 1, hidden] embedding shard, all_reduce of device activations, the lm_head slice
// projected on the device and the gathered logits brought back — before the NCCL communicator
// exists; the NCCL tests (dist) cover the real transport.
// Checks, for LLaMA-family goldens (untied, tied, MiniCPM's scaled copies, 8 heads up to TP 8):
// every rank returns bit-identical full logits, within kTol (relative to the row's largest
// |logit|) of the same model at TP 1 on CUDA, and of the f32 CPU model; per-rank heads.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "dist/fake_communicator.h"
#include "models/direct_runner.h"
#include "models/model.h"
#include "ops/ops.h"

namespace lightllm {
namespace {

using core::Status;
using core::Tensor;

// bf16 activations: TP sums bf16 partial outputs where TP 1 rounds one GEMM; the golden tests
// compare bf16 CUDA against f32 HF with 0.08.
constexpr double kTol = 0.08;

// A Communicator for device tensors on top of a host one (tests only: synchronous, slow).
class HostStaged final : public dist::Communicator {
 public:
  explicit HostStaged(dist::Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int world_size() const override { return inner_.world_size(); }

  Status all_reduce_sum(Tensor& x) override {
    LLM_ASSIGN_OR_RETURN(Tensor h, to_host(x));
    LLM_RETURN_IF_ERROR(inner_.all_reduce_sum(h));
    return ops::copy_to_device(h, x);
  }
  Status all_gather(const Tensor& x, Tensor& out) override {
    LLM_ASSIGN_OR_RETURN(Tensor h, to_host(x));
    Tensor h_out = Tensor::empty(out.shape(), out.dtype());
    LLM_RETURN_IF_ERROR(inner_.all_gather(h, h_out));
    return ops::copy_to_device(h_out, out);
  }
  Status broadcast(Tensor& x, int root) override {
    LLM_ASSIGN_OR_RETURN(Tensor h, to_host(x));
    LLM_RETURN_IF_ERROR(inner_.broadcast(h, root));
    return ops::copy_to_device(h, x);
  }

 private:
  static core::Result<Tensor> to_host(const Tensor& x) {
    if (x.device() != core::Device::cuda)
      return core::internal_error("HostStaged: expected a CUDA tensor, got {}", x.describe());
    LLM_RETURN_IF_ERROR(ops::cuda_synchronize());  // the kernels that produced x are done
    return ops::to_device(x, core::Device::cpu, x.dtype());
  }
  dist::Communicator& inner_;
};

const std::vector<std::vector<int32_t>> kPrompts = {{5, 17, 300, 42, 7}, {9}, {100, 200, 300}};

core::Result<Tensor> prefill_logits(models::Model& m) {
  test_util::DirectRunner runner(m, 64, 3, /*shuffle_slots=*/true);
  return runner.step(kPrompts, /*all_logits=*/true);
}

// max over rows of max|a - b| / max|ref row|.
double rel_diff(const Tensor& a, const Tensor& b, const Tensor& ref) {
  const int64_t rows = ref.dim(0), v = ref.dim(1);
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double scale = 1e-6, d = 0;
    for (int64_t j = 0; j < v; ++j) {
      scale = std::max(scale, std::abs(static_cast<double>(ref.data<float>()[r * v + j])));
      d = std::max(d, std::abs(static_cast<double>(a.data<float>()[r * v + j]) -
                               b.data<float>()[r * v + j]));
    }
    worst = std::max(worst, d / scale);
  }
  return worst;
}

class TensorParallelCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallelCuda, RanksOnOneGpuMatchTheWholeModel) {
  const std::string dir = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/" + GetParam();
  auto cpu = models::load_model(dir);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  auto cpu_logits = prefill_logits(**cpu);
  ASSERT_TRUE(cpu_logits.ok()) << cpu_logits.status().to_string();
  auto whole = models::load_model(dir, core::Device::cuda);
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();
  auto ref = prefill_logits(**whole);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  const models::ModelShape full = (*whole)->shape();

  for (int world : {2, 4, 8}) {
    if (full.n_heads % world != 0) continue;  // the CPU tp_test checks those errors
    SCOPED_TRACE("world " + std::to_string(world));
    auto fakes = dist::make_fake_group(world, std::chrono::seconds(120));  // slow first steps
    std::vector<std::unique_ptr<HostStaged>> comms;
    for (auto& f : fakes) comms.push_back(std::make_unique<HostStaged>(*f));
    std::vector<Tensor> logits(static_cast<size_t>(world));
    std::vector<models::ModelShape> shapes(static_cast<size_t>(world));
    std::vector<int64_t> bytes(static_cast<size_t>(world));
    const Status st = dist::run_ranks(world, [&](int r) -> Status {
      const size_t i = static_cast<size_t>(r);
      LLM_ASSIGN_OR_RETURN(auto m,
                           models::load_model(dir, core::Device::cuda, {r, world, comms[i].get()}));
      shapes[i] = m->shape();
      bytes[i] = m->weight_bytes();
      LLM_ASSIGN_OR_RETURN(logits[i], prefill_logits(*m));
      return {};
    });
    ASSERT_TRUE(st.ok()) << st.to_string();
    for (int r = 0; r < world; ++r) {
      const size_t i = static_cast<size_t>(r);
      EXPECT_EQ(shapes[i].n_heads, full.n_heads / world);
      EXPECT_LT(bytes[i], (*whole)->weight_bytes() / world * 3 / 2);
      ASSERT_EQ(logits[i].shape(), ref->shape());
      for (int64_t j = 0; j < ref->numel(); ++j)
        ASSERT_EQ(logits[i].data<float>()[j], logits[0].data<float>()[j]) << "ranks disagree";
      const double d_tp1 = rel_diff(logits[i], *ref, *ref);
      const double d_cpu = rel_diff(logits[i], *cpu_logits, *cpu_logits);
      EXPECT_LE(d_tp1, kTol) << "rank " << r;
      EXPECT_LE(d_cpu, kTol) << "rank " << r;
      if (r == 0)
        std::printf("%s world %d: rel diff vs CUDA TP1 %.3g, vs CPU f32 %.3g\n", GetParam().c_str(),
                    world, d_tp1, d_cpu);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, TensorParallelCuda,
                         ::testing::Values("llama-tp8-f32", "llama-tp8-bf16", "llama-f32",
                                           "qwen2-f32", "minicpm-bf16"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace lightllm
