#include "replay/replayer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "service/remote/rendezvous.h"

namespace kvstash::replay {
namespace {

absl::Status Check(const Trace& trace, const ReplayOptions& o) {
  const service::ModelProfile& p = o.cache.profile;
  if (p.geometry.block_tokens != trace.block_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("profile block_tokens ", p.geometry.block_tokens,
                                                   " differs from the trace's ",
                                                   trace.block_tokens));
  }
  if (!p.compute.known()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "profile '", p.name, "' has no compute model: add active_params and q_heads to ",
        p.path.empty() ? "it" : p.path, " (service/profile.h)"));
  }
  if (o.mode == Mode::kConnect && o.connect.empty()) {
    return absl::InvalidArgumentError("connect mode needs at least one daemon address");
  }
  if (o.mode != Mode::kConnect && (o.nodes < 1 || o.nodes > 1024)) {
    return absl::InvalidArgumentError(absl::StrCat("nodes: ", o.nodes, " is not in 1..1024"));
  }
  if (o.replicas < 1 || (o.mode != Mode::kConnect && o.replicas > o.nodes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("replicas: ", o.replicas, " is not in 1..", o.nodes, " (the node count)"));
  }
  if (o.cost.gpu_tflops <= 0) return absl::InvalidArgumentError("gpu_tflops must be positive");
  for (int s = 0; s < kSources; ++s) {
    if (!(o.cost.gbps[s] > 0) || o.cost.latency_us[s] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(SourceName(static_cast<Source>(s)),
                                                     ": bandwidth must be positive and "
                                                     "latency non-negative"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::unique_ptr<NodeCache>>> MakeNodes(const ReplayOptions& o,
                                                                  Clock* clock) {
  std::vector<std::unique_ptr<NodeCache>> nodes;
  const int n = o.mode == Mode::kConnect ? static_cast<int>(o.connect.size()) : o.nodes;
  for (int i = 0; i < n; ++i) {
    CacheOptions c = o.cache;
    absl::StatusOr<std::unique_ptr<NodeCache>> node;
    switch (o.mode) {
      case Mode::kSized:
        node = CreateSizedCache(c, clock);
        break;
      case Mode::kMaterialized:
        c.scratch_dir = absl::StrCat(o.cache.scratch_dir, "/node-", i);
        node = CreateMaterializedCache(c, clock);
        break;
      case Mode::kConnect:
        node = CreateClientCache(o.connect[i], c);
        break;
    }
    if (!node.ok()) return node.status();
    nodes.push_back(*std::move(node));
  }
  return nodes;
}

// One request's walk through the nodes (replayer.h steps 1-3).
class RequestRun {
 public:
  RequestRun(const ReplayOptions& o, std::vector<std::unique_ptr<NodeCache>>& nodes,
             const std::vector<std::string>& names, ReplayReport& report)
      : o_(o), nodes_(nodes), names_(names), r_(report) {}

  absl::StatusOr<double> Run(const TraceRequest& q, size_t node) {
    NodeCache& local = *nodes_[node];
    std::vector<tiers::BlockKey> keys;
    keys.reserve(q.hash_ids.size());
    for (uint64_t id : q.hash_ids)
      keys.push_back(tiers::BlockKey::FromHash64(o_.key_namespace, id));
    absl::StatusOr<std::vector<Source>> held = local.Lookup(keys);
    if (!held.ok()) return held.status();
    absl::StatusOr<std::vector<std::optional<Source>>> read =
        local.Read(absl::MakeConstSpan(keys).subspan(0, held->size()));
    if (!read.ok()) return read.status();
    std::vector<Source> hits;
    for (const std::optional<Source>& s : *read) {
      if (!s) break;  // gone meanwhile (a promotion made room): the prefix ends
      hits.push_back(*s);
    }
    if (hits.size() == held->size()) {
      absl::Status s = ReadRemote(keys, q.hash_ids, node, hits);
      if (!s.ok()) return s;
    }
    const size_t h = hits.size();
    if (h < keys.size()) {
      const auto rest = absl::MakeConstSpan(keys).subspan(h);
      const auto ids = absl::MakeConstSpan(q.hash_ids).subspan(h);
      const std::optional<tiers::BlockKey> parent =
          h ? std::optional<tiers::BlockKey>(keys[h - 1]) : std::nullopt;
      if (absl::Status s = local.Store(rest, parent, ids); !s.ok()) return s;
      if (absl::Status s = Push(keys, q.hash_ids, h, node); !s.ok()) return s;
    }
    return Account(q, hits);
  }

 private:
  // Past the local prefix: while the next block is held locally or by an
  // owner other than `node`, read it there; pulled blocks are then stored
  // locally.
  absl::Status ReadRemote(const std::vector<tiers::BlockKey>& keys,
                          const std::vector<uint64_t>& ids, size_t node,
                          std::vector<Source>& hits) {
    if (nodes_.size() < 2 || o_.mode == Mode::kConnect) return absl::OkStatus();
    std::vector<size_t> pulled;
    for (size_t k = hits.size(); k < keys.size(); ++k) {
      absl::StatusOr<std::optional<Source>> s = ReadFrom(node, keys[k]);
      if (!s.ok()) return s.status();
      if (*s) {
        hits.push_back(**s);
        continue;
      }
      bool found = false;
      for (const std::string& owner :
           remote::RendezvousOwners(keys[k], names_, static_cast<size_t>(o_.replicas))) {
        const size_t o =
            static_cast<size_t>(std::find(names_.begin(), names_.end(), owner) - names_.begin());
        if (o == node) continue;
        absl::StatusOr<std::optional<Source>> r = ReadFrom(o, keys[k]);
        if (!r.ok()) return r.status();
        if (*r) {
          found = true;
          break;
        }
      }
      if (!found) break;
      hits.push_back(Source::kRemote);
      pulled.push_back(k);
    }
    for (size_t k : pulled) {
      const std::optional<tiers::BlockKey> parent =
          k ? std::optional<tiers::BlockKey>(keys[k - 1]) : std::nullopt;
      if (absl::Status s = nodes_[node]->Store({keys[k]}, parent, {ids[k]}); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Reads `key` on node `n` if it holds it; nullopt if not.
  absl::StatusOr<std::optional<Source>> ReadFrom(size_t n, const tiers::BlockKey& key) {
    absl::StatusOr<std::vector<Source>> held = nodes_[n]->Lookup({key});
    if (!held.ok()) return held.status();
    if (held->empty()) return std::optional<Source>();
    absl::StatusOr<std::vector<std::optional<Source>>> got = nodes_[n]->Read({key});
    if (!got.ok()) return got.status();
    return got->empty() ? std::optional<Source>() : (*got)[0];
  }

  // Computed blocks [from, end) go to their owners other than `node`.
  absl::Status Push(const std::vector<tiers::BlockKey>& keys, const std::vector<uint64_t>& ids,
                    size_t from, size_t node) {
    if (nodes_.size() < 2 || o_.mode == Mode::kConnect) return absl::OkStatus();
    for (size_t k = from; k < keys.size(); ++k) {
      const std::optional<tiers::BlockKey> parent =
          k ? std::optional<tiers::BlockKey>(keys[k - 1]) : std::nullopt;
      for (const std::string& owner :
           remote::RendezvousOwners(keys[k], names_, static_cast<size_t>(o_.replicas))) {
        const size_t o =
            static_cast<size_t>(std::find(names_.begin(), names_.end(), owner) - names_.begin());
        if (o == node) continue;
        absl::Status s = nodes_[o]->Store({keys[k]}, parent, {ids[k]});
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Adds the request to the report; returns its modelled TTFT in seconds.
  double Account(const TraceRequest& q, const std::vector<Source>& hits) {
    const uint64_t bt = r_.block_tokens;
    std::array<uint64_t, kSources> bytes{};
    uint64_t hit_tokens = 0;
    for (size_t j = 0; j < hits.size(); ++j) {
      const uint64_t tokens = std::min<uint64_t>(bt, q.input_length - j * bt);
      SourceFigures& s = r_.sources[static_cast<int>(hits[j])];
      s.hit_blocks++;
      s.hit_tokens += tokens;
      s.bytes += r_.block_bytes;
      bytes[static_cast<int>(hits[j])] += r_.block_bytes;
      hit_tokens += tokens;
    }
    r_.requests++;
    r_.prompt_tokens += q.input_length;
    r_.hit_tokens += hit_tokens;
    r_.blocks += q.hash_ids.size();
    r_.hit_blocks += hits.size();
    r_.computed_blocks += q.hash_ids.size() - hits.size();
    const service::ModelProfile& p = o_.cache.profile;
    const uint64_t computed = std::max<uint64_t>(q.input_length - hit_tokens, 1);
    return PrefillSeconds(o_.cost, p.compute, p.geometry.layers, q.input_length - computed,
                          computed) +
           TransferSeconds(o_.cost, bytes);
  }

  const ReplayOptions& o_;
  std::vector<std::unique_ptr<NodeCache>>& nodes_;
  const std::vector<std::string>& names_;
  ReplayReport& r_;
};

// Tier figures summed over nodes, by tier name, in first-seen order.
std::vector<TierFigures> SumTiers(std::vector<std::unique_ptr<NodeCache>>& nodes) {
  std::vector<TierFigures> out;
  for (auto& n : nodes) {
    for (const TierFigures& f : n->Tiers()) {
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const TierFigures& g) { return g.name == f.name; });
      if (it == out.end()) {
        out.push_back(f);
        continue;
      }
      it->capacity_bytes += f.capacity_bytes;
      it->used_bytes += f.used_bytes;
      it->blocks += f.blocks;
      it->bytes_in += f.bytes_in;
      it->bytes_out += f.bytes_out;
      it->evictions += f.evictions;
      it->spills += f.spills;
      it->promotions += f.promotions;
      it->admissions_refused += f.admissions_refused;
      it->capacity_blocks += f.capacity_blocks;
    }
  }
  return out;
}

}  // namespace

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kSized:
      return "size-only";
    case Mode::kMaterialized:
      return "materialized";
    case Mode::kConnect:
      return "connect";
  }
  return "?";
}

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&v](double q) {
    const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(i, 1, v.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p90 = rank(0.90);
  p.p99 = rank(0.99);
  p.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  return p;
}

absl::StatusOr<ReplayReport> Replay(const Trace& trace, const ReplayOptions& o) {
  if (absl::Status s = Check(trace, o); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  FakeClock clock;
  absl::StatusOr<std::vector<std::unique_ptr<NodeCache>>> nodes = MakeNodes(o, &clock);
  if (!nodes.ok()) return nodes.status();
  std::vector<std::string> names;
  for (size_t i = 0; i < nodes->size(); ++i) names.push_back(absl::StrCat("node-", i));

  ReplayReport r;
  r.profile = o.cache.profile.name;
  r.format = std::string(kernels::FormatName(o.cache.format));
  r.mode = ModeName(o.mode);
  r.block_tokens = trace.block_tokens;
  r.block_bytes = (*nodes)[0]->block_bytes();
  r.nodes = static_cast<int>(nodes->size());
  r.replicas = o.replicas;
  RequestRun run(o, *nodes, names, r);
  std::vector<double> ttft, no_cache;
  ttft.reserve(trace.requests.size());
  const service::ModelProfile& p = o.cache.profile;
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    const TraceRequest& q = trace.requests[i];
    clock.Set(q.timestamp_ms * 1'000'000);
    absl::StatusOr<double> t = run.Run(q, i % nodes->size());
    if (!t.ok()) {
      return absl::Status(
          t.status().code(),
          absl::StrCat("request ", i, " (timestamp ", q.timestamp_ms, "): ", t.status().message()));
    }
    ttft.push_back(*t * 1e3);
    no_cache.push_back(PrefillSeconds(o.cost, p.compute, p.geometry.layers, 0, q.input_length) *
                       1e3);
    if (o.progress && (i + 1) % o.progress_every == 0) o.progress(i + 1, trace.requests.size());
  }
  if (o.progress) o.progress(trace.requests.size(), trace.requests.size());
  r.tiers = SumTiers(*nodes);
  for (const TierFigures& f : r.tiers) r.capacity_tokens += f.capacity_blocks * r.block_tokens;
  for (auto& n : *nodes) {
    const std::array<double, kSources> secs = n->read_seconds();
    for (int s = 0; s < kSources; ++s) r.sources[s].read_seconds += secs[s];
  }
  r.ttft_ms = Summarize(std::move(ttft));
  r.no_cache_ttft_ms = Summarize(std::move(no_cache));
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace kvstash::replay
