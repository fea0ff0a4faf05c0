// tests/cuda/test_gemv.cpp — the skinny GEMM (kernels/cuda/gemv.h) against the scalar f64
// reference of gemv_ref.h (tolerances documented there): every m in 1..8, odd n, k a multiple
// of 8 but not of 256 (the unrolled loop's tail), bias, f32 output, three output segments with
// padded row strides, the gated variant with SiLU / GELU-tanh / GELU-erf, bf16 and f16, each
// kernel (CUDA-core configurations and the tensor-core one); k not a multiple of 8 and m > 8 are
// rejected with a Status; the CUDA-core configurations give identical results (same accumulation
// order per row); the gated CUDA-core kernel agrees bit for bit with the unfused sequence of the
// same configuration (GEMV gate, GEMV up, gated_activation); a launch right after a kernel that
// writes x sees x (programmatic dependent launch waits for it); and the launch can be captured in a
// CUDA graph. The RMSNorm prologue (CUDA-core and block-rows kernels, m <= 2) and the residual
// epilogue (every kernel) against the f64 reference. The block-rows kernel over every row length
// it takes. The rotary + KV store epilogue equals the
// GEMV followed by rope_kv_scatter bit for bit.
#include <cstring>

#include "cuda_test_util.h"
#include "gemv_ref.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/rotary.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

// CUDA-core configurations, the tensor-core kernel (mma) with 2, 4 and 8 warps, the block-rows
// kernel, the defaults.
const kc::GemvConfig kConfigs[] = {
    {1, 8, 128},      {1, 8, 256},       {2, 4, 64},        {2, 2, 256},          {4, 2, 128},
    {0, 4, 64, true}, {0, 4, 128, true}, {0, 8, 256, true}, {.block_rows = true}, {}};

// Whether the configuration runs m rows (the block-rows kernel: m <= kGemvRowsMaxM).
bool runs(const kc::GemvConfig& cfg, int64_t m) {
  return !cfg.block_rows || m <= kc::kGemvRowsMaxM;
}

std::string cfg_name(const kc::GemvConfig& c) {
  if (c.block_rows) return "block-rows";
  return std::to_string(c.rows_per_warp) + "/" + std::to_string(c.unroll) + "/" +
         std::to_string(c.threads) + (c.mma ? "/mma" : "");
}

class Gemv : public ::testing::TestWithParam<DType> {};

std::vector<uint16_t> download_bits(const DeviceBuffer& b, size_t n) {
  return download<uint16_t>(b, n);
}

TEST_P(Gemv, PlainMatchesReferenceForEveryM) {
  const DType dt = GetParam();
  const int64_t n = 83, k = 8 * 131;
  auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 2);
  auto b = random_values(dt, size_t(n), -1.f, 1.f, 3);
  auto dw = upload_half(dt, w), db = upload_half(dt, b);
  for (int64_t m = 1; m <= kc::kGemvMaxM; ++m) {
    auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 10 + uint32_t(m));
    auto dx = upload_half(dt, x);
    for (bool bias : {false, true}) {
      const auto want = gemv_ref(x, w, bias ? b : std::vector<float>{}, m, n, k);
      for (const kc::GemvConfig& cfg : kConfigs) {
        if (!runs(cfg, m)) continue;
        auto dout = zeros(size_t(m * n) * 2);
        kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
        p.bias = bias ? db.data() : nullptr;
        p.seg[0] = {.out = dout.data(), .cols = n, .ld = n};
        p.config = cfg;
        ASSERT_TRUE(kc::gemv_supported(p));
        auto st = kc::gemv(p, nullptr);
        ASSERT_TRUE(st.ok()) << st.to_string();
        auto got = download_half(dt, dout, size_t(m * n));
        const double eps = gemv_eps(dt == DType::bf16, false);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_LE(std::fabs(got[i] - want[i]), gemv_plain_tol(want[i], k, eps))
              << "m " << m << " bias " << bias << " cfg " << cfg_name(cfg) << " at " << i;
      }
    }
  }
}

TEST_P(Gemv, F32OutputAndLongK) {
  const DType dt = GetParam();
  for (auto [m, n, k] :
       {std::tuple<int64_t, int64_t, int64_t>{3, 517, 4104}, {8, 5, 8}, {1, 7, 14336 + 8}}) {
    auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 4);
    auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 5);
    auto dx = upload_half(dt, x), dw = upload_half(dt, w);
    auto dout = zeros(size_t(m * n) * 4);
    kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
    p.seg[0] = {.out = dout.data(), .cols = n, .ld = n};
    p.out_f32 = true;
    ASSERT_TRUE(kc::gemv(p, nullptr).ok());
    auto got = download<float>(dout, size_t(m * n));
    const auto want = gemv_ref(x, w, {}, m, n, k);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(std::fabs(got[i] - want[i]), gemv_plain_tol(want[i], k, gemv_eps(true, true)))
          << "m " << m << " n " << n << " k " << k << " at " << i;
  }
}

TEST_P(Gemv, ThreeSegmentsWithBiasAndPaddedRows) {
  const DType dt = GetParam();
  const int64_t k = 520, cols[3] = {40, 21, 22}, n = 83;
  auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 6);
  auto b = random_values(dt, size_t(n), -1.f, 1.f, 7);
  auto dw = upload_half(dt, w), db = upload_half(dt, b);
  for (int64_t m : {1, 5, 8}) {
    auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 8);
    auto dx = upload_half(dt, x);
    const auto want = gemv_ref(x, w, b, m, n, k);
    kc::GemvParams p{
        .dtype = dt, .x = dx.data(), .w = dw.data(), .bias = db.data(), .m = m, .n = n, .k = k};
    p.n_seg = 3;
    DeviceBuffer outs[3];
    for (int s = 0; s < 3; ++s) {
      outs[s] = zeros(size_t(m * (cols[s] + 5)) * 2);
      p.seg[s] = {.out = outs[s].data(), .cols = cols[s], .ld = cols[s] + 5};
    }
    ASSERT_TRUE(kc::gemv(p, nullptr).ok());
    int64_t start = 0;
    for (int s = 0; s < 3; ++s) {
      const int64_t ld = cols[s] + 5;
      auto got = download_half(dt, outs[s], size_t(m * ld));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < ld; ++j) {
          const float g = got[size_t(i * ld + j)];
          if (j >= cols[s]) {  // the padding is never written
            ASSERT_EQ(g, 0.f) << "segment " << s << " row " << i << " pad " << j;
            continue;
          }
          const double wv = want[size_t(i * n + start + j)];
          ASSERT_LE(std::fabs(g - wv), gemv_plain_tol(wv, k, gemv_eps(dt == DType::bf16, false)))
              << "m " << m << " segment " << s << " row " << i << " col " << j;
        }
      start += cols[s];
    }
  }
}

TEST_P(Gemv, GatedMatchesReferenceAndTheUnfusedSequenceExactly) {
  const DType dt = GetParam();
  const int64_t inter = 97, k = 1032;
  auto w = random_values(dt, size_t(2 * inter * k), -0.1f, 0.1f, 12);
  auto b = random_values(dt, size_t(2 * inter), -1.f, 1.f, 13);
  auto dw = upload_half(dt, w), db = upload_half(dt, b);
  const char* w_up = static_cast<const char*>(dw.data()) + size_t(inter * k) * 2;
  for (int64_t m = 1; m <= kc::kGemvMaxM; ++m) {
    auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 20 + uint32_t(m));
    auto dx = upload_half(dt, x);
    for (kc::GatedAct act : {kc::GatedAct::silu, kc::GatedAct::gelu_tanh, kc::GatedAct::gelu_erf}) {
      const bool bias = m % 2 == 1;
      const auto ref = gemv_gated_ref(x, w, bias ? b : std::vector<float>{}, m, inter, k,
                                      static_cast<int>(act), gemv_eps(dt == DType::bf16, false));
      for (const kc::GemvConfig& cfg : kConfigs) {
        if (!runs(cfg, m)) continue;
        // Unfused, same kernel configuration: GEMV gate rows, GEMV up rows, elementwise kernel.
        auto dg = zeros(size_t(m * inter) * 2), du = zeros(size_t(m * inter) * 2),
             dref = zeros(size_t(m * inter) * 2);
        kc::GemvParams pg{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = inter, .k = k};
        pg.bias = bias ? db.data() : nullptr;
        pg.seg[0] = {.out = dg.data(), .cols = inter, .ld = inter};
        pg.config = cfg;
        ASSERT_TRUE(kc::gemv(pg, nullptr).ok());
        kc::GemvParams pu = pg;
        pu.w = w_up;
        pu.bias = bias ? static_cast<const char*>(db.data()) + inter * 2 : nullptr;
        pu.seg[0].out = du.data();
        ASSERT_TRUE(kc::gemv(pu, nullptr).ok());
        ASSERT_TRUE(kc::gated_activation({.dtype = dt,
                                          .in = dg.data(),
                                          .up = du.data(),
                                          .out = dref.data(),
                                          .n_tokens = m,
                                          .inter = inter,
                                          .act = act},
                                         nullptr)
                        .ok());
        const auto unfused = download_bits(dref, size_t(m * inter));
        auto dout = zeros(size_t(m * inter) * 2);
        kc::GemvParams p{
            .dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = 2 * inter, .k = k};
        p.bias = bias ? db.data() : nullptr;
        p.seg[0] = {.out = dout.data(), .cols = inter, .ld = inter};
        p.gated = true;
        p.act = act;
        p.config = cfg;
        auto st = kc::gemv(p, nullptr);
        ASSERT_TRUE(st.ok()) << st.to_string();
        const auto bits = download_bits(dout, size_t(m * inter));
        // Bit for bit for the CUDA-core and block-rows kernels (each row's sum in the same
        // order whatever the variant); the tensor-core kernel is held to the reference below.
        if (!cfg.mma) {
          ASSERT_EQ(bits, unfused) << "m " << m << " act " << int(act) << " cfg " << cfg_name(cfg);
        }
        auto got = download_half(dt, dout, size_t(m * inter));
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_LE(std::fabs(got[i] - ref.out[i]), ref.tol[i])
              << "m " << m << " act " << int(act) << " at " << i;
      }
    }
  }
}

// The CUDA-core configurations accumulate each row in the same order (the tensor-core kernel
// splits k over warps differently: it agrees to rounding, checked against the reference above).
TEST_P(Gemv, CudaCoreConfigurationsAgreeBitForBit) {
  const DType dt = GetParam();
  const int64_t m = 4, n = 301, k = 8 * 515;
  auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 30);
  auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 31);
  auto dx = upload_half(dt, x), dw = upload_half(dt, w);
  std::vector<uint16_t> first;
  for (const kc::GemvConfig& cfg : kConfigs) {
    if (cfg.mma || cfg.rows_per_warp == 0) continue;
    auto dout = zeros(size_t(m * n) * 2);
    kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
    p.seg[0] = {.out = dout.data(), .cols = n, .ld = n};
    p.config = cfg;
    ASSERT_TRUE(kc::gemv(p, nullptr).ok());
    auto bits = download_bits(dout, size_t(m * n));
    if (first.empty()) first = bits;
    EXPECT_EQ(bits, first) << "cfg " << cfg.rows_per_warp << "/" << cfg.unroll;
  }
}

// The block-rows kernel over every shape it picks (chunks per thread 1, 2, 4, 8; threads 96 to
// 512, some with fewer chunks than the others), plain and gated, m = 1 and 2, against the
// reference; n not a multiple of the units per block.
TEST_P(Gemv, BlockRowsKernelTakesEveryRowLength) {
  const DType dt = GetParam();
  const double eps = gemv_eps(dt == DType::bf16, false);
  for (int64_t k : {8 * 67, 4096, 4104, 11008, 14344, 8 * 4096}) {
    const int64_t rows = 38;
    auto w = random_values(dt, size_t(rows * k), -0.1f, 0.1f, 95);
    auto b = random_values(dt, size_t(rows), -1.f, 1.f, 96);
    auto dw = upload_half(dt, w), db = upload_half(dt, b);
    for (int64_t m = 1; m <= kc::kGemvRowsMaxM; ++m) {
      auto x = random_values(dt, size_t(m * k), -1.f, 1.f, 97 + uint32_t(m));
      auto dx = upload_half(dt, x);
      for (bool gated : {false, true}) {
        const int64_t cols = gated ? rows / 2 : rows;
        auto dout = zeros(size_t(m * cols) * 2);
        kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = rows, .k = k};
        p.bias = db.data();
        p.seg[0] = {.out = dout.data(), .cols = cols, .ld = cols};
        p.gated = gated;
        p.config = {.block_rows = true};
        auto st = kc::gemv(p, nullptr);
        ASSERT_TRUE(st.ok()) << st.to_string();
        auto got = download_half(dt, dout, size_t(m * cols));
        const std::string what = "k " + std::to_string(k) + " m " + std::to_string(m) + " gated " +
                                 std::to_string(gated);
        if (gated) {
          const auto ref = gemv_gated_ref(x, w, b, m, cols, k, 0, eps);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_LE(std::fabs(got[i] - ref.out[i]), ref.tol[i]) << what << " at " << i;
        } else {
          const auto want = gemv_ref(x, w, b, m, rows, k);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_LE(std::fabs(got[i] - want[i]), gemv_plain_tol(want[i], k, eps))
                << what << " at " << i;
        }
      }
    }
  }
}

TEST_P(Gemv, RejectsWhatItCannotRun) {
  const DType dt = GetParam();
  auto buf = zeros(4096);
  kc::GemvParams p{.dtype = dt, .x = buf.data(), .w = buf.data(), .m = 1, .n = 4, .k = 16};
  p.seg[0] = {.out = buf.data(), .cols = 4, .ld = 4};
  EXPECT_TRUE(kc::gemv_supported(p));
  kc::GemvParams bad = p;
  bad.k = 12;  // not a multiple of 8: the caller falls back to cuBLASLt
  EXPECT_FALSE(kc::gemv_supported(bad));
  EXPECT_EQ(kc::gemv(bad, nullptr).code(), core::StatusCode::invalid_argument);
  bad = p;
  bad.m = kc::kGemvMaxM + 1;
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.x = static_cast<const char*>(buf.data()) + 2;  // not 16-byte aligned
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.seg[0].cols = 3;  // segments do not cover n
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.out_f32 = true;
  bad.bias = buf.data();  // f32 output takes no bias (as GemmLt)
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.dtype = DType::f32;
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.config = {3, 3, 128};  // no such instantiation
  EXPECT_EQ(kc::gemv(bad, nullptr).code(), core::StatusCode::invalid_argument);
  bad = p;
  bad.m = kc::kGemvRowsMaxM + 1;
  bad.config = {.block_rows = true};  // the block-rows kernel takes m <= 2
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad = p;
  bad.k = 8 * 8 * 512 + 8;  // rows longer than 8 chunks x 512 threads
  bad.config = {.block_rows = true};
  EXPECT_FALSE(kc::gemv_supported(bad));
  bad.config = {};  // the default kernel takes any k
  EXPECT_TRUE(kc::gemv_supported(bad));
}

// x written by the kernel right before the GEMV (same stream): with programmatic dependent
// launch the GEMV may start early, and must still read the new x. Also captured in a graph.
TEST_P(Gemv, SeesThePreviousKernelsOutputAndCapturesInAGraph) {
  const DType dt = GetParam();
  const int64_t m = 2, n = 4096, k = 4096;
  auto x0 = random_values(dt, size_t(m * k), -1.f, 1.f, 40);
  auto x1 = random_values(dt, size_t(m * k), 0.5f, 1.f, 41);
  auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 42);
  auto dx = upload_half(dt, x0), dx1 = upload_half(dt, x1), dw = upload_half(dt, w);
  const auto x0_bits = download_bits(dx, size_t(m * k));
  auto dup = zeros(size_t(m * k) * 2), dout = zeros(size_t(m * n) * 2);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  // The kernel before the GEMV writes x = round(gelu_erf(x1) · 1) (gated_activation with
  // up = 1); the reference takes the x it wrote (downloaded afterwards), so a GEMV that read
  // the stale x0 fails.
  std::vector<float> ones(size_t(m * k), 1.f);
  auto dones = upload_half(dt, ones);
  kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
  p.seg[0] = {.out = dout.data(), .cols = n, .ld = n};
  kc::GatedActParams ga{.dtype = dt,
                        .in = dx1.data(),
                        .up = dones.data(),
                        .out = dx.data(),
                        .n_tokens = m,
                        .inter = k,
                        .act = kc::GatedAct::gelu_erf};
  std::vector<double> want;
  const double eps = gemv_eps(dt == DType::bf16, false);
  auto check = [&](const char* what) {
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    if (want.empty()) want = gemv_ref(download_half(dt, dx, size_t(m * k)), w, {}, m, n, k);
    auto got = download_half(dt, dout, size_t(m * n));
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(std::fabs(got[i] - want[i]), gemv_plain_tol(want[i], k, eps))
          << what << " at " << i;
  };
  for (const kc::GemvConfig& cfg : kConfigs) {  // every kernel waits for the activation kernel
    if (!runs(cfg, m)) continue;
    p.config = cfg;
    ASSERT_TRUE(dout.memset_zero().ok());
    ASSERT_TRUE(kc::gated_activation(ga, s).ok());
    ASSERT_TRUE(kc::gemv(p, s).ok());
    check(("eager " + cfg_name(cfg)).c_str());
    ASSERT_TRUE(dx.upload(x0_bits.data(), x0_bits.size() * 2).ok());  // stale x again
  }
  p.config = {.block_rows = true};  // the graph: the block-rows kernel

  // Graph: x reset to zeros, capture (activation kernel, GEMV), replay.
  ASSERT_TRUE(dx.upload(std::vector<uint16_t>(size_t(m * k), 0).data(), size_t(m * k) * 2).ok());
  ASSERT_TRUE(dout.memset_zero().ok());
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_TRUE(kc::gated_activation(ga, s).ok());
  ASSERT_TRUE(kc::gemv(p, s).ok());
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  check("graph");
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

// The RMSNorm prologue (plain and gated) and the residual epilogue against the f64 reference:
// the reference normalizes x in f64 (rsqrt(mean(x²) + eps) · w), the kernel rounds the
// normalized x to the dtype (as rmsnorm() does), so each input element may be an ulp off:
// the tolerance adds eps · Σ_k |w · xn| for that (and one more rounding for the residual add).
TEST_P(Gemv, NormPrologueAndResidualEpilogueMatchReference) {
  const DType dt = GetParam();
  const int64_t n = 83, inter = 41, k = 8 * 131;
  const double eps = gemv_eps(dt == DType::bf16, false);
  const float norm_eps = 1e-5f;
  auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 50);
  auto nw = random_values(dt, size_t(k), 0.5f, 1.5f, 51);
  auto dw = upload_half(dt, w), dnw = upload_half(dt, nw);
  for (int64_t m = 1; m <= kc::kGemvNormMaxM; ++m) {
    auto x = random_values(dt, size_t(m * k), -2.f, 2.f, 52 + uint32_t(m));
    auto r0 = random_values(dt, size_t(m * n), -4.f, 4.f, 54 + uint32_t(m));
    auto dx = upload_half(dt, x);
    std::vector<float> xn(size_t(m * k));  // f64-normalized x (not rounded)
    for (int64_t i = 0; i < m; ++i) {
      double ss = 0;
      for (int64_t j = 0; j < k; ++j) ss += double(x[size_t(i * k + j)]) * x[size_t(i * k + j)];
      const double inv = 1.0 / std::sqrt(ss / double(k) + norm_eps);
      for (int64_t j = 0; j < k; ++j)
        xn[size_t(i * k + j)] = float(x[size_t(i * k + j)] * inv * nw[size_t(j)]);
    }
    // Σ_k |w · xn| per output: the scale of the normalized input's rounding.
    auto abs_dot = [&](int64_t i, int64_t row) {
      double a = 0;
      for (int64_t j = 0; j < k; ++j)
        a += std::fabs(double(w[size_t(row * k + j)]) * xn[size_t(i * k + j)]);
      return a;
    };
    const auto prod = gemv_ref(xn, w, {}, m, n, k);
    for (const kc::GemvConfig& cfg : kConfigs) {
      if (!runs(cfg, m)) continue;
      for (int mode = 0; mode < 3; ++mode) {  // 0 norm, 1 accumulate, 2 both
        const bool norm = mode != 1, acc = mode != 0;
        if (norm && cfg.mma) continue;  // the prologue is a CUDA-core kernel feature
        auto dout = upload_half(dt, r0);
        kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
        p.seg[0] = {.out = dout.data(), .cols = n, .ld = n};
        p.config = cfg;
        p.norm_weight = norm ? dnw.data() : nullptr;
        p.norm_eps = norm_eps;
        p.accumulate = acc;
        ASSERT_TRUE(kc::gemv_supported(p));
        ASSERT_TRUE(kc::gemv(p, nullptr).ok());
        auto got = download_half(dt, dout, size_t(m * n));
        const auto plain = norm ? prod : gemv_ref(x, w, {}, m, n, k);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const size_t o = size_t(i * n + j);
            const double want = plain[o] + (acc ? r0[o] : 0.0);
            double tol = gemv_plain_tol(plain[o], k, eps) + (acc ? eps * std::fabs(want) : 0.0);
            if (norm) tol += eps * abs_dot(i, j);
            ASSERT_LE(std::fabs(got[o] - want), tol)
                << "m " << m << " mode " << mode << " cfg " << cfg_name(cfg) << " at " << o;
          }
      }
    }
    // Gated with the prologue: the f64 reference of the normalized input, g and u bounds widened
    // by the input rounding (|act'| <= 1.13).
    const auto wg = std::vector<float>(w.begin(), w.begin() + 2 * inter * k);
    const auto dwg = upload_half(dt, wg);
    const auto gu = gemv_ref(xn, wg, {}, m, 2 * inter, k);
    for (const kc::GemvConfig& cfg : kConfigs) {
      if (cfg.mma || !runs(cfg, m)) continue;  // no prologue in the tensor-core kernel
      auto dout = zeros(size_t(m * inter) * 2);
      kc::GemvParams p{
          .dtype = dt, .x = dx.data(), .w = dwg.data(), .m = m, .n = 2 * inter, .k = k};
      p.seg[0] = {.out = dout.data(), .cols = inter, .ld = inter};
      p.gated = true;
      p.config = cfg;
      p.norm_weight = dnw.data();
      p.norm_eps = norm_eps;
      ASSERT_TRUE(kc::gemv(p, nullptr).ok());
      auto got = download_half(dt, dout, size_t(m * inter));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < inter; ++j) {
          const double g = gu[size_t(i * 2 * inter + j)], u = gu[size_t(i * 2 * inter + inter + j)];
          const double want = gemv_ref_act(0, g) * u;
          const double dg = eps * abs_dot(i, j) + 1e-5 * std::sqrt(double(k)) + eps * std::fabs(g);
          const double du =
              eps * abs_dot(i, inter + j) + 1e-5 * std::sqrt(double(k)) + eps * std::fabs(u);
          const double tol = 1.13 * std::fabs(u) * dg +
                             (std::fabs(gemv_ref_act(0, g)) + 1.13 * dg) * du +
                             eps * std::fabs(want) + 1e-6;
          ASSERT_LE(std::fabs(got[size_t(i * inter + j)] - want), tol)
              << "gated m " << m << " cfg " << cfg_name(cfg) << " at " << i << "," << j;
        }
    }
  }
  // What the prologue / epilogue cannot take is rejected (the ops fall back to the unfused path).
  auto buf = zeros(4096);
  kc::GemvParams p{.dtype = dt, .x = buf.data(), .w = buf.data(), .m = 3, .n = 4, .k = 16};
  p.seg[0] = {.out = buf.data(), .cols = 4, .ld = 4};
  p.norm_weight = buf.data();
  EXPECT_FALSE(kc::gemv_supported(p));  // m > kGemvNormMaxM (and the default kernel is mma)
  p.m = 1;
  EXPECT_TRUE(kc::gemv_supported(p));
  p.k = 8 * 4096;  // m·k·2 bytes beyond the shared-memory budget
  EXPECT_FALSE(kc::gemv_supported(p));
  p.k = 16;
  p.config = {0, 4, 128, true};  // the tensor-core kernel has no prologue
  EXPECT_FALSE(kc::gemv_supported(p));
  p = kc::GemvParams{.dtype = dt, .x = buf.data(), .w = buf.data(), .m = 1, .n = 4, .k = 16};
  p.seg[0] = {.out = buf.data(), .cols = 4, .ld = 4};
  p.accumulate = true;
  EXPECT_TRUE(kc::gemv_supported(p));
  p.out_f32 = true;
  EXPECT_FALSE(kc::gemv_supported(p));
}

// The rotary + KV store epilogue (GemvRopeKv) against the GEMV with the same three q/k/v
// segments followed by rope_kv_scatter (rotate_half, 16-bit cache): q, k, v and both caches bit
// for bit, the default and the block-rows kernels, m = 1 and 2, with and without the RMSNorm
// prologue and a bias, head_dim 64 and 128, scaled cos/sin, positions past the sincosf fast range.
// Then what the epilogue cannot take.
TEST_P(Gemv, RopeEpilogueEqualsGemvThenRopeKvScatter) {
  const DType dt = GetParam();
  const int heads = 6, kv_heads = 2;
  const int64_t k = 8 * 67, n_slots = 9;
  for (int hd : {64, 128}) {
    const int64_t nq = heads * hd, nkv = kv_heads * hd, n = nq + 2 * nkv;
    auto w = random_values(dt, size_t(n * k), -1.f, 1.f, 80);
    auto b = random_values(dt, size_t(n), -1.f, 1.f, 81);
    auto nw = random_values(dt, size_t(k), 0.5f, 1.5f, 82);
    auto dw = upload_half(dt, w), db = upload_half(dt, b), dnw = upload_half(dt, nw);
    std::vector<float> inv_freq(size_t(hd / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i)
      inv_freq[i] = float(1.0 / std::pow(500000.0, double(2 * i) / double(hd)));
    auto dinv = upload(inv_freq);
    auto dpos = upload(std::vector<int32_t>{300, 200000});
    auto dslots = upload(std::vector<int32_t>{7, 2});
    for (int64_t m = 1; m <= kc::kGemvRopeMaxM; ++m) {
      auto x = random_values(dt, size_t(m * k), -2.f, 2.f, 83 + uint32_t(m));
      auto dx = upload_half(dt, x);
      for (int mode = 0; mode < 8; ++mode) {  // bit 0: norm, bit 1: bias, bit 2: block rows
        const kc::GemvConfig cfg = mode & 4 ? kc::GemvConfig{.block_rows = true} : kc::GemvConfig{};
        const bool norm = mode & 1, bias = mode & 2;
        const float factor = mode == 3 ? 0.875f : 1.f;
        DeviceBuffer out[2][3], kcache[2], vcache[2];
        for (int v = 0; v < 2; ++v) {  // 0: fused, 1: GEMV then rope_kv_scatter
          kc::GemvParams p{.dtype = dt, .x = dx.data(), .w = dw.data(), .m = m, .n = n, .k = k};
          p.bias = bias ? db.data() : nullptr;
          p.norm_weight = norm ? dnw.data() : nullptr;
          p.norm_eps = 1e-5f;
          p.n_seg = 3;
          p.config = cfg;
          const int64_t cols[3] = {nq, nkv, nkv};
          for (int s = 0; s < 3; ++s) {
            out[v][s] = zeros(size_t(m * cols[s]) * 2);
            p.seg[s] = {.out = out[v][s].data(), .cols = cols[s], .ld = cols[s]};
          }
          kcache[v] = zeros(size_t(n_slots * nkv) * 2);
          vcache[v] = zeros(size_t(n_slots * nkv) * 2);
          if (v == 0) {
            p.rope = {.positions = static_cast<const int32_t*>(dpos.data()),
                      .inv_freq = static_cast<const float*>(dinv.data()),
                      .slots = static_cast<const int32_t*>(dslots.data()),
                      .k_cache = kcache[v].data(),
                      .v_cache = vcache[v].data(),
                      .head_dim = hd,
                      .attention_factor = factor};
            ASSERT_TRUE(kc::gemv_supported(p));
            auto st = kc::gemv(p, nullptr);
            ASSERT_TRUE(st.ok()) << st.to_string();
            continue;
          }
          ASSERT_TRUE(kc::gemv(p, nullptr).ok());
          const kc::RotaryParams rp{.dtype = dt,
                                    .q = out[v][0].data(),
                                    .k = out[v][1].data(),
                                    .positions = static_cast<const int32_t*>(dpos.data()),
                                    .inv_freq = static_cast<const float*>(dinv.data()),
                                    .n_tokens = m,
                                    .n_heads = heads,
                                    .n_kv_heads = kv_heads,
                                    .head_dim = hd,
                                    .rotary_dim = hd,
                                    .attention_factor = factor};
          const kc::KvScatterParams kp{.dtype = dt,
                                       .k = out[v][1].data(),
                                       .v = out[v][2].data(),
                                       .slots = static_cast<const int32_t*>(dslots.data()),
                                       .k_cache = kcache[v].data(),
                                       .v_cache = vcache[v].data(),
                                       .n_tokens = m,
                                       .n_kv_heads = kv_heads,
                                       .head_dim = hd};
          ASSERT_TRUE(kc::rope_kv_scatter(rp, kp, false, nullptr).ok());
        }
        const std::string what = "hd " + std::to_string(hd) + " m " + std::to_string(m) + " norm " +
                                 std::to_string(norm) + " bias " + std::to_string(bias) + " cfg " +
                                 cfg_name(cfg);
        const int64_t cols[3] = {nq, nkv, nkv};
        for (int s = 0; s < 3; ++s)
          EXPECT_EQ(download_bits(out[0][s], size_t(m * cols[s])),
                    download_bits(out[1][s], size_t(m * cols[s])))
              << what << " segment " << s;
        const auto kc0 = download_bits(kcache[0], size_t(n_slots * nkv));
        EXPECT_EQ(kc0, download_bits(kcache[1], size_t(n_slots * nkv))) << what;
        EXPECT_EQ(download_bits(vcache[0], size_t(n_slots * nkv)),
                  download_bits(vcache[1], size_t(n_slots * nkv)))
            << what;
        EXPECT_NE(kc0, std::vector<uint16_t>(kc0.size(), 0)) << what;  // the slots were written
      }
    }
  }
  // What the epilogue cannot take is rejected (the op composes instead).
  auto buf = zeros(1 << 16);
  auto good = [&] {
    kc::GemvParams p{.dtype = dt, .x = buf.data(), .w = buf.data(), .m = 2, .n = 256, .k = 16};
    p.n_seg = 3;
    p.seg[0] = {.out = buf.data(), .cols = 128, .ld = 128};
    p.seg[1] = {.out = buf.data(), .cols = 64, .ld = 64};
    p.seg[2] = {.out = buf.data(), .cols = 64, .ld = 64};
    p.rope = {.positions = static_cast<const int32_t*>(buf.data()),
              .inv_freq = static_cast<const float*>(buf.data()),
              .slots = static_cast<const int32_t*>(buf.data()),
              .k_cache = buf.data(),
              .v_cache = buf.data(),
              .head_dim = 64};
    return p;
  };
  EXPECT_TRUE(kc::gemv_supported(good()));
  kc::GemvParams p = good();
  p.m = 3;  // beyond kGemvRopeMaxM
  EXPECT_FALSE(kc::gemv_supported(p));
  p = good();
  p.config = {1, 8, 256};  // one row per warp: no pairs
  EXPECT_FALSE(kc::gemv_supported(p));
  p = good();
  p.rope.head_dim = 48;  // segments not whole heads
  EXPECT_FALSE(kc::gemv_supported(p));
  p = good();
  p.seg[2].cols = 32;  // v unlike k
  p.seg[0].cols = 160;
  EXPECT_FALSE(kc::gemv_supported(p));
  p = good();
  p.rope.slots = nullptr;
  EXPECT_FALSE(kc::gemv_supported(p));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Gemv, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

}  // namespace
}  // namespace lightllm::cuda_test
