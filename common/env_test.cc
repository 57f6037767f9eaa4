#include "common/env.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kvstash {
namespace {

TEST(SystemClock, IsMonotonic) {
  const int64_t a = SystemClock()->NowNanos();
  const int64_t b = SystemClock()->NowNanos();
  EXPECT_LE(a, b);
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(100);
  EXPECT_EQ(clock.NowNanos(), 100);
  EXPECT_EQ(clock.NowNanos(), 100);
  clock.Advance(5);
  EXPECT_EQ(clock.NowNanos(), 105);
  clock.Set(7);
  EXPECT_EQ(clock.NowNanos(), 7);
}

TEST(Random, SameSeedSameSequence) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next64();
    EXPECT_EQ(x, b.Next64());
    differs |= x != c.Next64();
  }
  EXPECT_TRUE(differs);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.Uniform(7), 7u);
}

TEST(FileFaults, OffByDefault) {
  FileFaults faults;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(faults.Check(FileFaults::Op::kWrite, "f").ok());
  }
  EXPECT_EQ(faults.injected(), 0);
}

TEST(FileFaults, FailAfterBudget) {
  FileFaults faults;
  faults.FailAfter(FileFaults::Op::kSync, 2);
  EXPECT_TRUE(faults.Check(FileFaults::Op::kSync, "a").ok());
  EXPECT_TRUE(faults.Check(FileFaults::Op::kSync, "b").ok());
  const absl::Status s = faults.Check(FileFaults::Op::kSync, "c");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("sync"), absl::string_view::npos);
  EXPECT_FALSE(faults.Check(FileFaults::Op::kSync, "d").ok());
  // Other ops are unaffected.
  EXPECT_TRUE(faults.Check(FileFaults::Op::kWrite, "e").ok());
  EXPECT_EQ(faults.injected(), 2);
  faults.Clear();
  EXPECT_TRUE(faults.Check(FileFaults::Op::kSync, "f").ok());
}

TEST(FileFaults, ReadFailuresAreDataLoss) {
  FileFaults faults;
  faults.FailAll(FileFaults::Op::kRead);
  EXPECT_TRUE(absl::IsDataLoss(faults.Check(FileFaults::Op::kRead, "x")));
}

TEST(FileFaults, BudgetIsExactUnderConcurrency) {
  FileFaults faults;
  faults.FailAfter(FileFaults::Op::kWrite, 1000);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (faults.Check(FileFaults::Op::kWrite, "w").ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1000);
  EXPECT_EQ(faults.injected(), 1000);
}

}  // namespace
}  // namespace kvstash
