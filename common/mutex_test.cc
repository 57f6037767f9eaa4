#include "common/mutex.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kvstash {
namespace {

TEST(Mutex, SerialisesWriters) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(CondVar, WaitReturnsWithTheLockHeldOnceSignalled) {
  Mutex mu;
  CondVar cv;
  bool ready = false, seen = false;
  std::thread waiter([&] {
    MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
    seen = true;
  });
  {
    MutexLock lock(&mu);
    ready = true;
  }
  cv.SignalAll();
  waiter.join();
  MutexLock lock(&mu);
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace kvstash
