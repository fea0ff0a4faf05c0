// src/dist/tcp_channel.h — the small TCP links between the nodes of a multi-node
// tensor-parallel group: the rendezvous (node 0 listens at --nccl-host:--nccl-port, every
// other node connects and says hello with its node rank), then length-prefixed messages on
// the same connections (the NCCL unique id, KV capacity agreement, each step's batch).
//
// Invariants:
// - A message is a u64 little-endian length followed by that many bytes; send() writes all
//   of it or fails, recv() returns exactly one whole message.
// - Every blocking call has a timeout (recv's may be infinite: a follower waits for steps);
//   a closed peer is `unavailable`, a timeout is `unavailable` naming what was awaited.
// - host_rendezvous() returns one channel per node rank (index 0 empty), whatever order the
//   nodes connect in; a duplicate or out-of-range node rank is an error.
// Plain POSIX sockets: no CUDA, testable on any machine.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace lightllm::dist {

using Millis = std::chrono::milliseconds;

class TcpChannel {
 public:
  TcpChannel() = default;
  ~TcpChannel();
  TcpChannel(TcpChannel&& o) noexcept;
  TcpChannel& operator=(TcpChannel&& o) noexcept;
  TcpChannel(const TcpChannel&) = delete;
  TcpChannel& operator=(const TcpChannel&) = delete;

  // Connects to host:port, retrying until `timeout` (the listener may start later).
  static core::Result<TcpChannel> connect(const std::string& host, int port, Millis timeout);

  core::Status send(std::span<const uint8_t> bytes);
  // One whole message; timeout < 0 waits forever.
  core::Result<std::vector<uint8_t>> recv(Millis timeout = Millis(-1));

  bool connected() const { return fd_ >= 0; }
  void close();

 private:
  friend class TcpListener;
  explicit TcpChannel(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class TcpListener {
 public:
  TcpListener() = default;
  ~TcpListener();
  TcpListener(TcpListener&& o) noexcept;
  TcpListener& operator=(TcpListener&& o) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Listens on `host` (an IPv4 address or name; "" or "0.0.0.0" = every interface) at `port`
  // (0 = a free port, see port()).
  static core::Result<TcpListener> listen(const std::string& host, int port);
  core::Result<TcpChannel> accept(Millis timeout);
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Node 0: accepts the other nnodes - 1 nodes; element r is node r's channel (element 0 is
// unconnected).
core::Result<std::vector<TcpChannel>> host_rendezvous(TcpListener& listener, int nnodes,
                                                      Millis timeout);
// Node node_rank > 0: connects to node 0 and says hello.
core::Result<TcpChannel> join_rendezvous(const std::string& host, int port, int node_rank,
                                         int nnodes, Millis timeout);

// Little helpers for the fixed-layout messages built on these channels.
class ByteWriter {
 public:
  template <typename T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <typename T>
  void put_span(std::span<const T> v) {
    put<uint64_t>(v.size());
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes_.insert(bytes_.end(), p, p + v.size_bytes());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  core::Status get(T& v) {
    if (pos_ + sizeof(T) > bytes_.size()) return truncated();
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return {};
  }
  template <typename T>
  core::Status get_vector(std::vector<T>& v) {
    uint64_t n = 0;
    LLM_RETURN_IF_ERROR(get(n));
    if (n > (bytes_.size() - pos_) / sizeof(T)) return truncated();
    v.resize(n);
    std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return {};
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  core::Status truncated() const {
    return core::data_loss("tensor-parallel message truncated at byte {} of {}", pos_,
                           bytes_.size());
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace lightllm::dist
