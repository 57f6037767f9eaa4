// Without a GPU the device tier says so, clearly, and does not crash; the
// conformance suite runs on it in tests/gpu/tier_gpu_test.cc.
#include "tiers/device_tier.h"

#include <gtest/gtest.h>

namespace kvstash::tiers {
namespace {

TEST(DeviceTier, UnavailableWithAReasonOrWorks) {
  DeviceTierOptions o;
  o.capacity_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<DeviceTier>> t = DeviceTier::Create(o);
  if (t.ok()) {
    EXPECT_EQ((*t)->capacity_bytes(), 1u << 20);
    GTEST_SKIP() << "a GPU is present; tests/gpu covers the device tier";
  }
  EXPECT_TRUE(absl::IsUnavailable(t.status())) << t.status();
  EXPECT_NE(t.status().message().find("device tier unavailable"), absl::string_view::npos)
      << t.status();
}

TEST(DeviceTier, RejectsATinyCapacity) {
  DeviceTierOptions o;
  o.capacity_bytes = 100;
  EXPECT_TRUE(absl::IsInvalidArgument(DeviceTier::Create(o).status()));
}

}  // namespace
}  // namespace kvstash::tiers
