// Router vocabulary shared by the event decoders, the prefix index and the
// placement scorer (DESIGN.md "Router and placement hints", issue 5).
//
// A *holder* is whoever publishes KV events about blocks it holds:
//   - an engine rank: (worker, dp_rank >= 0), from vLLM-style ZMQ streams;
//     medium "GPU" -> kDevice, "CPU" -> kHost, "DISK" -> kDisk;
//   - a kvstash node: (node id, kNodeRank), from kvstashd's own tier events.
// Block hashes are the 64-bit wire form engines publish (INTEROP.md): the
// chained sequence hash, so one hash names a whole prefix.
#ifndef KVSTASH_SERVICE_ROUTER_TYPES_H_
#define KVSTASH_SERVICE_ROUTER_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvstash::router {

// dp_rank of a holder that is a kvstash node rather than an engine rank.
inline constexpr int32_t kNodeRank = -1;

// Fastest first; the order is the placement preference (device > host > disk).
enum class Medium : uint8_t { kDevice = 0, kHost = 1, kDisk = 2 };
inline constexpr int kMediumCount = 3;

struct HolderId {
  std::string worker;
  int32_t dp_rank = 0;
  friend bool operator==(const HolderId&, const HolderId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const HolderId& id) {
    return H::combine(std::move(h), id.worker, id.dp_rank);
  }
};

// One decoded KV event (vLLM BlockStored / BlockRemoved / AllBlocksCleared,
// or the kvstash tier equivalents).
struct KvEvent {
  enum class Kind : uint8_t { kStored = 0, kRemoved = 1, kCleared = 2 };
  Kind kind = Kind::kStored;
  std::vector<uint64_t> block_hashes;   // chained; parent first
  std::optional<uint64_t> parent_hash;  // kStored only
  std::optional<Medium> medium;         // nullopt: the publisher's default (device)
  uint32_t block_size = 0;              // tokens per block; 0 when absent
};

// One published batch: `holder` is filled by whoever received it (the
// subscription names the worker; dp_rank comes from the batch, 0 when nil).
struct EventBatch {
  HolderId holder;
  double timestamp = 0;
  uint64_t seq = 0;
  std::vector<KvEvent> events;
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_TYPES_H_
