// Builds the node's tier stack from DaemonOptions: device (when
// --device-gib > 0), host (--host-gib), disk (--disk-gib, under
// <data-dir>/disk), fastest first, under one TierManager. A size of 0
// disables that tier.
#ifndef KVSTASH_SERVICE_TIER_SETUP_H_
#define KVSTASH_SERVICE_TIER_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/env.h"
#include "service/options.h"
#include "service/profile.h"
#include "tiers/tier_manager.h"

namespace kvstash::service {

// Fails with a clear reason when a requested tier cannot be built (e.g.
// --device-gib on a machine without a GPU) or when every tier is disabled.
// `on_copy_change` (may be empty) hears of every copy entering or leaving a
// tier, those found at start included (TierManagerOptions).
absl::StatusOr<std::unique_ptr<tiers::TierManager>> BuildTierManager(
    const DaemonOptions& options, const ModelProfile& profile, const Env& env,
    tiers::CopyObserver on_copy_change = nullptr);

// The same stack (same tiers, order, capacities, slot classes, admission and
// manager options) built from size-only tiers (tiers/sized_tier.h): what
// `kvstash replay` drives with PutSized/Read at any budget without payloads.
absl::StatusOr<std::unique_ptr<tiers::TierManager>> BuildSizedTierManager(
    const DaemonOptions& options, const ModelProfile& profile, const Env& env);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_TIER_SETUP_H_
