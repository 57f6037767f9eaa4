// ReferenceIndex: a deliberately naive model of PrefixIndex and Placement,
// for the property test (index_property_test.cc) only. It keeps every
// (block, holder) -> media in ordered maps, erases eagerly, and computes
// placement straight from the definitions in prefix_index.h and placement.h
// without sharing any code with placement.cc. No eviction (run PrefixIndex
// unbounded against it), no approximate mode, temperature 0 only.
//
// Not thread-safe.
#ifndef KVSTASH_SERVICE_ROUTER_REFERENCE_INDEX_H_
#define KVSTASH_SERVICE_ROUTER_REFERENCE_INDEX_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "service/router/placement.h"
#include "service/router/prefix_index.h"
#include "service/router/types.h"

namespace kvstash::router {

class ReferenceIndex {
 public:
  // REQUIRES: a batch PrefixIndex::Apply accepts.
  void Apply(const EventBatch& batch);
  bool RemoveHolder(const HolderId& holder);
  void Touch(const HolderId& holder, double now);
  std::vector<HolderId> ExpireSilent(double now, double ttl);

  std::vector<HolderStatus> Holders() const;
  std::vector<HolderOverlap> Overlaps(absl::Span<const uint64_t> hashes) const;
  // REQUIRES: a request Placement::Place accepts, with temperature 0.
  PlacementDecision Place(const PlacementRequest& request, const CostWeights& weights) const;

 private:
  using Key = std::pair<std::string, int32_t>;  // (worker, dp_rank)
  struct Holder {
    bool live = false;
    double last_seen = 0;
  };
  struct Scored {
    RankScore score;
    Key own_node;
    uint32_t run = 0;
  };

  void Register(const Key& k);
  void EraseEntries(const Key& k);
  uint8_t Media(const Key& k, uint64_t hash) const;  // 0 when not held
  bool AnyNode(uint64_t hash) const;
  Scored Score(const Key& rank, int64_t load, absl::Span<const uint64_t> hashes,
               const CostWeights& weights) const;
  std::vector<FetchHint> Hints(const Scored& best, absl::Span<const uint64_t> hashes) const;

  std::map<Key, Holder> holders_;
  std::map<uint64_t, std::map<Key, uint8_t>> blocks_;
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_REFERENCE_INDEX_H_
