// Pieces shared by the tier benchmark's host and disk halves.
#ifndef KVSTASH_TIERS_TIER_BENCH_INTERNAL_H_
#define KVSTASH_TIERS_TIER_BENCH_INTERNAL_H_

#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/report.h"
#include "tiers/tier_bench.h"

namespace kvstash::tiers::bench_internal {

inline constexpr char kTarget[] = ">= 0.7";

// A prefaulted anonymous buffer.
class Buffer {
 public:
  explicit Buffer(uint64_t bytes) : size_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    data_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~Buffer() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  char* data() const { return data_; }

 private:
  char* data_;
  uint64_t size_;
};

inline std::string SizeName(uint64_t b) {
  return b % (1 << 20) == 0 ? absl::StrCat(b >> 20, "MiB") : absl::StrCat(b >> 10, "KiB");
}

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Repeats `round` (which moves `bytes_per_round`) until `seconds` have passed
// (at least once) after one untimed warm-up round; returns GB/s. `between`
// runs untimed after each round.
inline double Measure(double seconds, uint64_t bytes_per_round, const std::function<void()>& round,
                      const std::function<void()>& between = nullptr) {
  round();  // warm up: caches, TLBs, the index's hash table
  if (between) between();
  double spent = 0;
  uint64_t bytes = 0;
  do {
    const double t0 = Now();
    round();
    spent += Now() - t0;
    bytes += bytes_per_round;
    if (between) between();
  } while (spent < seconds);
  return bytes / spent / 1e9;
}

inline bench::Result MakeResult(std::string name, double value, std::string baseline_name,
                                double baseline) {
  return bench::Result{std::move(name), "GB/s", value, std::move(baseline_name), baseline, kTarget};
}

// The key of the i-th benchmark block.
inline BlockKey BenchKey(size_t i) { return BlockKey::FromHash64(7, i); }

absl::Status BenchHost(const TierBenchOptions& o, const std::vector<std::string>& blocks, size_t n,
                       std::vector<bench::Result>* out);
absl::Status BenchDisk(const TierBenchOptions& o, const std::string& dir,
                       const std::vector<std::string>& blocks, size_t n,
                       std::vector<bench::Result>* out);

}  // namespace kvstash::tiers::bench_internal

#endif  // KVSTASH_TIERS_TIER_BENCH_INTERNAL_H_
