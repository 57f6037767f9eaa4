// The tier benchmark runs end to end on tiny sizes and reports every case
// with its same-run baseline. No timing is asserted here (benchmarks only).
#include "tiers/tier_bench.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

TEST(TierBench, ReportsEveryCaseNextToItsBaseline) {
  testing::ScopedTempDir dir;
  TierBenchOptions o;
  o.dir = dir.path();
  o.block_bytes = {64 << 10, 32 << 10};
  o.host_bytes = 1 << 20;
  o.host_seconds = 0;
  o.disk_bytes = 1 << 20;
  o.repeats = 1;
  std::ostringstream progress;
  absl::StatusOr<std::vector<bench::Result>> r = RunTierBench(o, &progress);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> names;
  for (const bench::Result& x : *r) {
    names.push_back(x.name);
    EXPECT_GT(x.value, 0) << x.name;
    EXPECT_GT(x.baseline, 0) << x.name;
    EXPECT_EQ(x.unit, "GB/s");
    EXPECT_EQ(x.target, x.name.find("verified") == std::string::npos ? ">= 0.7" : "(verify_reads)");
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "host_put_64KiB", "host_get_64KiB", "host_get_verified_64KiB",
                       "disk_write_64KiB", "disk_read_64KiB", "host_put_32KiB", "host_get_32KiB",
                       "host_get_verified_32KiB", "disk_write_32KiB", "disk_read_32KiB"}));
  EXPECT_NE(progress.str().find("tiers: disk"), std::string::npos);
  std::ostringstream json;
  bench::PrintJson(*r, json);
  EXPECT_NE(json.str().find("\"baseline_name\": \"file_read\""), std::string::npos);
}

TEST(TierBench, RejectsABlockSizeItCannotShape) {
  TierBenchOptions o;
  o.block_bytes = {1000};
  EXPECT_TRUE(absl::IsInvalidArgument(RunTierBench(o, nullptr).status()));
}

}  // namespace
}  // namespace kvstash::tiers
