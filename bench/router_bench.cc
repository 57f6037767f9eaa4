#include "bench/router_bench.h"

#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <random>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/mooncake_trace.h"
#include "common/check.h"
#include "service/router/placement.h"
#include "service/router/prefix_index.h"

namespace kvstash::bench {
namespace {

using router::EventBatch;
using router::HolderId;
using router::KvEvent;
using router::Medium;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// This thread's CPU seconds: throughput per core even when other processes
// share the machine (wall time would charge us for their time slices).
double ThreadCpuSeconds() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t Mix(uint64_t z) {  // splitmix64 finaliser: a bijection
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// Bytes malloc has handed out and not taken back (small chunks and mmaps).
int64_t HeapBytes() {
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

struct Memory {
  int64_t heap = 0;
  int64_t rss = 0;
};

Memory MemoryNow() {
  ::malloc_trim(0);  // hand freed heap back so that the RSS delta means something
  return {HeapBytes(), RssBytes()};
}

absl::StatusOr<std::vector<std::vector<uint64_t>>> LoadTrace(const RouterBenchOptions& o) {
  std::ifstream in(o.trace_path);
  if (!in) return absl::NotFoundError(absl::StrCat("--trace: cannot open '", o.trace_path, "'"));
  std::vector<std::vector<uint64_t>> trace;
  std::string line;
  while (std::getline(in, line) && (o.requests == 0 || trace.size() < o.requests)) {
    std::vector<uint64_t> ids = MooncakeHashIds(line);
    if (!ids.empty()) trace.push_back(std::move(ids));
  }
  if (trace.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--trace: no line of '", o.trace_path, "' has hash_ids"));
  }
  return trace;
}

// Requests of every replica, interleaved: replica r's copy of request i is
// request i * scale + r. Replica 0 keeps the trace's own ids.
std::vector<std::vector<uint64_t>> Replicate(const std::vector<std::vector<uint64_t>>& trace,
                                             uint32_t scale) {
  std::vector<std::vector<uint64_t>> out;
  out.reserve(trace.size() * scale);
  for (const std::vector<uint64_t>& ids : trace) {
    for (uint64_t r = 0; r < scale; ++r) {
      std::vector<uint64_t>& hashes = out.emplace_back();
      for (uint64_t id : ids) hashes.push_back(Mix(id ^ (r << 40)));
    }
  }
  return out;
}

// An LRU set of block hashes: touches are stamped; the queue keeps
// (hash, stamp) in touch order and skips items a later touch superseded.
class Lru {
 public:
  explicit Lru(size_t capacity) : capacity_(capacity) {}
  bool Contains(uint64_t h) const { return stamp_.contains(h); }
  void Touch(uint64_t h) {
    stamp_[h] = ++clock_;
    queue_.push_back({h, clock_});
    Compact();
  }
  // Inserts h (touching it); returns the evicted block, if any.
  std::optional<uint64_t> Insert(uint64_t h) {
    Touch(h);
    if (stamp_.size() <= capacity_) return std::nullopt;
    while (true) {
      const auto [victim, stamp] = queue_.front();
      queue_.pop_front();
      auto it = stamp_.find(victim);
      if (it != stamp_.end() && it->second == stamp) {
        stamp_.erase(it);
        return victim;
      }
    }
  }

 private:
  void Compact() {
    if (queue_.size() < 4 * stamp_.size() + 64) return;
    std::deque<std::pair<uint64_t, uint64_t>> kept;
    for (const auto& item : queue_) {
      if (stamp_.at(item.first) == item.second) kept.push_back(item);
    }
    queue_.swap(kept);
  }
  const size_t capacity_;
  uint64_t clock_ = 0;
  absl::flat_hash_map<uint64_t, uint64_t> stamp_;
  std::deque<std::pair<uint64_t, uint64_t>> queue_;
};

KvEvent Event(KvEvent::Kind kind, std::vector<uint64_t> hashes, Medium m) {
  return {kind, std::move(hashes), std::nullopt, m};
}

// The cluster the events come from (see router_bench.h, step 1).
class EngineModel {
 public:
  explicit EngineModel(const RouterBenchOptions& o) : o_(o), rng_(o.seed) {
    for (uint32_t r = 0; r < o.workers * o.dp_ranks; ++r) ranks_.emplace_back(o.rank_blocks);
    for (uint32_t w = 0; o.node_blocks > 0 && w < o.workers; ++w)
      nodes_.emplace_back(o.node_blocks);
    load_.assign(ranks_.size(), 0);
  }

  uint32_t ranks() const { return static_cast<uint32_t>(ranks_.size()); }
  HolderId RankId(uint32_t r) const {
    return {absl::StrFormat("w%04u", r / o_.dp_ranks), static_cast<int32_t>(r % o_.dp_ranks)};
  }
  uint32_t RankOf(const HolderId& id) const {
    uint32_t w = 0;
    KVSTASH_CHECK(absl::SimpleAtoi(id.worker.substr(1), &w));
    return w * o_.dp_ranks + static_cast<uint32_t>(id.dp_rank);
  }
  int64_t load(uint32_t r) const { return load_[r]; }
  uint32_t RandomRank() { return static_cast<uint32_t>(rng_() % ranks_.size()); }

  // Runs one request on rank r; appends the batches it publishes.
  void Serve(uint32_t r, const std::vector<uint64_t>& hashes, std::vector<EventBatch>* out);

 private:
  static constexpr size_t kActiveWindow = 256;  // requests counted as in flight

  void Account(uint32_t r, int64_t blocks);

  const RouterBenchOptions& o_;
  std::mt19937_64 rng_;
  std::vector<Lru> ranks_;
  std::vector<Lru> nodes_;
  std::vector<int64_t> load_;
  std::deque<std::pair<uint32_t, int64_t>> active_;
};

void EngineModel::Account(uint32_t r, int64_t blocks) {
  active_.push_back({r, blocks});
  load_[r] += blocks;
  if (active_.size() > kActiveWindow) {
    load_[active_.front().first] -= active_.front().second;
    active_.pop_front();
  }
}

void EngineModel::Serve(uint32_t r, const std::vector<uint64_t>& hashes,
                        std::vector<EventBatch>* out) {
  Lru& lru = ranks_[r];
  EventBatch rank{RankId(r), 0, 0, {}};
  std::vector<uint64_t> pending, spilled;
  auto flush = [&] {
    if (pending.empty()) return;
    rank.events.push_back(Event(KvEvent::Kind::kStored, std::move(pending), Medium::kDevice));
    pending.clear();
  };
  for (uint64_t h : hashes) {
    if (lru.Contains(h)) {
      lru.Touch(h);
      continue;
    }
    if (std::optional<uint64_t> victim = lru.Insert(h)) {
      flush();  // a victim may be from the pending chunk: publish it first
      rank.events.push_back(Event(KvEvent::Kind::kRemoved, {*victim}, Medium::kDevice));
      spilled.push_back(*victim);
    }
    pending.push_back(h);
    if (pending.size() >= o_.stored_chunk) flush();
  }
  flush();
  Account(r, static_cast<int64_t>(hashes.size()));
  if (!rank.events.empty()) out->push_back(std::move(rank));
  if (nodes_.empty() || spilled.empty()) return;
  const uint32_t w = r / o_.dp_ranks;
  EventBatch node{{absl::StrFormat("w%04u", w), router::kNodeRank}, 0, 0, {}};
  std::vector<uint64_t> stored;
  for (uint64_t h : spilled) {
    if (nodes_[w].Contains(h)) continue;
    if (std::optional<uint64_t> victim = nodes_[w].Insert(h)) {
      node.events.push_back(Event(KvEvent::Kind::kRemoved, {*victim}, Medium::kHost));
    }
    stored.push_back(h);
  }
  if (!stored.empty()) node.events.push_back(Event(KvEvent::Kind::kStored, stored, Medium::kHost));
  if (!node.events.empty()) out->push_back(std::move(node));
}

// Picks the rank for one request: the index's answer (see router_bench.h).
uint32_t Route(const RouterBenchOptions& o, EngineModel& engine, router::Placement& placement,
               const std::vector<uint64_t>& hashes) {
  if (!o.route_by_index) return static_cast<uint32_t>(Mix(hashes[0]) % engine.ranks());
  router::PlacementRequest req{.hashes = hashes, .max_candidates = 4};
  absl::StatusOr<router::PlacementDecision> first = placement.Place(req);
  KVSTASH_CHECK(first.ok());
  std::vector<uint32_t> picks;
  for (const router::RankScore& s : first->ranked) picks.push_back(engine.RankOf(s.rank));
  picks.push_back(engine.RandomRank());
  picks.push_back(engine.RandomRank());
  std::sort(picks.begin(), picks.end());
  picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
  for (uint32_t r : picks) {
    const HolderId id = engine.RankId(r);
    req.candidates.push_back({id.worker, id.dp_rank, engine.load(r), 0});
  }
  absl::StatusOr<router::PlacementDecision> second = placement.Place(req);
  KVSTASH_CHECK(second.ok() && !second->ranked.empty());
  return engine.RankOf(second->ranked[0].rank);
}

struct Recording {
  std::vector<EventBatch> batches;
  uint64_t events = 0;
  uint64_t removed_events = 0;
  uint64_t block_ops = 0;
};

Recording Record(const RouterBenchOptions& o, const std::vector<std::vector<uint64_t>>& requests,
                 std::ostream* progress) {
  router::PrefixIndex index({.max_blocks = 0});
  std::unique_ptr<router::Placement> placement = *router::Placement::Create(&index, {});
  EngineModel engine(o);
  Recording rec;
  for (size_t i = 0; i < requests.size(); ++i) {
    const size_t before = rec.batches.size();
    engine.Serve(Route(o, engine, *placement, requests[i]), requests[i], &rec.batches);
    for (size_t b = before; b < rec.batches.size(); ++b) {
      KVSTASH_CHECK(index.Apply(rec.batches[b]).ok());
      for (const KvEvent& e : rec.batches[b].events) {
        ++rec.events;
        rec.removed_events += e.kind == KvEvent::Kind::kRemoved;
        rec.block_ops += e.block_hashes.size();
      }
    }
    if (progress != nullptr && (i + 1) % 20000 == 0) {
      *progress << "router bench: recorded " << i + 1 << "/" << requests.size() << " requests, "
                << rec.events << " events\n";
    }
  }
  return rec;
}

// ------------------------------------------------------------- the baseline --

struct NaiveEntry {
  uint32_t holder;
  uint8_t media;
};

class NaiveIndex {
 public:
  void Apply(const EventBatch& b) {
    auto [id, fresh] = ids_.try_emplace(absl::StrCat(b.holder.worker, "#", b.holder.dp_rank),
                                        static_cast<uint32_t>(ids_.size()));
    for (const KvEvent& e : b.events) {
      const uint8_t bit = uint8_t{1} << static_cast<int>(e.medium.value_or(Medium::kDevice));
      for (uint64_t h : e.block_hashes) {
        if (e.kind == KvEvent::Kind::kStored) {
          Store(h, id->second, bit);
        } else if (e.kind == KvEvent::Kind::kRemoved) {
          Remove(h, id->second, e.medium ? bit : 0x7);
        }
      }
    }
  }
  // Per-holder consecutive overlap, as PrefixIndex::Overlaps counts it.
  size_t Overlap(const std::vector<uint64_t>& hashes) const {
    auto first = map_.find(hashes[0]);
    if (first == map_.end()) return 0;
    std::vector<std::pair<uint32_t, uint32_t>> runs;  // holder, length
    for (const NaiveEntry& e : first->second) runs.push_back({e.holder, 1});
    for (size_t i = 1; i < hashes.size(); ++i) {
      auto it = map_.find(hashes[i]);
      if (it == map_.end()) break;
      bool any = false;
      for (auto& [holder, len] : runs) {
        if (len != i) continue;
        for (const NaiveEntry& e : it->second) {
          if (e.holder == holder) {
            ++len;
            any = true;
            break;
          }
        }
      }
      if (!any) break;
    }
    size_t best = 0;
    for (const auto& run : runs) best = std::max<size_t>(best, run.second);
    return best;
  }
  size_t size() const { return map_.size(); }

 private:
  void Store(uint64_t h, uint32_t holder, uint8_t bit) {
    std::vector<NaiveEntry>& v = map_[h];
    for (NaiveEntry& e : v) {
      if (e.holder == holder) {
        e.media |= bit;
        return;
      }
    }
    v.push_back({holder, bit});
  }
  void Remove(uint64_t h, uint32_t holder, uint8_t bits) {
    auto it = map_.find(h);
    if (it == map_.end()) return;
    std::vector<NaiveEntry>& v = it->second;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].holder != holder) continue;
      v[i].media &= static_cast<uint8_t>(~bits);
      if (v[i].media == 0) v.erase(v.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
    if (v.empty()) map_.erase(it);
  }
  std::unordered_map<uint64_t, std::vector<NaiveEntry>> map_;
  std::unordered_map<std::string, uint32_t> ids_;
};

// ----------------------------------------------------------------- measuring --

struct Latency {
  double p50 = 0, p99 = 0;
};

template <typename Fn>
Latency Time(const std::vector<std::vector<uint64_t>>& requests, Fn&& query) {
  std::vector<double> us;
  us.reserve(requests.size());
  for (const std::vector<uint64_t>& hashes : requests) {
    const Clock::time_point t0 = Clock::now();
    query(hashes);
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

struct Measured {
  double apply_s = 0;
  Memory memory;  // growth over applying the stream
  uint64_t blocks = 0;
  Latency latency;
};

Measured MeasureNaive(const Recording& rec, const std::vector<std::vector<uint64_t>>& requests) {
  Measured m;
  const Memory before = MemoryNow();
  NaiveIndex naive;
  const double t0 = ThreadCpuSeconds();
  for (const EventBatch& b : rec.batches) naive.Apply(b);
  m.apply_s = ThreadCpuSeconds() - t0;
  const Memory after = MemoryNow();
  m.memory = {after.heap - before.heap, after.rss - before.rss};
  m.blocks = naive.size();
  size_t sink = 0;
  m.latency = Time(requests, [&](const std::vector<uint64_t>& h) { sink += naive.Overlap(h); });
  KVSTASH_CHECK(sink != ~size_t{0});  // keeps the queries from being optimised away
  return m;
}

Measured MeasureIndex(const Recording& rec, const std::vector<std::vector<uint64_t>>& requests,
                      router::IndexStats* stats) {
  Measured m;
  const Memory before = MemoryNow();
  router::PrefixIndex index;
  const double t0 = ThreadCpuSeconds();
  for (const EventBatch& b : rec.batches) KVSTASH_CHECK(index.Apply(b).ok());
  m.apply_s = ThreadCpuSeconds() - t0;
  const Memory after = MemoryNow();
  m.memory = {after.heap - before.heap, after.rss - before.rss};
  *stats = index.Stats();
  m.blocks = stats->blocks;
  std::unique_ptr<router::Placement> placement = *router::Placement::Create(&index, {});
  m.latency = Time(requests, [&](const std::vector<uint64_t>& h) {
    KVSTASH_CHECK(placement->Place({.hashes = h}).ok());
  });
  return m;
}

std::string VersusTarget(double value, double target, bool higher_is_better,
                         const std::string& text) {
  const double factor = higher_is_better ? value / target : target / value;
  return absl::StrFormat("%s (%.2fx %s)", text, factor, factor >= 1 ? "met" : "MISSED");
}

std::vector<Result> Results(const RouterBenchReport& r, const Measured& idx, const Measured& naive,
                            const router::IndexStats& st) {
  const double ev = r.events / idx.apply_s, ev_naive = r.events / naive.apply_s;
  std::vector<Result> out;
  out.push_back({"router_apply_events", "events/s", ev, "unordered_map apply", ev_naive,
                 VersusTarget(ev, 1e6, true, ">= 1M events/s")});
  out.push_back({"router_apply_blocks", "blocks/s", r.block_ops / idx.apply_s,
                 "unordered_map apply", r.block_ops / naive.apply_s, ""});
  out.push_back({"router_place_p50", "us", idx.latency.p50, "unordered_map overlap walk p50",
                 naive.latency.p50, ""});
  out.push_back({"router_place_p99", "us", idx.latency.p99, "unordered_map overlap walk p99",
                 naive.latency.p99, VersusTarget(idx.latency.p99, 100, false, "< 100 us")});
  const double blocks = std::max<double>(1, static_cast<double>(st.blocks));
  const double naive_blocks = std::max<double>(1, static_cast<double>(naive.blocks));
  const double naive_heap = naive.memory.heap / naive_blocks;
  out.push_back({"router_index_bytes_per_block", "B", st.bytes / blocks,
                 "unordered_map heap per block", naive_heap, "Stats().bytes / blocks"});
  out.push_back({"router_heap_per_block", "B", idx.memory.heap / blocks,
                 "unordered_map heap per block", naive_heap, "mallinfo2 growth / blocks"});
  out.push_back({"router_rss_per_block", "B", idx.memory.rss / blocks,
                 "unordered_map RSS per block", naive.memory.rss / naive_blocks,
                 "RSS growth / blocks"});
  return out;
}

}  // namespace

absl::StatusOr<RouterBenchReport> RunRouterBench(const RouterBenchOptions& o,
                                                 std::ostream* progress) {
  if (o.workers == 0 || o.dp_ranks == 0 || o.scale == 0 || o.rank_blocks == 0 ||
      o.stored_chunk == 0) {
    return absl::InvalidArgumentError(
        "workers, dp_ranks, scale, rank_blocks and stored_chunk must be >= 1");
  }
  absl::StatusOr<std::vector<std::vector<uint64_t>>> trace = LoadTrace(o);
  if (!trace.ok()) return trace.status();
  const std::vector<std::vector<uint64_t>> requests = Replicate(*trace, o.scale);
  if (progress) {
    *progress << "router bench: " << requests.size() << " requests (" << trace->size() << " x "
              << o.scale << " replicas) over " << o.workers << " workers x " << o.dp_ranks
              << " dp ranks\n";
  }
  RouterBenchReport report;
  Recording rec = Record(o, requests, progress);
  report.requests = requests.size();
  report.batches = rec.batches.size();
  report.events = rec.events;
  report.removed_events = rec.removed_events;
  report.block_ops = rec.block_ops;
  if (progress) *progress << "router bench: timing the unordered_map baseline\n";
  const Measured naive = MeasureNaive(rec, requests);
  if (progress) *progress << "router bench: timing the index\n";
  router::IndexStats st;
  const Measured idx = MeasureIndex(rec, requests, &st);
  report.indexed_blocks = st.blocks;
  report.holders = st.holders;
  report.results = Results(report, idx, naive, st);
  return report;
}

}  // namespace kvstash::bench
