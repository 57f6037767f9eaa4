#include "service/router/router_rpc.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proto/status_wire.h"

namespace kvstash::router {
namespace {

using proto::Router;

// Placement and HashTokenIds name the field first, as the JSON API spells it
// ("candidates[2].dp_rank: ..."); this API's fields are camelCase.
absl::Status CamelCaseField(const absl::Status& status) {
  const absl::string_view m = status.message();
  const size_t colon = m.find(": ");
  if (colon == absl::string_view::npos || m.substr(0, colon).find(' ') != absl::string_view::npos) {
    return status;
  }
  std::string out;
  bool upper = false;
  for (char c : m.substr(0, colon)) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? absl::ascii_toupper(static_cast<unsigned char>(c)) : c);
    upper = false;
  }
  absl::StrAppend(&out, m.substr(colon));
  return absl::Status(status.code(), out);
}

absl::StatusOr<std::vector<uint64_t>> HashesFromTokens(Router::PlacementRequest::Reader r) {
  const auto tokens = r.getTokenIds();
  if (r.getBlockSize() > 0 && tokens.size() / r.getBlockSize() > kMaxPlacementBlocks) {
    return absl::InvalidArgumentError(absl::StrCat("tokenIds: makes ",
                                                   tokens.size() / r.getBlockSize(),
                                                   " blocks; the limit is ", kMaxPlacementBlocks));
  }
  std::vector<uint64_t> ids;
  ids.reserve(tokens.size());
  for (uint32_t t : tokens) ids.push_back(t);
  std::optional<std::string> seed;
  if (r.hasHashSeed()) seed = std::string(r.getHashSeed().cStr());
  std::optional<uint64_t> chain_seed;
  if (r.getChainSeed().isValue()) chain_seed = r.getChainSeed().getValue();
  absl::StatusOr<std::vector<uint64_t>> h =
      HashTokenIds(ids, r.getBlockSize(), r.getHashScheme().cStr(), seed, chain_seed);
  if (!h.ok()) return CamelCaseField(h.status());
  return h;
}

Router::Medium ToProto(Medium m) {
  switch (m) {
    case Medium::kDevice:
      return Router::Medium::DEVICE;
    case Medium::kHost:
      return Router::Medium::HOST;
    case Medium::kDisk:
      return Router::Medium::DISK;
  }
  return Router::Medium::HOST;
}

void FillPlacement(const PlacementDecision& d, const std::vector<uint64_t>& hashes,
                   Router::PlacementResults::Builder out) {
  auto ranked = out.initCandidates(d.ranked.size());
  for (size_t i = 0; i < d.ranked.size(); ++i) {
    const RankScore& s = d.ranked[i];
    auto r = ranked[i];
    r.setWorker(s.rank.worker);
    r.setDpRank(s.rank.dp_rank);
    r.setDevice(s.device);
    r.setHost(s.host);
    r.setDisk(s.disk);
    r.setRemote(s.remote);
    r.setPrefillBlocks(s.prefill);
    r.setLoad(s.load);
    r.setCost(s.cost);
  }
  auto hints = out.initFetchHints(d.fetch_hints.size());
  for (size_t i = 0; i < d.fetch_hints.size(); ++i) {
    const FetchHint& h = d.fetch_hints[i];
    auto o = hints[i];
    o.setNode(h.node.worker);
    o.setMedium(ToProto(h.medium));
    o.setStart(h.start);
    o.setCount(h.count);
    const size_t begin = std::min<size_t>(h.start, hashes.size());
    const size_t end = std::min<size_t>(size_t{h.start} + h.count, hashes.size());
    auto list = o.initBlockHashes(end - begin);
    for (size_t j = begin; j < end; ++j) list.set(j - begin, hashes[j]);
  }
  out.setBlocks(static_cast<uint32_t>(hashes.size()));
}

}  // namespace

absl::StatusOr<ParsedPlacement> PlacementFromProto(Router::PlacementRequest::Reader r) {
  const bool by_hash = r.hasBlockHashes();
  if (by_hash == r.hasTokenIds()) {
    return absl::InvalidArgumentError(
        by_hash ? "give blockHashes or tokenIds, not both"
                : "missing blockHashes (u64 hashes) or tokenIds (with blockSize and hashScheme)");
  }
  if (r.getCandidates().size() > kMaxPlacementCandidates) {
    return absl::InvalidArgumentError(absl::StrCat("candidates: has ", r.getCandidates().size(),
                                                   " entries; the limit is ",
                                                   kMaxPlacementCandidates));
  }
  ParsedPlacement out;
  PlacementRequest& req = out.request;
  if (by_hash) {
    const auto hashes = r.getBlockHashes();
    if (hashes.size() > kMaxPlacementBlocks) {
      return absl::InvalidArgumentError(absl::StrCat(
          "blockHashes: has ", hashes.size(), " blocks; the limit is ", kMaxPlacementBlocks));
    }
    req.hashes.reserve(hashes.size());
    for (uint64_t h : hashes) req.hashes.push_back(h);
  } else {
    absl::StatusOr<std::vector<uint64_t>> h = HashesFromTokens(r);
    if (!h.ok()) return h.status();
    req.hashes = *std::move(h);
  }
  req.block_size = r.getBlockSize();
  req.candidates.reserve(r.getCandidates().size());
  for (const auto c : r.getCandidates()) {
    Candidate& o = req.candidates.emplace_back();
    o.worker = c.getWorker().cStr();
    o.dp_rank = c.getDpRank();
    o.active_blocks = c.getActiveBlocks();
    o.queued_prefill_tokens = c.getQueuedPrefillTokens();
  }
  req.temperature = r.getTemperature();
  req.max_candidates = r.getMaxCandidates();
  req.seed = r.getSeed();
  out.record = r.getRecord();
  return out;
}

kj::Promise<void> RouterRpc::placement(PlacementContext context) {
  absl::StatusOr<ParsedPlacement> parsed = PlacementFromProto(context.getParams().getRequest());
  if (!parsed.ok()) proto::ThrowStatus(parsed.status());
  // Place validates the rest (blockSize, temperature, maxCandidates, each
  // candidate) and names the field as JSON does.
  absl::StatusOr<PlacementDecision> d = router_->Place(parsed->request, parsed->record);
  if (!d.ok()) proto::ThrowStatus(CamelCaseField(d.status()));
  FillPlacement(*d, parsed->request.hashes, context.getResults());
  return kj::READY_NOW;
}

kj::Promise<void> RouterRpc::workers(WorkersContext context) {
  const std::vector<HolderStatus> holders = router_->Holders();
  const std::vector<WorkerStats> engines = router_->EngineStats();
  const double now = router_->Now();
  auto results = context.getResults();
  auto w = results.initWorkers(holders.size());
  for (size_t i = 0; i < holders.size(); ++i) {
    const HolderStatus& h = holders[i];
    auto o = w[i];
    o.setWorker(h.holder.worker);
    o.setDpRank(h.holder.dp_rank);
    o.setKind(h.holder.dp_rank == kNodeRank ? Router::HolderKind::KVSTASH
                                            : Router::HolderKind::ENGINE);
    o.setBlocks(h.blocks);
    o.setLastSeenS(std::isnan(h.last_seen) ? std::nan("") : now - h.last_seen);
  }
  auto e = results.initEngines(engines.size());
  for (size_t i = 0; i < engines.size(); ++i) {
    const WorkerStats& s = engines[i];
    auto o = e[i];
    o.setWorker(s.worker);
    o.setEndpoint(s.endpoint);
    o.setReplayEndpoint(s.replay_endpoint);
    o.setMessages(s.messages);
    o.setBatches(s.batches);
    o.setEvents(s.events);
    o.setDecodeErrors(s.decode_errors);
    o.setGaps(s.gaps);
    o.setReplays(s.replays);
    o.setResyncs(s.resyncs);
    if (s.last_seq) {
      o.getLastSeq().setValue(*s.last_seq);
    } else {
      o.getLastSeq().setNone();
    }
    o.setLastError(s.last_error);
  }
  return kj::READY_NOW;
}

}  // namespace kvstash::router
