// src/dist/fake_communicator.cpp — see fake_communicator.h.
#include "dist/fake_communicator.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

namespace lightllm::dist {

using core::Status;
using core::Tensor;

namespace {

enum class Op { all_reduce_sum, all_gather, broadcast };

std::string_view op_name(Op op) {
  switch (op) {
    case Op::all_reduce_sum: return "all_reduce_sum";
    case Op::all_gather: return "all_gather";
    case Op::broadcast: return "broadcast";
  }
  return "?";
}

// What one rank brought to a collective.
struct Post {
  Op op = Op::all_reduce_sum;
  Tensor x;    // the input (in place for all_reduce_sum / broadcast): a view of the caller's
  Tensor out;  // all_gather's output
  int root = 0;
};

float load_f32(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case core::DType::bf16: return core::bf16_to_f32(t.data<core::bf16>()[i]);
    case core::DType::f16: return core::f16_to_f32(t.data<core::f16>()[i]);
    default: return t.data<float>()[i];
  }
}

void store_f32(Tensor& t, int64_t i, float v) {
  switch (t.dtype()) {
    case core::DType::bf16: t.data<core::bf16>()[i] = core::f32_to_bf16(v); break;
    case core::DType::f16: t.data<core::f16>()[i] = core::f32_to_f16(v); break;
    default: t.data<float>()[i] = v;
  }
}

Status check_tensor(const Tensor& t, Op op, int rank, const char* what) {
  if (!t.defined())
    return core::internal_error("{}: rank {}: {} is undefined", op_name(op), rank, what);
  if (t.device() != core::Device::cpu || !t.is_contiguous())
    return core::internal_error("{}: rank {}: {} {} must be a contiguous host tensor", op_name(op),
                                rank, what, t.describe());
  const core::DType d = t.dtype();
  const bool is_float = d == core::DType::f32 || d == core::DType::bf16 || d == core::DType::f16;
  if (!is_float && !(d == core::DType::i32 && op != Op::all_reduce_sum))
    return core::internal_error("{}: rank {}: unsupported dtype in {}", op_name(op), rank,
                                t.describe());
  return {};
}

}  // namespace

class FakeGroup {
 public:
  FakeGroup(int world, std::chrono::milliseconds timeout)
      : world_(world), timeout_(timeout), posts_(static_cast<size_t>(world)) {}

  int world() const { return world_; }

  // Posts rank's part and waits until every rank has posted (or the group breaks).
  Status collective(int rank, Post post) {
    std::unique_lock lock(mu_);
    if (!broken_.ok()) return broken_;
    posts_[static_cast<size_t>(rank)] = std::move(post);
    const uint64_t generation = generation_;
    if (++arrived_ == world_) {
      result_ = run();
      if (!result_.ok()) broken_ = result_;
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return result_;
    }
    const bool done =
        cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || !broken_.ok(); });
    if (generation_ != generation) return result_;  // no later collective can finish without us
    if (!done) {
      broken_ = core::error(core::StatusCode::unavailable,
                            "{}: rank {} waited {} ms and only {} of {} ranks arrived; the group "
                            "is unusable",
                            op_name(posts_[static_cast<size_t>(rank)].op), rank, timeout_.count(),
                            arrived_, world_);
      cv_.notify_all();
    }
    return broken_;
  }

 private:
  // Called by the last rank to arrive, under the lock: every rank is blocked meanwhile.
  Status run() {
    const Post& p0 = posts_[0];
    for (int r = 0; r < world_; ++r) {
      const Post& p = posts_[static_cast<size_t>(r)];
      if (p.op != p0.op)
        return core::internal_error("collective mismatch: rank 0 called {}, rank {} called {}",
                                    op_name(p0.op), r, op_name(p.op));
      LLM_RETURN_IF_ERROR(check_tensor(p.x, p.op, r, "input"));
      if (p.x.dtype() != p0.x.dtype() || !(p.x.shape() == p0.x.shape()))
        return core::internal_error("{}: rank {} passed {}, rank 0 passed {}", op_name(p.op), r,
                                    p.x.describe(), p0.x.describe());
      if (p.op == Op::broadcast && (p.root != p0.root || p.root < 0 || p.root >= world_))
        return core::internal_error("broadcast: rank {} names root {}, rank 0 root {} (world {})",
                                    r, p.root, p0.root, world_);
      if (p.op == Op::all_gather) {
        LLM_RETURN_IF_ERROR(check_tensor(p.out, p.op, r, "output"));
        core::Shape want = p.x.shape();
        want[0] *= world_;
        if (p.out.dtype() != p.x.dtype() || !(p.out.shape() == want))
          return core::internal_error("all_gather: rank {}: output {} for input {} needs {}", r,
                                      p.out.describe(), p.x.describe(), want.to_string());
      }
    }
    switch (p0.op) {
      case Op::all_reduce_sum: {
        const int64_t n = p0.x.numel();
        sum_.assign(static_cast<size_t>(n), 0.0f);
        for (int r = 0; r < world_; ++r)  // fixed rank order: deterministic
          for (int64_t i = 0; i < n; ++i)
            sum_[static_cast<size_t>(i)] += load_f32(posts_[static_cast<size_t>(r)].x, i);
        for (int r = 0; r < world_; ++r)
          for (int64_t i = 0; i < n; ++i)
            store_f32(posts_[static_cast<size_t>(r)].x, i, sum_[static_cast<size_t>(i)]);
        break;
      }
      case Op::all_gather: {
        const size_t chunk = p0.x.nbytes();
        for (int dst = 0; dst < world_; ++dst)
          for (int src = 0; src < world_; ++src)
            std::memmove(static_cast<char*>(posts_[static_cast<size_t>(dst)].out.raw()) +
                             static_cast<size_t>(src) * chunk,
                         posts_[static_cast<size_t>(src)].x.raw(), chunk);
        break;
      }
      case Op::broadcast: {
        const Post& root = posts_[static_cast<size_t>(p0.root)];
        for (int r = 0; r < world_; ++r)
          if (r != p0.root)
            std::memcpy(posts_[static_cast<size_t>(r)].x.raw(), root.x.raw(), root.x.nbytes());
        break;
      }
    }
    for (Post& p : posts_) p = Post{};  // drop the views
    return {};
  }

  const int world_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Post> posts_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  Status result_;
  Status broken_;
  std::vector<float> sum_;
};

FakeCommunicator::FakeCommunicator(std::shared_ptr<FakeGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

int FakeCommunicator::world_size() const {
  return group_->world();
}

Status FakeCommunicator::all_reduce_sum(Tensor& x) {
  return group_->collective(rank_, {.op = Op::all_reduce_sum, .x = x});
}

Status FakeCommunicator::all_gather(const Tensor& x, Tensor& out) {
  return group_->collective(rank_, {.op = Op::all_gather, .x = x, .out = out});
}

Status FakeCommunicator::broadcast(Tensor& x, int root) {
  return group_->collective(rank_, {.op = Op::broadcast, .x = x, .root = root});
}

std::vector<std::unique_ptr<FakeCommunicator>> make_fake_group(int world,
                                                               std::chrono::milliseconds timeout) {
  auto group = std::make_shared<FakeGroup>(world, timeout);
  std::vector<std::unique_ptr<FakeCommunicator>> comms;
  for (int r = 0; r < world; ++r) comms.push_back(std::make_unique<FakeCommunicator>(group, r));
  return comms;
}

Status run_ranks(int world, const std::function<Status(int rank)>& fn) {
  std::vector<Status> results(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] { results[static_cast<size_t>(r)] = fn(r); });
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < world; ++r)
    if (!results[static_cast<size_t>(r)].ok())
      return results[static_cast<size_t>(r)].with_context("rank " + std::to_string(r));
  return {};
}

}  // namespace lightllm::dist
