// ClientCache: a running kvstashd through libkvstash (node_cache.h).
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "kvstash/client.h"
#include "replay/node_cache.h"
#include "replay/synthetic_kv.h"

namespace kvstash::replay {
namespace {

Key ToClientKey(const tiers::BlockKey& k) {
  uint64_t hash = 0;
  std::memcpy(&hash, k.digest.data(), sizeof(hash));  // FromHash64's little-endian u64
  return Key::FromU64(hash, k.ns);
}

std::optional<Source> SourceOf(Tier t) {
  switch (t) {
    case Tier::kDevice:
      return Source::kDevice;
    case Tier::kHost:
      return Source::kHost;
    case Tier::kDisk:
      return Source::kDisk;
    case Tier::kRemote:
      return Source::kRemote;
    case Tier::kNone:
      break;
  }
  return std::nullopt;
}

class ClientCache final : public NodeCache {
 public:
  ClientCache(std::unique_ptr<Client> c, const CacheOptions& o, uint64_t block_bytes,
              size_t bf16_bytes)
      : c_(std::move(c)),
        geometry_{o.profile.geometry.layers, o.profile.geometry.kv_heads,
                  o.profile.geometry.head_dim, o.profile.geometry.block_tokens,
                  o.profile.geometry.planes},
        format_(static_cast<Format>(o.format)),
        block_bytes_(block_bytes),
        bf16_bytes_(bf16_bytes) {}

  absl::StatusOr<std::vector<Source>> Lookup(absl::Span<const tiers::BlockKey> keys) override {
    const std::vector<Key> k = Convert(keys);
    absl::StatusOr<LookupResult> l = c_->Lookup(k);
    if (!l.ok()) return l.status();
    std::vector<Source> out;
    for (size_t i = 0; i < l->matched; ++i)
      out.push_back(SourceOf(l->tiers[i]).value_or(Source::kHost));
    return out;
  }

  absl::StatusOr<std::vector<std::optional<Source>>> Read(
      absl::Span<const tiers::BlockKey> keys) override {
    const std::vector<Key> k = Convert(keys);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<BlockViews> v = c_->GetViews(k, format_);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!v.ok()) return v.status();
    std::vector<std::optional<Source>> out;
    for (size_t i = 0; i < v->size(); ++i) out.push_back(SourceOf((*v)[i].tier));
    // The call's time, shared out by blocks per source.
    for (const std::optional<Source>& s : out) {
      if (s) read_seconds_[static_cast<int>(*s)] += secs / static_cast<double>(out.size());
    }
    return out;
  }

  absl::Status Store(absl::Span<const tiers::BlockKey> keys, std::optional<tiers::BlockKey> parent,
                     absl::Span<const uint64_t> ids) override {
    std::vector<std::vector<uint8_t>> payloads(keys.size(), std::vector<uint8_t>(bf16_bytes_));
    std::vector<PutBlock> puts;
    for (size_t i = 0; i < keys.size(); ++i) {
      SyntheticBf16(ids[i], absl::MakeSpan(payloads[i]));
      PutBlock b;
      b.key = ToClientKey(keys[i]);
      if (i > 0) {
        b.parent = ToClientKey(keys[i - 1]);
      } else if (parent) {
        b.parent = ToClientKey(*parent);
      }
      b.format = Format::kBf16;
      b.geometry = geometry_;
      b.payload = payloads[i];
      puts.push_back(b);
    }
    if (puts.empty()) return absl::OkStatus();
    absl::StatusOr<size_t> n = c_->Put(puts);
    return n.status();
  }

  std::vector<TierFigures> Tiers() override {
    std::vector<TierFigures> out;
    absl::StatusOr<std::vector<TierStats>> s = c_->Stats();
    if (!s.ok()) return out;
    for (const TierStats& t : *s) {
      TierFigures f;
      f.name = t.name;
      f.capacity_bytes = t.capacity_bytes;
      f.used_bytes = t.used_bytes;
      f.blocks = t.blocks;
      f.bytes_in = t.bytes_in;
      f.bytes_out = t.bytes_out;
      f.evictions = t.evictions;
      f.spills = t.spills;
      f.promotions = t.promotions;
      f.capacity_blocks = t.name == "remote" ? 0 : t.capacity_bytes / block_bytes_;
      out.push_back(std::move(f));
    }
    return out;
  }

  std::array<double, kSources> read_seconds() const override { return read_seconds_; }
  uint64_t block_bytes() const override { return block_bytes_; }

 private:
  static std::vector<Key> Convert(absl::Span<const tiers::BlockKey> keys) {
    std::vector<Key> out;
    out.reserve(keys.size());
    for (const tiers::BlockKey& k : keys) out.push_back(ToClientKey(k));
    return out;
  }

  std::unique_ptr<Client> c_;
  const Geometry geometry_;
  const Format format_;
  const uint64_t block_bytes_;
  const size_t bf16_bytes_;  // of a computed block, as it is put
  std::array<double, kSources> read_seconds_{};
};

}  // namespace

absl::StatusOr<std::unique_ptr<NodeCache>> CreateClientCache(const std::string& address,
                                                             const CacheOptions& o) {
  absl::StatusOr<uint64_t> bytes = StoredBlockBytes(o.profile, o.format);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<size_t> bf16 = service::BlockBytes(o.profile, kernels::Format::kBf16);
  if (!bf16.ok()) return bf16.status();
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(address);
  if (!c.ok()) {
    return absl::Status(c.status().code(),
                        absl::StrCat("--connect ", address, ": ", c.status().message()));
  }
  return std::make_unique<ClientCache>(*std::move(c), o, *bytes, *bf16);
}

}  // namespace kvstash::replay
