// Deterministic stand-in KV data for blocks a replay or demo "computes":
// bf16 values in [-1, 1) from a xorshift stream seeded by the block id, so
// the same id always gives the same bytes (and byte-exact checks can
// regenerate them).
#ifndef KVSTASH_REPLAY_SYNTHETIC_KV_H_
#define KVSTASH_REPLAY_SYNTHETIC_KV_H_

#include <cstdint>

#include "absl/types/span.h"

namespace kvstash::replay {

// Fills `out` (an even number of bytes: little-endian bf16 values).
void SyntheticBf16(uint64_t id, absl::Span<uint8_t> out);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_SYNTHETIC_KV_H_
