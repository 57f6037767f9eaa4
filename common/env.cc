#include "common/env.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash {
namespace {

class MonotonicClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
};

const char* OpName(FileFaults::Op op) {
  switch (op) {
    case FileFaults::Op::kWrite:
      return "write";
    case FileFaults::Op::kSync:
      return "sync";
    case FileFaults::Op::kRead:
      return "read";
  }
  return "?";
}

}  // namespace

Clock* SystemClock() {
  static Clock* const clock = new MonotonicClock();
  return clock;
}

uint64_t Random::Next64() {
  MutexLock lock(&mu_);
  return engine_();
}

uint64_t Random::Uniform(uint64_t n) {
  KVSTASH_CHECK(n > 0);
  MutexLock lock(&mu_);
  return std::uniform_int_distribution<uint64_t>(0, n - 1)(engine_);
}

void FileFaults::Set(Op op, int64_t budget) {
  budget_[static_cast<int>(op)].store(budget, std::memory_order_release);
}

void FileFaults::Clear() {
  for (auto& b : budget_) b.store(-2, std::memory_order_release);
}

absl::Status FileFaults::Check(Op op, const std::string& what) {
  std::atomic<int64_t>& budget = budget_[static_cast<int>(op)];
  int64_t b = budget.load(std::memory_order_acquire);
  while (true) {
    if (b == -2) return absl::OkStatus();
    if (b == -1) break;
    if (b == 0) {
      // Budget spent: fail from now on.
      budget.compare_exchange_weak(b, -1, std::memory_order_acq_rel);
      if (b == 0 || b == -1) break;
      continue;
    }
    if (budget.compare_exchange_weak(b, b - 1, std::memory_order_acq_rel)) {
      return absl::OkStatus();
    }
  }
  injected_.fetch_add(1, std::memory_order_relaxed);
  const std::string msg = absl::StrCat("injected ", OpName(op), " failure: ", what);
  return op == Op::kRead ? absl::DataLossError(msg) : absl::UnavailableError(msg);
}

Env Env::Default() {
  static Random* const random = new Random(std::random_device{}());
  return Env{SystemClock(), random, nullptr};
}

}  // namespace kvstash
