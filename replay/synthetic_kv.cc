#include "replay/synthetic_kv.h"

#include <cstring>

namespace kvstash::replay {

void SyntheticBf16(uint64_t id, absl::Span<uint8_t> out) {
  uint64_t x = id * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i + 1 < out.size(); i += 2) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const float v = static_cast<float>(static_cast<int64_t>(x >> 40) - (1 << 23)) / (1 << 23);
    uint32_t u;
    std::memcpy(&u, &v, 4);
    out[i] = static_cast<uint8_t>(u >> 16);
    out[i + 1] = static_cast<uint8_t>(u >> 24);
  }
}

}  // namespace kvstash::replay
