#include "replay/cost_model.h"

namespace kvstash::replay {

const char* SourceName(Source s) {
  switch (s) {
    case Source::kDevice:
      return "device";
    case Source::kHost:
      return "host";
    case Source::kDisk:
      return "disk";
    case Source::kRemote:
      return "remote";
  }
  return "?";
}

double PrefillFlops(const service::ComputeShape& c, uint32_t layers, uint64_t cached_tokens,
                    uint64_t new_tokens) {
  const double m = static_cast<double>(new_tokens);
  const double h = static_cast<double>(cached_tokens);
  const double pairs = m * h + m * (m + 1) / 2;  // (query, key) pairs, causal
  return 2 * c.active_params * m +
         2.0 * layers * c.q_heads * (static_cast<double>(c.qk_head_dim) + c.v_head_dim) * pairs;
}

double PrefillSeconds(const CostModel& m, const service::ComputeShape& c, uint32_t layers,
                      uint64_t cached_tokens, uint64_t new_tokens) {
  return PrefillFlops(c, layers, cached_tokens, new_tokens) / (m.gpu_tflops * 1e12);
}

double TransferSeconds(const CostModel& m, const std::array<uint64_t, kSources>& bytes) {
  double s = 0;
  for (int i = 0; i < kSources; ++i) {
    if (bytes[i] == 0) continue;
    s += static_cast<double>(bytes[i]) / (m.gbps[i] * 1e9) + m.latency_us[i] * 1e-6;
  }
  return s;
}

}  // namespace kvstash::replay
