// The Tier conformance suite (STYLE.md 16): what every Tier implementation
// must do, written once and instantiated per implementation:
//
//   INSTANTIATE_TEST_SUITE_P(Host, TierConformanceTest,
//                            ::testing::Values(TierFactory{"host", MakeHost}));
//
// Host and disk are instantiated in tiers/tier_conformance_test.cc, the
// device tier in tests/gpu/tier_gpu_test.cc. A factory returning
// Unavailable (no GPU) makes every case skip with the reason.
#ifndef KVSTASH_TIERS_TIER_CONFORMANCE_H_
#define KVSTASH_TIERS_TIER_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tiers/testutil.h"
#include "tiers/tier.h"

namespace kvstash::tiers::testing {

struct TierFactory {
  std::string name;
  // A fresh tier of `capacity` bytes. `dir` is a scratch directory that
  // outlives the tier; calling again with the same dir reopens a persistent
  // tier.
  std::function<absl::StatusOr<std::unique_ptr<Tier>>(uint64_t capacity, const std::string& dir)>
      create;
  bool persistent = false;
};

class TierConformanceTest : public ::testing::TestWithParam<TierFactory> {
 protected:
  void SetUp() override;
  // Replaces tier_ with a fresh (or, if persistent, reopened) tier.
  void Reopen(uint64_t capacity);

  static constexpr uint64_t kCapacity = 256 * 1024;
  ScopedTempDir dir_;
  std::unique_ptr<Tier> tier_;
};

std::string FactoryName(const ::testing::TestParamInfo<TierFactory>& info);

}  // namespace kvstash::tiers::testing

#endif  // KVSTASH_TIERS_TIER_CONFORMANCE_H_
