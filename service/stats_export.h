// Tier statistics as Prometheus metrics (for /metrics) and as the JSON of
// /v1/stats and `kvstash stats --json`.
#ifndef KVSTASH_SERVICE_STATS_EXPORT_H_
#define KVSTASH_SERVICE_STATS_EXPORT_H_

#include <string>

#include "service/metrics.h"
#include "service/remote/remote_blocks.h"
#include "tiers/tier_manager.h"

namespace kvstash::service {

// kvstash_tier_{capacity,used}_bytes, kvstash_tier_blocks (gauges) and
// kvstash_tier_{hits,misses,bytes_in,bytes_out,evictions,spills,promotions,
// checksum_failures}_total (counters), labelled by tier.
void WriteTierMetrics(const tiers::TierManagerStats& stats, MetricWriter& w);

// Cluster mode: kvstash_remote_members (gauge) and kvstash_remote_{hits,
// misses,bytes_in,peer_errors,pushes,push_errors,pushes_dropped}_total, and
// the data path of pulls: kvstash_remote_ucx_{pulls,bytes,fallbacks,errors}_total
// (RemoteStats has what each counts).
void WriteRemoteMetrics(const remote::RemoteStats& stats, MetricWriter& w);

// {"profile", "storage_format", "blocks", "hits", "misses",
//  "tiers": [{"name", "capacity_bytes", "used_bytes", "blocks", "hits", "misses",
//             "bytes_in", "bytes_out", "evictions", "spills", "promotions",
//             "checksum_failures", "read_only", "error"}]}
std::string StatsToJson(const tiers::TierManagerStats& stats, const std::string& profile,
                        const std::string& storage_format);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_STATS_EXPORT_H_
