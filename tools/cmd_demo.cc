// kvstash demo: an engine-like workload against a running kvstashd through
// libkvstash. For each request of a Mooncake-format trace (hash_ids name
// prefix-chained blocks): look up the longest cached prefix, fetch those
// blocks instead of recomputing them, "compute" the rest (deterministic bf16
// KV data) and store them. Prints hits per tier, bytes saved by NVFP4 storage
// and throughput.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bench/mooncake_trace.h"
#include "kernels/codec.h"
#include "kvstash/client.h"
#include "replay/synthetic_kv.h"
#include "service/options.h"
#include "service/profile.h"
#include "tools/commands.h"
#include "tools/default_trace.h"
#include "tools/flags.h"
#include "tools/json_writer.h"

namespace kvstash::tools {
namespace {

struct Totals {
  uint64_t requests = 0, blocks = 0, computed = 0, fetched_bytes = 0, put_bytes = 0;
  uint64_t hits[5] = {0, 0, 0, 0, 0};  // by Tier
};

absl::Status RunOne(Client& c, const std::vector<uint64_t>& ids, const Geometry& g,
                    size_t block_bytes, Totals* t) {
  std::vector<Key> keys;
  for (uint64_t id : ids) keys.push_back(Key::FromU64(id));
  absl::StatusOr<LookupResult> l = c.Lookup(keys);
  if (!l.ok()) return l.status();
  if (l->matched > 0) {
    absl::StatusOr<BlockViews> v =
        c.GetViews(std::span<const Key>(keys.data(), l->matched), Format::kBf16);
    if (!v.ok()) return v.status();
    for (size_t i = 0; i < v->size(); ++i) {
      ++t->hits[static_cast<int>((*v)[i].tier)];
      t->fetched_bytes += (*v)[i].payload.size();
    }
  }
  std::vector<std::vector<uint8_t>> payloads(keys.size() - l->matched,
                                             std::vector<uint8_t>(block_bytes));
  std::vector<PutBlock> puts;
  for (size_t i = l->matched; i < keys.size(); ++i) {
    std::vector<uint8_t>& p = payloads[i - l->matched];
    replay::SyntheticBf16(ids[i], absl::MakeSpan(p));
    PutBlock b{keys[i], i ? std::optional<Key>(keys[i - 1]) : std::nullopt, Format::kBf16, g, {}, p,
               0};
    puts.push_back(b);
    t->put_bytes += p.size();
  }
  if (!puts.empty()) {
    absl::StatusOr<size_t> s = c.Put(puts);
    if (!s.ok()) return s.status();
  }
  t->blocks += keys.size();
  t->computed += puts.size();
  ++t->requests;
  return absl::OkStatus();
}

}  // namespace

int RunDemo(const Args& args) {
  FlagSet f("kvstash demo [--trace FILE] [--requests N] [flags]",
            "Replay a Mooncake-format trace through a running kvstashd as an engine would:\n"
            "look up each request's cached prefix, fetch it, compute and store the rest.");
  f.String("trace", "Mooncake-format JSONL trace", DefaultTracePath());
  f.String("requests", "requests to replay (0: all)", "1000");
  f.String("profile", "model profile of the blocks", "tiny");
  f.String("connect", "kvstashd address", service::ParseDaemonOptions({})->socket_path);
  f.Bool("json", "print one JSON object");
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<uint64_t> limit = f.GetU64("requests");
  absl::StatusOr<service::ModelProfile> profile = service::LoadProfile(f.Get("profile"));
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(f.Get("connect"));
  std::ifstream trace(f.Get("trace"));
  absl::Status err = !limit.ok()     ? limit.status()
                     : !profile.ok() ? profile.status()
                     : !c.ok()       ? c.status()
                     : !trace ? absl::NotFoundError("--trace: cannot open '" + f.Get("trace") + "'")
                              : absl::OkStatus();
  if (!err.ok()) {
    std::cerr << "error: " << err.message() << "\n";
    return 2;
  }
  const auto& pg = profile->geometry;
  const Geometry g{pg.layers, pg.kv_heads, pg.head_dim, pg.block_tokens, pg.planes};
  const size_t bf16_bytes = service::BlockBytes(*profile, kernels::Format::kBf16).value_or(0);
  Totals t;
  const auto start = std::chrono::steady_clock::now();
  std::string line;
  while (std::getline(trace, line) && (*limit == 0 || t.requests < *limit)) {
    const std::vector<uint64_t> ids = bench::MooncakeHashIds(line);
    if (ids.empty()) continue;
    if (absl::Status s = RunOne(**c, ids, g, bf16_bytes, &t); !s.ok()) {
      std::cerr << "error: request " << t.requests << ": " << s.message() << "\n";
      return 1;
    }
    if (t.requests % 500 == 0 && ::isatty(2))
      std::cerr << "demo: " << t.requests << " requests\r" << std::flush;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::StatusOr<std::vector<TierStats>> stats = (*c)->Stats();
  uint64_t stored_bytes = 0, stored_blocks = 0;
  if (stats.ok()) {
    for (const TierStats& s : *stats) stored_bytes += s.used_bytes, stored_blocks += s.blocks;
  }
  const uint64_t hits = t.blocks - t.computed;
  const uint64_t nvfp4_block = service::BlockBytes(*profile, kernels::Format::kNvfp4).value_or(0);
  const uint64_t nvfp4_bytes = stored_blocks * nvfp4_block, bf16_equiv = stored_blocks * bf16_bytes;
  if (f.GetBool("json")) {
    std::cout << JsonObject()
                     .Add("requests", t.requests)
                     .Add("blocks", t.blocks)
                     .Add("hit_blocks", hits)
                     .Add("computed_blocks", t.computed)
                     .Add("hits_device", t.hits[1])
                     .Add("hits_host", t.hits[2])
                     .Add("hits_disk", t.hits[3])
                     .Add("stored_blocks", stored_blocks)
                     .Add("nvfp4_payload_bytes", nvfp4_bytes)
                     .Add("bf16_equivalent_bytes", bf16_equiv)
                     .Add("tier_used_bytes", stored_bytes)
                     .Add("seconds", secs)
                     .Str()
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "\ndemo: %u requests, %u blocks of profile %s (%u tokens per block)\n"
      "  prefix hits  %u blocks (%.1f%%) fetched instead of recomputed: device %u, host %u, disk "
      "%u\n"
      "  computed     %u blocks, put as bf16, stored as nvfp4\n"
      "  stored       %u blocks: %.1f MiB of NVFP4 payload; as BF16 %.1f MiB -> NVFP4 saves %.1f "
      "MiB "
      "(%.2fx the tokens per byte)\n"
      "               (tiers charge %.1f MiB: slots are 4 KiB granules, which only matters for "
      "tiny "
      "blocks)\n"
      "  throughput   %.0f requests/s; fetched %.2f GB/s and stored %.2f GB/s of bf16\n",
      t.requests, t.blocks, profile->name, pg.block_tokens, hits,
      100.0 * hits / std::max<uint64_t>(1, t.blocks), t.hits[1], t.hits[2], t.hits[3], t.computed,
      stored_blocks, nvfp4_bytes / 1048576.0, bf16_equiv / 1048576.0,
      (bf16_equiv - nvfp4_bytes) / 1048576.0,
      nvfp4_bytes ? static_cast<double>(bf16_equiv) / nvfp4_bytes : 0.0, stored_bytes / 1048576.0,
      t.requests / secs, t.fetched_bytes / secs / 1e9, t.put_bytes / secs / 1e9);
  return 0;
}

}  // namespace kvstash::tools
