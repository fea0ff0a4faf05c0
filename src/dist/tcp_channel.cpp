// src/dist/tcp_channel.cpp — POSIX sockets for TcpChannel / TcpListener and the rendezvous
// handshake (see tcp_channel.h).
#include "dist/tcp_channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

namespace lightllm::dist {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kHelloMagic = 0x4c4c4d5450484c4fULL;  // "LLMTPHLO"
constexpr uint64_t kMaxMessage = uint64_t{1} << 32;      // a corrupt length is not an allocation

core::Status errno_status(std::string_view what) {
  return core::error(core::StatusCode::unavailable, "{}: {}", what, std::strerror(errno));
}

// Waits until fd is readable/writable; timeout < 0 waits forever.
core::Status wait_fd(int fd, short events, Millis timeout, std::string_view what) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  for (;;) {
    const int r = ::poll(&p, 1, timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
    if (r > 0) return {};
    if (r == 0)
      return core::error(core::StatusCode::unavailable, "timed out after {} ms waiting for {}",
                         timeout.count(), what);
    if (errno != EINTR) return errno_status(what);
  }
}

core::Result<sockaddr_in> resolve(const std::string& host, int port) {
  if (port < 0 || port > 65535) return core::invalid_argument("port {} is out of range", port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (host.empty() || host == "0.0.0.0") {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    return addr;
  }
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    return core::invalid_argument("cannot resolve host '{}': {}", host, ::gai_strerror(rc));
  addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  ::freeaddrinfo(res);
  return addr;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

TcpChannel::~TcpChannel() {
  close();
}
TcpChannel::TcpChannel(TcpChannel&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
TcpChannel& TcpChannel::operator=(TcpChannel&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void TcpChannel::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

core::Result<TcpChannel> TcpChannel::connect(const std::string& host, int port, Millis timeout) {
  LLM_ASSIGN_OR_RETURN(sockaddr_in addr, resolve(host, port));
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_status("socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      set_nodelay(fd);
      return TcpChannel(fd);
    }
    const int err = errno;
    ::close(fd);
    if (Clock::now() >= deadline) {
      errno = err;
      return errno_status(
          fmt::format("connecting to {}:{} (gave up after {} ms)", host, port, timeout.count()));
    }
    std::this_thread::sleep_for(Millis(100));  // the listener may not be up yet
  }
}

core::Status TcpChannel::send(std::span<const uint8_t> bytes) {
  if (fd_ < 0) return core::error(core::StatusCode::unavailable, "send on a closed channel");
  const uint64_t n = bytes.size();
  auto write_all = [this](const uint8_t* p, size_t len) -> core::Status {
    while (len > 0) {
      const ssize_t w = ::send(fd_, p, len, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno_status("send to a tensor-parallel peer");
      }
      p += w;
      len -= static_cast<size_t>(w);
    }
    return {};
  };
  LLM_RETURN_IF_ERROR(write_all(reinterpret_cast<const uint8_t*>(&n), sizeof(n)));
  return write_all(bytes.data(), bytes.size());
}

core::Result<std::vector<uint8_t>> TcpChannel::recv(Millis timeout) {
  if (fd_ < 0) return core::error(core::StatusCode::unavailable, "recv on a closed channel");
  auto read_all = [this, timeout](uint8_t* p, size_t len) -> core::Status {
    while (len > 0) {
      LLM_RETURN_IF_ERROR(wait_fd(fd_, POLLIN, timeout, "a message from a tensor-parallel peer"));
      const ssize_t r = ::recv(fd_, p, len, 0);
      if (r == 0)
        return core::error(core::StatusCode::unavailable,
                           "the tensor-parallel peer closed the connection");
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("recv from a tensor-parallel peer");
      }
      p += r;
      len -= static_cast<size_t>(r);
    }
    return {};
  };
  uint64_t n = 0;
  LLM_RETURN_IF_ERROR(read_all(reinterpret_cast<uint8_t*>(&n), sizeof(n)));
  if (n > kMaxMessage) return core::data_loss("tensor-parallel message of {} bytes", n);
  std::vector<uint8_t> out(n);
  LLM_RETURN_IF_ERROR(read_all(out.data(), out.size()));
  return out;
}

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}
TcpListener::TcpListener(TcpListener&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), port_(std::exchange(o.port_, 0)) {}
TcpListener& TcpListener::operator=(TcpListener&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    port_ = std::exchange(o.port_, 0);
  }
  return *this;
}

core::Result<TcpListener> TcpListener::listen(const std::string& host, int port) {
  LLM_ASSIGN_OR_RETURN(sockaddr_in addr, resolve(host, port));
  TcpListener l;
  l.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l.fd_ < 0) return errno_status("socket");
  int one = 1;
  ::setsockopt(l.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(l.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    return errno_status(fmt::format("binding the rendezvous port {}:{}", host, port));
  if (::listen(l.fd_, 64) != 0) return errno_status("listen");
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(l.fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return errno_status("getsockname");
  l.port_ = ntohs(bound.sin_port);
  return l;
}

core::Result<TcpChannel> TcpListener::accept(Millis timeout) {
  LLM_RETURN_IF_ERROR(wait_fd(fd_, POLLIN, timeout, "a node to connect"));
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return errno_status("accept");
  set_nodelay(fd);
  return TcpChannel(fd);
}

core::Result<std::vector<TcpChannel>> host_rendezvous(TcpListener& listener, int nnodes,
                                                      Millis timeout) {
  std::vector<TcpChannel> nodes(static_cast<size_t>(nnodes));
  const Clock::time_point deadline = Clock::now() + timeout;
  for (int joined = 1; joined < nnodes;) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    auto ch = listener.accept(std::max(left, Millis(0)));
    if (!ch.ok())
      return ch.status().with_context(fmt::format("rendezvous on port {}: {} of {} nodes joined",
                                                  listener.port(), joined, nnodes));
    LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> hello, ch->recv(Millis(10000)));
    ByteReader r(hello);
    uint64_t magic = 0;
    int32_t node = -1, their_nnodes = 0;
    if (!r.get(magic).ok() || magic != kHelloMagic || !r.get(node).ok() ||
        !r.get(their_nnodes).ok())
      return core::invalid_argument("rendezvous: a peer that is not a lightllm node connected");
    if (their_nnodes != nnodes)
      return core::invalid_argument("rendezvous: node {} says --nnodes {}, node 0 has {}", node,
                                    their_nnodes, nnodes);
    if (node < 1 || node >= nnodes || nodes[static_cast<size_t>(node)].connected())
      return core::invalid_argument("rendezvous: node rank {} is out of range or joined twice",
                                    node);
    nodes[static_cast<size_t>(node)] = std::move(ch).value();
    ++joined;
  }
  return nodes;
}

core::Result<TcpChannel> join_rendezvous(const std::string& host, int port, int node_rank,
                                         int nnodes, Millis timeout) {
  LLM_ASSIGN_OR_RETURN(TcpChannel ch, TcpChannel::connect(host, port, timeout));
  ByteWriter w;
  w.put(kHelloMagic);
  w.put<int32_t>(node_rank);
  w.put<int32_t>(nnodes);
  LLM_RETURN_IF_ERROR(ch.send(w.bytes()));
  return ch;
}

}  // namespace lightllm::dist
