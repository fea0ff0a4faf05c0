#include <thread>

#include <gtest/gtest.h>

#include "core/blocking_queue.h"

using lightllm::core::BlockingQueue;

TEST(BlockingQueue, FifoAcrossThreadsAndCloseDrains) {
  BlockingQueue<int> q;
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) q.push(i);
    q.close();
  });
  int expected = 0;
  while (auto v = q.pop()) EXPECT_EQ(*v, expected++);
  producer.join();
  EXPECT_EQ(expected, 1000);
  EXPECT_FALSE(q.push(5));
}

TEST(BlockingQueue, PopForTimesOut) {
  BlockingQueue<int> q;
  EXPECT_FALSE(q.pop_for(std::chrono::milliseconds(5)).has_value());
  q.push(3);
  q.push(4);
  EXPECT_EQ(q.drain(), (std::vector<int>{3, 4}));
}
