#include "service/tier_setup.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "tiers/device_tier.h"
#include "tiers/disk_tier.h"
#include "tiers/host_tier.h"
#include "tiers/sized_tier.h"

namespace kvstash::service {
namespace {

// Serialised sizes of the profile's blocks in every format a client may put
// or the store may hold, so that host and device slots fit them exactly.
std::vector<uint64_t> SlotSizes(const ModelProfile& profile) {
  std::vector<uint64_t> sizes;
  for (kernels::Format f :
       {kernels::Format::kBf16, kernels::Format::kFp16, kernels::Format::kFp8E4M3,
        kernels::Format::kNvfp4, kernels::Format::kMxfp4}) {
    // Headers differ with and without a parent key; give both an exact fit.
    for (std::optional<tiers::BlockKey> parent :
         {std::optional<tiers::BlockKey>(), std::optional<tiers::BlockKey>(tiers::BlockKey{})}) {
      absl::StatusOr<tiers::BlockHeader> h = tiers::SizedHeader(f, profile.geometry, parent);
      if (h.ok()) sizes.push_back(tiers::SerializedBytes(*h));
    }
  }
  return sizes;
}

// The manager over `stack`, with the node's policies.
absl::StatusOr<std::unique_ptr<tiers::TierManager>> Manage(const DaemonOptions& o,
                                                           std::vector<tiers::TierConfig> stack,
                                                           const Env& env,
                                                           tiers::CopyObserver on_copy_change) {
  if (stack.empty()) {
    return absl::InvalidArgumentError(
        "every tier is disabled: give --host-gib, --disk-gib or --device-gib a size above 0");
  }
  tiers::TierManagerOptions mo;
  mo.storage_format = o.storage_format;
  mo.admit_after_hits = o.disk_admit_after_hits;
  mo.on_copy_change = std::move(on_copy_change);
  return tiers::TierManager::Create(mo, std::move(stack), env);
}

}  // namespace

absl::StatusOr<std::unique_ptr<tiers::TierManager>> BuildTierManager(
    const DaemonOptions& o, const ModelProfile& profile, const Env& env,
    tiers::CopyObserver on_copy_change) {
  std::vector<tiers::TierConfig> stack;
  const std::vector<uint64_t> slots = SlotSizes(profile);
  if (o.device_bytes > 0) {
    tiers::DeviceTierOptions d;
    d.capacity_bytes = o.device_bytes;
    d.slot_sizes = slots;
    absl::StatusOr<std::unique_ptr<tiers::DeviceTier>> t = tiers::DeviceTier::Create(d);
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat("--device-gib: cannot build the device tier: ",
                                       t.status().message(), " (use --device-gib 0)"));
    }
    stack.push_back({*std::move(t), false});
  }
  if (o.host_bytes > 0) {
    tiers::HostTierOptions h;
    h.capacity_bytes = o.host_bytes;
    h.slot_sizes = slots;
    absl::StatusOr<std::unique_ptr<tiers::HostTier>> t = tiers::HostTier::Create(h);
    if (!t.ok()) {
      return absl::Status(
          t.status().code(),
          absl::StrCat("--host-gib: cannot build the host tier: ", t.status().message()));
    }
    stack.push_back({*std::move(t), false});
  }
  if (o.disk_bytes > 0) {
    tiers::DiskTierOptions d;
    d.dir = o.data_dir + "/disk";
    d.capacity_bytes = o.disk_bytes;
    d.sync = o.sync == SyncPolicy::kFsync ? tiers::SyncPolicy::kPowerLoss
                                          : tiers::SyncPolicy::kProcessCrash;
    absl::StatusOr<std::unique_ptr<tiers::DiskTier>> t = tiers::DiskTier::Open(d, env);
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat("--data-dir: cannot open the disk tier in ", d.dir, ": ",
                                       t.status().message()));
    }
    stack.push_back({*std::move(t), true});
  }
  return Manage(o, std::move(stack), env, std::move(on_copy_change));
}

absl::StatusOr<std::unique_ptr<tiers::TierManager>> BuildSizedTierManager(
    const DaemonOptions& o, const ModelProfile& profile, const Env& env) {
  std::vector<tiers::TierConfig> stack;
  const std::vector<uint64_t> slots = SlotSizes(profile);
  if (o.device_bytes > 0) {
    stack.push_back({std::make_unique<tiers::SizedTier>(
                         tiers::SizedTierOptions{"device", o.device_bytes, true, slots}),
                     false});
  }
  if (o.host_bytes > 0) {
    stack.push_back({std::make_unique<tiers::SizedTier>(
                         tiers::SizedTierOptions{"host", o.host_bytes, true, slots}),
                     false});
  }
  if (o.disk_bytes > 0) {
    stack.push_back({std::make_unique<tiers::SizedTier>(
                         tiers::SizedTierOptions{"disk", o.disk_bytes, false, {}}),
                     true});
  }
  return Manage(o, std::move(stack), env, nullptr);
}

}  // namespace kvstash::service
