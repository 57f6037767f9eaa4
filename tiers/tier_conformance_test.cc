// The Tier conformance suite over the host and disk tiers. The device tier's
// instance lives in tests/gpu/tier_gpu_test.cc.
#include "tiers/tier_conformance.h"

#include "tiers/disk_tier.h"
#include "tiers/host_tier.h"

namespace kvstash::tiers::testing {
namespace {

absl::StatusOr<std::unique_ptr<Tier>> MakeHost(uint64_t capacity, const std::string&) {
  HostTierOptions o;
  o.capacity_bytes = capacity;
  absl::StatusOr<std::unique_ptr<HostTier>> t = HostTier::Create(o);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Tier>(std::move(*t));
}

absl::StatusOr<std::unique_ptr<Tier>> MakeVerifyingHost(uint64_t capacity, const std::string&) {
  HostTierOptions o;
  o.capacity_bytes = capacity;
  o.verify_reads = true;
  absl::StatusOr<std::unique_ptr<HostTier>> t = HostTier::Create(o);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Tier>(std::move(*t));
}

absl::StatusOr<std::unique_ptr<Tier>> MakeDisk(uint64_t capacity, const std::string& dir) {
  DiskTierOptions o;
  o.dir = dir + "/db";
  o.capacity_bytes = capacity;
  o.serialize_writes = kTsan;
  absl::StatusOr<std::unique_ptr<DiskTier>> t = DiskTier::Open(o, Env::Default());
  if (!t.ok()) return t.status();
  return std::unique_ptr<Tier>(std::move(*t));
}

INSTANTIATE_TEST_SUITE_P(Tiers, TierConformanceTest,
                         ::testing::Values(TierFactory{"host", MakeHost, false},
                                           TierFactory{"host_verify_reads", MakeVerifyingHost,
                                                       false},
                                           TierFactory{"disk", MakeDisk, true}),
                         FactoryName);

}  // namespace
}  // namespace kvstash::tiers::testing
