#include "service/router/reference_index.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvstash::router {
namespace {

constexpr uint8_t kDevice = 1, kHost = 2;  // MediumBit(); disk is whatever is left

Medium Fastest(uint8_t media) {
  if (media & kDevice) return Medium::kDevice;
  if (media & kHost) return Medium::kHost;
  return Medium::kDisk;
}

}  // namespace

void ReferenceIndex::Register(const Key& k) {
  Holder& h = holders_[k];
  if (!h.live) {
    h.live = true;
    h.last_seen = std::numeric_limits<double>::quiet_NaN();
  }
}

void ReferenceIndex::EraseEntries(const Key& k) {
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    it->second.erase(k);
    it = it->second.empty() ? blocks_.erase(it) : std::next(it);
  }
}

void ReferenceIndex::Apply(const EventBatch& batch) {
  const Key k{batch.holder.worker, batch.holder.dp_rank};
  Register(k);
  for (const KvEvent& e : batch.events) {
    if (e.kind == KvEvent::Kind::kCleared) {
      EraseEntries(k);
      continue;
    }
    for (uint64_t hash : e.block_hashes) {
      if (e.kind == KvEvent::Kind::kStored) {
        blocks_[hash][k] |= uint8_t{1} << static_cast<int>(e.medium.value_or(Medium::kDevice));
        continue;
      }
      auto b = blocks_.find(hash);
      if (b == blocks_.end() || !b->second.contains(k)) continue;
      uint8_t& media = b->second[k];
      media &= e.medium ? ~(uint8_t{1} << static_cast<int>(*e.medium)) : 0;
      if (media == 0) b->second.erase(k);
      if (b->second.empty()) blocks_.erase(b);
    }
  }
}

bool ReferenceIndex::RemoveHolder(const HolderId& holder) {
  auto it = holders_.find({holder.worker, holder.dp_rank});
  if (it == holders_.end() || !it->second.live) return false;
  it->second.live = false;
  EraseEntries(it->first);
  return true;
}

void ReferenceIndex::Touch(const HolderId& holder, double now) {
  const Key k{holder.worker, holder.dp_rank};
  Register(k);
  holders_[k].last_seen = now;
}

std::vector<HolderId> ReferenceIndex::ExpireSilent(double now, double ttl) {
  std::vector<HolderId> gone;
  for (auto& [k, h] : holders_) {
    if (!h.live) continue;
    if (std::isnan(h.last_seen)) {
      h.last_seen = now;
    } else if (now - h.last_seen > ttl) {
      h.live = false;
      EraseEntries(k);
      gone.push_back({k.first, k.second});
    }
  }
  return gone;
}

std::vector<HolderStatus> ReferenceIndex::Holders() const {
  std::vector<HolderStatus> out;
  for (const auto& [k, h] : holders_) {
    if (!h.live) continue;
    int64_t blocks = 0;
    for (const auto& [hash, holders] : blocks_) blocks += holders.contains(k) ? 1 : 0;
    out.push_back({{k.first, k.second}, blocks, h.last_seen});
  }
  return out;
}

uint8_t ReferenceIndex::Media(const Key& k, uint64_t hash) const {
  auto b = blocks_.find(hash);
  if (b == blocks_.end()) return 0;
  auto h = b->second.find(k);
  return h == b->second.end() ? 0 : h->second;
}

bool ReferenceIndex::AnyNode(uint64_t hash) const {
  auto b = blocks_.find(hash);
  if (b == blocks_.end()) return false;
  for (const auto& [k, media] : b->second) {
    if (k.second == kNodeRank) return true;
  }
  return false;
}

std::vector<HolderOverlap> ReferenceIndex::Overlaps(absl::Span<const uint64_t> hashes) const {
  std::vector<HolderOverlap> out;
  if (hashes.empty() || !blocks_.contains(hashes[0])) return out;
  for (const auto& [k, unused] : blocks_.at(hashes[0])) {
    HolderOverlap o{{k.first, k.second}};
    for (uint64_t hash : hashes) {
      const uint8_t m = Media(k, hash);
      if (m == 0) break;
      ++(m & kDevice ? o.device : m & kHost ? o.host : o.disk);
    }
    out.push_back(o);
  }
  return out;
}

ReferenceIndex::Scored ReferenceIndex::Score(const Key& rank, int64_t load,
                                             absl::Span<const uint64_t> hashes,
                                             const CostWeights& w) const {
  Scored s;
  s.score.rank = {rank.first, rank.second};
  s.score.load = load;
  s.own_node = {rank.first, kNodeRank};
  for (uint64_t hash : hashes) {
    const uint8_t mine = Media(rank, hash), node = Media(s.own_node, hash);
    if (mine == 0 && node == 0) break;
    if (mine & kDevice) {
      ++s.score.device;
    } else if ((mine & kHost) || (node & (kDevice | kHost))) {
      ++s.score.host;
    } else {
      ++s.score.disk;
    }
    ++s.run;
  }
  while (s.run + s.score.remote < hashes.size() && AnyNode(hashes[s.run + s.score.remote])) {
    ++s.score.remote;
  }
  RankScore& r = s.score;
  r.prefill = static_cast<uint32_t>(hashes.size()) - s.run - r.remote;
  r.cost = r.prefill * w.prefill + r.host * w.host + r.disk * w.disk + r.remote * w.remote +
           static_cast<double>(r.load) * w.load;
  return s;
}

std::vector<FetchHint> ReferenceIndex::Hints(const Scored& best,
                                             absl::Span<const uint64_t> hashes) const {
  const Key rank{best.score.rank.worker, best.score.rank.dp_rank};
  const uint32_t end = best.run + best.score.remote;
  auto wanted = [&](uint32_t p) { return p >= best.run || !(Media(rank, hashes[p]) & kDevice); };
  auto length = [&](const Key& node, uint32_t p) {
    const Medium m = Fastest(Media(node, hashes[p]));
    uint32_t k = 1;
    while (p + k < end && wanted(p + k) && Media(node, hashes[p + k]) != 0 &&
           Fastest(Media(node, hashes[p + k])) == m) {
      ++k;
    }
    return k;
  };
  std::vector<FetchHint> hints;
  for (uint32_t p = 0; p < end;) {
    std::vector<Key> nodes;  // in name order
    if (wanted(p) && blocks_.contains(hashes[p])) {
      for (const auto& [k, media] : blocks_.at(hashes[p])) {
        if (k.second == kNodeRank) nodes.push_back(k);
      }
    }
    if (nodes.empty()) {
      ++p;
      continue;
    }
    Key pick = nodes[0];
    if (Media(best.own_node, hashes[p]) != 0) {
      pick = best.own_node;
    } else {
      for (const Key& n : nodes) {
        if (length(n, p) > length(pick, p)) pick = n;
      }
    }
    const uint32_t count = length(pick, p);
    hints.push_back({{pick.first, pick.second}, Fastest(Media(pick, hashes[p])), p, count});
    p += count;
  }
  return hints;
}

PlacementDecision ReferenceIndex::Place(const PlacementRequest& request,
                                        const CostWeights& weights) const {
  std::vector<Scored> all;
  if (request.candidates.empty()) {
    for (const auto& [k, h] : holders_) {
      if (h.live && k.second >= 0) all.push_back(Score(k, 0, request.hashes, weights));
    }
  } else {
    for (const Candidate& c : request.candidates) {
      const int64_t queued =
          (c.queued_prefill_tokens + request.block_size - 1) / request.block_size;
      all.push_back(
          Score({c.worker, c.dp_rank}, c.active_blocks + queued, request.hashes, weights));
    }
  }
  std::sort(all.begin(), all.end(), [](const Scored& a, const Scored& b) {
    const RankScore &x = a.score, &y = b.score;
    return std::tie(x.cost, y.device, x.rank.worker, x.rank.dp_rank) <
           std::tie(y.cost, x.device, y.rank.worker, y.rank.dp_rank);
  });
  if (request.candidates.empty() && all.size() > request.max_candidates) {
    all.resize(request.max_candidates);
  }
  PlacementDecision d;
  for (const Scored& s : all) d.ranked.push_back(s.score);
  if (!all.empty()) d.fetch_hints = Hints(all[0], request.hashes);
  return d;
}

}  // namespace kvstash::router
