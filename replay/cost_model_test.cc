#include "replay/cost_model.h"

#include <gtest/gtest.h>

namespace kvstash::replay {
namespace {

TEST(CostModelTest, PrefillFlopsCountWeightsAndCausalAttention) {
  service::ComputeShape c;
  c.active_params = 1e6;
  c.q_heads = 2;
  c.qk_head_dim = 16;
  c.v_head_dim = 8;
  // 2 N M + 2 L h (dqk + dv) (M H + M (M + 1) / 2), L = 3, M = 2, H = 8:
  // 4e6 + 2 * 3 * 2 * 24 * (16 + 3) = 4e6 + 5472.
  EXPECT_DOUBLE_EQ(PrefillFlops(c, 3, 8, 2), 4e6 + 5472);
  EXPECT_DOUBLE_EQ(PrefillFlops(c, 3, 0, 0), 0);
  CostModel m;
  m.gpu_tflops = 1e-6;  // 1 MFLOP/s
  EXPECT_DOUBLE_EQ(PrefillSeconds(m, c, 3, 8, 2), 4 + 5472e-6);
}

TEST(CostModelTest, TransfersPayBandwidthAndLatencyPerSourceUsed) {
  CostModel m;
  m.gbps = {1, 2, 4, 8};
  m.latency_us = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(TransferSeconds(m, {0, 0, 0, 0}), 0);
  EXPECT_DOUBLE_EQ(TransferSeconds(m, {1'000'000'000, 0, 4'000'000'000, 0}), 1 + 1e-6 + 1 + 3e-6);
  EXPECT_STREQ(SourceName(Source::kRemote), "remote");
}

}  // namespace
}  // namespace kvstash::replay
