// The time-to-first-token model of `kvstash replay`.
//
// A request of P prompt tokens whose first H tokens hit the cache (in any
// tier, or on another node) costs
//
//   TTFT = prefill(M = max(P - H, 1) new tokens after H cached ones)
//        + sum over sources s of  (bytes read from s) / bandwidth_s + latency_s
//
// (at least one token is computed even on a full hit: the engine needs its
// logits). Transfers are not overlapped with compute, so the figure is an
// upper bound of what layer-wise pipelining achieves; queueing is not
// modelled (each request gets the GPU to itself).
//
// Prefill FLOPs follow the usual dense-transformer count, with the profile's
// compute shape (service/profile.h: active parameters N, query heads h,
// head dims d_qk and d_v, L layers):
//
//   FLOPs = 2 N M                                   (weights, per token)
//         + 2 L h (d_qk + d_v) (M H + M (M + 1) / 2)  (causal attention:
//            Q.K^T and A.V of each new token over every earlier one)
//
// and run at `gpu_tflops` effective (achieved, not peak) TFLOP/s of the
// replica doing the prefill.
//
// Default parameters, per replica (all overridable by flags):
//   gpu_tflops 400  H200 dense BF16 peak 989 TFLOP/s at ~40% MFU in prefill
//   device  2000 GB/s, 10 us   HBM to HBM copy on the same GPU (4.8 TB/s HBM3e)
//   host      50 GB/s, 20 us   pinned host memory to GPU over PCIe 5.0 x16
//   disk       6 GB/s, 200 us  one PCIe 4.0 NVMe SSD through RocksDB
//   remote    40 GB/s, 50 us   another node over a 400 Gb/s NIC (RDMA)
//
// Thread safety: value types and pure functions.
#ifndef KVSTASH_REPLAY_COST_MODEL_H_
#define KVSTASH_REPLAY_COST_MODEL_H_

#include <array>
#include <cstdint>

#include "service/profile.h"

namespace kvstash::replay {

// Where a hit block came from.
enum class Source : uint8_t { kDevice = 0, kHost = 1, kDisk = 2, kRemote = 3 };
inline constexpr int kSources = 4;
const char* SourceName(Source s);

struct CostModel {
  double gpu_tflops = 400;
  std::array<double, kSources> gbps = {2000, 50, 6, 40};        // 1 GB/s = 1e9 bytes/s
  std::array<double, kSources> latency_us = {10, 20, 200, 50};  // per request touching it
};

double PrefillFlops(const service::ComputeShape& c, uint32_t layers, uint64_t cached_tokens,
                    uint64_t new_tokens);
double PrefillSeconds(const CostModel& m, const service::ComputeShape& c, uint32_t layers,
                      uint64_t cached_tokens, uint64_t new_tokens);
// Sum over sources with bytes > 0 of bytes / bandwidth + latency.
double TransferSeconds(const CostModel& m, const std::array<uint64_t, kSources>& bytes);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_COST_MODEL_H_
