#include "service/router/placement_json.h"

#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_reader.h"
#include "common/json_string.h"
#include "kvstash/block_hash.h"

namespace kvstash::router {
namespace {

std::vector<uint64_t> HashTokensFromJson(JsonObjectReader& r) {
  const std::vector<uint64_t> ids = r.U64Array("token_ids");
  const uint64_t block_size = r.U64("block_size", 16);
  const std::string scheme = r.String("hash_scheme", "sha256_cbor");
  const std::optional<std::string> seed =
      r.Has("hash_seed") && r.Find("hash_seed")->is_number()
          ? std::optional<std::string>(std::string(r.Find("hash_seed")->number_text()))
          : r.OptionalString("hash_seed");
  const std::optional<uint64_t> chain_seed = r.OptionalU64("chain_seed");
  if (!r.ok()) return {};
  absl::StatusOr<std::vector<uint64_t>> h = HashTokenIds(ids, block_size, scheme, seed, chain_seed);
  if (!h.ok()) {
    r.Fail("", h.status().message());
    return {};
  }
  return *std::move(h);
}

void ReadCandidates(JsonObjectReader& r, PlacementRequest& req) {
  if (!r.Has("candidates")) return;
  for (JsonObjectReader c : r.ObjectArray("candidates")) {
    Candidate& out = req.candidates.emplace_back();
    out.worker = c.String("worker");
    const int64_t rank = c.I64("dp_rank", 0);
    if (rank < 0 || rank > std::numeric_limits<int32_t>::max()) {
      c.Fail("dp_rank", absl::StrCat("must be a non-negative 32-bit integer, got ", rank));
    }
    out.dp_rank = static_cast<int32_t>(rank);
    out.active_blocks = c.I64("active_blocks", 0);
    out.queued_prefill_tokens = c.I64("queued_prefill_tokens", 0);
    c.RejectUnknown({"worker", "dp_rank", "active_blocks", "queued_prefill_tokens"});
  }
  if (req.candidates.size() > kMaxPlacementCandidates) {
    r.Fail("candidates", absl::StrCat("has ", req.candidates.size(), " entries; the limit is ",
                                      kMaxPlacementCandidates));
  }
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> HashTokenIds(absl::Span<const uint64_t> ids,
                                                   uint64_t block_size, absl::string_view scheme,
                                                   const std::optional<std::string>& seed,
                                                   std::optional<uint64_t> chain_seed) {
  if (block_size == 0 || block_size > (1u << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_size: must be in 1..", 1u << 20, ", got ", block_size));
  }
  std::vector<uint32_t> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token_ids[", i, "]: ", ids[i], " is larger than a 32-bit token id"));
    }
    tokens.push_back(static_cast<uint32_t>(ids[i]));
  }
  if (scheme == "xxh3") {
    Xxh3HashOptions o;
    if (seed) {
      if (!absl::SimpleAtoi(*seed, &o.seed)) {
        return absl::InvalidArgumentError(
            absl::StrCat("hash_seed: xxh3 takes a u64 seed, got '", *seed, "'"));
      }
    }
    if (chain_seed) o.chain_seed = *chain_seed;
    return Xxh3SequenceHashes(tokens, block_size, o);
  }
  if (scheme == "sha256_cbor") {
    Sha256CborOptions o;
    if (seed) o.none_hash_seed = *seed;
    std::vector<uint64_t> out;
    for (const Sha256Digest& d : Sha256CborHashes(tokens, block_size, o)) {
      out.push_back(DigestToU64(d));
    }
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("hash_scheme: expected \"sha256_cbor\" or \"xxh3\", got \"", scheme, "\""));
}

const char* MediumName(Medium m) {
  switch (m) {
    case Medium::kDevice:
      return "device";
    case Medium::kHost:
      return "host";
    case Medium::kDisk:
      return "disk";
  }
  return "unknown";
}

absl::StatusOr<ParsedPlacement> ParsePlacementJson(absl::string_view body) {
  absl::StatusOr<JsonValue> doc = ParseJson(body);
  if (!doc.ok()) return doc.status();
  JsonObjectReader r(*doc);
  ParsedPlacement out;
  PlacementRequest& req = out.request;
  const bool by_hash = r.Has("block_hashes");
  const bool by_tokens = r.Has("token_ids");
  if (by_hash == by_tokens) {
    return absl::InvalidArgumentError(
        by_hash ? "give block_hashes or token_ids, not both"
                : "missing block_hashes (u64 hashes) or token_ids (with block_size and "
                  "hash_scheme)");
  }
  req.hashes = by_hash ? r.U64BitsArray("block_hashes") : HashTokensFromJson(r);
  req.block_size = static_cast<uint32_t>(r.U64("block_size", 16));
  if (req.block_size == 0) r.Fail("block_size", "must be positive");
  ReadCandidates(r, req);
  req.temperature = r.Double("temperature", 0);
  req.max_candidates = static_cast<uint32_t>(r.U64("max_candidates", 8));
  req.seed = r.U64("seed", 0);
  out.record = r.Bool("record", true);
  r.RejectUnknown({"block_hashes", "token_ids", "block_size", "hash_scheme", "hash_seed",
                   "chain_seed", "candidates", "temperature", "max_candidates", "seed", "record"});
  if (!r.ok()) return r.status();
  if (req.hashes.size() > kMaxPlacementBlocks) {
    return absl::InvalidArgumentError(absl::StrCat(by_hash ? "block_hashes" : "token_ids",
                                                   " makes ", req.hashes.size(),
                                                   " blocks; the limit is ", kMaxPlacementBlocks));
  }
  if (!std::isfinite(req.temperature) || req.temperature < 0) {
    return absl::InvalidArgumentError("temperature: must be a finite number >= 0");
  }
  return out;
}

std::string PlacementToJson(const PlacementDecision& d, absl::Span<const uint64_t> hashes) {
  std::string out = "{\"candidates\":[";
  for (size_t i = 0; i < d.ranked.size(); ++i) {
    const RankScore& s = d.ranked[i];
    absl::StrAppend(&out, i ? "," : "", "{\"worker\":", JsonQuote(s.rank.worker),
                    ",\"dp_rank\":", s.rank.dp_rank, ",\"overlap\":{\"device\":", s.device,
                    ",\"host\":", s.host, ",\"disk\":", s.disk, ",\"remote\":", s.remote,
                    "},\"prefill_blocks\":", s.prefill, ",\"load\":", s.load, ",\"cost\":", s.cost,
                    "}");
  }
  absl::StrAppend(&out, "],\"fetch_hints\":[");
  for (size_t i = 0; i < d.fetch_hints.size(); ++i) {
    const FetchHint& h = d.fetch_hints[i];
    absl::StrAppend(&out, i ? "," : "", "{\"node\":", JsonQuote(h.node.worker), ",\"medium\":\"",
                    MediumName(h.medium), "\",\"start\":", h.start, ",\"count\":", h.count,
                    ",\"block_hashes\":[");
    for (uint32_t j = 0; j < h.count && h.start + j < hashes.size(); ++j) {
      absl::StrAppend(&out, j ? "," : "", hashes[h.start + j]);
    }
    absl::StrAppend(&out, "]}");
  }
  absl::StrAppend(&out, "],\"blocks\":", hashes.size(), "}");
  return out;
}

}  // namespace kvstash::router
