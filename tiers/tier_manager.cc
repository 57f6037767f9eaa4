// TierManager's public operations; the data movement (placement, eviction,
// spill, promotion) is in tier_manager_move.cc.
#include "tiers/tier_manager.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "tiers/convert.h"

namespace kvstash::tiers {
namespace {

constexpr int kGetAttempts = 8;

}  // namespace

absl::StatusOr<std::unique_ptr<TierManager>> TierManager::Create(const TierManagerOptions& options,
                                                                 std::vector<TierConfig> tiers,
                                                                 const Env& env) {
  if (tiers.empty() || tiers.size() > static_cast<size_t>(kMaxTiers)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tier manager needs 1 to ", kMaxTiers, " tiers, got ", tiers.size()));
  }
  for (const TierConfig& c : tiers) {
    if (c.tier == nullptr) return absl::InvalidArgumentError("tier manager: null tier");
  }
  Env e = env;
  if (e.clock == nullptr) e.clock = SystemClock();
  std::unique_ptr<TierManager> m(new TierManager(options, std::move(tiers), e));
  if (absl::Status s = m->Load(); !s.ok()) return s;
  return m;
}

TierManager::TierManager(const TierManagerOptions& options, std::vector<TierConfig> tiers,
                         const Env& env)
    : options_(options),
      tiers_(std::move(tiers)),
      env_(env),
      index_(static_cast<int>(tiers_.size()), options.on_copy_change),
      charged_(tiers_.size(), 0),
      counters_(tiers_.size()) {}

absl::Status TierManager::Load() {
  for (int t = 0; t < tier_count(); ++t) {
    if (tier(t)->capacity_bytes() == 0) continue;
    std::vector<StoredBlock> blocks = tier(t)->List();
    MutexLock lock(&mu_);
    for (const StoredBlock& b : blocks) {
      IndexEntry* e = index_.Find(b.key);
      if (e == nullptr) e = index_.Create(b.key, b.bytes, b.priority, b.parent);
      if (e->In(t)) continue;
      index_.AddCopy(b.key, t, env_.clock->NowNanos());
      charged_[t] += tier(t)->Charge(b.bytes);
    }
  }
  // A tier reopened with a smaller capacity sheds its least valuable blocks.
  for (int t = 0; t < tier_count(); ++t) {
    while (true) {
      std::vector<BlockKey> victims;
      {
        MutexLock lock(&mu_);
        if (charged_[t] <= tier(t)->capacity_bytes()) break;
        if (!ReserveLocked(t, 0, 1, Room::kEvict, &victims)) break;
      }
      for (const BlockKey& v : victims) Evict(t, v);
    }
  }
  return absl::OkStatus();
}

absl::Status TierManager::Put(const PutRequest& r) {
  absl::StatusOr<ConvertedPayload> c =
      ConvertBlock(r.geometry, BlockPayload{r.format, r.payload, r.scales}, options_.storage_format,
                   r.storage_scales);
  if (!c.ok()) return c.status();
  BlockHeader h;
  h.key = r.key;
  h.parent = r.parent;
  h.priority = r.priority;
  h.format = options_.storage_format;
  h.geometry = r.geometry;
  h.scales = std::move(c->scales);
  h.dynamic_scales = c->dynamic_scales;
  absl::StatusOr<std::string> block = SerializeBlock(h, c->bytes);
  if (!block.ok()) return block.status();
  return Insert(h, *block, block->size());
}

absl::Status TierManager::PutSized(const SizedPutRequest& r) {
  absl::StatusOr<BlockHeader> h = SizedHeader(options_.storage_format, r.geometry, r.parent);
  if (!h.ok()) return h.status();
  h->key = r.key;
  h->priority = r.priority;
  if (absl::Status s = ValidateHeader(*h); !s.ok()) return s;
  std::string block(EncodedHeaderBytes(*h), '\0');
  EncodeHeaderInto(*h, absl::MakeSpan(block));
  return Insert(*h, block, SerializedBytes(*h));
}

absl::Status TierManager::Insert(const BlockHeader& h, absl::string_view block, uint64_t bytes) {
  {
    MutexLock lock(&mu_);
    if (IndexEntry* e = index_.Find(h.key); e != nullptr) {
      // Held (or arriving) already; keys name contents, so this is a use.
      if (e->present != 0) index_.Touch(h.key, e->Fastest(), env_.clock->NowNanos());
      return absl::OkStatus();
    }
    index_.Create(h.key, bytes, h.priority, h.parent)->inserting = true;
  }
  const int first = NextEnabled(-1);
  absl::Status s = first < 0 ? absl::FailedPreconditionError("every tier has capacity 0")
                             : PlaceFrom(first, h.key, block);
  MutexLock lock(&mu_);
  index_.Find(h.key)->inserting = false;  // `inserting` kept it alive
  index_.RemoveIfUnused(h.key);           // if no copy landed
  return s;
}

LookupResult TierManager::Lookup(absl::Span<const BlockKey> keys) const {
  LookupResult out;
  MutexLock lock(&mu_);
  for (const BlockKey& key : keys) {
    const IndexEntry* e = index_.Find(key);
    if (e == nullptr || e->present == 0) break;
    out.tiers.push_back(e->Fastest());
  }
  out.prefix = out.tiers.size();
  return out;
}

void TierManager::NoteRead(const BlockKey& key) {
  MutexLock lock(&mu_);
  IndexEntry* e = index_.Find(key);
  if (e == nullptr || e->present == 0) return;
  index_.Touch(key, e->Fastest(), env_.clock->NowNanos());
  e->hits++;
  hits_++;
}

absl::StatusOr<ReadResult> TierManager::Read(const BlockKey& key) {
  for (int attempt = 0; attempt < kGetAttempts; ++attempt) {
    int t = -1;
    {
      MutexLock lock(&mu_);
      IndexEntry* e = index_.Find(key);
      if (e == nullptr || e->present == 0) break;
      t = e->Fastest();
      index_.Touch(key, t, env_.clock->NowNanos());
      e->hits++;
    }
    absl::StatusOr<BlockRef> ref = tier(t)->Get(key);
    if (absl::IsNotFound(ref.status())) continue;  // moved or erased meanwhile
    if (absl::IsDataLoss(ref.status())) {          // the tier dropped it
      MutexLock lock(&mu_);
      IndexEntry* e = index_.Find(key);
      if (e != nullptr && e->In(t) && !e->BusyIn(t)) {
        index_.RemoveCopy(key, t);
        charged_[t] -= tier(t)->Charge(e->bytes);
        index_.RemoveIfUnused(key);
      }
      continue;  // another tier may hold a good copy
    }
    if (!ref.ok()) return ref.status();
    AfterHit(t, key, ref->bytes());
    MutexLock lock(&mu_);
    hits_++;
    return ReadResult{*std::move(ref), t};
  }
  MutexLock lock(&mu_);
  misses_++;
  return absl::NotFoundError(absl::StrCat("no block ", key.ToString()));
}

absl::StatusOr<GetResult> TierManager::Get(const BlockKey& key,
                                           std::optional<kernels::Format> format) {
  absl::StatusOr<ReadResult> r = Read(key);
  if (!r.ok()) return r.status();
  absl::StatusOr<ParsedBlock> p = ParseBlock(r->block.bytes(), Verify::kHeaderOnly);
  if (!p.ok()) return p.status();
  GetResult out;
  out.tier = r->tier;
  out.header = p->header;
  const kernels::Format want = format.value_or(p->header.format);
  absl::StatusOr<ConvertedPayload> c = ConvertBlock(
      p->header.geometry, BlockPayload{p->header.format, p->payload, p->header.scales}, want);
  if (!c.ok()) return c.status();
  if (want != p->header.format) {
    out.header.format = want;
    out.header.scales = std::move(c->scales);
    out.header.dynamic_scales = c->dynamic_scales;
    out.header.payload_bytes = c->bytes.size();
    out.header.payload_checksum = PayloadChecksum(c->bytes);
  }
  out.payload = std::move(c->bytes);
  return out;
}

absl::Status TierManager::Erase(const BlockKey& key) {
  uint32_t bits = 0;
  {
    MutexLock lock(&mu_);
    IndexEntry* e = index_.Find(key);
    while (e != nullptr && e->busy != 0) {
      moved_.Wait(&mu_);
      e = index_.Find(key);
    }
    if (e == nullptr || e->present == 0) {
      return absl::NotFoundError(absl::StrCat("erase: no block ", key.ToString()));
    }
    bits = e->present;
    for (int t = 0; t < tier_count(); ++t) {
      if (bits & (1u << t)) index_.SetBusy(key, t, true);
    }
  }
  absl::Status first_error;
  std::vector<bool> gone(tier_count(), false);
  for (int t = 0; t < tier_count(); ++t) {
    if (!(bits & (1u << t))) continue;
    absl::Status s = tier(t)->Erase(key);
    gone[t] = s.ok() || absl::IsNotFound(s);
    if (!gone[t] && first_error.ok()) first_error = s;
  }
  MutexLock lock(&mu_);
  IndexEntry* e = index_.Find(key);
  for (int t = 0; t < tier_count(); ++t) {
    if (!(bits & (1u << t))) continue;
    index_.SetBusy(key, t, false);
    if (gone[t]) {
      charged_[t] -= tier(t)->Charge(e->bytes);
      index_.RemoveCopy(key, t);
    }
  }
  if (e->present == 0) e->pins = 0;
  index_.RemoveIfUnused(key);
  moved_.SignalAll();
  return first_error;
}

absl::Status TierManager::Pin(const BlockKey& key) {
  MutexLock lock(&mu_);
  // A copy on its way out must either see the pin (Evict re-checks before
  // dropping) or be gone before the pin is granted: wait out moves.
  for (IndexEntry* e = index_.Find(key); e != nullptr && e->busy != 0; e = index_.Find(key)) {
    moved_.Wait(&mu_);
  }
  return index_.Pin(key);
}

absl::Status TierManager::Unpin(const BlockKey& key) {
  MutexLock lock(&mu_);
  return index_.Unpin(key);
}

TierManagerStats TierManager::Stats() const {
  TierManagerStats out;
  {
    MutexLock lock(&mu_);
    for (const Counters& c : counters_) {
      TierManagerStats::PerTier p;
      p.evictions = c.evictions;
      p.spills = c.spills;
      p.promotions = c.promotions;
      p.admissions_refused = c.admissions_refused;
      out.tiers.push_back(std::move(p));
    }
    out.blocks = index_.size();
    out.hits = hits_;
    out.misses = misses_;
  }
  for (int t = 0; t < tier_count(); ++t) out.tiers[t].tier = tier(t)->Stats();
  return out;
}

}  // namespace kvstash::tiers
