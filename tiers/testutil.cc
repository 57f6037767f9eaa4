#include "tiers/testutil.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/check.h"

namespace kvstash::tiers::testing {

BlockKey Key(uint64_t i, uint64_t ns) { return BlockKey::FromHash64(ns, i); }

kernels::KvGeometry SmallGeometry() { return kernels::KvGeometry{2, 2, 32, 4, 2}; }

std::string MakeBlock(const BlockKey& key, uint64_t seed, const kernels::KvGeometry& g,
                      std::optional<BlockKey> parent, uint8_t priority, kernels::Format format) {
  absl::StatusOr<kernels::KvBlockLayout> layout = kernels::KvBlockLayout::Create(g, format);
  KVSTASH_CHECK(layout.ok());
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull ^ key.ns ^
                      (uint64_t{key.digest[0]} | uint64_t{key.digest[1]} << 8 |
                       uint64_t{key.digest[2]} << 16 | uint64_t{key.digest[3]} << 24));
  std::string payload(layout->block_bytes(), '\0');
  for (size_t i = 0; i < payload.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(payload.data() + i, &r, std::min<size_t>(8, payload.size() - i));
  }
  for (uint32_t l = 0; l < g.layers; ++l) {
    for (uint32_t p = 0; p < g.planes; ++p) {
      const kernels::Segment s = layout->segment(l, static_cast<kernels::Plane>(p));
      for (size_t i = 0; i < s.scale_bytes; ++i) payload[s.scale_offset + i] &= 0x77;  // finite
    }
  }
  BlockHeader h;
  h.key = key;
  h.parent = parent;
  h.priority = priority;
  h.format = format;
  h.geometry = g;
  h.scales.assign(ScaleCount(h.format, g), 0.25f);
  absl::StatusOr<std::string> block = SerializeBlock(h, payload);
  KVSTASH_CHECK(block.ok());
  return *std::move(block);
}

std::vector<uint16_t> RandomBf16(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint16_t> out(n);
  for (uint16_t& v : out) {
    const float f = normal(rng);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    v = static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  }
  return out;
}

ScopedTempDir::ScopedTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  if (base == nullptr || *base == '\0') base = getenv("TMPDIR");
  if (base == nullptr || *base == '\0') base = "/tmp";
  std::string tmpl = std::string(base) + "/kvstash_test_XXXXXX";
  KVSTASH_CHECK(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace kvstash::tiers::testing

// Debian's librocksdb is not built with ThreadSanitizer: its own threads'
// synchronisation is invisible to TSan, so what it does through intercepted
// functions (memcpy, memcmp) and its inline header code looks racy. Suppress
// reports raised from inside it; kvstash's own code is instrumented and its
// races are still reported. (Write groups, where RocksDB hands one thread's
// batch to another, are avoided with DiskTierOptions::serialize_writes.)
#ifdef KVSTASH_TSAN_BUILD
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:librocksdb.so\n"
         "race:^rocksdb::\n";
}
#endif
