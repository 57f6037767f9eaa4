// The in-process baseline of `kvstash bench service` (service_bench.h): the
// same blocks, put and got through tiers::TierManager directly.
#include <memory>
#include <vector>

#include "bench/service_bench_internal.h"
#include "common/env.h"
#include "tiers/block.h"
#include "tiers/host_tier.h"
#include "tiers/slot_allocator.h"
#include "tiers/tier_manager.h"

namespace kvstash::bench::service_internal {
namespace {

constexpr size_t kPoolBytes = size_t{64} << 20;  // as the workers use

absl::StatusOr<std::unique_ptr<tiers::TierManager>> NewManager(uint64_t block_bytes,
                                                               size_t blocks) {
  tiers::BlockHeader h;
  h.format = kernels::Format::kNvfp4;
  h.geometry = GeometryFor(block_bytes);
  h.scales.assign(2, 1.0f);
  h.payload_bytes = PayloadBytes(block_bytes);
  const uint64_t serialized = tiers::SerializedBytes(h);
  tiers::HostTierOptions ho;
  ho.slot_sizes = {serialized};
  ho.capacity_bytes =
      blocks * tiers::SlotAllocator(uint64_t{1} << 40, {serialized}).ClassSize(serialized);
  ho.prefault = true;
  absl::StatusOr<std::unique_ptr<tiers::HostTier>> host = tiers::HostTier::Create(ho);
  if (!host.ok()) return host.status();
  std::vector<tiers::TierConfig> stack;
  stack.push_back({*std::move(host), false});
  tiers::TierManagerOptions mo;
  mo.promote = tiers::PromotePolicy::kNever;
  return tiers::TierManager::Create(mo, std::move(stack), Env::Default());
}

}  // namespace

absl::StatusOr<CaseFigures> RunInProcess(uint64_t block_bytes, uint64_t bytes, int repeats) {
  const uint64_t payload = PayloadBytes(block_bytes);
  const size_t n = std::max<uint64_t>(1, bytes / payload);
  const std::vector<std::string> pool =
      MakePayloads(block_bytes, std::max<size_t>(1, std::min(n, kPoolBytes / payload)), 1);
  absl::StatusOr<std::unique_ptr<tiers::TierManager>> m = NewManager(block_bytes, n);
  if (!m.ok()) return m.status();
  auto key = [](size_t i) { return tiers::BlockKey::FromHash64(7, i); };
  tiers::PutRequest r;
  r.geometry = GeometryFor(block_bytes);
  r.format = kernels::Format::kNvfp4;
  r.scales = kScales;
  CaseFigures best;
  absl::Status status;
  // One untimed round first (repeats + 1 rounds in all): caches, the index.
  for (int round = 0; round <= repeats && status.ok(); ++round) {
    double t0 = Now();
    for (size_t i = 0; i < n && status.ok(); ++i) {
      r.key = key(i);
      r.payload = pool[i % pool.size()];
      status = (*m)->Put(r);
    }
    const double put_s = Now() - t0;
    t0 = Now();
    for (size_t i = 0; i < n && status.ok(); ++i) {
      absl::StatusOr<tiers::GetResult> g = (*m)->Get(key(i), kernels::Format::kNvfp4);
      if (!g.ok())
        status = g.status();
      else if (g->payload.size() != payload)
        status = absl::DataLossError("in-process: short get");
    }
    const double get_s = Now() - t0;
    for (size_t i = 0; i < n && status.ok(); ++i) status = (*m)->Erase(key(i));
    if (round == 0) continue;
    const double b = double(n) * payload;
    if (b / put_s / 1e9 > best.put.gbs) best.put = {b / put_s / 1e9, n / put_s};
    if (b / get_s / 1e9 > best.get.gbs) best.get = {b / get_s / 1e9, n / get_s};
  }
  if (!status.ok()) return status;
  return best;
}

}  // namespace kvstash::bench::service_internal
