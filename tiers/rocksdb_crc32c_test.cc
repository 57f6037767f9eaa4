#include "tiers/rocksdb_crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace kvstash::tiers {
namespace {

// Bit-at-a-time CRC32C, the definition.
uint32_t Reference(uint32_t crc, const std::string& s) {
  uint32_t l = crc ^ 0xffffffffu;
  for (unsigned char c : s) {
    l ^= c;
    for (int k = 0; k < 8; ++k) l = (l >> 1) ^ ((l & 1) ? 0x82f63b78u : 0);
  }
  return l ^ 0xffffffffu;
}

TEST(Crc32c, KnownVector) {
  EXPECT_EQ(Crc32cExtend(0, "123456789", 9), 0xe3069283u);
  EXPECT_EQ(Crc32cExtend(0, "", 0), 0u);
}

TEST(Crc32c, MatchesTheDefinitionAndExtendsInPieces) {
  std::mt19937_64 rng(1);
  for (int len = 0; len < 300; ++len) {
    std::string s(len, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ASSERT_EQ(Crc32cExtend(0, s.data(), s.size()), Reference(0, s)) << len;
    const size_t cut = len == 0 ? 0 : rng() % len;
    const uint32_t first = Crc32cExtend(0, s.data(), cut);
    ASSERT_EQ(Crc32cExtend(first, s.data() + cut, s.size() - cut), Reference(0, s)) << len;
  }
}

TEST(Crc32c, RocksDbCallsAreBoundToIt) {
  EXPECT_TRUE(RocksDbUsesKvstashCrc32c());
  if (!Crc32cIsHardware()) GTEST_SKIP() << "no SSE4.2 on this CPU: table-driven fallback";
}

}  // namespace
}  // namespace kvstash::tiers
