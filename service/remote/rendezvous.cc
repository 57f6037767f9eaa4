#include "service/remote/rendezvous.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace kvstash::remote {

uint64_t RendezvousWeight(const tiers::BlockKey& key, const std::string& member) {
  // The key's bytes (namespace, then digest) seed a hash of the member id, so
  // the weight depends on both and nothing else.
  char k[sizeof(key.ns) + tiers::kDigestBytes];
  std::memcpy(k, &key.ns, sizeof(key.ns));
  std::memcpy(k + sizeof(key.ns), key.digest.data(), tiers::kDigestBytes);
  const uint64_t seed = XXH3_64bits(k, sizeof(k));
  return XXH3_64bits_withSeed(member.data(), member.size(), seed);
}

std::vector<std::string> RendezvousOwners(const tiers::BlockKey& key,
                                          absl::Span<const std::string> members, size_t replicas) {
  std::vector<std::pair<uint64_t, const std::string*>> scored;
  scored.reserve(members.size());
  for (const std::string& m : members) scored.emplace_back(RendezvousWeight(key, m), &m);
  const size_t n = std::min(replicas, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + n, scored.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*scored[i].second);
  return out;
}

}  // namespace kvstash::remote
