// Rendezvous (highest-random-weight) hashing of block keys over cluster
// members (DESIGN.md "Cluster"): a key's owners are the `replicas` members
// with the highest XXH3-64(key ++ member id). Every node computes the same
// owners from the same member list with no coordination, and when a member
// joins or leaves only the keys whose top set contains it change owners.
//
// Thread safety: pure functions.
#ifndef KVSTASH_SERVICE_REMOTE_RENDEZVOUS_H_
#define KVSTASH_SERVICE_REMOTE_RENDEZVOUS_H_

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "tiers/block.h"

namespace kvstash::remote {

// The weight of `member` for `key`.
uint64_t RendezvousWeight(const tiers::BlockKey& key, const std::string& member);

// The min(replicas, members.size()) owners of `key`, highest weight first
// (ties, which need equal 64-bit hashes, by member id).
std::vector<std::string> RendezvousOwners(const tiers::BlockKey& key,
                                          absl::Span<const std::string> members, size_t replicas);

}  // namespace kvstash::remote

#endif  // KVSTASH_SERVICE_REMOTE_RENDEZVOUS_H_
