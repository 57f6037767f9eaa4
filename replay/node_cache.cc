// SizedCache and MaterializedCache: one TierManager over the node's tier
// stack, size-only or real (node_cache.h).
#include "replay/node_cache.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "replay/synthetic_kv.h"
#include "service/options.h"
#include "service/tier_setup.h"
#include "tiers/tier_manager.h"

namespace kvstash::replay {
namespace {

std::optional<Source> SourceOfTier(absl::string_view name) {
  if (name == "device") return Source::kDevice;
  if (name == "host") return Source::kHost;
  if (name == "disk") return Source::kDisk;
  return std::nullopt;
}

service::DaemonOptions TierOptions(const CacheOptions& o) {
  service::DaemonOptions d = *service::ParseDaemonOptions({});
  d.device_bytes = o.device_bytes;
  d.host_bytes = o.host_bytes;
  d.disk_bytes = o.disk_bytes;
  d.storage_format = o.format;
  d.disk_admit_after_hits = o.disk_admit_after_hits;
  d.data_dir = o.scratch_dir;
  return d;
}

class ManagerCache final : public NodeCache {
 public:
  ManagerCache(std::unique_ptr<tiers::TierManager> m, const CacheOptions& o, uint64_t block_bytes,
               size_t bf16_bytes, bool materialized)
      : m_(std::move(m)),
        geometry_(o.profile.geometry),
        block_bytes_(block_bytes),
        bf16_bytes_(bf16_bytes),
        materialized_(materialized) {}

  absl::StatusOr<std::vector<Source>> Lookup(absl::Span<const tiers::BlockKey> keys) override {
    std::vector<Source> out;
    for (int t : m_->Lookup(keys).tiers) out.push_back(Of(t));
    return out;
  }

  absl::StatusOr<std::vector<std::optional<Source>>> Read(
      absl::Span<const tiers::BlockKey> keys) override {
    std::vector<std::optional<Source>> out;
    for (const tiers::BlockKey& k : keys) {
      absl::StatusOr<int> t = materialized_ ? TimedGet(k) : ReadSized(k);
      if (absl::IsNotFound(t.status())) {
        out.push_back(std::nullopt);
        continue;
      }
      if (!t.ok()) return t.status();
      out.push_back(Of(*t));
    }
    return out;
  }

  absl::Status Store(absl::Span<const tiers::BlockKey> keys, std::optional<tiers::BlockKey> parent,
                     absl::Span<const uint64_t> ids) override {
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::optional<tiers::BlockKey> p = i == 0 ? parent : keys[i - 1];
      absl::Status s =
          materialized_ ? PutReal(keys[i], p, ids[i]) : m_->PutSized({keys[i], p, 0, geometry_});
      // A full node (everything pinned or moving) drops the block, as
      // kvstashd would answer the put; the replay goes on.
      if (!s.ok() && !absl::IsResourceExhausted(s)) return s;
    }
    return absl::OkStatus();
  }

  std::vector<TierFigures> Tiers() override {
    const tiers::TierManagerStats s = m_->Stats();
    std::vector<TierFigures> out;
    for (int t = 0; t < m_->tier_count(); ++t) {
      const tiers::TierManagerStats::PerTier& p = s.tiers[t];
      TierFigures f;
      f.name = p.tier.name;
      f.capacity_bytes = p.tier.capacity_bytes;
      f.used_bytes = p.tier.used_bytes;
      f.blocks = p.tier.blocks;
      f.bytes_in = p.tier.bytes_in;
      f.bytes_out = p.tier.bytes_out;
      f.evictions = p.evictions;
      f.spills = p.spills;
      f.promotions = p.promotions;
      f.admissions_refused = p.admissions_refused;
      const uint64_t charge = m_->tier(t)->Charge(block_bytes_);
      f.capacity_blocks = charge > 0 ? f.capacity_bytes / charge : 0;
      out.push_back(std::move(f));
    }
    return out;
  }

  std::array<double, kSources> read_seconds() const override { return read_seconds_; }
  uint64_t block_bytes() const override { return block_bytes_; }

 private:
  Source Of(int t) const { return SourceOfTier(m_->tier(t)->name()).value_or(Source::kHost); }

  absl::StatusOr<int> ReadSized(const tiers::BlockKey& k) {
    absl::StatusOr<tiers::ReadResult> r = m_->Read(k);
    if (!r.ok()) return r.status();
    return r->tier;
  }

  // A real read out of the tier into this process (the engine's copy),
  // timed, in the stored format.
  absl::StatusOr<int> TimedGet(const tiers::BlockKey& k) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<tiers::GetResult> g = m_->Get(k, std::nullopt);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!g.ok()) return g.status();
    read_seconds_[static_cast<int>(Of(g->tier))] += secs;
    return g->tier;
  }

  absl::Status PutReal(const tiers::BlockKey& k, const std::optional<tiers::BlockKey>& parent,
                       uint64_t id) {
    payload_.resize(bf16_bytes_);
    SyntheticBf16(id, absl::MakeSpan(payload_));
    tiers::PutRequest r;
    r.key = k;
    r.parent = parent;
    r.geometry = geometry_;
    r.format = kernels::Format::kBf16;
    r.payload = absl::string_view(reinterpret_cast<const char*>(payload_.data()), payload_.size());
    return m_->Put(r);
  }

  std::unique_ptr<tiers::TierManager> m_;
  const kernels::KvGeometry geometry_;
  const uint64_t block_bytes_;
  const size_t bf16_bytes_;  // of a computed block, as it is put
  const bool materialized_;
  std::vector<uint8_t> payload_;
  std::array<double, kSources> read_seconds_{};
};

}  // namespace

absl::StatusOr<uint64_t> StoredBlockBytes(const service::ModelProfile& profile,
                                          kernels::Format format) {
  absl::StatusOr<tiers::BlockHeader> h =
      tiers::SizedHeader(format, profile.geometry, tiers::BlockKey{});
  if (!h.ok()) return h.status();
  return tiers::SerializedBytes(*h);
}

absl::StatusOr<std::unique_ptr<NodeCache>> CreateSizedCache(const CacheOptions& o, Clock* clock) {
  absl::StatusOr<uint64_t> bytes = StoredBlockBytes(o.profile, o.format);
  if (!bytes.ok()) return bytes.status();
  Env env = Env::Default();
  env.clock = clock;
  absl::StatusOr<std::unique_ptr<tiers::TierManager>> m =
      service::BuildSizedTierManager(TierOptions(o), o.profile, env);
  if (!m.ok()) return m.status();
  return std::make_unique<ManagerCache>(*std::move(m), o, *bytes, 0, false);
}

absl::StatusOr<std::unique_ptr<NodeCache>> CreateMaterializedCache(const CacheOptions& o,
                                                                   Clock* clock) {
  if (o.scratch_dir.empty()) return absl::InvalidArgumentError("materialize: no scratch dir");
  absl::StatusOr<uint64_t> bytes = StoredBlockBytes(o.profile, o.format);
  if (!bytes.ok()) return bytes.status();
  Env env = Env::Default();
  env.clock = clock;
  absl::StatusOr<size_t> bf16 = service::BlockBytes(o.profile, kernels::Format::kBf16);
  if (!bf16.ok()) return bf16.status();
  absl::StatusOr<std::unique_ptr<tiers::TierManager>> m =
      service::BuildTierManager(TierOptions(o), o.profile, env);
  if (!m.ok()) return m.status();
  return std::make_unique<ManagerCache>(*std::move(m), o, *bytes, *bf16, true);
}

}  // namespace kvstash::replay
