// The environment seam (STYLE.md 13, 15): time, randomness and injectable
// filesystem faults. Production code takes an `Env` and never reads the
// system clock or an unseeded RNG directly, so that tests advance a FakeClock
// and replay a seeded Random instead of sleeping or hoping.
//
//   Env env = Env::Default();          // real clock, random seed from the OS
//   FakeClock clock;                   // tests
//   Random rng(42);
//   Env test_env{&clock, &rng, &faults};
//
// Ownership: an Env holds non-owning pointers; the objects must outlive every
// user of the Env. Env::Default()'s members live for the whole process.
//
// Thread safety: every class here is safe for concurrent use.
#ifndef KVSTASH_COMMON_ENV_H_
#define KVSTASH_COMMON_ENV_H_

#include <atomic>
#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/mutex.h"

namespace kvstash {

// Monotonic nanoseconds. Only differences are meaningful.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;
};

// CLOCK_MONOTONIC. Process-wide, never destroyed.
Clock* SystemClock();

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_nanos = 0) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_acquire); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos, std::memory_order_acq_rel); }
  void Set(int64_t nanos) { now_.store(nanos, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_;
};

// A seeded pseudo-random source (mt19937_64). The same seed gives the same
// sequence; concurrent callers are serialised.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;

  uint64_t Next64();
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n);

 private:
  Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

// Failure switches for file operations. Code that does file I/O (the RocksDB
// filesystem wrapper in tiers/fault_fs.h, plain-file helpers) asks
// CheckWrite()/CheckSync()/CheckRead() before each operation and fails with
// the returned error. Like leveldb's FaultInjectionTestEnv, the switches are
// flipped by tests; production code runs with all switches off.
class FileFaults {
 public:
  enum class Op : uint8_t { kWrite = 0, kSync = 1, kRead = 2 };

  // Makes every operation of kind `op` fail from now on (until Clear).
  void FailAll(Op op) { Set(op, -1); }
  // Lets `n` more operations of kind `op` succeed, then fails the rest.
  void FailAfter(Op op, int64_t n) { Set(op, n); }
  void Clear();

  // OK, or an IOError-like status (absl::DataLossError for reads,
  // absl::UnavailableError for writes and syncs) naming the op and `what`.
  absl::Status Check(Op op, const std::string& what);
  // How many operations the switches have failed so far.
  int64_t injected() const { return injected_.load(std::memory_order_relaxed); }

 private:
  void Set(Op op, int64_t budget);

  // Per op: -2 = never fail, -1 = always fail, n >= 0 = succeed n more times.
  std::atomic<int64_t> budget_[3] = {-2, -2, -2};
  std::atomic<int64_t> injected_{0};
};

struct Env {
  Clock* clock = nullptr;
  Random* random = nullptr;
  FileFaults* faults = nullptr;  // nullptr: no fault injection

  // The real environment: SystemClock(), a Random seeded from the OS, no faults.
  static Env Default();
};

}  // namespace kvstash

#endif  // KVSTASH_COMMON_ENV_H_
