// Test helpers for tiers/ and tests/tiers/: keys, deterministic blocks, and a
// scratch directory that cleans up after itself.
#ifndef KVSTASH_TIERS_TESTUTIL_H_
#define KVSTASH_TIERS_TESTUTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/kv_layout.h"
#include "tiers/block.h"

namespace kvstash::tiers::testing {

BlockKey Key(uint64_t i, uint64_t ns = 1);

// Whether this is a ThreadSanitizer build (tests then set
// DiskTierOptions::serialize_writes).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KVSTASH_TSAN_BUILD 1
#endif
#endif
#ifdef KVSTASH_TSAN_BUILD
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif

// 2 layers, 2 KV heads, head_dim 32, 4 tokens: a 576-byte NVFP4 payload.
kernels::KvGeometry SmallGeometry();
// A serialised block whose payload is a pure function of (key, seed), in
// `format` (NVFP4 by default, with finite E4M3 block scales and g_dec 0.25).
std::string MakeBlock(const BlockKey& key, uint64_t seed = 0,
                      const kernels::KvGeometry& g = SmallGeometry(),
                      std::optional<BlockKey> parent = std::nullopt, uint8_t priority = 0,
                      kernels::Format format = kernels::Format::kNvfp4);

// N(0,1) values rounded to bf16 bits.
std::vector<uint16_t> RandomBf16(uint64_t seed, size_t n);

// A fresh directory under $TEST_TMPDIR or $TMPDIR or /tmp; removed with its
// contents on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kvstash::tiers::testing

#endif  // KVSTASH_TIERS_TESTUTIL_H_
