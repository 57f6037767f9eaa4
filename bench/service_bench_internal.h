// Pieces shared by the two sides of `kvstash bench service` (service_bench.h):
// the payload geometry, payload bytes, keys and the clock.
#ifndef KVSTASH_BENCH_SERVICE_BENCH_INTERNAL_H_
#define KVSTASH_BENCH_SERVICE_BENCH_INTERNAL_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kernels/kv_layout.h"

namespace kvstash::bench::service_internal {

// 1 layer x K/V x 1 head x 128 dims x T tokens: NVFP4 is 144 bytes per
// token here, so T = round(bytes / 144) comes within 72 bytes of `bytes`.
inline kernels::KvGeometry GeometryFor(uint64_t bytes) {
  constexpr uint64_t kPerToken = 2 * 128 * 9 / 16;
  kernels::KvGeometry g;
  g.layers = 1;
  g.planes = 2;
  g.kv_heads = 1;
  g.head_dim = 128;
  g.block_tokens =
      static_cast<uint32_t>(std::max<uint64_t>(1, (bytes + kPerToken / 2) / kPerToken));
  return g;
}

// The NVFP4 payload size of GeometryFor(bytes).
inline uint64_t PayloadBytes(uint64_t bytes) {
  return kernels::KvBlockLayout::Create(GeometryFor(bytes), kernels::Format::kNvfp4)->block_bytes();
}

inline constexpr float kScales[2] = {1.0f, 1.0f};  // K and V global scales (g_dec)

// `count` distinct NVFP4 payloads of GeometryFor(bytes), from `seed`: random
// 4-bit values, and per-16-value scale bytes that are finite E4M3 numbers.
std::vector<std::string> MakePayloads(uint64_t bytes, size_t count, uint64_t seed);

// One phase of one case: payload GB/s and operations per second.
struct Figure {
  double gbs = 0;
  double ops = 0;            // per second
  double count = 0;          // operations in all
  double zero_copy_ops = 0;  // of which served from shared memory
};
struct CaseFigures {
  Figure put, get;
  Figure get_view;  // Client::GetViews + one memcpy (kvstashd only)
};

// The in-process baseline: one thread puts `bytes` of blocks into a
// TierManager over a prefaulted host tier, then gets them, in NVFP4
// (service_bench_inprocess.cc). Best of `repeats`.
absl::StatusOr<CaseFigures> RunInProcess(uint64_t block_bytes, uint64_t bytes, int repeats);

// A loopback TCP port that was free a moment ago (service_bench.cc).
absl::StatusOr<int> FreeLoopbackPort();

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "1MiB", "64KiB", or bytes.
inline std::string SizeName(uint64_t b) {
  if (b % (1 << 20) == 0) return absl::StrCat(b >> 20, "MiB");
  if (b % (1 << 10) == 0) return absl::StrCat(b >> 10, "KiB");
  return absl::StrCat(b, "B");
}

inline std::string RedisKey(uint64_t k) { return absl::StrCat("kvstash-bench:", absl::Hex(k)); }

}  // namespace kvstash::bench::service_internal

#endif  // KVSTASH_BENCH_SERVICE_BENCH_INTERNAL_H_
