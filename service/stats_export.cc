#include "service/stats_export.h"

#include "absl/strings/str_cat.h"
#include "service/admin_http.h"

namespace kvstash::service {

void WriteTierMetrics(const tiers::TierManagerStats& stats, MetricWriter& w) {
  for (const auto& t : stats.tiers) {
    const Labels l = {{"tier", t.tier.name}};
    w.EmitGauge("kvstash_tier_capacity_bytes", "Tier capacity in bytes", l,
                static_cast<double>(t.tier.capacity_bytes));
    w.EmitGauge("kvstash_tier_used_bytes", "Bytes held (and reserved) in the tier", l,
                static_cast<double>(t.tier.used_bytes));
    w.EmitGauge("kvstash_tier_blocks", "Blocks held in the tier", l,
                static_cast<double>(t.tier.blocks));
    w.EmitGauge("kvstash_tier_read_only", "1 when a sticky error made the tier read-only", l,
                t.tier.read_only ? 1 : 0);
    const std::pair<const char*, uint64_t> counters[] = {
        {"kvstash_tier_hits_total", t.tier.hits},
        {"kvstash_tier_misses_total", t.tier.misses},
        {"kvstash_tier_bytes_in_total", t.tier.bytes_in},
        {"kvstash_tier_bytes_out_total", t.tier.bytes_out},
        {"kvstash_tier_evictions_total", t.evictions},
        {"kvstash_tier_spills_total", t.spills},
        {"kvstash_tier_promotions_total", t.promotions},
        {"kvstash_tier_checksum_failures_total", t.tier.checksum_failures},
    };
    for (const auto& [name, value] : counters) {
      w.EmitCounter(name, "Per-tier block store counter (see docs/metrics in README)", l,
                    static_cast<double>(value));
    }
  }
  w.EmitGauge("kvstash_blocks", "Distinct blocks held on this node", {},
              static_cast<double>(stats.blocks));
  w.EmitCounter("kvstash_lookup_hits_total", "Gets served from any tier", {},
                static_cast<double>(stats.hits));
  w.EmitCounter("kvstash_lookup_misses_total", "Gets that found no tier holding the block", {},
                static_cast<double>(stats.misses));
}

void WriteRemoteMetrics(const remote::RemoteStats& s, MetricWriter& w) {
  w.EmitGauge("kvstash_remote_members", "Live cluster members, this node included", {},
              static_cast<double>(s.members));
  const std::pair<const char*, uint64_t> counters[] = {
      {"kvstash_remote_hits_total", s.hits},
      {"kvstash_remote_misses_total", s.misses},
      {"kvstash_remote_bytes_in_total", s.bytes_in},
      {"kvstash_remote_peer_errors_total", s.peer_errors},
      {"kvstash_remote_pushes_total", s.pushes},
      {"kvstash_remote_push_errors_total", s.push_errors},
      {"kvstash_remote_pushes_dropped_total", s.pushes_dropped},
      {"kvstash_remote_ucx_pulls_total", s.ucx_pulls},
      {"kvstash_remote_ucx_bytes_total", s.ucx_bytes},
      {"kvstash_remote_ucx_fallbacks_total", s.ucx_fallbacks},
      {"kvstash_remote_ucx_errors_total", s.ucx_errors},
  };
  for (const auto& [name, value] : counters) {
    w.EmitCounter(name, "Cluster block pulls and pushes (service/remote/remote_blocks.h)", {},
                  static_cast<double>(value));
  }
}

std::string StatsToJson(const tiers::TierManagerStats& stats, const std::string& profile,
                        const std::string& storage_format) {
  std::string tiers = "[";
  for (size_t i = 0; i < stats.tiers.size(); ++i) {
    const auto& t = stats.tiers[i];
    absl::StrAppend(&tiers, i ? ", " : "", "{\"name\": ", JsonString(t.tier.name),
                    ", \"capacity_bytes\": ", t.tier.capacity_bytes,
                    ", \"used_bytes\": ", t.tier.used_bytes, ", \"blocks\": ", t.tier.blocks,
                    ", \"hits\": ", t.tier.hits, ", \"misses\": ", t.tier.misses,
                    ", \"bytes_in\": ", t.tier.bytes_in, ", \"bytes_out\": ", t.tier.bytes_out,
                    ", \"evictions\": ", t.evictions, ", \"spills\": ", t.spills,
                    ", \"promotions\": ", t.promotions,
                    ", \"checksum_failures\": ", t.tier.checksum_failures,
                    ", \"read_only\": ", t.tier.read_only ? "true" : "false",
                    ", \"error\": ", JsonString(t.tier.error), "}");
  }
  return absl::StrCat("{\"profile\": ", JsonString(profile),
                      ", \"storage_format\": ", JsonString(storage_format),
                      ", \"blocks\": ", stats.blocks, ", \"hits\": ", stats.hits,
                      ", \"misses\": ", stats.misses, ", \"tiers\": ", tiers, "]}");
}

}  // namespace kvstash::service
