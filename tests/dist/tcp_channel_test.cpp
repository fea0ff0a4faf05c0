// tests/dist/tcp_channel_test.cpp — the multi-node rendezvous on localhost: node 0 accepts
// the others in any order and sends them a 128-byte id (as the NCCL unique id travels);
// wrong peers, duplicate node ranks and timeouts are errors, never hangs.
#include <gtest/gtest.h>

#include <numeric>
#include <thread>

#include "dist/tcp_channel.h"

namespace lightllm::dist {
namespace {

using namespace std::chrono_literals;

TEST(TcpRendezvous, NodeZeroSendsTheIdToEveryNode) {
  auto listener = TcpListener::listen("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  const int port = listener->port();
  ASSERT_GT(port, 0);
  std::vector<uint8_t> id(128);
  std::iota(id.begin(), id.end(), uint8_t{7});

  constexpr int kNodes = 3;
  std::vector<std::vector<uint8_t>> got(kNodes);
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> nodes;
  for (int node = kNodes - 1; node >= 1; --node)  // join in reverse order
    nodes.emplace_back([&, node] {
      auto ch = join_rendezvous("127.0.0.1", port, node, kNodes, 10s);
      if (!ch.ok()) {
        errors[node] = ch.status().to_string();
        return;
      }
      auto msg = ch->recv(10s);
      if (!msg.ok()) {
        errors[node] = msg.status().to_string();
        return;
      }
      got[node] = *msg;
      (void)ch->send(std::vector<uint8_t>{static_cast<uint8_t>(node)});  // an ack
    });
  auto channels = host_rendezvous(*listener, kNodes, 10s);
  ASSERT_TRUE(channels.ok()) << channels.status().to_string();
  ASSERT_EQ(channels->size(), size_t{kNodes});
  EXPECT_FALSE((*channels)[0].connected());
  for (int node = 1; node < kNodes; ++node) {
    ASSERT_TRUE((*channels)[node].send(id).ok());
    auto ack = (*channels)[node].recv(10s);
    ASSERT_TRUE(ack.ok()) << ack.status().to_string();
    EXPECT_EQ(*ack, std::vector<uint8_t>{static_cast<uint8_t>(node)})
        << "channel " << node << " is not node " << node << "'s";
  }
  for (auto& t : nodes) t.join();
  for (int node = 1; node < kNodes; ++node) {
    EXPECT_EQ(errors[node], "");
    EXPECT_EQ(got[node], id);
  }
}

TEST(TcpRendezvous, LargeMessagesArriveWhole) {
  auto listener = TcpListener::listen("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  std::vector<uint8_t> big(5 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 3);
  std::thread sender([&] {
    auto ch = join_rendezvous("127.0.0.1", listener->port(), 1, 2, 10s);
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE(ch->send(big).ok());
    ASSERT_TRUE(ch->send({}).ok());  // empty messages are messages too
  });
  auto channels = host_rendezvous(*listener, 2, 10s);
  ASSERT_TRUE(channels.ok()) << channels.status().to_string();
  auto a = (*channels)[1].recv(10s);
  auto b = (*channels)[1].recv(10s);
  sender.join();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, big);
  EXPECT_TRUE(b->empty());
}

TEST(TcpRendezvous, ErrorsInsteadOfHangs) {
  auto listener = TcpListener::listen("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  // Nobody joins: a timeout naming how many nodes came.
  auto none = host_rendezvous(*listener, 2, 200ms);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("1 of 2 nodes joined"), std::string::npos)
      << none.status().to_string();

  // A node with another --nnodes.
  std::thread wrong([&] { (void)join_rendezvous("127.0.0.1", listener->port(), 1, 3, 5s); });
  auto mismatch = host_rendezvous(*listener, 2, 5s);
  wrong.join();
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("--nnodes 3"), std::string::npos)
      << mismatch.status().to_string();

  // Not a lightllm node.
  std::thread stranger([&] {
    auto ch = TcpChannel::connect("127.0.0.1", listener->port(), 5s);
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE(ch->send(std::vector<uint8_t>{1, 2, 3}).ok());
  });
  auto bad = host_rendezvous(*listener, 2, 5s);
  stranger.join();
  EXPECT_FALSE(bad.ok());

  // Connecting where nothing listens gives up after the timeout.
  auto other = TcpListener::listen("127.0.0.1", 0);
  ASSERT_TRUE(other.ok());
  const int closed_port = other->port();
  *other = TcpListener();  // closed
  auto refused = TcpChannel::connect("127.0.0.1", closed_port, 300ms);
  EXPECT_FALSE(refused.ok());

  // A peer that closes: recv reports it.
  std::thread closer([&] {
    auto ch = join_rendezvous("127.0.0.1", listener->port(), 1, 2, 5s);
    ASSERT_TRUE(ch.ok());
  });
  auto chans = host_rendezvous(*listener, 2, 5s);
  closer.join();
  ASSERT_TRUE(chans.ok());
  auto gone = (*chans)[1].recv(5s);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), core::StatusCode::unavailable);
}

}  // namespace
}  // namespace lightllm::dist
